import {
  DescribeServiceDeploymentsCommand,
  DescribeServicesCommand,
  ECSClient,
  ListServiceDeploymentsCommand,
  type ServiceDeployment,
  StopServiceDeploymentCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { checkRollout } from '../../src/core/check-rollout.ts';
import { deploy } from '../../src/core/deploy.ts';
import { BackupFailedError } from '../../src/core/errors.ts';
import { rollback } from '../../src/core/rollback.ts';
import { strategyConfiguration } from '../../src/core/service-deployments.ts';
import { testTarget } from '../helpers.ts';
import { deployment, NEW_TD, OLD_TD, service } from './aws-fixtures.ts';
import { memoryBucket } from './s3-fake.ts';

const ecsMock = mockClient(ECSClient);
const s3Mock = mockClient(S3Client);
const ecs = new ECSClient({ region: 'us-east-1' });
const s3 = new S3Client({ region: 'us-east-1' });
const now = () => new Date('2026-11-22T10:00:00.000Z');
const SD = 'arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/demo-app/new1';
const canary = testTarget({
  target: {
    strategy: 'canary',
    canary: { percent: 10, bakeMinutes: 1 },
    bakeMinutes: 2,
    testRoute: { header: { name: 'x-canary', value: '1' } },
  },
});
const hook = () => ({
  functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:rollgate-dev-gateHook',
  roleArn: 'arn:aws:iam::123456789012:role/rollgate-dev-ecs-hook',
});
const backup = { bucket: 'artifacts', key: 'backups/demo/demo-app/x.json' };
const base = {
  ecs,
  s3,
  cluster: 'demo',
  service: 'demo-app',
  taskDefinitionArn: NEW_TD,
  backup,
  rollout: canary.rollout,
  delivery: canary,
  hook,
  executionName: 'demo-app-v4-1',
  now,
};

let objects: Map<string, string>;
beforeEach(() => {
  ecsMock.reset();
  s3Mock.reset();
  objects = memoryBucket(s3Mock);
});

describe('deploy with a progressive strategy', () => {
  it('starts the ECS canary with the strategy fields and rollgate hook, and watches its service deployment', async () => {
    objects.set(backup.key, '{}');
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service()] });
    ecsMock.on(UpdateServiceCommand).resolves({ service: { ...service(), currentServiceDeployment: SD } });
    const watch = await deploy(base);
    expect(watch).toMatchObject({ serviceDeploymentArn: SD, expect: 'SUCCESSFUL', bake: true, attempt: 0 });
    const input = ecsMock.commandCalls(UpdateServiceCommand)[0]?.args[0].input;
    expect(input).toEqual({
      cluster: 'demo',
      service: 'demo-app',
      taskDefinition: NEW_TD,
      deploymentConfiguration: {
        // the service's own settings are kept
        minimumHealthyPercent: 100,
        maximumPercent: 200,
        deploymentCircuitBreaker: { enable: true, rollback: true },
        strategy: 'CANARY',
        bakeTimeInMinutes: 2,
        canaryConfiguration: { canaryPercent: 10, canaryBakeTimeInMinutes: 1 },
        lifecycleHooks: [
          {
            hookTargetArn: hook().functionArn,
            roleArn: hook().roleArn,
            lifecycleStages: ['POST_TEST_TRAFFIC_SHIFT', 'PRODUCTION_TRAFFIC_SHIFT'],
            hookDetails: { execution: 'demo-app-v4-1' },
          },
        ],
      },
    });
  });

  it('on a retry follows the service deployment already going to this revision: no second UpdateService', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [{ ...service(), taskDefinition: NEW_TD }] });
    ecsMock.on(ListServiceDeploymentsCommand).resolves({
      serviceDeployments: [{ serviceDeploymentArn: SD, status: 'IN_PROGRESS', createdAt: now() }],
    });
    expect(await deploy(base)).toMatchObject({ serviceDeploymentArn: SD });
    expect(ecsMock.commandCalls(ListServiceDeploymentsCommand)[0]?.args[0].input).toEqual({
      cluster: 'demo',
      service: 'demo-app',
      status: ['PENDING', 'IN_PROGRESS'],
    });
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  it('refuses to start without the backup (BackupFailedError), the service untouched', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service()] });
    await expect(deploy(base)).rejects.toBeInstanceOf(BackupFailedError);
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  it('without a test route hooks PRODUCTION_TRAFFIC_SHIFT only', async () => {
    objects.set(backup.key, '{}');
    const { testRoute: _, ...noRoute } = canary;
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service()] });
    ecsMock.on(UpdateServiceCommand).resolves({ service: { ...service(), currentServiceDeployment: SD } });
    await deploy({ ...base, delivery: noRoute });
    const hooks = ecsMock.commandCalls(UpdateServiceCommand)[0]?.args[0].input.deploymentConfiguration?.lifecycleHooks;
    expect(hooks?.[0]?.lifecycleStages).toEqual(['PRODUCTION_TRAFFIC_SHIFT']);
  });
});

