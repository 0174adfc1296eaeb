import {
  ClientException,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  ServiceNotFoundException,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { GetObjectCommand, HeadObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { backup } from '../../src/core/backup.ts';
import { checkRollout } from '../../src/core/check-rollout.ts';
import { deploy } from '../../src/core/deploy.ts';
import { record } from '../../src/core/record.ts';
import { register, registerInput } from '../../src/core/register.ts';
import { rollback } from '../../src/core/rollback.ts';
import { testTarget } from '../helpers.ts';
import { deployment, NEW_TD, OLD_TD, service, taskDefinition } from './aws-fixtures.ts';

const ecsMock = mockClient(ECSClient);
const s3Mock = mockClient(S3Client);
const ecs = new ECSClient({ region: 'us-east-1' });
const s3 = new S3Client({ region: 'us-east-1' });
const rolloutSpec = testTarget().rollout;
const bucket = 'artifacts';
const now = () => new Date('2026-11-22T10:00:00.000Z');

/** An in-memory bucket behind the S3 mock, so what Backup writes is what Register reads. */
function fakeBucket() {
  const objects = new Map<string, string>();
  s3Mock.on(PutObjectCommand).callsFake((input) => {
    objects.set(input.Key, String(input.Body));
    return {};
  });
  s3Mock.on(GetObjectCommand).callsFake((input) => {
    const body = objects.get(input.Key);
    if (body === undefined) throw new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} });
    // the part of the SDK's stream mixin backup.ts uses
    return { Body: { transformToString: async () => body } } as never;
  });
  s3Mock.on(HeadObjectCommand).callsFake((input) => {
    if (!objects.has(input.Key)) throw Object.assign(new Error('NotFound'), { name: 'NotFound' });
    return {};
  });
  return objects;
}

function throttling() {
  return Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $fault: 'client' });
}

beforeEach(() => {
  ecsMock.reset();
  s3Mock.reset();
});

describe('backup', () => {
  it('writes the running task definition and service settings under backups/<cluster>/<service>/<execution>.json', async () => {
    const objects = fakeBucket();
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service()] });
    ecsMock
      .on(DescribeTaskDefinitionCommand)
      .resolves({ taskDefinition: taskDefinition(), tags: [{ key: 'team', value: 'web' }] });
    const out = await backup({
      ecs,
      s3,
      bucket,
      cluster: 'demo',
      service: 'demo-app',
      container: 'web',
      executionName: 'e1',
      now,
    });
    expect(out).toEqual({
      bucket,
      key: 'backups/demo/demo-app/e1.json',
      taskDefinitionArn: OLD_TD,
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/demo-app:v1',
      reused: false,
    });
    const doc = JSON.parse(objects.get('backups/demo/demo-app/e1.json') ?? '{}');
    expect(doc).toMatchObject({
      schema: 'rollgate.backup.v1',
      takenAt: '2026-11-22T10:00:00.000Z',
      tags: [{ key: 'team', value: 'web' }],
    });
    expect(doc.taskDefinition.taskDefinitionArn).toBe(OLD_TD);
    expect(doc.serviceSettings.deploymentConfiguration.deploymentCircuitBreaker).toEqual({
      enable: true,
      rollback: true,
    });
  });

  it('keeps the first backup when the execution runs Backup again (retry or redrive)', async () => {
    const objects = fakeBucket();
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service()] });
    ecsMock.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: taskDefinition() });
    await backup({ ecs, s3, bucket, cluster: 'demo', service: 'demo-app', container: 'web', executionName: 'e1' });
    // the service moved on to the new revision meanwhile
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service([deployment({ taskDefinition: NEW_TD })])] });
    const again = await backup({
      ecs,
      s3,
      bucket,
      cluster: 'demo',
      service: 'demo-app',
      container: 'web',
      executionName: 'e1',
    });
    expect(again).toMatchObject({ reused: true, taskDefinitionArn: OLD_TD });
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(1);
    expect(objects.size).toBe(1);
  });

  it('fails with TargetNotFoundError when ECS answers MISSING, and writes nothing', async () => {
    fakeBucket();
    ecsMock.on(DescribeServicesCommand).resolves({ services: [], failures: [{ arn: 'x', reason: 'MISSING' }] });
    await expect(
      backup({ ecs, s3, bucket, cluster: 'demo', service: 'demo-app', container: 'web', executionName: 'e1' }),
    ).rejects.toMatchObject({
      name: 'TargetNotFoundError',
      message: 'ECS service demo-app in cluster demo not found (MISSING)',
    });
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it('fails naming the containers when the target container is not in the task definition', async () => {
    fakeBucket();
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service()] });
    ecsMock.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: taskDefinition() });
    await expect(
      backup({ ecs, s3, bucket, cluster: 'demo', service: 'demo-app', container: 'api', executionName: 'e1' }),
    ).rejects.toMatchObject({ name: 'TargetNotFoundError', message: expect.stringContaining('it has: web, sidecar') });
  });

  it('lets ThrottlingException through by name so the ASL retries it', async () => {
    fakeBucket();
    ecsMock.on(DescribeServicesCommand).rejects(throttling());
    await expect(
      backup({ ecs, s3, bucket, cluster: 'demo', service: 'demo-app', container: 'web', executionName: 'e1' }),
    ).rejects.toMatchObject({ name: 'ThrottlingException' });
  });

  it('reports an S3 write failure as BackupFailedError', async () => {
    s3Mock.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'no', $metadata: {} }));
    s3Mock.on(PutObjectCommand).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied' }));
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service()] });
    ecsMock.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: taskDefinition() });
    await expect(
      backup({ ecs, s3, bucket, cluster: 'demo', service: 'demo-app', container: 'web', executionName: 'e1' }),
    ).rejects.toMatchObject({
      name: 'BackupFailedError',
      message: 'could not write backup s3://artifacts/backups/demo/demo-app/e1.json: Access Denied',
    });
  });
});

