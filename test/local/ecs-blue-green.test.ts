import {
  DescribeServiceDeploymentsCommand,
  DescribeServicesCommand,
  type ECSClient,
  ListServiceDeploymentsCommand,
  type Service,
  StopServiceDeploymentCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import type { LocalEcs } from '../../local/ecs/server.ts';
import type { LocalLambda } from '../../local/lambda.ts';
import { startProductionClient } from '../../local/production-client.ts';
import {
  deploymentReaches,
  deployWith,
  describeDeployment,
  greenWeights,
  HOOK,
  hookPayloads,
  ROLE,
  requestsByTargetGroup,
  TEST_HEADER,
  useStrategyEcs,
  versionAt,
} from './strategy-support.ts';
import { demoSpec, ecsClient, eventually, startTestEcs } from './support.ts';

let ecs: LocalEcs;
let client: ECSClient;
let lambda: LocalLambda;
let dir: string;
// A "minute" of 6 s: a hook's callBackDelay of 1 s is 100 ms.
useStrategyEcs(6000, (env) => {
  ({ ecs, client, lambda, dir } = env);
});

async function service(c: ECSClient = client): Promise<Service> {
  const out = await c.send(new DescribeServicesCommand({ cluster: 'demo', services: ['demo-app'] }));
  return out.services?.[0] as Service;
}

const production = () => ecs.loadBalancerUrl('demo', 'demo-app');
const testListener = () => ecs.loadBalancer('demo', 'demo-app')?.testUrl ?? '';

describe('BLUE_GREEN on the local ECS', () => {
  it('shows the ALB wiring as advancedConfiguration, and keeps the strategy fields UpdateService took', async () => {
    const lb = ecs.loadBalancer('demo', 'demo-app');
    const before = await service();
    expect(before.loadBalancers?.[0]).toEqual({
      targetGroupArn: lb?.targetGroup('blue').arn,
      containerName: 'web',
      containerPort: 8080,
      advancedConfiguration: {
        alternateTargetGroupArn: lb?.targetGroup('green').arn,
        productionListenerRule: lb?.defaultRule('production'),
        testListenerRule: lb?.defaultRule('test'),
        roleArn: 'arn:aws:iam::123456789012:role/ecsInfrastructureRoleForLoadBalancers',
      },
    });
    expect(before.currentServiceDeployment).toBeUndefined();
    const hooks = [{ hookTargetArn: HOOK, roleArn: ROLE, lifecycleStages: ['POST_TEST_TRAFFIC_SHIFT'] }];
    const out = await client.send(
      new UpdateServiceCommand({
        cluster: 'demo',
        service: 'demo-app',
        deploymentConfiguration: { strategy: 'CANARY', lifecycleHooks: hooks as never },
      }),
    );
    // No new task definition: nothing deploys; the defaults of ECS are filled in.
    expect(out.service?.deploymentConfiguration).toMatchObject({
      strategy: 'CANARY',
      bakeTimeInMinutes: 0,
      canaryConfiguration: { canaryPercent: 5, canaryBakeTimeInMinutes: 10 },
      lifecycleHooks: [{ ...hooks[0], targetType: 'AWS_LAMBDA' }],
      minimumHealthyPercent: 100,
    });
    expect(out.service?.deployments?.map((d) => d.rolloutState)).toEqual(['COMPLETED']);
    await expect(
      client.send(
        new UpdateServiceCommand({
          cluster: 'demo',
          service: 'demo-app',
          deploymentConfiguration: { strategy: 'CANARY', canaryConfiguration: { canaryPercent: 0.05 } },
        }),
      ),
    ).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: 'deploymentConfiguration.canaryConfiguration.canaryPercent must be a number from 0.1 to 100, got 0.05.',
    });
    // `lifecycleHooks: []` removes them; a field not sent keeps its value.
    const cleared = await client.send(
      new UpdateServiceCommand({
        cluster: 'demo',
        service: 'demo-app',
        deploymentConfiguration: { lifecycleHooks: [] },
      }),
    );
    expect(cleared.service?.deploymentConfiguration).toMatchObject({ strategy: 'CANARY', lifecycleHooks: [] });
  });

  it('answers the service deployment operations as ECS does when there is nothing to find or stop', async () => {
    const listed = await client.send(
      new ListServiceDeploymentsCommand({ cluster: 'demo', service: 'demo-app', status: ['IN_PROGRESS'] }),
    );
    expect(listed.serviceDeployments).toEqual([]);
    const unknown = 'arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/demo-app/nope';
    const described = await client.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [unknown] }));
    expect(described).toMatchObject({ serviceDeployments: [], failures: [{ arn: unknown, reason: 'MISSING' }] });
    await expect(
      client.send(new StopServiceDeploymentCommand({ serviceDeploymentArn: unknown, stopType: 'ROLLBACK' })),
    ).rejects.toMatchObject({ name: 'ServiceDeploymentNotFoundException' });
    await expect(
      client.send(new StopServiceDeploymentCommand({ serviceDeploymentArn: unknown, stopType: 'ABORT' })),
    ).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: 'stopType ABORT is not supported by the local ECS: use ROLLBACK.',
    });
    await expect(
      client.send(new ListServiceDeploymentsCommand({ cluster: 'demo', service: 'nope' })),
    ).rejects.toMatchObject({ name: 'ServiceNotFoundException' });
  });

  it('deploys through the test route, then production, with a hook answering IN_PROGRESS then SUCCEEDED', async () => {
    const arn = await deployWith(client, 'demo-app:v2', {
      strategy: 'BLUE_GREEN',
      lifecycleHooks: [
        {
          hookTargetArn: HOOK,
          roleArn: ROLE,
          lifecycleStages: ['POST_TEST_TRAFFIC_SHIFT', 'PRODUCTION_TRAFFIC_SHIFT'],
          hookDetails: { inProgressTimes: 4 },
        },
      ],
    });
    // During the run: the target revision is PRIMARY, IN_PROGRESS; the source ACTIVE.
    const during = await service();
    expect(during.currentServiceDeployment).toBe(arn);
    expect(during.deployments?.map((d) => `${d.status} ${d.rolloutState}`)).toEqual([
      'PRIMARY IN_PROGRESS',
      'ACTIVE COMPLETED',
    ]);
    // At POST_TEST_TRAFFIC_SHIFT (held there 4 x 100 ms by the hook): test listener and header on green only.
    await eventually(async () => {
      const d = await describeDeployment(client, arn);
      return d.lifecycleStage === 'POST_TEST_TRAFFIC_SHIFT' ? d : undefined;
    }, 20_000);
    expect(await versionAt(testListener())).toBe('v2');
    expect(await versionAt(production(), { [TEST_HEADER.name]: TEST_HEADER.value })).toBe('v2');
    expect(await versionAt(production())).toBe('v1');

    const done = await deploymentReaches(client, arn, ['SUCCESSFUL', 'ROLLBACK_SUCCESSFUL', 'ROLLBACK_FAILED']);
    expect(done).toMatchObject({
      status: 'SUCCESSFUL',
      lifecycleStage: 'CLEAN_UP',
      targetServiceRevision: { requestedProductionTrafficWeight: 100, requestedTestTrafficWeight: 100 },
      deploymentConfiguration: { strategy: 'BLUE_GREEN' },
    });
    expect(done.finishedAt).toBeInstanceOf(Date);
    // The hook saw each stage twice (IN_PROGRESS 4 times with its count handed back, then SUCCEEDED), weights to green.
    const payloads = hookPayloads(lambda);
    expect(payloads.map(greenWeights)).toEqual([
      ...Array(5).fill('POST_TEST_TRAFFIC_SHIFT test 100 production 0'),
      ...Array(5).fill('PRODUCTION_TRAFFIC_SHIFT test 100 production 100'),
    ]);
    expect(payloads.map((p) => p.hookDetails?.seen ?? 0)).toEqual([0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
    expect(new Set(payloads.slice(0, 5).map((p) => p.executionId)).size).toBe(1);
    expect(payloads.every((p) => p.resourceArn === arn)).toBe(true);

    // Production is green's; blue's tasks are gone; the service shows one COMPLETED deployment.
    expect(await versionAt(production())).toBe('v2');
    const svc = await eventually(async () => {
      const s = await service();
      return s.runningCount === 2 && s.deployments?.length === 1 ? s : undefined;
    });
    expect(svc.deployments?.[0]).toMatchObject({ status: 'PRIMARY', rolloutState: 'COMPLETED' });
    expect(ecs.targets('demo', 'demo-app').map((t) => t.targetGroup)).toEqual(['green', 'green']);
    const listed = await client.send(new ListServiceDeploymentsCommand({ cluster: 'demo', service: 'demo-app' }));
    expect(listed.serviceDeployments?.map((d) => `${d.serviceDeploymentArn} ${d.status}`)).toEqual([
      `${arn} SUCCESSFUL`,
    ]);
    const inProgress = await client.send(
      new ListServiceDeploymentsCommand({ cluster: 'demo', service: 'demo-app', status: ['IN_PROGRESS'] }),
    );
    expect(inProgress.serviceDeployments).toEqual([]);
    await expect(
      client.send(new StopServiceDeploymentCommand({ serviceDeploymentArn: arn, stopType: 'ROLLBACK' })),
    ).rejects.toMatchObject({ name: 'ConflictException' });

    // The roles swapped: the next deployment's tasks start in blue, and a ROLLING one serves from green.
    const next = await deployWith(client, 'demo-app:v3', { strategy: 'BLUE_GREEN', lifecycleHooks: [] });
    expect(await deploymentReaches(client, next, ['SUCCESSFUL'])).toBeDefined();
    expect(ecs.serviceDeployments('demo', 'demo-app').map((d) => d.target.targetGroup)).toEqual(['green', 'blue']);
    expect(await versionAt(production())).toBe('v3');
  });

  it('rolls back on a hook FAILED at POST_TEST_TRAFFIC_SHIFT: 0 production requests to green, hooks told', async () => {
    await ecs.waitForSteadyState('demo', 'demo-app', 10_000);
    const poller = startProductionClient(() => `${production()}/`);
    const before = requestsByTargetGroup(ecs);
    const arn = await deployWith(client, 'demo-app:v2', {
      strategy: 'BLUE_GREEN',
      lifecycleHooks: [
        {
          hookTargetArn: HOOK,
          roleArn: ROLE,
          lifecycleStages: ['TEST_TRAFFIC_SHIFT', 'POST_TEST_TRAFFIC_SHIFT', 'PRODUCTION_TRAFFIC_SHIFT'],
          hookDetails: { answer: 'FAILED', failAt: 'POST_TEST_TRAFFIC_SHIFT' },
        },
      ],
    });
    const done = await deploymentReaches(client, arn, ['SUCCESSFUL', 'ROLLBACK_SUCCESSFUL', 'ROLLBACK_FAILED']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await poller.stop();
    expect(done).toMatchObject({
      status: 'ROLLBACK_SUCCESSFUL',
      statusReason: 'POST_TEST_TRAFFIC_SHIFT: the hook answered FAILED',
      rollback: {
        reason: 'POST_TEST_TRAFFIC_SHIFT: the hook answered FAILED',
        serviceRevisionArn: done.sourceServiceRevisions?.[0]?.arn,
      },
    });
    // Production: v1 only, not one request routed to green, none failed.
    const after = requestsByTargetGroup(ecs);
    expect(after.green - before.green).toBe(0);
    expect(after.blue - before.blue).toBeGreaterThan(0);
    expect([...poller.versions]).toEqual(['v1']);
    expect(poller.failures).toEqual([]);
    // The hook: test traffic shifted, the gate failed, then both shifts back to blue, told to it during the rollback.
    expect(hookPayloads(lambda).map(greenWeights)).toEqual([
      'TEST_TRAFFIC_SHIFT test 100 production 0',
      'POST_TEST_TRAFFIC_SHIFT test 100 production 0',
      'PRODUCTION_TRAFFIC_SHIFT test 100 production 0',
      'TEST_TRAFFIC_SHIFT test 0 production 0',
    ]);
    const svc = await eventually(async () => {
      const s = await service();
      return s.deployments?.length === 1 && s.runningCount === 2 ? s : undefined;
    });
    expect(svc.deployments?.[0]).toMatchObject({ status: 'PRIMARY', rolloutState: 'COMPLETED' });
    expect(svc.taskDefinition).toMatch(/:task-definition\/demo-app:1$/);
    expect(ecs.targets('demo', 'demo-app').map((t) => t.targetGroup)).toEqual(['blue', 'blue']);
    expect(await versionAt(testListener())).toBe('v1');
    const flip = ecs.serviceDeployments('demo', 'demo-app').at(-1)?.rollbackFlipMs;
    expect(flip).toBeDefined();
    console.info(`blue/green: FAILED hook answer -> production rule fully on blue in ${flip?.toFixed(3)} ms`);
  });

  it('rolls back during BAKE_TIME on StopServiceDeployment: both revisions up while baking, production back on v1', async () => {
    const arn = await deployWith(client, 'demo-app:v2', { strategy: 'BLUE_GREEN', bakeTimeInMinutes: 1 });
    await eventually(async () =>
      (await describeDeployment(client, arn)).lifecycleStage === 'BAKE_TIME' ? true : undefined,
    );
    expect(await versionAt(production())).toBe('v2');
    expect(
      ecs
        .targets('demo', 'demo-app')
        .map((t) => t.targetGroup)
        .sort(),
    ).toEqual(['blue', 'blue', 'green', 'green']);
    const poller = startProductionClient(() => `${production()}/`);
    await client.send(new StopServiceDeploymentCommand({ serviceDeploymentArn: arn, stopType: 'ROLLBACK' }));
    const done = await deploymentReaches(client, arn, ['SUCCESSFUL', 'ROLLBACK_SUCCESSFUL', 'ROLLBACK_FAILED']);
    await poller.stop();
    expect(done).toMatchObject({
      status: 'ROLLBACK_SUCCESSFUL',
      statusReason: 'StopServiceDeployment ROLLBACK requested.',
    });
    expect(poller.failures).toEqual([]);
    expect(await versionAt(production())).toBe('v1');
    await ecs.waitForSteadyState('demo', 'demo-app', 10_000);
    expect(ecs.targets('demo', 'demo-app').map((t) => t.targetGroup)).toEqual(['blue', 'blue']);
  });

  it.each([
    { image: 'demo-app:v2-crash', reason: /^the deployment failed: task \w+ stopped before it served: / },
    {
      image: 'demo-app:v2-unhealthy',
      reason: /^the deployment failed: task \w+ failed the health checks of target group green \(last check: 500\)$/,
    },
  ])('rolls back at SCALE_UP when $image cannot serve, production untouched', async ({ image, reason }) => {
    const arn = await deployWith(client, image, { strategy: 'BLUE_GREEN' });
    const done = await deploymentReaches(client, arn, ['SUCCESSFUL', 'ROLLBACK_SUCCESSFUL', 'ROLLBACK_FAILED']);
    expect(done).toMatchObject({ status: 'ROLLBACK_SUCCESSFUL', lifecycleStage: 'TEST_TRAFFIC_SHIFT' });
    expect(done.statusReason).toMatch(reason);
    expect(await versionAt(production())).toBe('v1');
    await ecs.waitForSteadyState('demo', 'demo-app', 10_000);
    expect(ecs.targets('demo', 'demo-app').map((t) => `${t.targetGroup} ${t.state}`)).toEqual([
      'blue healthy',
      'blue healthy',
    ]);
  });

  it('rolls back a service deployment left unfinished by a stop, when the local ECS starts again', async () => {
    const arn = await deployWith(client, 'demo-app:v2', {
      strategy: 'BLUE_GREEN',
      lifecycleHooks: [
        {
          hookTargetArn: HOOK,
          roleArn: ROLE,
          lifecycleStages: ['POST_TEST_TRAFFIC_SHIFT'],
          hookDetails: { inProgressTimes: 1000 },
        },
      ],
    });
    await eventually(async () =>
      (await describeDeployment(client, arn)).lifecycleStage === 'POST_TEST_TRAFFIC_SHIFT' ? true : undefined,
    );
    await ecs.close();
    const again = await startTestEcs(dir, {
      spec: demoSpec({ testListenerPort: 0, testHeader: TEST_HEADER }),
      lambdaEndpoint: lambda.endpoint,
      healthCheckIntervalMs: 100,
    });
    const c = ecsClient(again.endpoint);
    try {
      const d = await describeDeployment(c, arn);
      expect(d).toMatchObject({
        status: 'ROLLBACK_SUCCESSFUL',
        rollback: { serviceRevisionArn: d.sourceServiceRevisions?.[0]?.arn },
      });
      expect(d.statusReason).toMatch(/^The local ECS stopped during the service deployment/);
      const svc = await service(c);
      expect(svc.deployments?.map((x) => `${x.status} ${x.rolloutState}`)).toEqual(['PRIMARY COMPLETED']);
      expect(await versionAt(again.loadBalancerUrl('demo', 'demo-app'))).toBe('v1');
      expect(again.targets('demo', 'demo-app').map((t) => t.targetGroup)).toEqual(['blue', 'blue']);
    } finally {
      c.destroy();
      await again.close();
    }
  });
});
