import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FAULTS_ENV } from '../../local/faults.ts';
import type { StoredExecution } from '../../local/history.ts';
import { backupKey, verifiedKey } from '../../src/core/naming.ts';
import { freePort } from '../e2e/env.ts';
import { LAMBDA_FAULT_STATES, lambdaFault, OTHER_FAULTS } from './cases.ts';
import { openRunner } from './in-process.ts';

/**
 * A handler that throws an unexpected error (ROLLGATE_LOCAL_FAULTS=Lambda:<State>=throw: the local Lambda invoker
 * fails the call before the handler runs) at each Task state of the rolling path. Whatever the state, the Catch paths
 * end in a rollback or a clean FAILED, and the end state is checked: which revision serves and whether an execution
 * verified it, the backup, the lock, exactly one audit record (written by Record, or by the status-change rule when
 * a Record state is the one that throws), and what was published.
 *
 * One local cloud for the file, the cases one after the other on its one service (one task: fewer processes).
 */
type Outcome = StoredExecution['summary']['outcome'];
interface Case {
  /** The Task states whose Lambda throws: the case's own state last, the ones before it lead the run there. */
  readonly throwAt: readonly string[];
  /** The case's own state throws after its handler ran (`throw-after`: its effects landed) instead of before. */
  readonly after?: true;
  /** The input: a new good version (default), a tag the target excludes, or the version serving now. */
  readonly input?: 'new' | 'excluded' | 'serving';
  readonly outcome: Outcome;
  /** The error the record names (the injected fault's name unless the path gives its own). */
  readonly error?: string;
  /** What serves afterwards: the version from before the run, or the new one. */
  readonly serves: 'before' | 'new';
  /** For a new version that serves afterwards: whether an execution verified it (what served before keeps its mark). */
  readonly verified?: boolean;
  readonly backup: boolean;
  /** The detail-types published for the execution. */
  readonly published: readonly string[];
  /** The blue/green service (the gate states) instead of the rolling one. */
  readonly blueGreen?: true;
}

const FAILED_EARLY = { outcome: 'FAILED', error: 'InjectedFault', serves: 'before', published: [] } as const;
const ROLLED_BACK = {
  outcome: 'ROLLED_BACK',
  error: 'InjectedFault',
  serves: 'before',
  backup: true,
  published: ['Deployment Rolled Back'],
} as const;
const ROLLBACK_FAILED = { outcome: 'FAILED', error: 'RollbackFailed', backup: true } as const;

