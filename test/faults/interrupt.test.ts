import { afterAll, describe, expect, it } from 'vitest';
import { processesWithMarker } from '../e2e/env.ts';
import { interruptFault, SIGNALS, STAGES } from './cases.ts';
import { type Env, endState, faultEnv, interruptRun, limit, rollgate } from './support.ts';

/**
 * `rollgate run` of a version that fails its SLO gate (v4-slow), stopped by a signal at each stage, then the next
 * command. Whatever the signal and the stage: the service ends on the backed-up revision (v1), steady; the execution
 * has exactly one audit record and never counts as verified; its lock is free; nothing was published for it.
 *
 * Each case has its own local cloud (state dir, ports) and the cases run concurrently: most of a case is waiting.
 */
const SLOW = JSON.stringify({ repository: 'demo-app', tag: 'v4-slow' });
/** A manual input the target's excludeTags ignore: the next command that starts the local cloud, and little else. */
const IGNORED = JSON.stringify({ repository: 'demo-app', tag: 'v9-rc1' });
const INITIAL = 'demo-app:v1';
/** Mid-rollout, the same input again must be deployed and judged again (the "What it must show"). */
const AGAIN_AFTER = 'the rollout wait';

const envs: Env[] = [];
/** Three local clouds at a time; a case waits for its slot within its own timeout. */
const slot = limit(3);

/** One task, and the gates' probes and load cut short: v4-slow still fails its SLO gate (every answer takes 300 ms). */
function interruptEnv(): Promise<Env> {
  return faultEnv((doc) => {
    const target = (doc.targets as Record<string, Record<string, unknown>>[])[0] ?? {};
    Object.assign(target.health as object, { intervalSeconds: 0.2, consecutiveSuccesses: 2 });
    Object.assign(target.load as object, { rate: 10, workers: 1, connections: 8 });
    const local = doc.local as { clusters: { services: Record<string, unknown>[] }[] };
    Object.assign(local.clusters[0]?.services[0] ?? {}, { desiredCount: 1 });
  });
}
const TIMEOUT_MS = 300_000;
afterAll(() => {
  // every case's processes carry the marker of the last env made (e2eEnv sets one per process)
  expect(processesWithMarker(envs.at(-1)?.marker ?? '')).toEqual([]);
});

/**
 * A new local cloud and `rollgate run` of v4-slow in it, signalled once `state` is entered. The cloud's ports are
 * picked free before rollgate binds them: when another process took one meanwhile (EADDRINUSE, before anything
 * started), the case starts over once on new ports.
 */
async function interruptedIn(state: string, signal: NodeJS.Signals) {
  for (let attempt = 1; ; attempt++) {
    const env = await interruptEnv();
    envs.push(env);
    try {
      return { env, run: await interruptRun(env, SLOW, state, signal) };
    } catch (err) {
      if (attempt > 1 || !/before .*EADDRINUSE/s.test((err as Error).message)) throw err;
    }
  }
}

/** The end state every interrupted case must reach. */
async function expectResolved(env: Env, name: string) {
  const end = await endState(env, name);
  expect(end).toMatchObject({ serving: INITIAL, steady: true, backup: true, auditRecords: 1, locks: [], events: [] });
  // its trigger kept (from its input), even when the status-change rule wrote its record
  expect(end.stored).toMatchObject({ status: 'FAILED', summary: { outcome: 'FAILED', trigger: 'manual' } });
}

/** The same input again: deployed and judged (rolled back by its SLO gate), never ALREADY_DEPLOYED. */
async function expectJudgedAgain(env: Env) {
  const again = await rollgate(env, ['run', '--event', '-', '--json', '--quiet'], SLOW);
  expect(JSON.parse(again.stdout)).toMatchObject({ outcome: 'ROLLED_BACK' });
  expect(again.code).toBe(3);
  return again;
}

describe.concurrent('interrupted rollgate run', () => {
  for (const { stage, state } of STAGES) {
    for (const { signal, exitCode } of SIGNALS) {
      if (exitCode === undefined) continue;
      it(
        `${interruptFault(signal, stage)}: rolls back, records, frees the lock, then exits ${exitCode}`,
        () =>
          slot(async () => {
            const { env, run } = await interruptedIn(state, signal);
            expect(run.code, run.stderr()).toBe(exitCode);
            expect(run.stdout()).toBe('');
            expect(run.stderr()).toContain(`rollgate: ${signal}: execution ${run.name}: FAILED`);
            await expectResolved(env, run.name);
            // the next command: history lists it, with what happened
            const history = await rollgate(env, ['history', '--json']);
            expect(JSON.parse(history.stdout)[0]).toMatchObject({ executionName: run.name, outcome: 'FAILED' });
            if (stage === AGAIN_AFTER && signal === 'SIGINT') await expectJudgedAgain(env);
          }),
        TIMEOUT_MS,
      );
    }

    it(
      `${interruptFault('SIGKILL', stage)}: left unfinished; the next run resolves it (rolled back) first`,
      () =>
        slot(async () => {
          const { env, run } = await interruptedIn(state, 'SIGKILL');
          expect(run.signal).toBe('SIGKILL');
          expect((await endState(env, run.name)).stored.schema).toBe('rollgate.local-execution.running.v1');
          expect((await rollgate(env, ['history'])).stderr).toContain(`execution ${run.name} (started`);
          const resolved = `execution ${run.name} did not end (the rollgate running it was killed), resolved now: FAILED`;
          if (stage === AGAIN_AFTER) {
            expect((await expectJudgedAgain(env)).stderr).toContain(resolved);
          } else {
            const next = await rollgate(env, ['run', '--event', '-', '--quiet'], IGNORED);
            expect(next.code).toBe(0);
            expect(next.stderr).toContain(resolved);
          }
          await expectResolved(env, run.name);
        }),
      TIMEOUT_MS,
    );
  }
});
