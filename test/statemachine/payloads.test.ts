import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockResultSchema } from '../../src/core/lock.ts';
import { taskStates } from '../asl.ts';
import { ecrEvent } from '../helpers.ts';
import { NEW_TD } from '../unit/aws-fixtures.ts';
import { type Harness, startHarness } from './harness.ts';
import { GATE_TASKS, payloadProblems } from './payload-contract.ts';

/**
 * The contract between the ASL and the handlers, checked on real data: the input of every Task state is recorded
 * from real executions of the state machine (every path the scenarios below take), the Task's `Parameters` are
 * applied to it here, independently of the runner, and the result must parse with that handler's own schema. The
 * gate states (progressive delivery) are checked the same way on gates.test.ts's executions.
 */

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
  const scenarios: [string, () => Promise<unknown>][] = [
    // another execution's lock expires while this one waits: AcquireLock sees NONE, then its own WAIT answer
    [
      'waits for the lock, then deploys',
      async () => {
        await h.holdLock('holder-execution', 'demo-app:v0', 1);
        return h.run(ecrEvent('push'), { WaitForLock: 1100 });
      },
    ],
    [
      'deploys by hand, then finds that image already running',
      async () => {
        await h.run({ repository: 'demo-app', tag: 'v3', reason: 'contract' });
        return h.run({ repository: 'demo-app', tag: 'v3' });
      },
    ],
    ['load tests and deploys', () => h.run({ repository: 'demo-app', tag: 'v4' })],
    ['ignores an unmatched tag', () => h.run({ repository: 'demo-app', tag: 'latest' })],
    ['fails on malformed input', () => h.run({ repository: 'demo-app' })],
    [
      'rolls back a failed health check',
      async () => {
        h.unhealthy.add(NEW_TD);
        return h.run({ repository: 'demo-app', tag: 'v3' });
      },
    ],
    [
      'fails the rollback',
      async () => {
        h.unhealthy.add(NEW_TD);
        h.aws.behaviour.rollbackRejects = true;
        return h.run({ repository: 'demo-app', tag: 'v3' });
      },
    ],
  ];
  for (const [, scenario] of scenarios) {
    await h.reset();
    await scenario();
  }
}, 120_000);

afterAll(async () => {
  await h?.close();
});

describe('Task payloads built from recorded states', () => {
  it.each(
    taskStates()
      .filter((t) => !GATE_TASKS.includes(t.name))
      .map((t) => [t.name, t.state] as const),
  )("%s: its Parameters, applied to each recorded input, parse with its handler's schema", async (name, state) => {
    expect(await payloadProblems(name, state, h.recorded)).toEqual([]);
  });

  it("parses InitLock's {status: NONE}, which AcquireLock's answer type (LockResult) does not allow", () => {
    const first = h.recorded.filter((r) => r.state === 'AcquireLock').map((r) => (r.input as { lock: unknown }).lock);
    expect(first).toContainEqual({ status: 'NONE' });
    expect(first).toContainEqual(expect.objectContaining({ status: 'WAIT' }));
    expect(lockResultSchema.safeParse({ status: 'NONE' }).success).toBe(false);
  });
});
