import { readFileSync } from 'node:fs';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAULTS_ENV } from '../../local/faults.ts';
import { startProductionClient } from '../../local/production-client.ts';
import type { LocalRunner as Runner } from '../../local/runner.ts';
import type { ExecutionEvent } from '../../local/state-machine.ts';
import { readAsl } from '../asl.ts';
import { applyParameters } from '../statemachine/payload-contract.ts';
import { e2eEnv, expectStoppedAtTestGate, openRunner, processesWithMarker, versionsServed, watchSplit } from './env.ts';

/**
 * A service on the CODE_DEPLOY controller deployed through the local CodeDeploy, on examples/codedeploy's config and
 * with the README's `rollgate run` inputs: the real state machine, the CodeDeploy hooks through the local Lambda
 * endpoint, the blue/green walked on the local ALB and tasks, and a client sending a request to production every
 * 10 ms throughout.
 */

const EXAMPLE = 'examples/codedeploy/rollgate.config.yml';
let env: Awaited<ReturnType<typeof e2eEnv>>;
let runner: Runner;

beforeAll(async () => {
  // a canary "minute" of 500 ms: the 10% step lasts 2.5 s, the termination wait 0.5 s
  env = await e2eEnv(
    (doc) => {
      (doc.local as { minuteMs: number }).minuteMs = 500;
    },
    { configFile: EXAMPLE },
  );
  runner = await openRunner(env);
}, 60_000);

afterAll(async () => {
  await runner?.close();
  expect(processesWithMarker(env.marker)).toEqual([]);
}, 60_000);

/** The inputs of the README's `rollgate run` lines for the example config, by tag. */
function readmeInputs(): Map<string, { repository: string; tag: string }> {
  const lines = readFileSync('README.md', 'utf8').matchAll(
    /^echo '(\{.+\})' \| npx rollgate run --config examples\/codedeploy\/rollgate\.config\.yml --event -$/gm,
  );
  const inputs = new Map<string, { repository: string; tag: string }>();
  for (const [, json] of lines) {
    const input = JSON.parse(json ?? '{}') as { repository: string; tag: string };
    inputs.set(input.tag, input);
  }
  return inputs;
}