describe('rollback with a progressive strategy', () => {
  const params = { ...base, taskDefinitionArn: 'arn:aws:ecs:us-east-1:123456789012:task-definition/demo-app:7' };
  const gates = { s3, bucket: 'artifacts', executionName: 'demo-app-v4-1' };

  it('stops the service deployment in progress with ROLLBACK and closes the gates', async () => {
    ecsMock.on(ListServiceDeploymentsCommand).resolves({
      serviceDeployments: [{ serviceDeploymentArn: SD, status: 'IN_PROGRESS', createdAt: now() }],
    });
    ecsMock.on(StopServiceDeploymentCommand).resolves({ serviceDeploymentArn: SD });
    const watch = await rollback({ ...params, gates, reason: 'SloViolated: p95' });
    expect(watch).toMatchObject({ serviceDeploymentArn: SD, expect: 'ROLLBACK_SUCCESSFUL' });
    expect(watch).not.toHaveProperty('bake');
    expect(ecsMock.commandCalls(StopServiceDeploymentCommand)[0]?.args[0].input).toEqual({
      serviceDeploymentArn: SD,
      stopType: 'ROLLBACK',
    });
    expect(JSON.parse(objects.get('gates/demo-app-v4-1/closed.json') ?? '{}')).toMatchObject({
      verdict: 'FAIL',
      reason: 'SloViolated: p95',
    });
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  it('on a retry follows the rollback already in progress: no second stop', async () => {
    ecsMock.on(ListServiceDeploymentsCommand).resolves({
      serviceDeployments: [{ serviceDeploymentArn: SD, status: 'ROLLBACK_IN_PROGRESS', createdAt: now() }],
    });
    expect(await rollback({ ...params, gates })).toMatchObject({ serviceDeploymentArn: SD });
    expect(ecsMock.commandCalls(StopServiceDeploymentCommand)).toHaveLength(0);
  });

  it('after the deployment finished, deploys the backup with no lifecycle hooks', async () => {
    const back = 'arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/demo-app/back1';
    ecsMock.on(ListServiceDeploymentsCommand).resolves({ serviceDeployments: [] });
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service([deployment({ taskDefinition: NEW_TD })])] });
    ecsMock.on(UpdateServiceCommand).resolves({ service: { ...service(), currentServiceDeployment: back } });
    const watch = await rollback({ ...params, gates });
    expect(watch).toMatchObject({ serviceDeploymentArn: back, expect: 'SUCCESSFUL' });
    const input = ecsMock.commandCalls(UpdateServiceCommand)[0]?.args[0].input;
    expect(input?.taskDefinition).toBe(OLD_TD);
    expect(input?.deploymentConfiguration).toMatchObject({ strategy: 'CANARY', lifecycleHooks: [] });
    expect(ecsMock.commandCalls(StopServiceDeploymentCommand)).toHaveLength(0);
  });

  it('a rolling target rolls back as before: UpdateService, no service deployment calls', async () => {
    const rolling = testTarget();
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service([deployment({ taskDefinition: NEW_TD })])] });
    ecsMock.on(UpdateServiceCommand).resolves({ service: service() });
    await rollback({ ...params, delivery: rolling, gates });
    expect(ecsMock.commandCalls(UpdateServiceCommand)[0]?.args[0].input).toEqual({
      cluster: 'demo',
      service: 'demo-app',
      taskDefinition: OLD_TD,
    });
    expect(ecsMock.commandCalls(ListServiceDeploymentsCommand)).toHaveLength(0);
    expect(objects.size).toBe(0);
  });
});

