import type { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { z } from 'zod';
import type { TestRoute } from '../config/progressive.ts';
import { reportHook } from './codedeploy.ts';
import { isMissingObject } from './errors.ts';
import { gateRouteSchema, routeOf } from './gate-route.ts';
import {
  gateArrivalKey,
  gateArrivalPrefix,
  gatesClosedKey,
  gateTokenKey,
  gateVerdictKey,
  parseGateId,
} from './naming.ts';

/**
 * The gate bridge between ECS and an execution, kept in S3 under `gates/<execution>/` (keys in naming.ts):
 *
 * - the hook (gate-hook.ts) records each gate ECS reaches (`arrivals/<id>.json`), then reads the parked task token
 *   and wakes the execution with the gate, then answers ECS from the verdict;
 * - ParkGate (the AwaitGate state's Lambda) records the task token, then wakes itself at once if a gate already
 *   arrived and is unjudged;
 * - JudgeGate records PASS (`verdicts/<id>.json`); Rollback closes every open gate (`closed.json`).
 *
 * Each side writes before it reads the other's object, so with S3's strong read-after-write consistency one of the
 * two always sees the other: no gate is missed, and a gate may be sent twice (the second SendTaskSuccess on a used
 * token fails and is ignored). The hook reads the verdict after the token, so it never sends an already judged gate
 * with a token parked after its verdict.
 */

/** A gate as the execution receives it (`$.gate`): the stage ECS reached and where to probe it. */
export const gateSchema = z.object({
  /** `<lifecycleStage>-<percent>`: `POST_TEST_TRAFFIC_SHIFT-100`, `PRODUCTION_TRAFFIC_SHIFT-10`. */
  id: z.string().min(1),
  lifecycleStage: z.string().min(1),
  /** `test`: test traffic only reaches the new version; `production`: `percent` of production traffic does. */
  stage: z.enum(['test', 'production']),
  percent: z.number().min(0).max(100),
  testPercent: z.number().min(0).max(100),
  productionPercent: z.number().min(0).max(100),
  /** All production traffic is on the new version: after this gate, CheckRollout follows the bake (GateJudged). */
  final: z.boolean(),
  route: gateRouteSchema,
  serviceDeploymentArn: z.string().min(1).exactOptional(),
  /** A CodeDeploy hook's gate: the hook execution JudgeGate (Succeeded) or Rollback (Failed) reports on. */
  codeDeploy: z
    .object({ deploymentId: z.string().min(1), lifecycleEventHookExecutionId: z.string().min(1) })
    .exactOptional(),
  arrivedAt: z.string().min(1),
  /** Set by JudgeGate. */
  verdict: z.literal('PASS').exactOptional(),
  /** Set by JudgeGate on the final gate: every gate passed (the GateJudged and RolloutDone states read it). */
  allPassed: z.literal(true).exactOptional(),
});
export type Gate = z.output<typeof gateSchema>;

/** What the hook records when ECS reaches a gate. */
export interface GateArrival {
  readonly id: string;
  readonly lifecycleStage: string;
  readonly stage: 'test' | 'production';
  readonly percent: number;
  readonly testPercent: number;
  readonly productionPercent: number;
  readonly serviceDeploymentArn?: string;
  /** A CodeDeploy hook's gate (src/core/codedeploy-hook.ts): its deployment and hook execution. */
  readonly codeDeploy?: { readonly deploymentId: string; readonly lifecycleEventHookExecutionId: string };
  /** The last gate of the deployment (CodeDeploy: the target's last gate event); else 100% of production is. */
  readonly final?: boolean;
  readonly arrivedAt: string;
}

/** What ParkGate records: the token of the AwaitGate state the execution waits in, and the target's test route. */
export interface ParkedToken {
  readonly taskToken: string;
  readonly testRoute?: TestRoute;
  readonly parkedAt: string;
}

/** A gate's verdict (`verdicts/<id>.json`), or the rollback's mark (`closed.json`, verdict FAIL). */
export interface GateVerdict {
  readonly verdict: 'PASS' | 'FAIL';
  readonly reason?: string;
  readonly at: string;
}

export interface GateStore {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly executionName: string;
}

/** The gate the execution receives for an arrival. */
export function gateOf(arrival: GateArrival, testRoute: TestRoute | undefined): Gate {
  return {
    ...arrival,
    final: arrival.final ?? (arrival.stage === 'production' && arrival.percent >= 100),
    route: routeOf(arrival, testRoute),
  };
}

export async function getJson<T>(
  { s3, bucket }: Pick<GateStore, 's3' | 'bucket'>,
  key: string,
): Promise<T | undefined> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse((await out.Body?.transformToString()) ?? 'null') as T;
  } catch (err) {
    if (isMissingObject(err)) return undefined;
    throw err;
  }
}

export async function putJson(
  { s3, bucket }: Pick<GateStore, 's3' | 'bucket'>,
  key: string,
  body: unknown,
): Promise<void> {
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(body), ContentType: 'application/json' }),
  );
}

export const readToken = (store: GateStore) => getJson<ParkedToken>(store, gateTokenKey(store.executionName));
export const readVerdict = (store: GateStore, id: string) =>
  getJson<GateVerdict>(store, gateVerdictKey(store.executionName, id));
