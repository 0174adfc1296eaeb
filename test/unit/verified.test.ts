import { DeleteItemCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, ECSClient } from '@aws-sdk/client-ecs';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { executionEnded } from '../../src/core/execution-ended.ts';
import { inspectService } from '../../src/core/inspect.ts';
import { verifiedKey } from '../../src/core/naming.ts';
import { type ExecutionState, record } from '../../src/core/record.ts';

import { testTarget } from '../helpers.ts';
import { deployment, NEW_TD, OLD_TD, service, taskDefinition } from './aws-fixtures.ts';
import { memoryBucket } from './s3-fake.ts';

/**
 * The verified mark: Record writes it with a DEPLOYED record, Inspect counts only a marked revision as
 * ALREADY_DEPLOYED, and the status-change handler writes the record (and the mark) a failed Record left unwritten on
 * a success path.
 */
const ecsMock = mockClient(ECSClient);
const s3Mock = mockClient(S3Client);
const ddbMock = mockClient(DynamoDBClient);
const ecs = new ECSClient({ region: 'us-east-1' });
const s3 = new S3Client({ region: 'us-east-1' });
const ddb = new DynamoDBClient({ region: 'us-east-1' });
const bucket = 'artifacts';
const IMAGE = '123456789012.dkr.ecr.us-east-1.amazonaws.com/demo-app:v3';
const MARK = 'verified/demo/demo-app/demo-app/8.json';

let objects: Map<string, string>;
beforeEach(() => {
  ecsMock.reset();
  s3Mock.reset();
  ddbMock.reset();
  objects = memoryBucket(s3Mock);
  // the service runs revision 8 (v3, registered by execution e1), steady
  ecsMock.on(DescribeServicesCommand).resolves({ services: [service([deployment({ taskDefinition: NEW_TD })])] });
  ecsMock.on(DescribeTaskDefinitionCommand).resolves({
    taskDefinition: taskDefinition(NEW_TD, IMAGE),
    tags: [{ key: 'rollgate:execution', value: 'e1' }],
  });
  ddbMock.on(GetItemCommand).resolves({});
  ddbMock.on(DeleteItemCommand).resolves({});
});

function inspect() {
  return inspectService({
    ecs,
    artifacts: { s3, bucket },
    cluster: 'demo',
    service: 'demo-app',
    container: 'web',
    image: { repository: 'demo-app', tag: 'v3' },
  });
}

const deployed: ExecutionState = {
  execution: { id: 'arn:x', name: 'e1', startedAt: '2026-11-22T10:00:00.000Z' },
  trigger: { type: 'push', eventId: 'ev1' },
  image: { repository: 'demo-app', tag: 'v3', display: 'demo-app:v3' },
  target: testTarget(),
  release: {
    taskDefinitionArn: NEW_TD,
    image: IMAGE,
    previousImage: 'demo-app:v1',
    previousTaskDefinitionArn: OLD_TD,
    reused: false,
  },
  health: { healthy: true, consecutiveSuccesses: 3, attempts: 3, lastStatus: 200 } as never,
};

describe('the verified mark', () => {
  it('is keyed by cluster, service, family and revision', () => {
    expect(verifiedKey('demo', 'demo-app', NEW_TD)).toBe(MARK);
  });

  it('an image that runs, steady, in a revision no execution verified: deployed again, never ALREADY_DEPLOYED', async () => {
    const out = await inspect();
    expect(out.alreadyRunning).toBe(false);
    expect(out.reason).toBe(
      `the service runs this image (${IMAGE}) but no rollgate execution verified its revision demo-app:8: deploying to verify it`,
    );
  });

  it('the same, once Record wrote the DEPLOYED record and its mark: ALREADY_DEPLOYED', async () => {
    await record({ s3, bucket, path: 'DEPLOYED', state: deployed, now: () => new Date('2026-11-22T10:05:00.000Z') });
    expect(JSON.parse(objects.get(MARK) ?? '{}')).toMatchObject({
      executionName: 'e1',
      taskDefinitionArn: NEW_TD,
      verifiedAt: '2026-11-22T10:05:00.000Z',
    });
    const out = await inspect();
    expect(out.alreadyRunning).toBe(true);
    expect(out.reason).toMatch(/^ALREADY_DEPLOYED: demo\/demo-app already runs this image/);
  });

  it('a mark of another service does not count', async () => {
    objects.set(verifiedKey('demo', 'other', NEW_TD), '{}');
    expect((await inspect()).alreadyRunning).toBe(false);
  });

  it('is written by no other path than DEPLOYED', async () => {
    for (const path of ['ROLLED_BACK', 'FAILED', 'ALREADY_DEPLOYED', 'IGNORED'] as const) {
      await record({ s3, bucket, path, state: deployed });
    }
    expect([...objects.keys()].filter((k) => k.startsWith('verified/'))).toEqual([]);
  });

  it('S3 failing to answer for the mark fails Inspect: an outage never passes for verified', async () => {
    s3Mock
      .on(HeadObjectCommand)
      .rejects(Object.assign(new Error('Service Unavailable'), { name: 'ServiceUnavailable' }));
    await expect(inspect()).rejects.toThrow('Service Unavailable');
  });

  it('Record still writes the audit record when the mark cannot be written, then fails with that error', async () => {
    s3Mock.on(PutObjectCommand, { Key: MARK }).rejects(new Error('mark refused'));
    await expect(record({ s3, bucket, path: 'DEPLOYED', state: deployed })).rejects.toThrow('mark refused');
    expect([...objects.keys()]).toEqual(['audit/dt=2026-11-22/e1.json']);
  });
});

