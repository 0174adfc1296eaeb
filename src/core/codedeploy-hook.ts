import type { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { z } from 'zod';
import { CODEDEPLOY_GATE_EVENTS, type CodeDeployGateEvent } from '../config/codedeploy.ts';
import { getDeployment, isOpen, reportHook, stopWithRollback } from './codedeploy.ts';
import {
  announceGate,
  arrivedGateIds,
  closeGates,
  type GateArrival,
  type GateStore,
  getJson,
  putJson,
  readArrival,
  readClosed,
  readVerdict,
} from './gates.ts';
import { codeDeployHookKey, codeDeployHookPrefix, codeDeployLinkKey, gateCodeDeployKey, gateId } from './naming.ts';

/**
 * The gate bridge for CodeDeploy's lifecycle hooks. CodeDeploy invokes a hook Lambda once per lifecycle event with
 * `{ DeploymentId, LifecycleEventHookExecutionId }` and waits (up to an hour) for its status, reported with
 * PutLifecycleEventHookExecutionStatus; the event's name is not in the payload: each gate event has its own function
 * (serverless.yml), which passes it. The hook records itself under the deployment
 * (`gates/codedeploy-deployments/<id>/hooks/<event>.json`), then reads the deployment's link to its execution
 * (written by Deploy right after CreateDeployment) and announces the gate to that execution as the ECS hook does. A
 * hook that comes before the link is announced by Deploy, which reads the hooks after writing the link: each side
 * writes before it reads the other's object, so one of them always sees the other.
 *
 * Whoever decides reports: JudgeGate Succeeded, Rollback Failed; the hook itself only when the verdict is already in
 * (a hook invoked again after it, by Lambda's retry of an asynchronous invocation) or the execution rolls back.
 */

/** What CodeDeploy invokes a hook Lambda with. */
export const codeDeployHookEventSchema = z.object({
  DeploymentId: z.string().min(1),
  LifecycleEventHookExecutionId: z.string().min(1),
});
export type CodeDeployHookEvent = z.output<typeof codeDeployHookEventSchema>;

/** A deployment's link to the execution that created it (Deploy writes it). */
export interface CodeDeployLink {
  readonly executionName: string;
  readonly deploymentId: string;
  /** The target's gate events, in CodeDeploy's order: the last one is the final gate. */
  readonly gates: readonly CodeDeployGateEvent[];
  readonly linkedAt: string;
}

/** A hook CodeDeploy invoked, as its Lambda recorded it. */
export interface CodeDeployHookRecord {
  readonly lifecycleEvent: CodeDeployGateEvent;
  readonly deploymentId: string;
  readonly lifecycleEventHookExecutionId: string;
  readonly arrivedAt: string;
}

/** What the hook (or Deploy's forwarding) did with a hook: announced its gate, left it for Deploy, or reported. */
export type HookOutcome =
  | { readonly status: 'ANNOUNCED'; readonly gate: string; readonly executionName: string }
  | { readonly status: 'UNLINKED' }
  | { readonly status: 'REPORTED'; readonly verdict: 'Succeeded' | 'Failed'; readonly reported: boolean };

interface Bridge {
  readonly s3: GateStore['s3'];
  readonly bucket: string;
  readonly sfn: SFNClient;
  readonly codeDeploy: CodeDeployClient;
  readonly now?: () => Date;
}

const at = (b: Bridge) => (b.now?.() ?? new Date()).toISOString();

/** The gate a CodeDeploy hook is: before production moved it is judged on test traffic, after it on production. */
export function arrivalOf(hook: CodeDeployHookRecord, link: CodeDeployLink): GateArrival {
  const production = hook.lifecycleEvent === 'AfterAllowTraffic';
  return {
    id: gateId(hook.lifecycleEvent, 100),
    lifecycleStage: hook.lifecycleEvent,
    stage: production ? 'production' : 'test',
    percent: 100,
    testPercent: 100,
    productionPercent: production ? 100 : 0,
    codeDeploy: { deploymentId: hook.deploymentId, lifecycleEventHookExecutionId: hook.lifecycleEventHookExecutionId },
    final: link.gates.at(-1) === hook.lifecycleEvent,
    arrivedAt: hook.arrivedAt,
  };
}

/** The hook Lambda of one lifecycle event: records the hook, then announces it if the deployment is linked. */
export async function onCodeDeployHook(
  params: Bridge & { readonly event: CodeDeployHookEvent; readonly lifecycleEvent: CodeDeployGateEvent },
): Promise<HookOutcome> {
  const { event, lifecycleEvent } = params;
  const store = { s3: params.s3, bucket: params.bucket };
  const key = codeDeployHookKey(event.DeploymentId, lifecycleEvent);
  const known = await getJson<CodeDeployHookRecord>(store, key);
  const hook: CodeDeployHookRecord =
    known?.lifecycleEventHookExecutionId === event.LifecycleEventHookExecutionId
      ? known
      : {
          lifecycleEvent,
          deploymentId: event.DeploymentId,
          lifecycleEventHookExecutionId: event.LifecycleEventHookExecutionId,
          arrivedAt: at(params),
        };
  if (hook !== known) await putJson(store, key, hook);
  const link = await getJson<CodeDeployLink>(store, codeDeployLinkKey(event.DeploymentId));
  if (!link) return { status: 'UNLINKED' };
  return forwardHook({ ...params, link, hook });
}

/** Announces one hook's gate to the linked execution, or reports the verdict it already has. */
export async function forwardHook(
  params: Bridge & { readonly link: CodeDeployLink; readonly hook: CodeDeployHookRecord },
): Promise<HookOutcome> {
  const { link, hook, codeDeploy } = params;
  const report = async (verdict: 'Succeeded' | 'Failed'): Promise<HookOutcome> => ({
    status: 'REPORTED',
    verdict,
    reported: await reportHook(codeDeploy, hook, verdict),
  });
  // a hook the execution has no gate at (the AppSpec names only gates): nothing to judge
  if (!link.gates.includes(hook.lifecycleEvent)) return report('Succeeded');
  const store: GateStore = { s3: params.s3, bucket: params.bucket, executionName: link.executionName };
  const arrival = arrivalOf(hook, link);
  const verdict = await readVerdict(store, arrival.id);
  if (verdict) return report(verdict.verdict === 'PASS' ? 'Succeeded' : 'Failed');
  const recorded = await readArrival(store, arrival.id);
  // the arrival before the closed mark, as Rollback writes the mark before it reads the arrivals
  await announceGate(
    store,
    params.sfn,
    arrival,
    recorded?.codeDeploy?.lifecycleEventHookExecutionId === hook.lifecycleEventHookExecutionId,
  );
  if (await readClosed(store)) return report('Failed');
  return { status: 'ANNOUNCED', gate: arrival.id, executionName: link.executionName };
}

/**
 * Deploy, after CreateDeployment: links the deployment to the execution, then announces the hooks CodeDeploy
 * invoked before the link was there. Idempotent (a retry links again and announces nothing twice).
 */
export async function linkDeployment(
  params: Bridge & {
    readonly deploymentId: string;
    readonly executionName: string;
    readonly gates: readonly CodeDeployGateEvent[];
  },
): Promise<HookOutcome[]> {
  const store = { s3: params.s3, bucket: params.bucket };
  const link: CodeDeployLink = {
    executionName: params.executionName,
    deploymentId: params.deploymentId,
    gates: CODEDEPLOY_GATE_EVENTS.filter((e) => params.gates.includes(e)),
    linkedAt: at(params),
  };
  await putJson(store, codeDeployLinkKey(params.deploymentId), link);
  await putJson(store, gateCodeDeployKey(params.executionName), { deploymentId: params.deploymentId });
  const prefix = codeDeployHookPrefix(params.deploymentId);
  // at most one object per lifecycle event: one page
  const out = await params.s3.send(new ListObjectsV2Command({ Bucket: params.bucket, Prefix: prefix }));
  const outcomes: HookOutcome[] = [];
  for (const o of out.Contents ?? []) {
    const hook = o.Key ? await getJson<CodeDeployHookRecord>(store, o.Key) : undefined;
    if (hook) outcomes.push(await forwardHook({ ...params, link, hook }));
  }
  return outcomes;
}

/**
 * An execution that ended outside its own paths (ExecutionEnded, which has no config to find the deployment group
 * by): its gates closed, its hooks still waiting reported Failed, and the CodeDeploy deployment it created, found by
 * its link, stopped with autoRollbackEnabled while it is in progress. The deployment stopped, if one was.
 */
export async function stopExecutionDeployment(
  params: GateStore & { readonly codeDeploy: CodeDeployClient; readonly reason: string },
): Promise<string | undefined> {
  const link = await getJson<{ deploymentId: string }>(params, gateCodeDeployKey(params.executionName));
  if (!link) return undefined;
  await closeGates(params);
  await failOpenHooks(params);
  const d = await getDeployment(params.codeDeploy, link.deploymentId);
  if (!isOpen(d)) return undefined;
  await stopWithRollback(params.codeDeploy, link.deploymentId);
  return link.deploymentId;
}

/**
 * Rollback: every CodeDeploy hook of the execution still waiting for a verdict is reported Failed (after the closed
 * mark: a hook announced later sees the mark and reports itself). The number reported.
 */
export async function failOpenHooks(params: GateStore & { readonly codeDeploy: CodeDeployClient }): Promise<number> {
  let failed = 0;
  for (const id of await arrivedGateIds(params)) {
    const arrival = await readArrival(params, id);
    if (!arrival?.codeDeploy || (await readVerdict(params, id))?.verdict === 'PASS') continue;
    if (await reportHook(params.codeDeploy, arrival.codeDeploy, 'Failed')) failed++;
  }
  return failed;
}
