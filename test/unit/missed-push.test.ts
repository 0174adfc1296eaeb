import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeImagesCommand, ECRClient } from '@aws-sdk/client-ecr';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startDynamo } from '../../local/dynamodb.ts';
import { type LocalEcr, startEcr } from '../../local/ecr.ts';
import { LocalRegistry } from '../../local/registry.ts';
import { acquireLock } from '../../src/core/lock.ts';
import {
  checkMissedPushes,
  type FindMissedPushParams,
  findMissedPush,
  type MissedPushStart,
  startMissedPush,
} from '../../src/core/missed-push.ts';
import { normalize, parseInput } from '../../src/core/normalize.ts';
import { testConfig, testTarget } from '../helpers.ts';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const TABLE = 'rollgate-locks';
const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const minutes = (n: number) => new Date(T0 + n * 60_000);
/** An hour after the first push: every push of these tests is old enough and young enough to be started. */
const AN_HOUR_LATER = () => minutes(60);

let dir: string;
let registry: LocalRegistry;
let ecrServer: LocalEcr | undefined;
let dynamo: Awaited<ReturnType<typeof startDynamo>> | undefined;
let ecr: ECRClient;
let ddb: DynamoDBClient;

const local = { region: REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 };

/** Pushes `repository:tag` as if at T0 + `n` minutes. */
async function pushAt(n: number, repository: string, tag: string, digest?: string): Promise<string> {
  vi.useFakeTimers({ toFake: ['Date'] });
  try {
    vi.setSystemTime(minutes(n));
    return await registry.pushImage(repository, tag, digest);
  } finally {
    vi.useRealTimers();
  }
}

/** Marks a push handled the way the pipeline does: AcquireLock with the push's identity. */
async function attempt(repository: string, tag: string, digest: string, execution: string): Promise<void> {
  const out = await acquireLock({
    ddb,
    table: TABLE,
    cluster: 'demo',
    service: `svc-${execution}`,
    executionName: execution,
    startedAt: minutes(30).toISOString(),
    image: `${repository}:${tag}`,
    policy: 'supersede',
    leaseSeconds: 60,
    pollSeconds: 1,
    maxWaitSeconds: 60,
    push: { repository, tag, digest },
    now: () => minutes(30),
  });
  expect(out.status).toBe('ACQUIRED');
}

/** The test target (tags v*, excludeTags *-rc*) for a repository, with the check switched on. */
function target(repository: string, missedPushCheck = true): FindMissedPushParams['target'] {
  return { ...testTarget({ target: { repository } }), missedPushCheck } as FindMissedPushParams['target'];
}

const find = (repository: string, overrides: Partial<FindMissedPushParams> = {}) =>
  findMissedPush({ ecr, ddb, table: TABLE, target: target(repository), now: AN_HOUR_LATER, ...overrides });

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'rollgate-missed-'));
  const registryFile = path.join(dir, 'registry.json');
  registry = new LocalRegistry(registryFile);
  [ecrServer, dynamo] = await Promise.all([
    startEcr({ registryFile, region: REGION, accountId: ACCOUNT, port: 0 }),
    startDynamo({ table: TABLE, region: REGION }),
  ]);
  ecr = new ECRClient({ ...local, endpoint: ecrServer.endpoint });
  ddb = new DynamoDBClient({ ...local, endpoint: dynamo.endpoint });
});

