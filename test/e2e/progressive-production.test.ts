import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushEvent } from '../../cli/commands/demo.ts';
import { startProductionClient } from '../../local/production-client.ts';
import type { LocalRunner as Runner } from '../../local/runner.ts';
import type { ExecutionEvent } from '../../local/state-machine.ts';
import { e2eEnv, expectStoppedAtTestGate, openRunner, processesWithMarker, versionsServed, watchSplit } from './env.ts';

/**
 * Progressive delivery through the whole pipeline on the local cloud: rollgate.config.yml's `checkout` (blue/green,
 * test listener) and `catalog` (canary 10%) targets, the real state machine with its gates, the local ECS running
 * ECS's strategies with rollgate's lifecycle hook through the local Lambda endpoint, and a client that sends a
 * request to the service's production listener every 10 ms throughout, recording who answered and when.
 */

let env: Awaited<ReturnType<typeof e2eEnv>>;
let runner: Runner;

beforeAll(async () => {
  env = await e2eEnv(undefined, { allServices: true });
  runner = await openRunner(env);
}, 60_000);

afterAll(async () => {
  await runner?.close();
  expect(processesWithMarker(env.marker)).toEqual([]);
}, 60_000);

async function deploy(repository: string, service: string, tag: string) {
  const client = startProductionClient(`${runner.cloud.ecs.loadBalancerUrl('demo', service)}/`);
  const split = watchSplit(runner, 'demo', service);
  const events: Array<ExecutionEvent & { at: number }> = [];
  const digest = await runner.cloud.registry.pushImage(repository, tag);
  const stored = await runner.run(pushEvent(runner, repository, tag, digest), {
    onEvent: (e) => events.push({ ...e, at: performance.now() }),
  });
  split.stop();
  await client.stop();
  return { stored, samples: client.answers, changes: split.changes, events };
}

describe('progressive delivery through the pipeline, a production request every 10 ms', () => {
  it('blue/green: a version too slow on the test listener is rolled back; no production request reached it', async () => {
    // production never moved: the gate that failed was the test listener's
    expectStoppedAtTestGate(await deploy('checkout', 'checkout', 'v4-slow'), 'v4-slow');
  }, 120_000);

  it('canary: a version failing half its answers gets 10% +/- 3 of production at its step, then none', async () => {
    const { stored, samples, changes, events } = await deploy('catalog', 'catalog', 'v5-flaky');
    expect(stored.summary.outcome).toBe('ROLLED_BACK');
    expect(stored.summary.reason).toMatch(/^SLO gate failed: error rate/);
    // the step: from production at 10% to the rollback's return to 0 (never beyond 10%)
    const step = changes.find((c) => c.production === 10);
    const back = changes.find((c) => c.production === 0 && c.status.startsWith('ROLLBACK') && c.at > (step?.at ?? 0));
    expect(step).toBeDefined();
    expect(back).toBeDefined();
    expect(Math.max(...changes.map((c) => c.production))).toBe(10);
    // requests sent within the step, leaving 20 ms at each edge for the ones in flight as the weights moved
    const during = samples.filter((s) => s.at > (step?.at ?? 0) + 20 && s.at < (back?.at ?? 0) - 20);
    const onCanary = during.filter((s) => s.version === 'v5-flaky').length;
    const share = (onCanary / during.length) * 100;
    console.log(
      `canary step: ${onCanary} of ${during.length} production requests answered by v5-flaky (${share.toFixed(1)}%)`,
    );
    expect(during.length).toBeGreaterThan(100);
    expect(share).toBeGreaterThanOrEqual(7);
    expect(share).toBeLessThanOrEqual(13);
    // after the rollback, it answers none
    expect(samples.filter((s) => s.at > (back?.at ?? 0) + 20 && s.version === 'v5-flaky')).toEqual([]);
    // the failed gate (AggregateLoad's verdict) to production fully back on the old version
    const verdict = events.find((e) => e.type === 'StateEntered' && e.state === 'SloViolated');
    expect(verdict).toBeDefined();
    const flipMs = (back?.at ?? 0) - (verdict?.at ?? 0);
    console.log(`failed gate to production back on v1: ${flipMs.toFixed(1)} ms`);
    expect(flipMs).toBeGreaterThan(0);
  }, 120_000);

  it('canary: a good version goes through 10% and 100% to DEPLOYED, 0 failed, all of production on it', async () => {
    const { stored, samples, changes } = await deploy('catalog', 'catalog', 'v2');
    expect({ outcome: stored.summary.outcome, reason: stored.summary.reason }).toMatchObject({ outcome: 'DEPLOYED' });
    expect(changes.map((c) => c.production).filter((p, i, all) => all.indexOf(p) === i)).toEqual([0, 10, 100]);
    expect(changes.at(-1)?.status).toBe('SUCCESSFUL');
    expect(samples.filter((s) => s.status !== 200)).toEqual([]);
    expect(await versionsServed(`${runner.cloud.ecs.loadBalancerUrl('demo', 'catalog')}/`)).toEqual(new Set(['v2']));
  }, 120_000);
});
