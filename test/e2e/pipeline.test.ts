import { DescribeServicesCommand, DescribeTaskDefinitionCommand, ECSClient } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushEvent } from '../../cli/commands/demo.ts';
import { startProductionClient } from '../../local/production-client.ts';
import type { LocalRunner as Runner } from '../../local/runner.ts';
import { IMAGE_NOT_FOUND_PATH } from '../helpers.ts';
import { e2eEnv, expectReleased, openRunner } from './env.ts';

/**
 * The whole pipeline on the real local cloud: s3rver, the ECS endpoint with real task processes, the load
 * balancer, the state machine from statemachines/deploy.asl.json with the real handlers.
 */

let env: Awaited<ReturnType<typeof e2eEnv>>;
let runner: Runner;
let ecs: ECSClient;

beforeAll(async () => {
  env = await e2eEnv();
  runner = await openRunner(env);
  ecs = new ECSClient({
    endpoint: runner.cloud.ecs.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
}, 60_000);

afterAll(async () => {
  ecs?.destroy();
  await runner?.close();
  // every task process and the load balancer's port are released
  await expectReleased(env);
}, 60_000);

async function push(tag: string) {
  const digest = await runner.cloud.registry.pushImage('demo-app', tag);
  return runner.run(pushEvent(runner, 'demo-app', tag, digest));
}

/** The version the load balancer serves, from /health (which the -errors fault leaves alone). */
async function served(): Promise<{ version: string }> {
  const res = await fetch(`http://127.0.0.1:${env.port}/health`);
  expect(res.status).toBe(200);
  return (await res.json()) as { version: string };
}

async function runningTaskDefinition(): Promise<string> {
  const out = await ecs.send(new DescribeServicesCommand({ cluster: 'demo', services: ['demo-app'] }));
  return out.services?.[0]?.taskDefinition ?? '';
}

/** After a rollback: the old version serves, and the backup equals the task definition that was running. */
async function expectRestored(before: string, stored: Awaited<ReturnType<typeof push>>, version: string) {
  expect(await runningTaskDefinition()).toBe(before);
  expect((await served()).version).toBe(version);
  const backup = JSON.parse(await runner.readObject(stored.summary.backupKey ?? ''));
  const running = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: before }));
  expect(backup.taskDefinition.taskDefinitionArn).toBe(before);
  expect(backup.taskDefinition.containerDefinitions).toEqual(
    JSON.parse(JSON.stringify(running.taskDefinition?.containerDefinitions)),
  );
  expect(backup.taskDefinition.revision).toBe(running.taskDefinition?.revision);
}

describe('the pipeline on the local cloud', () => {
  it('deploys a good version with zero failed requests during the rolling update', async () => {
    expect((await served()).version).toBe('v1');
    const poller = startProductionClient(() => `http://127.0.0.1:${env.port}/`);
    const stored = await push('v2');
    await poller.stop();
    expect(stored.summary).toMatchObject({
      outcome: 'DEPLOYED',
      trigger: 'push',
      image: expect.stringMatching(/^demo-app:v2 \(sha256:/),
    });
    expect(stored.statesEntered).toContain('ProbeHealth');
    expect((await served()).version).toBe('v2');
    expect(poller.failures).toEqual([]);
    expect(poller.total()).toBeGreaterThan(100);
  });

  it('rolls back an image that fails its health check, to the version that ran', async () => {
    const before = await runningTaskDefinition();
    const stored = await push('v3-unhealthy');
    expect(stored.summary).toMatchObject({ outcome: 'ROLLED_BACK', error: 'HealthCheckFailedError' });
    expect(stored.summary.reason).toMatch(/^health check failed: .*HTTP 500/);
    await expectRestored(before, stored, 'v2');
  });

  it('rolls back an image that crashes on start (ECS circuit breaker)', async () => {
    const before = await runningTaskDefinition();
    const stored = await push('v3-crash');
    expect(stored.summary).toMatchObject({ outcome: 'ROLLED_BACK', error: 'RolloutFailed' });
    expect(stored.summary.reason).toMatch(/^rollout failed: .*tasks failed to start/);
    await expectRestored(before, stored, 'v2');
  });

  it.each([
    ['v3-slow', /^SLO gate failed: p95 latency \d+(\.\d)? ms exceeds 150 ms/],
    ['v3-errors', /^SLO gate failed: error rate \d+(\.\d+)?% exceeds 2%/],
  ])('rolls back %s on the load test SLO gate, which the health check alone cannot see', async (tag, reason) => {
    const before = await runningTaskDefinition();
    const stored = await push(tag);
    expect(stored.summary).toMatchObject({
      outcome: 'ROLLED_BACK',
      error: 'SloViolated',
      reason: expect.stringMatching(reason),
    });
    expect(stored.statesEntered).toContain('GenerateLoad');
    expect(stored.summary.reportFile).toMatch(/report\.html$/);
    await expectRestored(before, stored, 'v2');
  });

  it('ignores a push outside the tag filters without touching the service', async () => {
    const before = await runningTaskDefinition();
    const stored = await push('latest');
    expect(stored.summary).toMatchObject({
      outcome: 'IGNORED',
      reason: expect.stringContaining('tag latest matches no target'),
    });
    expect(await runningTaskDefinition()).toBe(before);
  });
});

describe('CheckImage on the local cloud', () => {
  // The handler's DescribeImages goes to the local ECR endpoint (local/ecr.ts) over the registry the local ECS starts
  // tasks from. An image that is not there ends FAILED before the lock, the backup, RegisterTaskDefinition or
  // UpdateService.

  /** What "touched" would change: the service's revision and deployments, the family's latest revision. */
  async function ecsState() {
    const svc = await ecs.send(new DescribeServicesCommand({ cluster: 'demo', services: ['demo-app'] }));
    const latest = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'demo-app' }));
    return {
      service: svc.services?.[0]?.taskDefinition,
      deployments: svc.services?.[0]?.deployments?.length,
      latestRevision: latest.taskDefinition?.revision,
    };
  }

  const neverPushed = `sha256:${'deadbeef'.repeat(8)}`;

  it.each([
    ['a digest that was never pushed', { repository: 'demo-app', digest: neverPushed }],
    ['a tag and a digest that name different images', { repository: 'demo-app', tag: 'v2', digest: neverPushed }],
  ])('ends FAILED on %s, naming it, with nothing touched', async (_what, input) => {
    const before = await ecsState();
    const stored = await runner.run(input);
    expect(stored.summary).toMatchObject({ outcome: 'FAILED', error: 'ImageNotFoundError' });
    expect(stored.summary.reason).toMatch(
      /ECR has no image with digest sha256:deadbeefdead in repository demo-app \((RepositoryNotFound|ImageNotFound)Exception/,
    );
    expect(stored.statesEntered).toEqual(IMAGE_NOT_FOUND_PATH);
    expect(stored.summary.backupKey).toBeUndefined();
    expect(await ecsState()).toEqual(before);
  });

  it('ends FAILED on a pushed digest under a tag ECR has on another image', async () => {
    const digest = await runner.cloud.registry.pushImage('demo-app', 'v5');
    const before = await ecsState();
    const stored = await runner.run({ repository: 'demo-app', tag: 'v2', digest });
    expect(stored.summary).toMatchObject({ outcome: 'FAILED', error: 'ImageNotFoundError' });
    expect(stored.summary.reason).toMatch(
      /tag v2 points at sha256:[0-9a-f]{12}, not at sha256:[0-9a-f]{12} \(the input's digest\)/,
    );
    expect(await ecsState()).toEqual(before);
  });
});
