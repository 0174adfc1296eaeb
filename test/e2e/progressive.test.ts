import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushEvent } from '../../cli/commands/demo.ts';
import { startProductionClient } from '../../local/production-client.ts';
import type { LocalRunner as Runner } from '../../local/runner.ts';
import { e2eEnv, expectReleased, freePort, openRunner } from './env.ts';

/**
 * A canary through rollgate's gates on the real local cloud: the local ECS walks CANARY with the lifecycle hook on the
 * GateHook Lambda (through the local Lambda endpoint), the execution parks in AwaitGate and is woken through the
 * local SFN endpoint, the gates probe along the header route. A good version ends DEPLOYED; one whose health fails
 * at the test gate is rolled back by StopServiceDeployment before production traffic moves.
 */

let env: Awaited<ReturnType<typeof e2eEnv>>;
let runner: Runner;

beforeAll(async () => {
  const testPort = await freePort();
  env = await e2eEnv((doc) => {
    const target = (doc.targets as Record<string, unknown>[])[0] as Record<string, unknown>;
    Object.assign(target, {
      strategy: 'canary',
      canary: { percent: 10, bakeMinutes: 1 },
      bakeMinutes: 1,
      testRoute: { header: { name: 'x-canary', value: '1' } },
      gateTimeoutSeconds: 120,
      lock: { maxWaitSeconds: 600 },
    });
    (target.load as Record<string, unknown>).durationSeconds = 2;
    const local = doc.local as { clusters: { services: Record<string, unknown>[] }[]; minuteMs?: number };
    local.minuteMs = 200;
    Object.assign(local.clusters[0]?.services[0] ?? {}, {
      testHeader: { name: 'x-canary', value: '1' },
      testListenerPort: testPort,
    });
  });
  runner = await openRunner(env);
}, 60_000);

afterAll(async () => {
  await runner?.close();
  await expectReleased(env);
}, 60_000);

async function push(tag: string) {
  const digest = await runner.cloud.registry.pushImage('demo-app', tag);
  return runner.run(pushEvent(runner, 'demo-app', tag, digest));
}

async function served(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${env.port}/health`);
  return ((await res.json()) as { version: string }).version;
}

describe('progressive delivery on the local cloud', () => {
  it('takes a good canary through every gate to DEPLOYED', async () => {
    expect(await served()).toBe('v1');
    // a client on the production listener every 10 ms throughout
    const poller = startProductionClient(() => `http://127.0.0.1:${env.port}/`);
    const stored = await push('v2');
    await poller.stop();
    expect({ outcome: stored.summary.outcome, reason: stored.summary.reason }).toMatchObject({ outcome: 'DEPLOYED' });
    expect(await served()).toBe('v2');
    expect(poller.failures).toEqual([]);
    expect([...poller.versions].sort()).toEqual(['v1', 'v2']);
    expect(poller.total()).toBeGreaterThan(100);
  }, 120_000);

  it("rolls back a version whose green tasks fail the target group's health checks (ECS fails it at SCALE_UP)", async () => {
    const stored = await push('v3-unhealthy');
    expect(stored.summary).toMatchObject({ outcome: 'ROLLED_BACK', error: 'RolloutFailed' });
    expect(await served()).toBe('v2');
  }, 120_000);

  it('rolls back a version that fails its test gate (load test along the header route) before production moves', async () => {
    const poller = startProductionClient(() => `http://127.0.0.1:${env.port}/`);
    const stored = await push('v4-errors');
    await poller.stop();
    expect(stored.summary).toMatchObject({ outcome: 'ROLLED_BACK', error: 'SloViolated' });
    // production never reached it: every request answered by v2, none failed
    expect([...poller.versions]).toEqual(['v2']);
    expect(poller.failures).toEqual([]);
    expect(stored.statesEntered.filter((s) => s === 'AwaitGate')).toHaveLength(1);
    expect(await served()).toBe('v2');
  }, 120_000);
});
