import { StopServiceDeploymentCommand } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { lambdaInvoker } from '../../local/state-machine.ts';
import { taskStates } from '../asl.ts';
import { NEW_TD, OLD_TD } from '../unit/aws-fixtures.ts';
import { fakeStrategies, type StrategyOptions } from './fake-strategy.ts';
import { deployPath, type Harness, rollbackPath, startHarness, summaryOf } from './harness.ts';
import { GATE_TASKS, payloadProblems } from './payload-contract.ts';

/**
 * Progressive delivery as a program: a canary with a header test route (test gate, 10%, 100%), driven by a fake
 * ECS that walks the deployment and calls the real GateHook Lambda as ECS does, the execution parked in AwaitGate
 * and woken through the local SFN endpoint's task tokens. Every gate passing, failing and timing out, and a rollback
 * during the bake.
 */

let h: Harness;
let invokeHook: (payload: unknown) => Promise<unknown>;

beforeAll(async () => {
  process.env.GATE_HOOK_FUNCTION_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:rollgate-local-gateHook';
  process.env.ECS_HOOK_ROLE_ARN = 'arn:aws:iam::000000000000:role/rollgate-local-ecs-hook';
  h = await startHarness({
    config: {
      target: {
        strategy: 'canary',
        canary: { percent: 10, bakeMinutes: 0 },
        testRoute: { header: { name: 'x-canary', value: '1' } },
        gateTimeoutSeconds: 2,
      },
    },
  });
  const { handler } = await import('../../src/handlers/gate-hook.ts');
  invokeHook = lambdaInvoker('GateHook', handler as never);
});

afterAll(async () => {
  await h?.close();
  delete process.env.GATE_HOOK_FUNCTION_ARN;
  delete process.env.ECS_HOOK_ROLE_ARN;
});

beforeEach(async () => {
  await h.reset();
});

function strategies(options: Partial<StrategyOptions> = {}) {
  return fakeStrategies(h.aws, (p) => invokeHook(p), { callBackMs: 30, bakeMs: 600, ...options });
}

/** One gate's states: parked, probed, judged (no load test: the harness load tests v4* tags only). */
const gate = ['AwaitGate', 'ProbeGate', 'GateLoadWanted', 'JudgeGate', 'GateJudged'];
/**
 * The path: `before`, then Rollback, its check loop (once or more: ECS may still be calling the hooks back), and the
 * rest of the rollback path.
 */
function expectRolledBack(path: string[], before: string[]) {
  expect(path.slice(0, before.length)).toEqual(before);
  const rest = path.slice(before.length);
  const loop = rest.slice(1, -4);
  expect([rest[0], ...rest.slice(-4)]).toEqual([rollbackPath[0], ...rollbackPath.slice(-4)]);
  expect(loop.length % 3).toBe(0);
  expect(loop.slice(0, 3)).toEqual(rollbackPath.slice(1, 4));
  expect(new Set(loop)).toEqual(new Set(rollbackPath.slice(1, 4)));
}

/** The forward hook calls' last answers, by stage and share. */
const forward = (calls: ReturnType<typeof strategies>['hookCalls']) =>
  calls
    .filter((c) => !c.rollback)
    .map((c) => `${c.stage}@${c.stage.includes('TEST') ? c.testPercent : c.productionPercent}:${c.answer}`);