describe('registerInput', () => {
  it('drops the read-only fields ECS rejects and replaces only the target container image', () => {
    const input = registerInput(taskDefinition(), 'web', 'repo@sha256:abc', [{ key: 'k', value: 'v' }]);
    for (const field of [
      'taskDefinitionArn',
      'revision',
      'status',
      'requiresAttributes',
      'compatibilities',
      'registeredAt',
      'registeredBy',
    ]) {
      expect(input).not.toHaveProperty(field);
    }
    expect(input.containerDefinitions?.map((c) => c.image)).toEqual([
      'repo@sha256:abc',
      'public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0',
    ]);
    expect(input).toMatchObject({
      family: 'demo-app',
      cpu: '256',
      taskRoleArn: 'arn:aws:iam::123456789012:role/demo-task',
      tags: [{ key: 'k', value: 'v' }],
    });
  });
});

describe('register', () => {
  async function withBackup(image?: string) {
    fakeBucket();
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service()] });
    ecsMock.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: taskDefinition(OLD_TD, image), tags: [] });
    return backup({ ecs, s3, bucket, cluster: 'demo', service: 'demo-app', container: 'web', executionName: 'e1' });
  }

  it('pins the image by digest on the registry of the push event', async () => {
    const b = await withBackup();
    ecsMock.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: NEW_TD } });
    const out = await register({
      ecs,
      s3,
      backup: b,
      container: 'web',
      executionName: 'e1',
      image: {
        repository: 'demo-app',
        tag: 'v2',
        digest: 'sha256:abcd1234',
        registry: '123456789012.dkr.ecr.us-west-2.amazonaws.com',
      },
    });
    expect(out).toEqual({
      taskDefinitionArn: NEW_TD,
      image: '123456789012.dkr.ecr.us-west-2.amazonaws.com/demo-app@sha256:abcd1234',
      previousImage: '123456789012.dkr.ecr.us-east-1.amazonaws.com/demo-app:v1',
      previousTaskDefinitionArn: OLD_TD,
      reused: false,
    });
    const sent = ecsMock.commandCalls(RegisterTaskDefinitionCommand)[0]?.args[0].input;
    expect(sent?.tags).toEqual([
      { key: 'rollgate:execution', value: 'e1' },
      { key: 'rollgate:repository', value: 'demo-app' },
      { key: 'rollgate:tag', value: 'v2' },
      { key: 'rollgate:digest', value: 'sha256:abcd1234' },
    ]);
  });

  it('reuses the revision this execution already registered (retry or redrive): no second revision', async () => {
    const b = await withBackup();
    ecsMock
      .on(DescribeTaskDefinitionCommand, { taskDefinition: 'demo-app' })
      .resolves({ taskDefinition: taskDefinition(NEW_TD), tags: [{ key: 'rollgate:execution', value: 'e1' }] });
    const out = await register({
      ecs,
      s3,
      backup: b,
      container: 'web',
      executionName: 'e1',
      image: { repository: 'demo-app', tag: 'v3' },
    });
    expect(out).toMatchObject({ taskDefinitionArn: NEW_TD, reused: true });
    expect(ecsMock.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
  });

  it('uses the tag and the running image registry for a manual input without digest', async () => {
    const b = await withBackup();
    ecsMock.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: NEW_TD } });
    const out = await register({
      ecs,
      s3,
      backup: b,
      container: 'web',
      executionName: 'e1',
      image: { repository: 'demo-app', tag: 'v3' },
    });
    expect(out.image).toBe('123456789012.dkr.ecr.us-east-1.amazonaws.com/demo-app:v3');
  });

  it('passes ECS ClientException through by name', async () => {
    const b = await withBackup();
    ecsMock
      .on(RegisterTaskDefinitionCommand)
      .rejects(new ClientException({ message: 'Invalid setting for container', $metadata: {} }));
    await expect(
      register({
        ecs,
        s3,
        backup: b,
        container: 'web',
        executionName: 'e1',
        image: { repository: 'demo-app', tag: 'v3' },
      }),
    ).rejects.toMatchObject({ name: 'ClientException' });
  });
});