afterAll(async () => {
  ecr?.destroy();
  ddb?.destroy();
  await Promise.all([ecrServer?.close(), dynamo?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('findMissedPush', () => {
  it('starts the newest matching image never attempted, with an event Normalize deploys', async () => {
    await pushAt(0, 'app-a', 'v1');
    const v2 = await pushAt(5, 'app-a', 'v2');

    const found = await find('app-a');

    expect(found.status).toBe('START');
    const start = found as MissedPushStart;
    expect(start.image).toEqual({ repository: 'app-a', tag: 'v2', digest: v2, pushedAt: minutes(5).toISOString() });
    expect(start.input).toEqual({
      version: '0',
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      'detail-type': 'ECR Image Action',
      source: 'aws.ecr',
      account: ACCOUNT,
      time: '2026-03-01T10:05:00Z',
      region: REGION,
      resources: [],
      detail: {
        result: 'SUCCESS',
        'repository-name': 'app-a',
        'image-digest': v2,
        'action-type': 'PUSH',
        'image-tag': 'v2',
      },
    });
    expect(start.reason).toContain('app-a:v2');
    expect(start.reason).toContain('1 older matching image(s) are superseded');

    // the event is one Normalize accepts as a push and deploys, pinned by digest
    const input = JSON.parse(JSON.stringify(start.input));
    expect(parseInput(input).kind).toBe('push');
    const job = normalize({
      config: testConfig({ target: { repository: 'app-a' } }),
      input,
      execution: { id: 'arn:x', name: 'x', startedAt: minutes(60).toISOString() },
    });
    expect(job).toMatchObject({
      decision: 'DEPLOY',
      trigger: { type: 'push', eventId: start.input.id },
      image: { repository: 'app-a', tag: 'v2', digest: v2, registry: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com` },
    });
    // the same push found twice hands over the same event, as a redelivery would
    expect(await find('app-a')).toEqual(found);
  });

  it('returns NONE once that push was attempted, whatever its outcome', async () => {
    const digest = (await registry.list()).find((i) => i.repository === 'app-a' && i.tag === 'v2')?.digest ?? '';
    await attempt('app-a', 'v2', digest, 'exec-app-a-v2');

    const found = await find('app-a');

    expect(found).toMatchObject({ status: 'NONE', image: { tag: 'v2', digest } });
    expect(found.reason).toMatch(/app-a:v2 \(sha256:[0-9a-f]{12}\) was already attempted by execution exec-app-a-v2/);
  });

  it('ignores newer tags outside the filters or matched by excludeTags', async () => {
    const v1 = await pushAt(0, 'app-b', 'v1');
    await pushAt(5, 'app-b', 'latest');
    await pushAt(6, 'app-b', 'v2-rc1');

    const found = await find('app-b');

    expect(found).toMatchObject({ status: 'START', image: { tag: 'v1', digest: v1 } });
  });

  it('returns NONE for an older unattempted image behind a newer attempted one: it is superseded', async () => {
    await pushAt(0, 'app-c', 'v1');
    const v2 = await pushAt(5, 'app-c', 'v2');
    await attempt('app-c', 'v2', v2, 'exec-app-c-v2');

    const found = await find('app-c');

    expect(found).toMatchObject({ status: 'NONE', image: { tag: 'v2' } });
    expect(found.reason).toContain('1 older matching image(s) are superseded by it');
  });

  it('treats an image as attempted when any of its matching tags was', async () => {
    const digest = await pushAt(0, 'app-d', 'v5');
    await pushAt(1, 'app-d', 'v5.0', digest);
    expect(await find('app-d')).toMatchObject({ status: 'START', image: { tag: 'v5.0', digest } });

    await attempt('app-d', 'v5', digest, 'exec-app-d-v5');

    expect(await find('app-d')).toMatchObject({ status: 'NONE' });
  });

  it('picks the larger digest between images pushed at the same instant', async () => {
    const a = await pushAt(0, 'app-e', 'v1');
    const b = await pushAt(0, 'app-e', 'v2');
    const larger = a > b ? { tag: 'v1', digest: a } : { tag: 'v2', digest: b };

    expect(await find('app-e')).toMatchObject({ status: 'START', image: larger });
  });

  it.each([
    ['pushed less than minAgeSeconds ago', minutes(6), /pushed 60 s ago: its push event gets 300 s to arrive first/],
    [
      'pushed beyond the lock table memory',
      new Date(minutes(5).getTime() + 7 * 86_400_000),
      /more than 6 d ago: the lock table no longer tells whether it was attempted/,
    ],
  ])('returns NONE for a newest image %s', async (_, now, reason) => {
    await pushAt(5, 'app-f', 'v1');

    const found = await find('app-f', { now: () => now });

    expect(found).toMatchObject({ status: 'NONE', image: { tag: 'v1' } });
    expect(found.reason).toMatch(reason);
  });

  it('returns NONE when no tag matches, the repository is unknown, or the check is off', async () => {
    await pushAt(0, 'app-g', 'latest');
    await pushAt(1, 'app-g', 'v3-rc2');

    expect(await find('app-g')).toEqual({
      status: 'NONE',
      reason: 'none of the 2 tagged images of app-g matches the tag filters of demo-app (v* except *-rc*)',
    });
    expect(await find('app-never-pushed')).toMatchObject({
      status: 'NONE',
      reason: expect.stringContaining(
        "repository app-never-pushed not found: The repository with name 'app-never-pushed'",
      ),
    });
    expect(await find('app-b', { target: target('app-b', false) })).toEqual({
      status: 'NONE',
      reason: 'the missed-push check is off for demo-app (missedPushCheck: true)',
    });
  });

  it('reads every DescribeImages page, TAGGED only', async () => {
    const ecrMock = mockClient(ECRClient);
    try {
      const image = (tag: string, digit: string, at: Date) => ({
        registryId: ACCOUNT,
        repositoryName: 'app-h',
        imageDigest: `sha256:${digit.repeat(64)}`,
        imageTags: [tag],
        imagePushedAt: at,
      });
      ecrMock
        .on(DescribeImagesCommand)
        .resolvesOnce({ imageDetails: [image('v1', '1', minutes(0)), image('v3', '3', minutes(2))], nextToken: 'p2' })
        .resolvesOnce({ imageDetails: [image('v2', '2', minutes(1))] });
      const mocked = new ECRClient({ ...local });

      const found = await findMissedPush({
        ecr: mocked,
        ddb,
        table: TABLE,
        target: target('app-h'),
        now: AN_HOUR_LATER,
      });

      expect(found).toMatchObject({ status: 'START', image: { tag: 'v3' }, input: { region: REGION } });
      const calls = ecrMock.commandCalls(DescribeImagesCommand).map((c) => c.args[0].input);
      // (the paginator reuses one input object across pages, so every recorded call shows the last nextToken)
      expect(calls).toHaveLength(2);
      for (const call of calls) {
        expect(call).toMatchObject({ repositoryName: 'app-h', filter: { tagStatus: 'TAGGED' }, maxResults: 1000 });
      }
      expect(calls[1]?.nextToken).toBe('p2');
    } finally {
      ecrMock.restore();
    }
  });
});

describe('startMissedPush', () => {
  it('starts an execution named after the image with the push event as input', async () => {
    const found = await find('app-b');
    expect(found.status).toBe('START');
    const sfnMock = mockClient(SFNClient);
    try {
      const arn = 'arn:aws:states:eu-west-1:123456789012:stateMachine:rollgate-deploy';
      sfnMock
        .on(StartExecutionCommand)
        .resolves({ executionArn: `${arn.replace(':stateMachine:', ':execution:')}:x`, startDate: minutes(61) });

      const out = await startMissedPush({
        sfn: new SFNClient({ region: REGION }),
        stateMachineArn: arn,
        found: found as MissedPushStart,
        now: () => minutes(61),
      });

      const calls = sfnMock.commandCalls(StartExecutionCommand);
      expect(calls).toHaveLength(1);
      const input = calls[0]?.args[0].input;
      expect(input?.stateMachineArn).toBe(arn);
      expect(input?.name).toMatch(/^app-b-v1-[0-9a-f]{8}-20260301T110100Z-[0-9a-f]{4}$/);
      expect(JSON.parse(input?.input ?? '')).toEqual((found as MissedPushStart).input);
      expect(out).toEqual({
        executionName: input?.name,
        executionArn: `${arn.replace(':stateMachine:', ':execution:')}:x`,
        startDate: minutes(61).toISOString(),
      });
    } finally {
      sfnMock.restore();
    }
  });
});

describe('checkMissedPushes', () => {
  it('checks each target with missedPushCheck once and starts only what it finds', async () => {
    await pushAt(0, 'app-k', 'v1');
    const v2 = await pushAt(1, 'app-k', 'v2');
    const named = (name: string, repository: string, missedPushCheck: boolean) => ({
      ...(target(repository, missedPushCheck) as ReturnType<typeof testTarget>),
      name,
    });
    const targets = [
      named('on', 'app-k', true),
      named('off', 'app-k', false),
      named('empty', 'app-never-pushed', true),
    ];
    const started: MissedPushStart[] = [];

    const checked = await checkMissedPushes({
      ecr,
      ddb,
      table: TABLE,
      targets,
      now: AN_HOUR_LATER,
      start: async (found) => {
        started.push(found);
        return `execution-${started.length}`;
      },
    });

    expect(checked).toEqual([
      { target: 'on', status: 'START', reason: expect.stringContaining('app-k:v2'), started: 'execution-1' },
      { target: 'empty', status: 'NONE', reason: expect.stringContaining('app-never-pushed') },
    ]);
    expect(started.map((f) => f.image.digest)).toEqual([v2]);
    // without start: the same report, nothing started
    const dry = await checkMissedPushes({ ecr, ddb, table: TABLE, targets, now: AN_HOUR_LATER });
    expect(dry.map((c) => [c.target, c.status, c.started])).toEqual([
      ['on', 'START', undefined],
      ['empty', 'NONE', undefined],
    ]);
  });
});
