import {
  CreateDeploymentCommand,
  PutLifecycleEventHookExecutionStatusCommand,
  StopDeploymentCommand,
} from '@aws-sdk/client-codedeploy';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { lambdaInvoker } from '../../local/state-machine.ts';
import { codeDeployHookEnv } from '../../src/core/naming.ts';
import { taskStates } from '../asl.ts';
import { NEW_TD, OLD_TD } from '../unit/aws-fixtures.ts';
import { type CodeDeployOptions, fakeCodeDeploy } from './fake-codedeploy.ts';
import { deployPath, type Harness, lockPath, rollbackPath, startHarness, summaryOf } from './harness.ts';
import { payloadProblems } from './payload-contract.ts';

/**
 * A target on the CODE_DEPLOY controller as a program: gates at AfterAllowTestTraffic (a header test route) and
 * AfterAllowTraffic, a fake CodeDeploy that walks the AppSpec's hooks calling rollgate's real hook Lambdas, the
 * execution parked in AwaitGate and woken through the local SFN endpoint's task tokens. Every branch a CodeDeploy
 * target takes: both gates passed, a gate failed, the deployment failing on its own, a gate never reached, and
 * Inspect refusing a target that does not fit the service's controller.
 */

const EVENTS = ['AfterAllowTestTraffic', 'BeforeAllowTraffic', 'AfterAllowTraffic'];
let h: Harness;
let hooks: Record<string, (payload: unknown) => Promise<unknown>>;
let cd: ReturnType<typeof fakeCodeDeploy> | undefined;

beforeAll(async () => {
  for (const e of EVENTS) {
    process.env[codeDeployHookEnv(e)] = `arn:aws:lambda:us-east-1:000000000000:function:CodeDeployHook_test-${e}`;
  }
  h = await startHarness({
    config: {
      target: {
        codeDeploy: {
          application: 'demo',
          deploymentGroup: 'demo-prod',
          deploymentConfig: 'CodeDeployDefault.ECSAllAtOnce',
          gates: ['AfterAllowTestTraffic', 'AfterAllowTraffic'],
        },
        testRoute: { header: { name: 'x-test', value: '1' } },
        gateTimeoutSeconds: 2,
      },
    },
  });
  const handlers = await import('../../src/handlers/codedeploy-hook.ts');
  hooks = {
    AfterAllowTestTraffic: lambdaInvoker('CodeDeployAfterAllowTestTraffic', handlers.afterAllowTestTraffic as never),
    BeforeAllowTraffic: lambdaInvoker('CodeDeployBeforeAllowTraffic', handlers.beforeAllowTraffic as never),
    AfterAllowTraffic: lambdaInvoker('CodeDeployAfterAllowTraffic', handlers.afterAllowTraffic as never),
  };
});

afterAll(async () => {
  cd?.restore();
  await h?.close();
  for (const e of EVENTS) delete process.env[codeDeployHookEnv(e)];
});

beforeEach(async () => {
  await h.reset();
  cd?.restore();
  cd = undefined;
});

function codeDeploy(options: CodeDeployOptions = {}) {
  cd = fakeCodeDeploy(h.aws, hooks, options);
  return cd;
}

const run = () => h.run({ repository: 'demo-app', tag: 'v3' }, { WaitForRollout: 20, WaitForRollback: 20 });
/** One gate's states: parked, probed, judged (no load test: the harness load tests v4* tags only). */
const gate = ['AwaitGate', 'ProbeGate', 'GateLoadWanted', 'JudgeGate', 'GateJudged'];