/** Each state's case. */
const CASES: Record<(typeof LAMBDA_FAULT_STATES)[number], Case> = {
  Normalize: { throwAt: ['Normalize'], ...FAILED_EARLY, backup: false },
  CheckImage: { throwAt: ['CheckImage'], ...FAILED_EARLY, backup: false },
  AcquireLock: { throwAt: ['AcquireLock'], ...FAILED_EARLY, backup: false },
  Inspect: { throwAt: ['Inspect'], ...FAILED_EARLY, backup: false },
  Backup: { throwAt: ['Backup'], ...FAILED_EARLY, backup: false },
  Register: { throwAt: ['Register'], ...FAILED_EARLY, backup: true },
  // after its handler ran: the new revision is being rolled out when the Catch rolls back to the backup
  Deploy: { throwAt: ['Deploy'], after: true, ...ROLLED_BACK },
  CheckRollout: { throwAt: ['CheckRollout'], ...ROLLED_BACK },
  ProbeHealth: { throwAt: ['ProbeHealth'], ...ROLLED_BACK },
  PlanLoad: { throwAt: ['PlanLoad'], ...ROLLED_BACK },
  Generate: { throwAt: ['Generate'], ...ROLLED_BACK },
  MergeGroup: { throwAt: ['MergeGroup'], ...ROLLED_BACK },
  AggregateLoad: { throwAt: ['AggregateLoad'], ...ROLLED_BACK },
  // the execution succeeds; the status-change rule writes the record (and the verified mark) Record could not
  RecordDeployed: {
    throwAt: ['RecordDeployed'],
    outcome: 'DEPLOYED',
    serves: 'new',
    verified: true,
    backup: true,
    published: [],
  },
  RecordAlreadyDeployed: {
    throwAt: ['RecordAlreadyDeployed'],
    input: 'serving',
    outcome: 'ALREADY_DEPLOYED',
    serves: 'before',
    backup: false,
    published: [],
  },
  RecordIgnored: {
    throwAt: ['RecordIgnored'],
    input: 'excluded',
    outcome: 'IGNORED',
    serves: 'before',
    backup: false,
    published: [],
  },
  // the rollback itself fails: the new version keeps serving, unverified, and the operator is told
  Rollback: {
    throwAt: ['ProbeHealth', 'Rollback'],
    ...ROLLBACK_FAILED,
    serves: 'new',
    verified: false,
    published: ['Rollback Failed'],
  },
  CheckRollback: {
    throwAt: ['ProbeHealth', 'CheckRollback'],
    ...ROLLBACK_FAILED,
    serves: 'before',
    published: ['Rollback Failed'],
  },
  ProbeRollback: {
    throwAt: ['ProbeHealth', 'ProbeRollback'],
    ...ROLLBACK_FAILED,
    serves: 'before',
    published: ['Rollback Failed'],
  },
  // rolled back, the Fail state reached unrecorded: the status-change rule records it FAILED
  RecordRolledBack: {
    throwAt: ['ProbeHealth', 'RecordRolledBack'],
    outcome: 'FAILED',
    error: 'ExecutionFailed',
    serves: 'before',
    backup: true,
    published: ['Deployment Rolled Back'],
  },
  NotifyRolledBack: { throwAt: ['ProbeHealth', 'NotifyRolledBack'], ...ROLLED_BACK, published: [] },
  // unrecorded, the Fail state reached: the status-change rule records it FAILED and, finding the execution's
  // revision still primary, starts the rollback to the backup itself
  RecordRollbackFailed: {
    throwAt: ['ProbeHealth', 'Rollback', 'RecordRollbackFailed'],
    outcome: 'FAILED',
    error: 'ExecutionFailed',
    serves: 'before',
    backup: true,
    published: ['Rollback Failed'],
  },
  NotifyRollbackFailed: {
    throwAt: ['ProbeHealth', 'Rollback', 'NotifyRollbackFailed'],
    ...ROLLBACK_FAILED,
    serves: 'new',
    verified: false,
    published: [],
  },
  // the gates of a blue/green deployment: ECS's deployment is stopped with ROLLBACK, production stays (or is put
  // back) on the previous version
  AwaitGate: { throwAt: ['AwaitGate'], ...ROLLED_BACK, blueGreen: true },
  ProbeGate: { throwAt: ['ProbeGate'], ...ROLLED_BACK, blueGreen: true },
  PlanGateLoad: { throwAt: ['PlanGateLoad'], ...ROLLED_BACK, blueGreen: true },
  JudgeGate: { throwAt: ['JudgeGate'], ...ROLLED_BACK, blueGreen: true },
  ProbeBake: { throwAt: ['ProbeBake'], ...ROLLED_BACK, blueGreen: true },
  RecordFailed: {
    throwAt: ['CheckImage', 'RecordFailed'],
    outcome: 'FAILED',
    error: 'ExecutionFailed',
    serves: 'before',
    backup: false,
    published: [],
  },
};