export const readClosed = (store: GateStore) => getJson<GateVerdict>(store, gatesClosedKey(store.executionName));
export const readArrival = (store: GateStore, id: string) =>
  getJson<GateArrival>(store, gateArrivalKey(store.executionName, id));
export const writeArrival = (store: GateStore, arrival: GateArrival) =>
  putJson(store, gateArrivalKey(store.executionName, arrival.id), arrival);

/** The ids of the gates that arrived, in the order ECS reaches them (test first, then by share). */
export async function arrivedGateIds(store: GateStore): Promise<string[]> {
  const prefix = gateArrivalPrefix(store.executionName);
  const ids: string[] = [];
  let token: string | undefined;
  do {
    const out = await store.s3.send(
      new ListObjectsV2Command({
        Bucket: store.bucket,
        Prefix: prefix,
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    for (const o of out.Contents ?? []) {
      if (o.Key?.endsWith('.json')) ids.push(o.Key.slice(prefix.length, -'.json'.length));
    }
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  const order = (id: string) => {
    const g = parseGateId(id);
    return g ? (g.lifecycleStage.includes('TEST') ? 0 : 1000) + g.percent : 10_000;
  };
  return ids.sort((a, b) => order(a) - order(b));
}

/**
 * Wakes the execution parked on `taskToken` with a gate. A token already used (the other side sent first, or the
 * state moved on) or timed out answers TaskTimedOut / InvalidToken / TaskDoesNotExist: ignored, as the race allows.
 */
export async function sendGate(sfn: SFNClient, taskToken: string, gate: Gate): Promise<boolean> {
  try {
    await sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(gate) }));
    return true;
  } catch (err) {
    if (['TaskTimedOut', 'InvalidToken', 'TaskDoesNotExist'].includes((err as Error).name)) return false;
    throw err;
  }
}

/** ParkGate's answer (ignored by the AwaitGate state, which takes SendTaskSuccess's output): for the logs and tests. */
export interface ParkResult {
  readonly parkedAt: string;
  /** The gate sent at once, when one had arrived unjudged. */
  readonly sent?: string;
}

/**
 * ParkGate: records the AwaitGate state's task token, then sends the first gate that arrived and has no verdict yet
 * (if any): the hook may have come before the execution parked.
 */
export async function parkGate(
  params: GateStore & {
    readonly sfn: SFNClient;
    readonly taskToken: string;
    readonly testRoute?: TestRoute | undefined;
    readonly now?: () => Date;
  },
): Promise<ParkResult> {
  const parkedAt = (params.now?.() ?? new Date()).toISOString();
  const token: ParkedToken = {
    taskToken: params.taskToken,
    ...(params.testRoute ? { testRoute: params.testRoute } : {}),
    parkedAt,
  };
  await putJson(params, gateTokenKey(params.executionName), token);
  for (const id of await arrivedGateIds(params)) {
    if (await readVerdict(params, id)) continue;
    const arrival = await readArrival(params, id);
    if (!arrival) continue;
    const sent = await sendGate(params.sfn, params.taskToken, gateOf(arrival, params.testRoute));
    return sent ? { parkedAt, sent: id } : { parkedAt };
  }
  return { parkedAt };
}

/**
 * Records a gate's arrival (unless `recorded`), then wakes the parked execution with it unless it was judged
 * meanwhile: first the arrival, then the token, then the verdict again (see above): no gate missed, none sent once
 * judged. The ECS hook (gate-hook.ts) and the CodeDeploy hooks (codedeploy-hook.ts) announce their gates so.
 */
export async function announceGate(
  store: GateStore,
  sfn: SFNClient,
  arrival: GateArrival,
  recorded: boolean,
): Promise<void> {
  if (!recorded) await writeArrival(store, arrival);
  const parked = await readToken(store);
  if (parked && !(await readVerdict(store, arrival.id))) {
    await sendGate(sfn, parked.taskToken, gateOf(arrival, parked.testRoute));
  }
}

/**
 * JudgeGate: the gate's probes and load test passed: PASS, which the ECS hook answers ECS with (SUCCEEDED); a
 * CodeDeploy hook's gate is reported Succeeded here (CodeDeploy never calls a hook twice), after the verdict is kept.
 */
export async function judgeGate(
  params: GateStore & {
    readonly gate: Gate;
    readonly now?: () => Date;
    readonly codeDeploy?: CodeDeployClient;
  },
): Promise<Gate> {
  const verdict: GateVerdict = { verdict: 'PASS', at: (params.now?.() ?? new Date()).toISOString() };
  await putJson(params, gateVerdictKey(params.executionName, params.gate.id), verdict);
  if (params.gate.codeDeploy) {
    if (!params.codeDeploy) throw new Error('judgeGate: a CodeDeploy gate needs a CodeDeploy client');
    await reportHook(params.codeDeploy, params.gate.codeDeploy, 'Succeeded');
  }
  return { ...params.gate, verdict: 'PASS', ...(params.gate.final ? { allPassed: true as const } : {}) };
}

/** Rollback: every gate still open fails (the hook answers FAILED to a forward call from now on). */
export async function closeGates(params: GateStore & { readonly reason: string; readonly now?: () => Date }) {
  const mark: GateVerdict = {
    verdict: 'FAIL',
    reason: params.reason,
    at: (params.now?.() ?? new Date()).toISOString(),
  };
  await putJson(params, gatesClosedKey(params.executionName), mark);
}