describe('deploy', () => {
  it('updates the service only after the backup is found in S3, and returns the watch for CheckRollout', async () => {
    const objects = fakeBucket();
    objects.set('backups/demo/demo-app/e1.json', '{}');
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service()] });
    ecsMock.on(UpdateServiceCommand).resolves({
      service: service([
        deployment({ id: 'ecs-svc/2222', taskDefinition: NEW_TD, rolloutState: 'IN_PROGRESS', runningCount: 0 }),
        deployment({ status: 'ACTIVE' }),
      ]),
    });
    const watch = await deploy({
      ecs,
      s3,
      cluster: 'demo',
      service: 'demo-app',
      taskDefinitionArn: NEW_TD,
      backup: { bucket, key: 'backups/demo/demo-app/e1.json' },
      rollout: rolloutSpec,
      now,
    });
    expect(watch).toEqual({
      cluster: 'demo',
      service: 'demo-app',
      taskDefinitionArn: NEW_TD,
      deploymentId: 'ecs-svc/2222',
      startedAt: '2026-11-22T10:00:00.000Z',
      deadline: '2026-11-22T10:01:00.000Z',
      waitSeconds: 1,
      attempt: 0,
    });
    // order: the backup was checked in S3 before the service was touched
    const head = s3Mock.send.getCall(0);
    const update = ecsMock.send.getCalls().find((c) => c.args[0] instanceof UpdateServiceCommand);
    if (!update) throw new Error('no UpdateService call');
    expect(head.args[0]).toBeInstanceOf(HeadObjectCommand);
    expect(update.args[0]).toBeInstanceOf(UpdateServiceCommand);
    expect(head.calledBefore(update)).toBe(true);
    expect(update.args[0].input).toEqual({ cluster: 'demo', service: 'demo-app', taskDefinition: NEW_TD });
  });

  it('follows the deployment an earlier attempt started instead of updating the service again (retry or redrive)', async () => {
    const objects = fakeBucket();
    objects.set('b.json', '{}');
    ecsMock.on(DescribeServicesCommand).resolves({
      services: [service([deployment({ id: 'ecs-svc/2222', taskDefinition: NEW_TD, rolloutState: 'IN_PROGRESS' })])],
    });
    const watch = await deploy({
      ecs,
      s3,
      cluster: 'demo',
      service: 'demo-app',
      taskDefinitionArn: NEW_TD,
      backup: { bucket, key: 'b.json' },
      rollout: rolloutSpec,
    });
    expect(watch.deploymentId).toBe('ecs-svc/2222');
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  it('lets a transient S3 error through by name (the ASL retries it) instead of refusing', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service()] });
    s3Mock.on(HeadObjectCommand).rejects(
      Object.assign(new Error('Please reduce your request rate.'), {
        name: 'SlowDown',
        $metadata: { httpStatusCode: 503 },
      }),
    );
    await expect(
      deploy({
        ecs,
        s3,
        cluster: 'demo',
        service: 'demo-app',
        taskDefinitionArn: NEW_TD,
        backup: { bucket, key: 'b.json' },
        rollout: rolloutSpec,
      }),
    ).rejects.toMatchObject({ name: 'SlowDown' });
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  it('refuses to deploy without a backup: BackupFailedError and no UpdateService', async () => {
    fakeBucket();
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service()] });
    await expect(
      deploy({
        ecs,
        s3,
        cluster: 'demo',
        service: 'demo-app',
        taskDefinitionArn: NEW_TD,
        backup: { bucket, key: 'backups/x.json' },
        rollout: rolloutSpec,
      }),
    ).rejects.toMatchObject({ name: 'BackupFailedError', message: expect.stringContaining('refusing to deploy') });
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  it('passes ServiceNotFoundException through by name', async () => {
    const objects = fakeBucket();
    objects.set('b.json', '{}');
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service()] });
    ecsMock
      .on(UpdateServiceCommand)
      .rejects(new ServiceNotFoundException({ message: 'Service not found.', $metadata: {} }));
    await expect(
      deploy({
        ecs,
        s3,
        cluster: 'demo',
        service: 'demo-app',
        taskDefinitionArn: NEW_TD,
        backup: { bucket, key: 'b.json' },
        rollout: rolloutSpec,
      }),
    ).rejects.toMatchObject({ name: 'ServiceNotFoundException' });
  });
});