describe('checkRollout of a service deployment', () => {
  const watch = {
    cluster: 'demo',
    service: 'demo-app',
    taskDefinitionArn: NEW_TD,
    startedAt: '2026-11-22T09:00:00.000Z',
    deadline: '2026-11-22T09:01:00.000Z',
    waitSeconds: 1,
    attempt: 0,
    serviceDeploymentArn: SD,
  };
  const describing = (d: Partial<ServiceDeployment>) =>
    ecsMock
      .on(DescribeServiceDeploymentsCommand)
      .resolves({ serviceDeployments: [{ serviceDeploymentArn: SD, ...d }] });

  it.each([
    ['SUCCESSFUL', 'CLEAN_UP', 'SUCCESSFUL', true, 'COMPLETED'],
    ['IN_PROGRESS', 'BAKE_TIME', 'SUCCESSFUL', true, 'BAKING'],
    ['IN_PROGRESS', 'PRODUCTION_TRAFFIC_SHIFT', 'SUCCESSFUL', true, 'IN_PROGRESS'],
    ['IN_PROGRESS', 'BAKE_TIME', 'SUCCESSFUL', false, 'IN_PROGRESS'],
    ['ROLLBACK_IN_PROGRESS', 'PRODUCTION_TRAFFIC_SHIFT', 'SUCCESSFUL', true, 'FAILED'],
    ['STOPPED', 'CLEAN_UP', 'SUCCESSFUL', true, 'FAILED'],
    ['ROLLBACK_IN_PROGRESS', 'TEST_TRAFFIC_SHIFT', 'ROLLBACK_SUCCESSFUL', false, 'IN_PROGRESS'],
    ['ROLLBACK_SUCCESSFUL', 'CLEAN_UP', 'ROLLBACK_SUCCESSFUL', false, 'COMPLETED'],
    ['ROLLBACK_FAILED', 'CLEAN_UP', 'ROLLBACK_SUCCESSFUL', false, 'FAILED'],
  ] as const)('%s at %s (expecting %s, bake %s) is %s', async (status, lifecycleStage, expectEnd, bake, answer) => {
    describing({ status, lifecycleStage, statusReason: 'why' });
    const out = await checkRollout({ ecs, watch: { ...watch, expect: expectEnd, bake }, rollout: canary.rollout, now });
    expect(out.status).toBe(answer);
    if (answer === 'FAILED') expect(out.reason).toBe(`ECS service deployment ${SD} is ${status}: why`);
  });

  it('counts the deadline from the first check, and fails a deployment stuck past it', async () => {
    describing({ status: 'IN_PROGRESS', lifecycleStage: 'SCALE_UP' });
    const first = await checkRollout({ ecs, watch, rollout: canary.rollout, now });
    expect(first).toMatchObject({ status: 'IN_PROGRESS', deadline: '2026-11-22T10:01:00.000Z', attempt: 1 });
    const late = () => new Date('2026-11-22T10:02:00.000Z');
    const second = await checkRollout({ ecs, watch: first, rollout: canary.rollout, now: late });
    expect(second.status).toBe('FAILED');
    expect(second.reason).toContain('did not finish by its deadline');
  });
});

describe('strategyConfiguration', () => {
  const hooked = { ...hook(), executionName: 'e1' };
  it.each([
    [
      { strategy: 'blue-green', testRoute: { url: 'http://127.0.0.1:18081' }, bakeMinutes: 3 },
      { strategy: 'BLUE_GREEN', bakeTimeInMinutes: 3 },
      ['POST_TEST_TRAFFIC_SHIFT', 'PRODUCTION_TRAFFIC_SHIFT'],
    ],
    [
      { strategy: 'linear', linear: { stepPercent: 25, bakeMinutes: 2 } },
      { strategy: 'LINEAR', bakeTimeInMinutes: 0, linearConfiguration: { stepPercent: 25, stepBakeTimeInMinutes: 2 } },
      ['PRODUCTION_TRAFFIC_SHIFT'],
    ],
    [
      { strategy: 'canary' },
      {
        strategy: 'CANARY',
        bakeTimeInMinutes: 0,
        canaryConfiguration: { canaryPercent: 5, canaryBakeTimeInMinutes: 10 },
      },
      ['PRODUCTION_TRAFFIC_SHIFT'],
    ],
  ] as const)('%j is ECS %j with the hook at %j', (fields, expected, stages) => {
    const target = testTarget({ target: { ...fields, lock: { maxWaitSeconds: 60 } } });
    const config = strategyConfiguration(target, hooked);
    expect(config).toMatchObject(expected);
    expect(config.lifecycleHooks).toEqual([
      {
        hookTargetArn: hooked.functionArn,
        roleArn: hooked.roleArn,
        lifecycleStages: stages,
        hookDetails: { execution: 'e1' },
      },
    ]);
    // a rollback's redeploy keeps the strategy and drops the hooks
    expect(strategyConfiguration(target, undefined)).toMatchObject({ ...expected, lifecycleHooks: [] });
  });
});
