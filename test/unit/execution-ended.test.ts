import { BatchGetDeploymentsCommand, CodeDeployClient, StopDeploymentCommand } from '@aws-sdk/client-codedeploy';
import { DeleteItemCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  ListServiceDeploymentsCommand,
  StopServiceDeploymentCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { executionEnded } from '../../src/core/execution-ended.ts';
import { deployment, NEW_TD, OLD_TD, service, taskDefinition } from './aws-fixtures.ts';

const ddbMock = mockClient(DynamoDBClient);
const ecsMock = mockClient(ECSClient);
const s3Mock = mockClient(S3Client);
const ddb = new DynamoDBClient({ region: 'us-east-1' });
const ecs = new ECSClient({ region: 'us-east-1' });
const s3 = new S3Client({ region: 'us-east-1' });

const event = (status: string) => ({
  'detail-type': 'Step Functions Execution Status Change',
  detail: {
    executionArn: 'arn:aws:states:us-east-1:123456789012:execution:rollgate-deploy-prod:e1',
    name: 'e1',
    status,
    startDate: Date.parse('2026-11-22T10:00:00.000Z'),
    stopDate: Date.parse('2026-11-22T12:00:00.000Z'),
    input: JSON.stringify({ repository: 'demo-app', tag: 'v3' }),
  },
});

beforeEach(() => {
  ddbMock.reset();
  ecsMock.reset();
  s3Mock.reset();
  // e1 held the lock on demo/demo-app
  ddbMock.on(GetItemCommand).resolves({
    Item: {
      pk: { S: 'execution#e1' },
      sk: { S: 'lock' },
      service: { S: 'service#demo/demo-app' },
      waiter: { S: 'wait#x#e1' },
    },
  });
  ddbMock.on(DeleteItemCommand).resolves({});
  // no audit record of its own; a backup of the revision that ran before
  s3Mock.on(HeadObjectCommand).rejects(Object.assign(new Error('NotFound'), { name: 'NotFound' }));
  const backup = JSON.stringify({
    schema: 'rollgate.backup.v1',
    taskDefinition: taskDefinition(OLD_TD),
    image: 'demo-app:v1',
    tags: [],
  });
  s3Mock.on(GetObjectCommand).resolves({ Body: { transformToString: async () => backup } } as never);
  s3Mock.on(PutObjectCommand).resolves({});
  // the service runs e1's revision, mid-rollout
  ecsMock
    .on(DescribeServicesCommand)
    .resolves({ services: [service([deployment({ taskDefinition: NEW_TD, rolloutState: 'IN_PROGRESS' })])] });
  ecsMock
    .on(DescribeTaskDefinitionCommand)
    .resolves({ taskDefinition: taskDefinition(NEW_TD), tags: [{ key: 'rollgate:execution', value: 'e1' }] });
  ecsMock.on(UpdateServiceCommand).resolves({ service: service() });
});

function record() {
  const body = s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input.Body;
  return JSON.parse(String(body));
}

describe('executionEnded', () => {
  it("rolls a timed-out execution's revision back to its backup, releases its lock and records it", async () => {
    const out = await executionEnded({ ddb, table: 'locks', s3, ecs, bucket: 'artifacts', event: event('TIMED_OUT') });
    expect(out).toMatchObject({ recorded: true, rolledBack: OLD_TD });
    expect(ecsMock.commandCalls(UpdateServiceCommand)[0]?.args[0].input).toEqual({
      cluster: 'demo',
      service: 'demo-app',
      taskDefinition: OLD_TD,
    });
    expect(record()).toMatchObject({
      outcome: 'FAILED',
      error: 'ExecutionTimedOut',
      cluster: 'demo',
      service: 'demo-app',
      reason: expect.stringContaining('rollgate started a rollback to'),
    });
    expect(ddbMock.commandCalls(DeleteItemCommand).length).toBeGreaterThan(0);
  });

  it("stops a timed-out execution's progressive deployment with ROLLBACK and closes its gates", async () => {
    const canary = service([deployment({ taskDefinition: NEW_TD, rolloutState: 'IN_PROGRESS' })]);
    canary.deploymentConfiguration = { ...canary.deploymentConfiguration, strategy: 'CANARY' };
    ecsMock.on(DescribeServicesCommand).resolves({ services: [canary] });
    const arn = 'arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/demo-app/sd1';
    ecsMock
      .on(ListServiceDeploymentsCommand)
      .resolves({ serviceDeployments: [{ serviceDeploymentArn: arn, status: 'IN_PROGRESS' }] });
    ecsMock.on(StopServiceDeploymentCommand).resolves({ serviceDeploymentArn: arn });
    const out = await executionEnded({ ddb, table: 'locks', s3, ecs, bucket: 'artifacts', event: event('TIMED_OUT') });
    expect(out).toMatchObject({ recorded: true, rolledBack: OLD_TD });
    expect(ecsMock.commandCalls(StopServiceDeploymentCommand)[0]?.args[0].input).toEqual({
      serviceDeploymentArn: arn,
      stopType: 'ROLLBACK',
    });
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
    const keys = s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key);
    expect(keys[0]).toBe('gates/e1/closed.json');
  });

  it("stops a timed-out execution's CodeDeploy deployment with autoRollbackEnabled: no UpdateService on CODE_DEPLOY", async () => {
    const cdMock = mockClient(CodeDeployClient);
    try {
      ecsMock.on(DescribeServicesCommand).resolves({
        services: [
          { ...service([deployment({ taskDefinition: NEW_TD })]), deploymentController: { type: 'CODE_DEPLOY' } },
        ],
      });
      const backup = await (
        await s3.send(new GetObjectCommand({ Bucket: 'artifacts', Key: 'x' }))
      ).Body?.transformToString();
      s3Mock.on(GetObjectCommand).callsFake((i: { Key: string }) => {
        const body =
          i.Key === 'gates/e1/codedeploy.json'
            ? '{"deploymentId":"d-ABCDEF123"}'
            : i.Key.startsWith('backups/')
              ? backup
              : undefined;
        if (body === undefined) throw new NoSuchKey({ message: 'no such key', $metadata: {} });
        return { Body: { transformToString: async () => body } };
      });
      s3Mock.on(ListObjectsV2Command).resolves({ Contents: [], IsTruncated: false });
      cdMock
        .on(BatchGetDeploymentsCommand)
        .resolves({ deploymentsInfo: [{ deploymentId: 'd-ABCDEF123', status: 'InProgress' }] });
      cdMock.on(StopDeploymentCommand).resolves({ status: 'Pending' });
      const codeDeploy = new CodeDeployClient({ region: 'us-east-1' });
      const out = await executionEnded({
        ddb,
        table: 'locks',
        s3,
        ecs,
        bucket: 'artifacts',
        event: event('TIMED_OUT'),
        codeDeploy,
      });
      expect(out).toMatchObject({ recorded: true, rolledBack: OLD_TD });
      expect(cdMock.commandCalls(StopDeploymentCommand)[0]?.args[0].input).toEqual({
        deploymentId: 'd-ABCDEF123',
        autoRollbackEnabled: true,
      });
      expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
      const keys = s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key);
      expect(keys).toContain('gates/e1/closed.json');
    } finally {
      cdMock.restore();
    }
  });

  it("leaves an aborted execution's service as the operator left it, and says so", async () => {
    await executionEnded({ ddb, table: 'locks', s3, ecs, bucket: 'artifacts', event: event('ABORTED') });
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
    expect(record()).toMatchObject({ error: 'ExecutionAborted', reason: expect.stringContaining('check the service') });
  });

  it('does not touch a service that runs another revision (rolled back or superseded already)', async () => {
    ecsMock
      .on(DescribeTaskDefinitionCommand)
      .resolves({ taskDefinition: taskDefinition(NEW_TD), tags: [{ key: 'rollgate:execution', value: 'e2' }] });
    const out = await executionEnded({ ddb, table: 'locks', s3, ecs, bucket: 'artifacts', event: event('FAILED') });
    expect(out.rolledBack).toBeUndefined();
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  it('keeps the record an execution wrote itself and changes nothing', async () => {
    s3Mock.on(HeadObjectCommand).resolves({});
    const out = await executionEnded({ ddb, table: 'locks', s3, ecs, bucket: 'artifacts', event: event('FAILED') });
    expect(out).toMatchObject({ recorded: false });
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });
});