describe('checkRollout', () => {
  const watch = {
    cluster: 'demo',
    service: 'demo-app',
    taskDefinitionArn: NEW_TD,
    deploymentId: 'ecs-svc/2222',
    startedAt: '2026-11-22T10:00:00.000Z',
    deadline: '2026-11-22T10:01:00.000Z',
    waitSeconds: 1,
    attempt: 0,
  };
  const ours = (o: Parameters<typeof deployment>[0]) =>
    deployment({ id: 'ecs-svc/2222', taskDefinition: NEW_TD, ...o });

  it.each([
    [
      'IN_PROGRESS while ECS rolls out',
      [ours({ rolloutState: 'IN_PROGRESS', runningCount: 1 }), deployment({ status: 'ACTIVE' })],
      'IN_PROGRESS',
      undefined,
    ],
    ['COMPLETED when our deployment is PRIMARY and COMPLETED', [ours({})], 'COMPLETED', '2 tasks running'],
    [
      'FAILED when ECS reports the rollout FAILED',
      [ours({ rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.' })],
      'FAILED',
      'circuit breaker: tasks failed to start',
    ],
    [
      'FAILED when ECS rolled the deployment back (ours no longer PRIMARY)',
      [
        deployment({ id: 'ecs-svc/3333', taskDefinition: OLD_TD, rolloutState: 'IN_PROGRESS' }),
        ours({ status: 'ACTIVE', rolloutState: 'COMPLETED' }),
      ],
      'FAILED',
      `moving to ${OLD_TD}`,
    ],
    [
      'FAILED when our deployment is gone and the service runs another revision',
      [deployment({ id: 'ecs-svc/3333' })],
      'FAILED',
      'is gone; the service now runs',
    ],
  ])('returns %s', async (_what, deployments, status, reason) => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service(deployments)] });
    const out = await checkRollout({ ecs, watch, rollout: rolloutSpec, now });
    expect(out.status).toBe(status);
    if (reason) expect(out.reason).toContain(reason);
  });

  it('backs off between checks and gives up at the deadline', async () => {
    ecsMock
      .on(DescribeServicesCommand)
      .resolves({ services: [service([ours({ rolloutState: 'IN_PROGRESS', runningCount: 1 })])] });
    const first = await checkRollout({ ecs, watch, rollout: rolloutSpec, now });
    expect(first).toMatchObject({ status: 'IN_PROGRESS', attempt: 1, waitSeconds: 2 });
    const second = await checkRollout({ ecs, watch: first, rollout: rolloutSpec, now });
    expect(second).toMatchObject({ attempt: 2, waitSeconds: 4 });
    const third = await checkRollout({ ecs, watch: second, rollout: rolloutSpec, now });
    expect(third.waitSeconds).toBe(4); // capped at maxWaitSeconds
    const late = await checkRollout({
      ecs,
      watch,
      rollout: rolloutSpec,
      now: () => new Date('2026-11-22T10:01:01.000Z'),
    });
    expect(late).toMatchObject({
      status: 'FAILED',
      reason: expect.stringContaining('did not complete by its deadline'),
    });
  });

  it('fails with TargetNotFoundError when the service vanished', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [], failures: [{ arn: 'x', reason: 'MISSING' }] });
    await expect(checkRollout({ ecs, watch, rollout: rolloutSpec })).rejects.toMatchObject({
      name: 'TargetNotFoundError',
    });
  });
});

