import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushEvent } from '../../cli/commands/demo.ts';
import type { StoredExecution } from '../../local/history.ts';
import type { LocalRunner as Runner } from '../../local/runner.ts';
import type { ExecutionEvent } from '../../local/state-machine.ts';
import { loadConfigFile } from '../../src/config/load.ts';
import { e2eEnv, freePort, processesWithMarker } from './env.ts';

/**
 * Safe to repeat, safe to overlap, on the real local cloud: the DynamoDB lock (dynalite), duplicate pushes,
 * ALREADY_DEPLOYED, aborted executions and redrive. Assertions are on the ECS endpoint's own record of the calls.
 */

const LEASE = 15;
let env: Awaited<ReturnType<typeof e2eEnv>>;
let runner: Runner;

beforeAll(async () => {
  const queuePort = await freePort();
  env = await e2eEnv((doc) => {
    const t = (doc.targets as Record<string, unknown>[])[0] as Record<string, unknown> & {
      health: Record<string, unknown>;
    };
    delete t.load; // the load stage is covered elsewhere; here every second counts
    // short waits, one task: a deploy still lasts seconds (rollout, settle, probes), long enough for the pushes that
    // must find it holding the lock; an unhealthy version fails its probes within 4 s
    t.rollout = { deadlineSeconds: 60, initialWaitSeconds: 1, maxWaitSeconds: 1, backoffRate: 1 };
    Object.assign(t.health, { settleSeconds: 1, intervalSeconds: 0.2, consecutiveSuccesses: 2, deadlineSeconds: 4 });
    // Waiters poll every 2 s: the supersede test needs the third push to be waiting before the first waiter polls
    // again, and a push takes ~0.5-1 s to reach its waiter entry on a loaded machine (Normalize, CheckImage, AcquireLock).
    t.lock = { policy: 'supersede', pollSeconds: 2, leaseSeconds: LEASE };
    t.tags = ['v*'];
    t.missedPushCheck = true;
    const queue = structuredClone(t);
    Object.assign(queue, {
      name: 'demo-queue',
      service: 'demo-queue',
      missedPushCheck: false,
      tags: ['q*'],
      lock: { policy: 'queue', pollSeconds: 1 },
      health: { ...t.health, url: `http://127.0.0.1:${queuePort}/health` },
    });
    (doc.targets as unknown[]).push(queue);
    const local = doc.local as { clusters: { services: Record<string, unknown>[] }[] };
    const svc = local.clusters[0]?.services[0] ?? {};
    svc.desiredCount = 1;
    local.clusters[0]?.services.push({
      ...svc,
      name: 'demo-queue',
      taskDefinitionFamily: 'demo-queue',
      loadBalancerPort: queuePort,
    });
  });
  const { LocalRunner } = await import('../../local/runner.ts');
  runner = await LocalRunner.open({
    config: loadConfigFile(env.configFile),
    configSource: env.configFile,
    stateDir: env.stateDir,
  });
}, 90_000);

afterAll(async () => {
  await runner?.close();
  expect(processesWithMarker(env.marker)).toEqual([]);
}, 60_000);

async function push(tag: string, options: Parameters<Runner['run']>[1] = {}): Promise<StoredExecution> {
  const digest = await runner.cloud.registry.pushImage('demo-app', tag);
  return runner.run(pushEvent(runner, 'demo-app', tag, digest), options);
}

/**
 * Starts an execution and says when it enters `state`, so a test orders executions by what they did, not by sleeping:
 * `entered` rejects if the execution ends without entering it.
 */
function startUntil(start: (onEvent: (e: ExecutionEvent) => void) => Promise<StoredExecution>, state: string) {
  let reached = false;
  let resolveEntered: () => void = () => {};
  const entered = new Promise<void>((resolve) => {
    resolveEntered = resolve;
  });
  const done = start((e) => {
    if (e.type === 'StateEntered' && e.state === state) {
      reached = true;
      resolveEntered();
    }
  });
  const endedFirst = done.then((e) => {
    if (!reached) throw new Error(`${e.name} ended ${e.summary.outcome} without entering ${state}`);
  });
  return { done, entered: Promise.race([entered, endedFirst]) };
}

/** A push of `tag` that says when it enters `state` (see startUntil). */
function pushUntil(tag: string, state: string) {
  return startUntil((onEvent) => push(tag, { onEvent }), state);
}

