import { type ECSClient, StopServiceDeploymentCommand } from '@aws-sdk/client-ecs';
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
  useStrategyEcs,
  versionAt,
} from './strategy-support.ts';
import { eventually } from './support.ts';

let ecs: LocalEcs;
let client: ECSClient;
let lambda: LocalLambda;
const use = (env: { ecs: LocalEcs; client: ECSClient; lambda: LocalLambda }) => {
  ({ ecs, client, lambda } = env);
};
const production = () => ecs.loadBalancerUrl('demo', 'demo-app');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const FINAL = ['SUCCESSFUL', 'ROLLBACK_SUCCESSFUL', 'ROLLBACK_FAILED'];

describe('CANARY on the local ECS, rolled back by StopServiceDeployment', () => {
  // A "minute" of 6 s: the 10% step bakes 6 s, 5 s of it measured.
  useStrategyEcs(6000, use);

  it('sends 10% +/- 3 points of production to green during the step, none after the rollback, 0 failed', async () => {
    await ecs.waitForSteadyState('demo', 'demo-app', 10_000);
    const poller = startProductionClient(() => `${production()}/`);
    const arn = await deployWith(client, 'demo-app:v2', {
      strategy: 'CANARY',
      canaryConfiguration: { canaryPercent: 10, canaryBakeTimeInMinutes: 1 },
    });
    await eventually(async () =>
      (await describeDeployment(client, arn)).targetServiceRevision?.requestedProductionTrafficWeight === 10
        ? true
        : undefined,
    );
    const stepStart = requestsByTargetGroup(ecs);
    await sleep(5000);
    const stepEnd = requestsByTargetGroup(ecs);
    const during = await describeDeployment(client, arn);
    expect(during).toMatchObject({ status: 'IN_PROGRESS', lifecycleStage: 'PRODUCTION_TRAFFIC_SHIFT' });

    // Rollback: from the request to the production rule forwarding to blue only.
    const lb = ecs.loadBalancer('demo', 'demo-app');
    const productionRule = () => lb?.rules('production').find((r) => r.priority === 'default');
    const asked = performance.now();
    await client.send(new StopServiceDeploymentCommand({ serviceDeploymentArn: arn, stopType: 'ROLLBACK' }));
    await eventually(() =>
      productionRule()?.forward.find((f) => f.targetGroup === 'green')?.weight === 0 ? true : undefined,
    );
    const flipMs = performance.now() - asked;
    await sleep(200);
    const afterFlip = requestsByTargetGroup(ecs);
    await sleep(1000);
    const later = requestsByTargetGroup(ecs);
    const done = await deploymentReaches(client, arn, FINAL);
    await poller.stop();

    const green = stepEnd.green - stepStart.green;
    const total = green + stepEnd.blue - stepStart.blue;
    expect(total).toBeGreaterThanOrEqual(50);
    expect(green / total).toBeGreaterThanOrEqual(0.07);
    expect(green / total).toBeLessThanOrEqual(0.13);
    expect(later.green - afterFlip.green).toBe(0);
    expect(later.blue - afterFlip.blue).toBeGreaterThan(0);
    expect(poller.failures).toEqual([]);
    expect(done).toMatchObject({
      status: 'ROLLBACK_SUCCESSFUL',
      rollback: { reason: 'StopServiceDeployment ROLLBACK requested.' },
    });
    const record = ecs.serviceDeployments('demo', 'demo-app').at(-1);
    expect(record?.rollbackFlipMs).toBeDefined();
    console.info(
      `canary 10%: green ${green} of ${total} production requests (${((green / total) * 100).toFixed(1)}%); StopServiceDeployment -> production fully on blue ${flipMs.toFixed(1)} ms (the run's own flip ${record?.rollbackFlipMs?.toFixed(3)} ms)`,
    );
  });
});

describe('LINEAR and a good CANARY on the local ECS', () => {
  // A "minute" of 300 ms: each step bakes 300 ms.
  useStrategyEcs(300, use);

  it('shifts production 25% at a time to 100%, the hook seeing each step, 0 failed requests', async () => {
    await ecs.waitForSteadyState('demo', 'demo-app', 10_000);
    const poller = startProductionClient(() => `${production()}/`);
    const arn = await deployWith(client, 'demo-app:v2', {
      strategy: 'LINEAR',
      linearConfiguration: { stepPercent: 25, stepBakeTimeInMinutes: 1 },
      lifecycleHooks: [{ hookTargetArn: HOOK, roleArn: ROLE, lifecycleStages: ['PRODUCTION_TRAFFIC_SHIFT'] }],
    });
    const done = await deploymentReaches(client, arn, FINAL);
    const finished = requestsByTargetGroup(ecs);
    await sleep(300);
    const after = requestsByTargetGroup(ecs);
    await poller.stop();
    expect(done.status).toBe('SUCCESSFUL');
    expect(hookPayloads(lambda).map(greenWeights)).toEqual([
      'PRODUCTION_TRAFFIC_SHIFT test 100 production 25',
      'PRODUCTION_TRAFFIC_SHIFT test 100 production 50',
      'PRODUCTION_TRAFFIC_SHIFT test 100 production 75',
      'PRODUCTION_TRAFFIC_SHIFT test 100 production 100',
    ]);
    expect(poller.failures).toEqual([]);
    expect([...poller.versions].sort()).toEqual(['v1', 'v2']);
    // All production on green (the new version) once it is done.
    expect(after.blue - finished.blue).toBe(0);
    expect(after.green - finished.green).toBeGreaterThan(0);
    expect(await versionAt(production())).toBe('v2');
  });

  it('a good canary ends with 100% on the new version and 0 failed requests', async () => {
    await ecs.waitForSteadyState('demo', 'demo-app', 10_000);
    const poller = startProductionClient(() => `${production()}/`);
    const arn = await deployWith(client, 'demo-app:v2', {
      strategy: 'CANARY',
      canaryConfiguration: { canaryPercent: 10, canaryBakeTimeInMinutes: 2 },
      bakeTimeInMinutes: 1,
    });
    const done = await deploymentReaches(client, arn, FINAL);
    const finished = requestsByTargetGroup(ecs);
    await sleep(300);
    const after = requestsByTargetGroup(ecs);
    await poller.stop();
    expect(done).toMatchObject({ status: 'SUCCESSFUL', lifecycleStage: 'CLEAN_UP' });
    expect(poller.failures).toEqual([]);
    expect(after.blue - finished.blue).toBe(0);
    expect(after.green - finished.green).toBeGreaterThan(0);
    await ecs.waitForSteadyState('demo', 'demo-app', 10_000);
    expect(
      ecs
        .tasks('demo', 'demo-app')
        .filter((t) => t.lastStatus === 'RUNNING')
        .map((t) => t.imageTag),
    ).toEqual(['v2', 'v2']);
  });
});