async function run(tag: string, options: { retryDeployAt?: string; faults?: string } = {}) {
  const input = readmeInputs().get(tag);
  if (!input) throw new Error(`README.md has no rollgate run line for ${tag}`);
  const client = startProductionClient(`${runner.cloud.ecs.loadBalancerUrl('shop', 'payments')}/`);
  const split = watchSplit(runner, 'shop', 'payments');
  const name = `payments-${tag}-${Date.now()}`;
  let deployInput: unknown;
  let retry: Promise<Record<string, unknown>> | undefined;
  const lambda = new LambdaClient({
    endpoint: runner.cloud.lambda.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const events: ExecutionEvent[] = [];
  if (options.faults) process.env[FAULTS_ENV] = options.faults;
  const running = runner.run(input, {
    name,
    onEvent: (e) => events.push(e),
    onStateEntered: (state, stateInput) => {
      if (state === 'Deploy') deployInput = stateInput;
      // The Deploy Task again with the very payload it had (what a Retry or a redrive sends), once
      // CreateDeployment went through: the execution waits at its first gate.
      if (state === options.retryDeployAt && retry === undefined) {
        const payload = applyParameters(readAsl().States.Deploy?.Parameters, deployInput, {
          Execution: { Name: name },
        });
        retry = lambda
          .send(new InvokeCommand({ FunctionName: 'deploy', Payload: Buffer.from(JSON.stringify(payload)) }))
          .then((out) => JSON.parse(Buffer.from(out.Payload ?? []).toString('utf8')) as Record<string, unknown>);
      }
    },
  });
  const stored = await running.finally(() => {
    delete process.env[FAULTS_ENV];
  });
  split.stop();
  await client.stop();
  const retried = await retry;
  lambda.destroy();
  const mine = runner.cloud.codeDeploy.deployments().filter((d) => d.description?.includes(`execution ${name}:`));
  const creates = runner.cloud.codeDeploy.calls.filter(
    (c) => c.op === 'CreateDeployment' && String(c.input.description).includes(`execution ${name}:`),
  );
  const reports = runner.cloud.codeDeploy.calls.filter((c) => c.op === 'PutLifecycleEventHookExecutionStatus');
  return { stored, samples: client.answers, changes: split.changes, mine, creates, reports, retried, events };
}

describe('a service on CodeDeploy, a production request every 10 ms', () => {
  it('blue/green: a version too slow on the test listener is stopped at AfterAllowTestTraffic; 0 production requests reached it', async () => {
    const result = await run('v3-slow');
    const { mine, reports } = result;
    // production never moved; the walk rolled back from the test traffic
    expectStoppedAtTestGate(result, 'v3-slow');
    // CodeDeploy's view: the deployment failed at its AfterAllowTestTraffic hook (reported Failed by Rollback) and
    // its rollback deployment succeeded
    expect(mine).toHaveLength(1);
    const [deployment] = mine;
    expect(deployment?.status).toBe('Failed');
    expect(deployment?.errorInformation?.code).toBe('HOOK_EXECUTION_FAILURE');
    expect(deployment?.lifecycleEvents.map((e) => [e.event, e.status])).toEqual([['AfterAllowTestTraffic', 'Failed']]);
    const hook = deployment?.lifecycleEvents[0]?.hookExecutionId;
    expect(reports.filter((r) => r.input.lifecycleEventHookExecutionId === hook).map((r) => r.input.status)).toEqual([
      'Failed',
    ]);
    const rollback = runner.cloud.codeDeploy
      .deployments()
      .find((d) => d.deploymentId === deployment?.rollbackInfo?.rollbackDeploymentId);
    expect(rollback).toMatchObject({ status: 'Succeeded', creator: 'codeDeployRollback' });
  }, 60_000);

  it('canary: a good version goes through 10% and 100% to DEPLOYED, 0 failed; a Deploy retried (Retry, then redrive) created no second deployment', async () => {
    // Deploy's first call fails after CreateDeployment went through (Lambda.ServiceException, which its Retry
    // retries), and once the execution waits at its first gate, the Deploy Task is invoked again with its payload
    // (what a redrive sends)
    const { stored, samples, changes, mine, creates, reports, retried, events } = await run('v2', {
      retryDeployAt: 'AwaitGate',
      faults: 'Lambda:Deploy=retry-after',
    });
    expect(events.filter((e) => e.type === 'StateRetried').map((e) => e.state)).toEqual(['Deploy']);
    expect({ outcome: stored.summary.outcome, reason: stored.summary.reason }).toMatchObject({ outcome: 'DEPLOYED' });
    expect(changes.map((c) => c.production).filter((p, i, all) => all.indexOf(p) === i)).toEqual([0, 10, 100]);
    expect(changes.at(-1)?.status).toBe('SUCCESSFUL');
    expect(samples.filter((s) => s.status !== 200)).toEqual([]);
    const step = changes.find((c) => c.production === 10);
    const full = changes.find((c) => c.production === 100);
    const during = samples.filter((s) => s.at > (step?.at ?? 0) + 20 && s.at < (full?.at ?? 0) - 20);
    const share = (during.filter((s) => s.version === 'v2').length / during.length) * 100;
    console.log(`canary step: ${share.toFixed(1)}% of ${during.length} production requests answered by v2`);
    expect(during.length).toBeGreaterThan(100);
    expect(share).toBeGreaterThanOrEqual(6);
    expect(share).toBeLessThanOrEqual(14);
    // the gate's verdict reported Succeeded once (JudgeGate); the deployment succeeded
    expect(mine).toHaveLength(1);
    expect(mine[0]?.status).toBe('Succeeded');
    const hook = mine[0]?.lifecycleEvents[0]?.hookExecutionId;
    expect(mine[0]?.lifecycleEvents.map((e) => [e.event, e.status])).toEqual([['AfterAllowTestTraffic', 'Succeeded']]);
    expect(reports.filter((r) => r.input.lifecycleEventHookExecutionId === hook).map((r) => r.input.status)).toEqual([
      'Succeeded',
    ]);
    // the Deploy retried and the one invoked again after CreateDeployment went through followed it: one
    // CreateDeployment for the execution
    expect(retried).toMatchObject({ codeDeployDeploymentId: mine[0]?.deploymentId, expect: 'SUCCESSFUL' });
    expect(creates).toHaveLength(1);
    expect(await versionsServed(`${runner.cloud.ecs.loadBalancerUrl('shop', 'payments')}/`)).toEqual(new Set(['v2']));
  }, 60_000);
});