/** UpdateService calls the ECS endpoint received for a service since `from`, with their time and task definition. */
function updates(service: string, from: number) {
  return runner.cloud.ecs.calls
    .filter((c) => c.op === 'UpdateService' && c.at >= from)
    .map((c) => ({ at: c.at, ...(c.input as { service: string; taskDefinition: string }) }))
    .filter((c) => c.service === service);
}

function registrations(from: number) {
  return runner.cloud.ecs.calls.filter((c) => c.op === 'RegisterTaskDefinition' && c.at >= from);
}

describe('the deploy lock on the local cloud', () => {
  it('deploys a push that arrives while another deploys after it, never overlapping', async () => {
    const from = Date.now();
    const first = pushUntil('v2', 'Inspect'); // Inspect runs once the lock is held
    await first.entered;
    const second = push('v5');
    const [a, b] = await Promise.all([first.done, second]);
    expect([a.summary.outcome, b.summary.outcome]).toEqual(['DEPLOYED', 'DEPLOYED']);
    const calls = updates('demo-app', from);
    expect(calls).toHaveLength(2);
    // the second UpdateService came only after the first execution had ended
    expect(calls[1]?.at).toBeGreaterThan(Date.parse(a.stopDate));
    expect(b.statesEntered).toContain('WaitForLock');
    expect(b.summary.previousImage).toMatch(/demo-app@sha256:/);
  });

  it('supersede: of three pushes waiting behind a running deploy, only the newest deploys', async () => {
    const from = Date.now();
    const running = pushUntil('v6', 'Inspect');
    await running.entered;
    const waiting = [];
    for (const tag of ['v7', 'v8']) {
      const w = pushUntil(tag, 'WaitForLock');
      await w.entered;
      waiting.push(w.done);
    }
    waiting.push(push('v9'));
    const [a, b, c, d] = await Promise.all([running.done, ...waiting]);
    expect([a, b, c, d].map((e) => e?.summary.outcome)).toEqual(['DEPLOYED', 'IGNORED', 'IGNORED', 'DEPLOYED']);
    // v7 gives way to whichever newer push it sees at its next poll (v8, or v9 if it has arrived); v8 only to v9
    expect(b?.summary.reason).toMatch(/^superseded by demo-app:v[89]/);
    expect(c?.summary.reason).toMatch(/^superseded by demo-app:v9/);
    expect(updates('demo-app', from)).toHaveLength(2);
    expect(registrations(from)).toHaveLength(2);
  });

  it('queue: each waits its turn, in push order', async () => {
    const from = Date.now();
    const all = [];
    for (const tag of ['q1', 'q2', 'q3', 'q4']) {
      // q1 holds the lock (Inspect), each later one waits (WaitForLock) before the next arrives
      const run = startUntil(
        (onEvent) => runner.run({ repository: 'demo-app', tag, reason: `queue ${tag}` }, { onEvent }),
        tag === 'q1' ? 'Inspect' : 'WaitForLock',
      );
      if (tag !== 'q4') await run.entered;
      all.push(run.done);
    }
    const results = await Promise.all(all);
    expect(results.map((r) => r.summary.outcome)).toEqual(['DEPLOYED', 'DEPLOYED', 'DEPLOYED', 'DEPLOYED']);
    const calls = updates('demo-queue', from);
    expect(calls.map((c) => c.taskDefinition.split(':').pop())).toEqual(['2', '3', '4', '5']);
    // never overlapping: each UpdateService after the previous execution ended
    for (let i = 1; i < results.length; i++) {
      expect(calls[i]?.at).toBeGreaterThan(Date.parse(results[i - 1]?.stopDate ?? ''));
    }
  });

  it('deploys the same push delivered twice once', async () => {
    const from = Date.now();
    const digest = await runner.cloud.registry.pushImage('demo-app', 'v10');
    const event = pushEvent(runner, 'demo-app', 'v10', digest);
    // delivered twice at once: exactly one of them may take the push
    const [a, b] = await Promise.all([runner.run(event), runner.run(structuredClone(event))]);
    const outcomes = [a.summary.outcome, b.summary.outcome].sort();
    expect(outcomes).toEqual(['DEPLOYED', 'IGNORED']);
    const ignored = a.summary.outcome === 'IGNORED' ? a : b;
    expect(ignored.summary.reason).toMatch(/^duplicate delivery of the push of demo-app:v10@sha256:/);
    expect(updates('demo-app', from)).toHaveLength(1);
  });

  it('ends ALREADY_DEPLOYED when the image already runs, unless forced', async () => {
    const from = Date.now();
    const again = await runner.run({ repository: 'demo-app', tag: 'v10', reason: 're-run' });
    expect(again.summary).toMatchObject({
      outcome: 'ALREADY_DEPLOYED',
      reason: expect.stringContaining('ALREADY_DEPLOYED'),
    });
    expect(updates('demo-app', from)).toHaveLength(0);
    const forced = await runner.run({ repository: 'demo-app', tag: 'v10', force: true });
    expect(forced.summary.outcome).toBe('DEPLOYED');
    expect(updates('demo-app', from)).toHaveLength(1);
  });

  it('frees the lock of an execution stopped mid-deploy (the status-change rule)', async () => {
    const stop = new AbortController();
    const killed = push('v11', {
      signal: stop.signal,
      onEvent: (e) => {
        if (e.type === 'StateEntered' && e.state === 'WaitForRollout') stop.abort();
      },
    });
    const k = await killed;
    expect(k.status).toBe('ABORTED');
    const started = Date.now();
    const next = await push('v12');
    expect(next.summary.outcome).toBe('DEPLOYED');
    expect(next.statesEntered).not.toContain('WaitForLock');
    expect(Date.now() - started).toBeLessThan(LEASE * 1000);
    // the aborted execution still left an audit record
    expect(await runner.readAudit(k.startDate, k.name)).toMatchObject({ outcome: 'FAILED', error: 'ExecutionAborted' });
  });

  it('frees the lock of an execution that died with nothing to report it, within the lease', async () => {
    const stop = new AbortController();
    let acquiredAt = 0;
    const crashed = await push('v13', {
      signal: stop.signal,
      statusChangeRule: false,
      onEvent: (e) => {
        if (e.type === 'StateEntered' && e.state === 'Inspect') acquiredAt = Date.parse(e.timestamp);
        if (e.type === 'StateEntered' && e.state === 'WaitForRollout') stop.abort();
      },
    });
    expect(crashed.status).toBe('ABORTED');
    let tookLockAt = 0;
    const next = await push('v14', {
      onEvent: (e) => {
        if (e.type === 'StateEntered' && e.state === 'Inspect') tookLockAt = Date.parse(e.timestamp);
      },
    });
    expect(next.summary.outcome).toBe('DEPLOYED');
    expect(next.statesEntered).toContain('WaitForLock');
    expect(tookLockAt - acquiredAt).toBeGreaterThanOrEqual((LEASE - 1) * 1000);
    expect(tookLockAt - acquiredAt).toBeLessThan((LEASE + 5) * 1000);
  }, 60_000);

  it('redrives a failed execution without a second revision or a second backup', async () => {
    const first = await push('v3-unhealthy');
    expect(first.summary).toMatchObject({ outcome: 'ROLLED_BACK', error: 'HealthCheckFailedError' });
    const backupBefore = await runner.readObject(first.summary.backupKey ?? '');
    const from = Date.now();
    const redriven = await runner.redrive(first.name);
    expect(redriven.name).toBe(first.name);
    expect(redriven.summary).toMatchObject({ outcome: 'ROLLED_BACK', trigger: 'redrive' });
    expect(await runner.readAudit(redriven.startDate, redriven.name)).toMatchObject({
      trigger: { type: 'redrive', redriveCount: 1, initial: { type: 'push' } },
    });
    expect(registrations(from)).toHaveLength(0);
    expect(await runner.readObject(first.summary.backupKey ?? '')).toBe(backupBefore);
  });

  it('missed-push check: starts the newest never-attempted image once, and never retries a rolled-back one', async () => {
    // pushed, but no event ever arrived
    await runner.cloud.registry.pushImage('demo-app', 'v30');
    const [first] = await runner.checkMissedPushes({ start: true, minAgeSeconds: 0 });
    expect(first).toMatchObject({ target: 'demo-app', status: 'START' });
    expect(first?.execution?.summary).toMatchObject({
      outcome: 'DEPLOYED',
      trigger: 'push',
      image: expect.stringMatching(/^demo-app:v30 /),
    });
    const [again] = await runner.checkMissedPushes({ start: true, minAgeSeconds: 0 });
    expect(again).toMatchObject({ status: 'NONE' });
    expect(again?.execution).toBeUndefined();

    await runner.cloud.registry.pushImage('demo-app', 'v31-unhealthy');
    const [bad] = await runner.checkMissedPushes({ start: true, minAgeSeconds: 0 });
    expect(bad?.execution?.summary.outcome).toBe('ROLLED_BACK');
    const [never] = await runner.checkMissedPushes({ start: true, minAgeSeconds: 0 });
    expect(never).toMatchObject({ status: 'NONE', reason: expect.stringContaining('attempted') });
  }, 90_000);
});
