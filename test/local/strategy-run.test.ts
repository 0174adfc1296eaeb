import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseStrategy } from '../../local/ecs/strategies.ts';
import { lambdaHookInvoker, StrategyRun } from '../../local/ecs/strategy-run.ts';
import { type LocalLambda, localFunctionArn, startLambda } from '../../local/lambda.ts';
import { type LoadBalancer, startLoadBalancer } from '../../local/lb.ts';
import { type ProductionClient, startProductionClient } from '../../local/production-client.ts';
import { eventually } from './support.ts';

const HOOK = localFunctionArn('hook', 'us-east-1', '123456789012');
const ROLE = 'arn:aws:iam::123456789012:role/ecs-hook';
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function versionServer(version: string): Promise<number> {
  const server: Server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end(req.url === '/health' ? 'ok' : version);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

/** A service's ALB with two blue targets, the hook Lambda, and a run of `dc` whose green tasks answer `green`. */
async function setUp(dc: Record<string, unknown>, minuteMs: number) {
  const lb: LoadBalancer = await startLoadBalancer({
    name: 'lb web',
    port: 0,
    healthCheckPath: '/health',
    healthCheckIntervalMs: 50,
  });
  cleanups.push(() => lb.close());
  const lambda: LocalLambda = await startLambda({
    serverlessFile: path.join(import.meta.dirname, 'fixtures/lambda/serverless.yml'),
    region: 'us-east-1',
    accountId: '123456789012',
  });
  cleanups.push(() => lambda.close());
  const hooks = lambdaHookInvoker(lambda.endpoint, 'us-east-1');
  cleanups.push(() => hooks.close());
  lb.register({ id: 'b1', port: await versionServer('blue') });
  lb.register({ id: 'b2', port: await versionServer('blue') });
  const greenPort = await versionServer('green');
  await eventually(() => (lb.targets().every((t) => t.state === 'healthy') ? true : undefined), 5000);
  const healthy = (id: string) =>
    eventually(() => (lb.targets().find((t) => t.id === id)?.state === 'healthy' ? true : undefined), 5000);
  const run = new StrategyRun({
    config: parseStrategy(dc),
    lb,
    productionRule: lb.defaultRule('production'),
    testRules: [lb.defaultRule('test')],
    live: 'blue',
    candidate: 'green',
    serviceArn: 'arn:aws:ecs:us-east-1:123456789012:service/demo/web',
    serviceDeploymentArn: 'arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/web/1',
    blueRevisionArn: 'arn:aws:ecs:us-east-1:123456789012:service-revision/demo/web/1',
    greenRevisionArn: 'arn:aws:ecs:us-east-1:123456789012:service-revision/demo/web/2',
    invoke: hooks.invoke,
    minuteMs,
    scaleUp: async () => {
      lb.register({ id: 'g1', port: greenPort }, 'green');
      await healthy('g1');
    },
    cleanUp: async () => {
      await Promise.all([lb.deregister('b1'), lb.deregister('b2')]);
    },
    stopCandidate: () => lb.deregister('g1'),
  });
  return { lb, run, lambda };
}

/** The requests answered 200, with the time each started. */
const served = (client: ProductionClient) => client.answers.filter((a) => a.status === 200);

const greenShare = (list: Array<{ version: string }>) => list.filter((s) => s.version === 'green').length / list.length;

describe('StrategyRun over the local ALB and the local Lambda endpoint', () => {
  it('canary: 10% +/- 3 points of production to green during the step, none after a rollback, 0 failed', async () => {
    // A "minute" of 6 s: the 10% step bakes 6 s; 5 s of it measured (up to 500 requests at one per 10 ms, fewer on a
    // loaded machine: the weighted choice is exact per request, so the share holds at any count).
    const { lb, run } = await setUp(
      { strategy: 'CANARY', canaryConfiguration: { canaryPercent: 10, canaryBakeTimeInMinutes: 1 } },
      6000,
    );
    const poller = startProductionClient(lb.url);
    cleanups.push(async () => void (await poller.stop()));
    await eventually(() => (run.productionPercent === 10 ? true : undefined), 10_000);
    const stepStarted = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const stepEnded = performance.now();
    run.requestRollback('StopServiceDeployment ROLLBACK');
    expect(await run.done).toBe('ROLLBACK_SUCCESSFUL');
    const flipped = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await poller.stop();
    const during = served(poller).filter((s) => s.at >= stepStarted && s.at < stepEnded);
    const after = served(poller).filter((s) => s.at >= flipped);
    expect(during.length).toBeGreaterThanOrEqual(50);
    expect(greenShare(during)).toBeGreaterThanOrEqual(0.07);
    expect(greenShare(during)).toBeLessThanOrEqual(0.13);
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((s) => s.version === 'green')).toEqual([]);
    expect(poller.failures).toEqual([]);
    expect(run.rollbackFlipMs).toBeDefined();
    console.info(
      `canary: green share during the 10% step ${(greenShare(during) * 100).toFixed(1)}% of ${during.length}; weight flip ${run.rollbackFlipMs?.toFixed(3)} ms`,
    );
  });

  it('blue/green: a hook FAILED at POST_TEST_TRAFFIC_SHIFT rolls back with 0 production requests to green', async () => {
    const { lb, run, lambda } = await setUp(
      {
        strategy: 'BLUE_GREEN',
        lifecycleHooks: [
          {
            hookTargetArn: HOOK,
            roleArn: ROLE,
            lifecycleStages: ['POST_TEST_TRAFFIC_SHIFT'],
            hookDetails: { answer: 'FAILED' },
          },
        ],
      },
      1000,
    );
    const poller = startProductionClient(lb.url);
    cleanups.push(async () => void (await poller.stop()));
    expect(await run.done).toBe('ROLLBACK_SUCCESSFUL');
    await poller.stop();
    expect(run.reason).toBe('POST_TEST_TRAFFIC_SHIFT: the hook answered FAILED');
    expect(run.hookCalls).toEqual([{ stage: 'POST_TEST_TRAFFIC_SHIFT', status: 'FAILED', rollback: false }]);
    expect(lambda.invocations.map((i) => i.function)).toEqual(['HookLambdaFunction']);
    expect(lambda.invocations[0]?.payload).toMatchObject({
      lifecycleStage: 'POST_TEST_TRAFFIC_SHIFT',
      resourceArn: 'arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/web/1',
      executionDetails: {
        testTrafficWeights: {
          'arn:aws:ecs:us-east-1:123456789012:service-revision/demo/web/1': 0,
          'arn:aws:ecs:us-east-1:123456789012:service-revision/demo/web/2': 100,
        },
        productionTrafficWeights: {
          'arn:aws:ecs:us-east-1:123456789012:service-revision/demo/web/1': 100,
          'arn:aws:ecs:us-east-1:123456789012:service-revision/demo/web/2': 0,
        },
      },
    });
    expect(served(poller).length).toBeGreaterThan(0);
    expect(served(poller).filter((s) => s.version === 'green')).toEqual([]);
    expect(poller.failures).toEqual([]);
    expect(lb.status().targetGroups.find((t) => t.name === 'green')?.targets).toEqual([]);
  });

  it('a good canary waits out IN_PROGRESS answers and ends with 100% on green and 0 failed', async () => {
    const { lb, run } = await setUp(
      {
        strategy: 'CANARY',
        canaryConfiguration: { canaryPercent: 10, canaryBakeTimeInMinutes: 1 },
        lifecycleHooks: [
          {
            hookTargetArn: HOOK,
            roleArn: ROLE,
            lifecycleStages: ['POST_TEST_TRAFFIC_SHIFT', 'PRODUCTION_TRAFFIC_SHIFT'],
            hookDetails: { inProgressTimes: 1 },
          },
        ],
      },
      600,
    );
    const poller = startProductionClient(lb.url);
    cleanups.push(async () => void (await poller.stop()));
    expect(await run.done).toBe('SUCCESSFUL');
    const finished = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await poller.stop();
    // Each hooked stage: IN_PROGRESS once (its hookDetails counted the call), then SUCCEEDED.
    expect(run.hookCalls.map((c) => `${c.stage} ${c.status}`)).toEqual([
      'POST_TEST_TRAFFIC_SHIFT IN_PROGRESS',
      'POST_TEST_TRAFFIC_SHIFT SUCCEEDED',
      'PRODUCTION_TRAFFIC_SHIFT IN_PROGRESS',
      'PRODUCTION_TRAFFIC_SHIFT SUCCEEDED',
      'PRODUCTION_TRAFFIC_SHIFT IN_PROGRESS',
      'PRODUCTION_TRAFFIC_SHIFT SUCCEEDED',
    ]);
    const after = served(poller).filter((s) => s.at >= finished);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((s) => s.version === 'green')).toBe(true);
    expect(poller.failures).toEqual([]);
    expect(lb.targets().map((t) => t.id)).toEqual(['g1']);
  });
});