describe('deploy state machine: progressive delivery gates', () => {
  it('passes every gate (test route, 10%, 100%), follows the bake, and deploys', async () => {
    const ecs = strategies();
    const result = await h.run({ repository: 'demo-app', tag: 'v3' }, { WaitForRollout: 20, WaitForRollback: 20 });
    await ecs.settled();
    expect(result.status).toBe('SUCCEEDED');
    const path = result.statesEntered;
    expect(path.slice(0, deployPath.length + gate.length * 3)).toEqual([...deployPath, ...gate, ...gate, ...gate]);
    // then the bake: BAKING answers probe production, until SUCCESSFUL
    const after = path.slice(deployPath.length + gate.length * 3);
    expect(after.slice(0, 3)).toEqual(['WaitForRollout', 'CheckRollout', 'RolloutDone']);
    expect(after).toContain('ProbeBake');
    expect(after.slice(-5)).toEqual(['Settle', 'ProbeHealth', 'LoadTestWanted', 'RecordDeployed', 'Deployed']);
    expect(summaryOf(result)).toMatchObject({ outcome: 'DEPLOYED' });
    // each gate's hook was asked again while it was judged (IN_PROGRESS), then told SUCCEEDED, in ECS's order
    const answers = forward(ecs.hookCalls);
    const last = (id: string) => answers.filter((a) => a.startsWith(`${id}:`)).at(-1);
    expect(last('POST_TEST_TRAFFIC_SHIFT@100')).toBe('POST_TEST_TRAFFIC_SHIFT@100:SUCCEEDED');
    expect(last('PRODUCTION_TRAFFIC_SHIFT@10')).toBe('PRODUCTION_TRAFFIC_SHIFT@10:SUCCEEDED');
    expect(last('PRODUCTION_TRAFFIC_SHIFT@100')).toBe('PRODUCTION_TRAFFIC_SHIFT@100:SUCCEEDED');
    expect(answers.filter((a) => a.endsWith(':IN_PROGRESS')).length).toBeGreaterThanOrEqual(3);
    // the gates went along their routes: the header for the test gate and the 10% step, production at 100%
    const routes = h.recorded
      .filter((r) => r.state === 'ProbeGate' && r.execution === result.name)
      .map((r) => (r.input as { gate: { id: string; route: unknown } }).gate);
    expect(routes.map((g) => [g.id, g.route])).toEqual([
      ['POST_TEST_TRAFFIC_SHIFT-100', { headers: { 'x-canary': '1' } }],
      ['PRODUCTION_TRAFFIC_SHIFT-10', { headers: { 'x-canary': '1' } }],
      ['PRODUCTION_TRAFFIC_SHIFT-100', {}],
    ]);
    expect(h.aws.current()).toBe(NEW_TD);
    // one service deployment: the UpdateService carried the strategy and the hook on this execution
    expect(ecs.deployments.map((d) => d.status)).toEqual(['SUCCESSFUL']);
    expect(ecs.deployments[0]?.config).toMatchObject({
      strategy: 'CANARY',
      canaryConfiguration: { canaryPercent: 10, canaryBakeTimeInMinutes: 0 },
      lifecycleHooks: [
        {
          lifecycleStages: ['POST_TEST_TRAFFIC_SHIFT', 'PRODUCTION_TRAFFIC_SHIFT'],
          hookDetails: { execution: result.name },
        },
      ],
    });
  }, 30_000);

  it('load tests each gate along its route with the shared load states', async () => {
    const ecs = strategies();
    const result = await h.run({ repository: 'demo-app', tag: 'v4' }, { WaitForRollout: 20, WaitForRollback: 20 });
    await ecs.settled();
    expect(result.status).toBe('SUCCEEDED');
    const loadGate = ['AwaitGate', 'ProbeGate', 'GateLoadWanted', 'PlanGateLoad', 'GenerateLoad'];
    expect(result.statesEntered.slice(deployPath.length, deployPath.length + loadGate.length)).toEqual(loadGate);
    const judged = result.statesEntered.filter((s) => s === 'JudgeGate');
    expect(judged).toHaveLength(3);
    const plans = h.recorded
      .filter((r) => r.state === 'AggregateLoad' && r.execution === result.name)
      .map((r) => (r.input as { loadPlan: { shard: { headers?: unknown } } }).loadPlan.shard.headers);
    // three gates (header, header, production), then the deploy's own load test on production
    expect(plans).toEqual([{ 'x-canary': '1' }, { 'x-canary': '1' }, undefined, undefined]);
  }, 60_000);

  it('fails the test gate: rolls back with StopServiceDeployment before any production traffic moved', async () => {
    h.unhealthy.add(NEW_TD);
    const ecs = strategies();
    const result = await h.run({ repository: 'demo-app', tag: 'v3' }, { WaitForRollout: 20, WaitForRollback: 20 });
    await ecs.settled();
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('DeploymentRolledBack');
    expectRolledBack(result.statesEntered, [...deployPath, 'AwaitGate', 'ProbeGate']);
    expect(h.auditOf(result)).toMatchObject({ outcome: 'ROLLED_BACK', error: 'HealthCheckFailedError' });
    // no forward production step: the hook's test gate ended FAILED (or ECS was stopped first)
    expect(forward(ecs.hookCalls).some((a) => a.startsWith('PRODUCTION'))).toBe(false);
    expect(ecs.deployments.map((d) => d.status)).toEqual(['ROLLBACK_SUCCESSFUL']);
    expect(h.aws.ecsMock.commandCalls(StopServiceDeploymentCommand)).toHaveLength(1);
    expect(h.aws.current()).toBe(OLD_TD);
    // the hook called during the rollback (weights back to blue) is answered SUCCEEDED at once
    expect(ecs.hookCalls.filter((c) => c.rollback).map((c) => [c.productionPercent, c.answer])).toEqual([
      [0, 'SUCCEEDED'],
    ]);
  }, 30_000);

  it('fails the canary step at 10%: rolls back before 100%', async () => {
    const ecs = strategies({
      onStage: (stage) => {
        if (stage === 'PRODUCTION_TRAFFIC_SHIFT') h.unhealthy.add(NEW_TD);
      },
    });
    const result = await h.run({ repository: 'demo-app', tag: 'v3' }, { WaitForRollout: 20, WaitForRollback: 20 });
    await ecs.settled();
    expect(result.status).toBe('FAILED');
    expectRolledBack(result.statesEntered, [...deployPath, ...gate, 'AwaitGate', 'ProbeGate']);
    const answers = forward(ecs.hookCalls);
    expect(answers.some((a) => a.startsWith('PRODUCTION_TRAFFIC_SHIFT@10:'))).toBe(true);
    expect(answers.some((a) => a.startsWith('PRODUCTION_TRAFFIC_SHIFT@100:'))).toBe(false);
    expect(ecs.deployments[0]?.status).toBe('ROLLBACK_SUCCESSFUL');
    expect(h.aws.current()).toBe(OLD_TD);
  }, 30_000);

  it('times out a gate ECS never reaches: GateTimedOut, rolled back', async () => {
    const ecs = strategies({ stallAt: 'PRODUCTION_TRAFFIC_SHIFT' });
    const result = await h.run({ repository: 'demo-app', tag: 'v3' }, { WaitForRollout: 20, WaitForRollback: 20 });
    await ecs.settled();
    expect(result.status).toBe('FAILED');
    expectRolledBack(result.statesEntered, [...deployPath, ...gate, 'AwaitGate', 'GateTimedOut']);
    expect(h.auditOf(result)).toMatchObject({ outcome: 'ROLLED_BACK', error: 'GateTimedOut' });
    expect(result.cause).toContain('ECS reached no gate within 2 s (gateTimeoutSeconds)');
    expect(ecs.deployments[0]?.status).toBe('ROLLBACK_SUCCESSFUL');
  }, 30_000);

  it('rolls back during the bake when production stops answering', async () => {
    const ecs = strategies({
      bakeMs: 10_000,
      onStage: (stage) => {
        if (stage === 'BAKE_TIME') h.unhealthy.add(NEW_TD);
      },
    });
    const result = await h.run({ repository: 'demo-app', tag: 'v3' }, { WaitForRollout: 20, WaitForRollback: 20 });
    await ecs.settled();
    expect(result.status).toBe('FAILED');
    const path = result.statesEntered;
    expect(path.slice(0, deployPath.length + gate.length * 3)).toEqual([...deployPath, ...gate, ...gate, ...gate]);
    expectRolledBack(path, path.slice(0, path.lastIndexOf('ProbeBake') + 1));
    expect(path.at(path.lastIndexOf('ProbeBake') + 1)).toBe('Rollback');
    expect(ecs.deployments[0]?.status).toBe('ROLLBACK_SUCCESSFUL');
    expect(h.aws.ecsMock.commandCalls(StopServiceDeploymentCommand)).toHaveLength(1);
    expect(h.aws.current()).toBe(OLD_TD);
  }, 30_000);

  it.each(GATE_TASKS)(
    "%s: its Parameters, applied to each recorded input, parse with its handler's schema",
    async (name) => {
      const state = taskStates().find((t) => t.name === name)?.state;
      if (!state) throw new Error(`no Task state ${name}`);
      expect(await payloadProblems(name, state, h.recorded)).toEqual([]);
    },
  );
});
