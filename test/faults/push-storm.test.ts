import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushEvent } from '../../cli/commands/demo.ts';
import type { StoredExecution } from '../../local/history.ts';
import { freePort } from '../e2e/env.ts';
import { OTHER_FAULTS } from './cases.ts';
import { openRunner } from './in-process.ts';

/**
 * 20 pushes of 20 tags in 5 s to one service, under each lock policy (one service per policy, the three storms at
 * once on one local cloud): the documented outcome of each policy, never two deploys of a service at a time, and the
 * lock free at the end. Tiny rollouts: one task, one health probe, no load test.
 */
const PUSHES = 20;
const SPREAD_MS = 5000;
const POLICIES = [
  { policy: 'supersede', service: 'demo-app', prefix: 's' },
  { policy: 'queue', service: 'storm-queue', prefix: 'q' },
  { policy: 'reject', service: 'storm-reject', prefix: 'r' },
] as const;

let cloud: Awaited<ReturnType<typeof openRunner>>;
beforeAll(async () => {
  const ports = [await freePort(), await freePort()];
  cloud = await openRunner((doc) => {
    const targets = doc.targets as Record<string, unknown>[];
    const base = targets[0] as Record<string, unknown> & { health: Record<string, unknown> };
    delete base.load;
    base.rollout = { deadlineSeconds: 60, initialWaitSeconds: 1, maxWaitSeconds: 1, backoffRate: 1 };
    Object.assign(base.health, { intervalSeconds: 0.2, consecutiveSuccesses: 1 });
    const local = doc.local as { clusters: { services: Record<string, unknown>[] }[] };
    const services = local.clusters[0]?.services ?? [];
    const svc = services[0] ?? {};
    svc.desiredCount = 1;
    const url = String(base.health.url);
    for (const [i, { policy, service, prefix }] of POLICIES.entries()) {
      const lock = { policy, pollSeconds: 1, leaseSeconds: 120 };
      if (i === 0) {
        Object.assign(base, { tags: [`${prefix}*`], lock });
        continue;
      }
      const port = ports[i - 1];
      targets.push({
        ...structuredClone(base),
        name: service,
        service,
        tags: [`${prefix}*`],
        lock,
        health: { ...base.health, url: url.replace(/:\d+\//, `:${port}/`) },
      });
      services.push({ ...svc, name: service, taskDefinitionFamily: service, loadBalancerPort: port });
    }
  });
}, 90_000);
afterAll(() => cloud.close(), 60_000);

/** The pushes of one storm, one every SPREAD_MS / PUSHES, each started as its push event arrives. */
async function storm(prefix: string): Promise<StoredExecution[]> {
  const runs: Promise<StoredExecution>[] = [];
  for (let i = 1; i <= PUSHES; i++) {
    const tag = `${prefix}${i}`;
    const digest = await cloud.runner.cloud.registry.pushImage('demo-app', tag);
    runs.push(cloud.runner.run(pushEvent(cloud.runner, 'demo-app', tag, digest)));
    await new Promise((resolve) => setTimeout(resolve, SPREAD_MS / PUSHES));
  }
  return Promise.all(runs);
}

/** When an execution entered a state (epoch ms), or undefined. */
function entered(e: StoredExecution, state: string): number | undefined {
  const ev = e.events.find((x) => x.type === 'StateEntered' && x.state === state);
  return ev ? Date.parse(ev.timestamp) : undefined;
}

/** When an execution entered its Record state (epoch ms): the end of its hold on the lock. */
function recorded(e: StoredExecution): number {
  const ev = e.events.find((x) => x.type === 'StateEntered' && x.state?.startsWith('Record'));
  return ev ? Date.parse(ev.timestamp) : Number.POSITIVE_INFINITY;
}

describe(OTHER_FAULTS.pushStorm, () => {
  let results: Record<string, StoredExecution[]>;
  beforeAll(async () => {
    const all = await Promise.all(POLICIES.map(({ prefix }) => storm(prefix)));
    results = Object.fromEntries(POLICIES.map(({ policy }, i) => [policy, all[i] ?? []]));
  }, 240_000);

  it.each(POLICIES)('$policy: one deploy at a time, the lock free at the end', async ({ policy, service }) => {
    const runs = results[policy] ?? [];
    expect(runs).toHaveLength(PUSHES);
    // the deploys of the service (from Backup to the Record state, which first releases the lock) never overlap
    const deploys = runs
      .filter((e) => entered(e, 'Backup') !== undefined)
      .map((e) => ({ from: entered(e, 'Backup') ?? 0, to: recorded(e) }))
      .sort((a, b) => a.from - b.from);
    for (let i = 1; i < deploys.length; i++) expect(deploys[i]?.from).toBeGreaterThanOrEqual(deploys[i - 1]?.to ?? 0);
    for (const e of runs) expect(await cloud.locksHeld(e.name, service), e.name).toBe(0);
    for (const e of runs) expect(e.unrecorded).toBeUndefined();
  });

  it('supersede: every push ends DEPLOYED or superseded by a newer one; the last one deploys and serves', async () => {
    const runs = results.supersede ?? [];
    runs.forEach((e, i) => {
      if (e.summary.outcome === 'DEPLOYED') return;
      expect(e.summary.outcome, e.summary.reason).toBe('IGNORED');
      const by = Number(/^superseded by demo-app:s(\d+)/.exec(e.summary.reason)?.[1]);
      expect(by, e.summary.reason).toBeGreaterThan(i + 1);
    });
    expect(runs.at(-1)?.summary.outcome).toBe('DEPLOYED');
    expect(runs.filter((e) => e.summary.outcome === 'IGNORED').length).toBeGreaterThan(PUSHES / 2);
    const last = /^demo-app:s20 \(sha256:([0-9a-f]{12})\)$/.exec(runs.at(-1)?.summary.image ?? '')?.[1];
    expect(last).toBeDefined();
    expect(await cloud.serving()).toContain(`demo-app@sha256:${last}`);
  });

  it('queue: every push deploys, one after the other, in push order', () => {
    const runs = results.queue ?? [];
    expect(runs.map((e) => e.summary.outcome)).toEqual(runs.map(() => 'DEPLOYED'));
    const byStart = [...runs].sort((a, b) => (entered(a, 'Backup') ?? 0) - (entered(b, 'Backup') ?? 0));
    expect(byStart.map((e) => e.name)).toEqual(runs.map((e) => e.name));
  });

  it('reject: a push that arrives while one deploys ends IGNORED at once; the others deploy', () => {
    const runs = results.reject ?? [];
    expect(runs[0]?.summary.outcome).toBe('DEPLOYED');
    for (const e of runs) {
      if (e.summary.outcome === 'DEPLOYED') continue;
      expect(e.summary.outcome).toBe('IGNORED');
      expect(e.summary.reason).toMatch(/^rejected: the service is being deployed/);
      expect(e.statesEntered).not.toContain('WaitForLock');
    }
    expect(runs.filter((e) => e.summary.outcome === 'IGNORED').length).toBeGreaterThan(0);
  });
});