describe('deploy state machine: a target on CodeDeploy', () => {
  it('passes AfterAllowTestTraffic (test route) and AfterAllowTraffic (production), follows the deployment, and deploys', async () => {
    const fake = codeDeploy();
    const result = await run();
    await fake.settled();
    expect(result.status).toBe('SUCCEEDED');
    const path = result.statesEntered;
    expect(path.slice(0, deployPath.length + gate.length * 2)).toEqual([...deployPath, ...gate, ...gate]);
    expect(path.slice(deployPath.length + gate.length * 2, deployPath.length + gate.length * 2 + 3)).toEqual([
      'WaitForRollout',
      'CheckRollout',
      'RolloutDone',
    ]);
    expect(path.slice(-5)).toEqual(['Settle', 'ProbeHealth', 'LoadTestWanted', 'RecordDeployed', 'Deployed']);
    expect(summaryOf(result)).toMatchObject({ outcome: 'DEPLOYED' });
    // the gates along their routes: the header before production moved, production after
    const gates = h.recorded
      .filter((r) => r.state === 'ProbeGate' && r.execution === result.name)
      .map((r) => (r.input as { gate: { id: string; route: unknown; final: boolean } }).gate);
    expect(gates.map((g) => [g.id, g.route, g.final])).toEqual([
      ['AfterAllowTestTraffic-100', { headers: { 'x-test': '1' } }, false],
      ['AfterAllowTraffic-100', {}, true],
    ]);
    // one deployment, each hook reported Succeeded once by JudgeGate, ECS never asked to update the service
    expect(fake.mock.commandCalls(CreateDeploymentCommand)).toHaveLength(1);
    expect(fake.deployments()[0]?.hooks.map((k) => [k.event, k.status])).toEqual([
      ['AfterAllowTestTraffic', 'Succeeded'],
      ['AfterAllowTraffic', 'Succeeded'],
    ]);
    expect(fake.mock.commandCalls(PutLifecycleEventHookExecutionStatusCommand)).toHaveLength(2);
    expect(h.aws.updateServiceCalls()).toEqual([]);
    expect(h.aws.current()).toBe(NEW_TD);
  }, 30_000);

  it('fails the AfterAllowTestTraffic gate: reports Failed, follows the rollback deployment, rolled back', async () => {
    h.unhealthy.add(NEW_TD);
    const fake = codeDeploy();
    const result = await run();
    await fake.settled();
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('DeploymentRolledBack');
    const path = result.statesEntered;
    expect(path.slice(0, deployPath.length + 2)).toEqual([...deployPath, 'AwaitGate', 'ProbeGate']);
    expect(path.slice(deployPath.length + 2, deployPath.length + 5)).toEqual(rollbackPath.slice(0, 3));
    expect(path.slice(-4)).toEqual(rollbackPath.slice(-4));
    expect(h.auditOf(result)).toMatchObject({ outcome: 'ROLLED_BACK', error: 'HealthCheckFailedError' });
    const reports = fake.mock.commandCalls(PutLifecycleEventHookExecutionStatusCommand).map((c) => c.args[0].input);
    expect(reports.map((r) => r.status)).toEqual(['Failed']);
    expect(fake.deployments().map((d) => [d.info.status, d.info.creator])).toEqual([
      ['Failed', 'user'],
      ['Succeeded', 'codeDeployRollback'],
    ]);
    expect(h.aws.updateServiceCalls()).toEqual([]);
    expect(h.aws.current()).toBe(OLD_TD);
  }, 30_000);

  it('a deployment CodeDeploy fails itself before any gate: RolloutFailed, its rollback followed', async () => {
    const fake = codeDeploy({ failBeforeHooks: true });
    const result = await run();
    await fake.settled();
    expect(result.status).toBe('FAILED');
    const path = result.statesEntered;
    const failedAt = path.indexOf('RolloutFailed');
    expect(failedAt).toBeGreaterThan(deployPath.length - 1);
    expect(path.slice(failedAt + 1, failedAt + 4)).toEqual(rollbackPath.slice(0, 3));
    expect(path).not.toContain('AwaitGate');
    expect(h.auditOf(result)).toMatchObject({ outcome: 'ROLLED_BACK', error: 'RolloutFailed' });
    expect(result.cause).toContain('The replacement task set never became healthy.');
    expect(fake.mock.commandCalls(StopDeploymentCommand)).toEqual([]);
  }, 30_000);

  it('a gate CodeDeploy never reaches: GateTimedOut, the deployment stopped with autoRollbackEnabled', async () => {
    const fake = codeDeploy({ stallAt: 'AfterAllowTraffic' });
    const result = await run();
    await fake.settled();
    expect(result.status).toBe('FAILED');
    const path = result.statesEntered;
    expect(path.slice(0, deployPath.length + gate.length + 2)).toEqual([
      ...deployPath,
      ...gate,
      'AwaitGate',
      'GateTimedOut',
    ]);
    expect(h.auditOf(result)).toMatchObject({ outcome: 'ROLLED_BACK', error: 'GateTimedOut' });
    expect(fake.mock.commandCalls(StopDeploymentCommand).map((c) => c.args[0].input)).toEqual([
      { deploymentId: 'd-FAKE00001', autoRollbackEnabled: true },
    ]);
    expect(fake.deployments()[0]?.info.status).toBe('Stopped');
    expect(h.aws.current()).toBe(OLD_TD);
  }, 30_000);

  it('Inspect refuses a codeDeploy target whose service is on the ECS controller: FAILED, nothing touched', async () => {
    const fake = codeDeploy({ controller: 'ECS' });
    const result = await run();
    expect(result.status).toBe('FAILED');
    expect(result.statesEntered).toEqual([...lockPath.slice(0, -1), 'RecordFailed', 'Failed']);
    expect(result.cause).toMatch(/uses the ECS deployment controller, not CODE_DEPLOY: remove codeDeploy/);
    expect(fake.mock.commandCalls(CreateDeploymentCommand)).toEqual([]);
    expect(h.aws.registered()).toEqual([]);
  }, 30_000);

  it.each(['Inspect', 'Deploy', 'CheckRollout', 'JudgeGate', 'Rollback', 'CheckRollback'])(
    "%s: its Parameters, applied to each recorded input of a CodeDeploy target, parse with its handler's schema",
    async (name) => {
      const state = taskStates().find((t) => t.name === name)?.state;
      if (!state) throw new Error(`no Task state ${name}`);
      expect(await payloadProblems(name, state, h.recorded)).toEqual([]);
    },
  );
});