const BLUE_GREEN = 'demo-bg';
let cloud: Awaited<ReturnType<typeof openRunner>>;
beforeAll(async () => {
  const ports = [await freePort(), await freePort()];
  cloud = await openRunner((doc) => {
    const target = (doc.targets as Record<string, Record<string, unknown>>[])[0] ?? {};
    Object.assign(target.health as object, { intervalSeconds: 0.2, consecutiveSuccesses: 2 });
    Object.assign(target.load as object, { rate: 10, durationSeconds: 1, workers: 2, connections: 4 });
    const local = doc.local as { clusters: { services: Record<string, unknown>[] }[]; minuteMs?: number };
    const services = local.clusters[0]?.services ?? [];
    Object.assign(services[0] ?? {}, { desiredCount: 1 });
    // the blue/green service: its tags start with g; a bake of 3 s (one "minute"), long enough to be probed
    const url = (u: unknown, port: number | undefined) => String(u).replace(/:\d+\//, `:${port}/`);
    const bg = structuredClone(target) as Record<string, Record<string, unknown>>;
    (doc.targets as unknown[]).push({
      ...bg,
      name: BLUE_GREEN,
      service: BLUE_GREEN,
      tags: ['g*'],
      strategy: 'blue-green',
      bakeMinutes: 1,
      testRoute: { url: `http://127.0.0.1:${ports[1]}` },
      gateTimeoutSeconds: 60,
      health: { ...bg.health, url: url(bg.health?.url, ports[0]) },
      load: { ...bg.load, url: url(bg.load?.url, ports[0]) },
    });
    services.push({
      ...services[0],
      name: BLUE_GREEN,
      taskDefinitionFamily: BLUE_GREEN,
      loadBalancerPort: ports[0],
      testListenerPort: ports[1],
    });
    local.minuteMs = 3000;
  });
  // a first version deployed (and verified) by rollgate itself
  const push = JSON.parse(readFileSync('test/fixtures/events/ecr/push.json', 'utf8'));
  expect((await cloud.runner.run(push)).summary.outcome).toBe('DEPLOYED');
}, 120_000);
afterEach(() => {
  delete process.env[FAULTS_ENV];
});
afterAll(() => cloud.close(), 60_000);

async function exists(key: string): Promise<boolean> {
  return cloud.runner.readObject(key).then(
    () => true,
    () => false,
  );
}

describe('a handler that throws an unexpected error', () => {
  let version = 0;
  /** The input of the last version that deployed: the `serving` input. */
  let deployed: unknown;
  it('covers every Task state of the state machine', () => {
    const tasks: string[] = [];
    const walk = (states: Record<string, { Type: string; States?: unknown; ItemProcessor?: { States: unknown } }>) => {
      for (const [name, st] of Object.entries(states)) {
        if (st.Type === 'Task') tasks.push(name);
        if (st.ItemProcessor) walk(st.ItemProcessor.States as typeof states);
      }
    };
    walk(JSON.parse(readFileSync('statemachines/deploy.asl.json', 'utf8')).States);
    expect([...LAMBDA_FAULT_STATES].sort()).toEqual(tasks.sort());
    expect(Object.keys(CASES).sort()).toEqual([...LAMBDA_FAULT_STATES].sort());
  });

  for (const state of LAMBDA_FAULT_STATES) {
    const c = CASES[state];
    it(`${lambdaFault(state)}: ${c.outcome}${c.error ? ` (${c.error})` : ''}, serving the ${c.serves === 'new' ? 'new' : 'previous'} version`, async () => {
      const service = c.blueGreen ? BLUE_GREEN : 'demo-app';
      await cloud.runner.cloud.ecs.waitForSteadyState('demo', service, 60_000);
      const before = await cloud.primary(service);
      const beforeVerified = await exists(verifiedKey('demo', service, before.taskDefinitionArn));
      const tag = `${c.blueGreen ? 'g' : 'v'}7${++version}-${state.toLowerCase()}`;
      const input =
        c.input === 'excluded'
          ? { repository: 'demo-app', tag: `${tag}-rc1` }
          : c.input === 'serving'
            ? deployed
            : { repository: 'demo-app', tag };
      process.env[FAULTS_ENV] = c.throwAt
        .map((s, i) => `Lambda:${s}=${c.after && i === c.throwAt.length - 1 ? 'throw-after' : 'throw'}`)
        .join(',');
      const from = Date.now();
      const done = await cloud.runner.run(input);
      delete process.env[FAULTS_ENV];
      if (c.after) {
        // the handler's effect landed (the new revision deployed), then the rollback put the previous one back
        const updates = cloud.runner.cloud.ecs.calls
          .filter((x) => x.op === 'UpdateService' && x.at >= from)
          .map((x) => (x.input as { taskDefinition?: string }).taskDefinition);
        expect(updates).toHaveLength(2);
        expect(updates[0]).not.toBe(before.taskDefinitionArn);
        expect(updates[1]).toBe(before.taskDefinitionArn);
      }

      expect(done.summary, JSON.stringify(done.statesEntered)).toMatchObject({
        outcome: c.outcome,
        ...(c.error ? { error: c.error } : {}),
      });
      for (const s of c.throwAt) expect(done.statesEntered).toContain(s);
      expect(done.unrecorded).toBeUndefined();
      // exactly one audit record (its key is the execution's own), with that outcome
      expect(await cloud.runner.readAudit(done.startDate, done.name)).toMatchObject({ outcome: c.outcome });
      expect(await cloud.locksHeld(done.name, service)).toBe(0);
      expect(await exists(backupKey('demo', service, done.name))).toBe(c.backup);
      const events = await cloud.runner.eventsOf(done.name);
      expect(events.map((e) => c.published.find((p) => e.includes(p)) ?? e)).toEqual([...c.published]);

      if (c.outcome === 'DEPLOYED') deployed = input;
      if (c.blueGreen) await cloud.runner.cloud.ecs.waitForSteadyState('demo', service, 60_000);
      const after = await cloud.primary(service);
      if (c.serves === 'before') expect(after.taskDefinitionArn).toBe(before.taskDefinitionArn);
      else expect(after.image).toContain(`:${tag}`);
      const verified = await exists(verifiedKey('demo', service, after.taskDefinitionArn));
      expect(verified).toBe(c.serves === 'new' ? c.verified : beforeVerified);
    }, 60_000);
  }
});

describe('a revision no execution verified', () => {
  it(`${OTHER_FAULTS.unverifiedRunning}: the same input again is deployed and judged, never ALREADY_DEPLOYED`, async () => {
    await cloud.runner.cloud.ecs.waitForSteadyState('demo', 'demo-app', 60_000);
    // stopped after Deploy (StopExecution): the status-change rule releases its lock and records it, but leaves the
    // service as the operator left it: its revision runs, never judged
    const input = { repository: 'demo-app', tag: 'v80-left' };
    const stop = new AbortController();
    const stopped = await cloud.runner.run(input, {
      signal: stop.signal,
      onEvent: (e) => {
        if (e.type === 'StateEntered' && e.state === 'WaitForRollout') stop.abort();
      },
    });
    expect(stopped.status).toBe('ABORTED');
    expect(stopped.summary).toMatchObject({ outcome: 'FAILED', error: 'ExecutionAborted' });
    await cloud.runner.cloud.ecs.waitForSteadyState('demo', 'demo-app', 60_000);
    const left = await cloud.primary();
    expect(left.image).toContain(':v80-left');
    expect(await exists(verifiedKey('demo', 'demo-app', left.taskDefinitionArn))).toBe(false);

    const again = await cloud.runner.run(input);
    expect(again.summary.outcome).toBe('DEPLOYED');
    expect(again.statesEntered).toContain('ProbeHealth');
    // deployed and judged now, so verified: the next time it is ALREADY_DEPLOYED
    expect(await exists(verifiedKey('demo', 'demo-app', (await cloud.primary()).taskDefinitionArn))).toBe(true);
    expect((await cloud.runner.run(input)).summary.outcome).toBe('ALREADY_DEPLOYED');
  }, 60_000);
});