describe('rollback', () => {
  it('updates the service back to the backed-up revision', async () => {
    ecsMock
      .on(DescribeServicesCommand)
      .resolves({ services: [service([deployment({ id: 'ecs-svc/2222', taskDefinition: NEW_TD })])] });
    ecsMock
      .on(UpdateServiceCommand)
      .resolves({ service: service([deployment({ id: 'ecs-svc/4444', rolloutState: 'IN_PROGRESS' })]) });
    const out = await rollback({
      ecs,
      cluster: 'demo',
      service: 'demo-app',
      taskDefinitionArn: OLD_TD,
      rollout: rolloutSpec,
      now,
    });
    expect(out).toMatchObject({ taskDefinitionArn: OLD_TD, deploymentId: 'ecs-svc/4444', attempt: 0 });
    expect(ecsMock.commandCalls(UpdateServiceCommand)[0]?.args[0].input.taskDefinition).toBe(OLD_TD);
  });

  it('follows the rollback ECS already started instead of starting another', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({
      services: [
        service([
          deployment({ id: 'ecs-svc/3333', rolloutState: 'IN_PROGRESS' }),
          deployment({ id: 'ecs-svc/2222', status: 'ACTIVE', taskDefinition: NEW_TD, rolloutState: 'FAILED' }),
        ]),
      ],
    });
    const out = await rollback({
      ecs,
      cluster: 'demo',
      service: 'demo-app',
      taskDefinitionArn: OLD_TD,
      rollout: rolloutSpec,
      now,
    });
    expect(out.deploymentId).toBe('ecs-svc/3333');
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });
});

describe('record', () => {
  it('writes one audit record under a date partition and returns the summary', async () => {
    const objects = fakeBucket();
    const summary = await record({
      s3,
      bucket,
      path: 'ROLLED_BACK',
      now: () => new Date('2026-11-22T10:05:00.000Z'),
      state: {
        execution: { id: 'arn:x', name: 'e1', startedAt: '2026-11-22T10:00:00.000Z' },
        trigger: { type: 'push', eventId: 'ev1' },
        image: { repository: 'demo-app', tag: 'v3', display: 'demo-app:v3' },
        target: testTarget(),
        backup: {
          bucket,
          key: 'backups/demo/demo-app/e1.json',
          taskDefinitionArn: OLD_TD,
          image: 'demo-app:v1',
          reused: false,
        },
        release: {
          taskDefinitionArn: NEW_TD,
          image: 'demo-app:v3',
          previousImage: 'demo-app:v1',
          previousTaskDefinitionArn: OLD_TD,
          reused: false,
        },
        failure: {
          Error: 'HealthCheckFailedError',
          Cause: JSON.stringify({
            errorType: 'HealthCheckFailedError',
            errorMessage: 'http://x/health was not healthy',
          }),
        },
      },
    });
    expect(summary).toEqual({
      executionName: 'e1',
      outcome: 'ROLLED_BACK',
      error: 'HealthCheckFailedError',
      reason: 'health check failed: http://x/health was not healthy; rolled back to demo-app:v1',
      image: 'demo-app:v3',
      target: 'demo-app',
      auditKey: 'audit/dt=2026-11-22/e1.json',
    });
    const rec = JSON.parse(objects.get('audit/dt=2026-11-22/e1.json') ?? '{}');
    expect(rec).toMatchObject({
      schema: 'rollgate.audit.v1',
      outcome: 'ROLLED_BACK',
      trigger: { type: 'push', eventId: 'ev1' },
      previousTaskDefinitionArn: OLD_TD,
      newTaskDefinitionArn: NEW_TD,
      durationMs: 300_000,
      cluster: 'demo',
      service: 'demo-app',
    });
  });
});