describe('executionEnded on a SUCCEEDED execution', () => {
  const succeeded = (output: unknown) => ({
    'detail-type': 'Step Functions Execution Status Change',
    detail: {
      executionArn: 'arn:aws:states:us-east-1:123456789012:execution:rollgate-deploy-prod:e1',
      name: 'e1',
      status: 'SUCCEEDED',
      startDate: Date.parse('2026-11-22T10:00:00.000Z'),
      stopDate: Date.parse('2026-11-22T10:05:00.000Z'),
      input: JSON.stringify({ repository: 'demo-app', tag: 'v3' }),
      output: JSON.stringify(output),
    },
  });
  const ended = (output: unknown) => executionEnded({ ddb, table: 'locks', s3, ecs, bucket, event: succeeded(output) });

  it('whose RecordDeployed failed: writes its DEPLOYED record and mark, and releases its lock', async () => {
    ddbMock.on(GetItemCommand).resolves({
      Item: { pk: { S: 'execution#e1' }, sk: { S: 'lock' }, service: { S: 'service#demo/demo-app' } },
    });
    const out = await ended({ ...deployed, recordFailure: { Error: 'S3Error', Cause: 'SlowDown' } });
    expect(out).toEqual({ released: true, recorded: true });
    expect(JSON.parse(objects.get('audit/dt=2026-11-22/e1.json') ?? '{}')).toMatchObject({
      outcome: 'DEPLOYED',
      trigger: { type: 'push', eventId: 'ev1' },
      newTaskDefinitionArn: NEW_TD,
    });
    expect(objects.has(MARK)).toBe(true);
    expect(ddbMock.commandCalls(DeleteItemCommand).length).toBeGreaterThan(0);
  });

  it('whose RecordAlreadyDeployed or RecordIgnored failed: the record of that path, no mark', async () => {
    await ended({
      execution: deployed.execution,
      current: { alreadyRunning: true, reason: 'ALREADY_DEPLOYED: it runs' },
      recordFailure: { Error: 'Error' },
    });
    expect(JSON.parse(objects.get('audit/dt=2026-11-22/e1.json') ?? '{}')).toMatchObject({
      outcome: 'ALREADY_DEPLOYED',
      reason: 'ALREADY_DEPLOYED: it runs',
    });
    objects.clear();
    await ended({ execution: deployed.execution, reason: 'tag v3-rc1 excluded', recordFailure: { Error: 'Error' } });
    expect(JSON.parse(objects.get('audit/dt=2026-11-22/e1.json') ?? '{}')).toMatchObject({ outcome: 'IGNORED' });
    expect(objects.has(MARK)).toBe(false);
  });

  it('whose Record succeeded (or whose record exists): nothing to do', async () => {
    expect(await ended({ ...deployed, summary: { outcome: 'DEPLOYED' } })).toEqual({
      released: false,
      recorded: false,
    });
    s3Mock.on(HeadObjectCommand, { Key: 'audit/dt=2026-11-22/e1.json' }).resolves({});
    expect(await ended({ ...deployed, recordFailure: { Error: 'Error' } })).toEqual({
      released: false,
      recorded: false,
    });
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it('an aborted execution keeps its trigger (from its input) in the record the handler writes', async () => {
    const event = succeeded(null);
    await executionEnded({
      ddb,
      table: 'locks',
      s3,
      ecs,
      bucket,
      event: {
        ...event,
        detail: { ...event.detail, status: 'ABORTED', input: '{"repository":"demo-app","tag":"v3","reason":"hotfix"}' },
      },
    });
    expect(JSON.parse(objects.get('audit/dt=2026-11-22/e1.json') ?? '{}')).toMatchObject({
      outcome: 'FAILED',
      trigger: { type: 'manual', reason: 'hotfix' },
    });
  });
});
