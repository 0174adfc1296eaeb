import type { SFNClient } from '@aws-sdk/client-sfn';
import { z } from 'zod';
import { isTransient } from './errors.ts';
import { announceGate, arrivedGateIds, type GateArrival, type GateStore, readClosed, readVerdict } from './gates.ts';
import { gateId, parseGateId } from './naming.ts';

/**
 * What ECS invokes a lifecycle hook's Lambda with: the weights of test and production traffic by service revision
 * ARN, the stage, the service deployment, and the hook's `hookDetails` (rollgate's Deploy puts the execution there).
 */
export const hookEventSchema = z.object({
  executionDetails: z.object({
    testTrafficWeights: z.record(z.string(), z.number()).default({}),
    productionTrafficWeights: z.record(z.string(), z.number()).default({}),
    serviceArn: z.string().exactOptional(),
    targetServiceRevisionArn: z.string().min(1),
  }),
  executionId: z.string().exactOptional(),
  lifecycleStage: z.string().min(1),
  /** The service deployment ARN. */
  resourceArn: z.string().exactOptional(),
  hookDetails: z.object({ execution: z.string().min(1) }),
});
export type HookEvent = z.output<typeof hookEventSchema>;

/** The hook's answer to ECS. */
export type HookAnswer =
  | { readonly hookStatus: 'SUCCEEDED' | 'FAILED' }
  | { readonly hookStatus: 'IN_PROGRESS'; readonly callBackDelay: number };

/** Seconds ECS waits before asking again while a gate is being judged: short, a gate's verdict is seconds away. */
export const HOOK_CALLBACK_DELAY_SECONDS = 5;

/**
 * The new version's share at the hook's stage, read from the weights: test stages read the test weights, production
 * stages the production weights. A revision missing from the weights has what the others leave (all when empty).
 */
export function shareOf(event: HookEvent): { stage: 'test' | 'production'; percent: number } | undefined {
  const { lifecycleStage, executionDetails: d } = event;
  const stage = lifecycleStage.includes('TEST_TRAFFIC')
    ? 'test'
    : lifecycleStage.includes('PRODUCTION_TRAFFIC')
      ? 'production'
      : undefined;
  if (!stage) return undefined;
  const weights = stage === 'test' ? d.testTrafficWeights : d.productionTrafficWeights;
  const green = weights[d.targetServiceRevisionArn];
  const others = Object.entries(weights)
    .filter(([arn]) => arn !== d.targetServiceRevisionArn)
    .reduce((sum, [, w]) => sum + w, 0);
  return { stage, percent: green ?? Math.max(0, 100 - others) };
}

/**
 * The hook (GateHook Lambda), called by ECS at POST_TEST_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT, again every
 * `callBackDelay` seconds while it answers IN_PROGRESS, and again during a rollback. Idempotent:
 *
 * - traffic going back to the old version (the new one's share 0, or below a gate already reached) or a stage that is
 *   no gate: SUCCEEDED at once; a hook never blocks a rollback;
 * - the execution rolls back (closed) or the gate failed: FAILED; the gate passed: SUCCEEDED;
 * - else the gate is recorded, the parked execution woken with it, and the answer is IN_PROGRESS.
 *
 * A transient error of S3 or Step Functions (throttling, a 5xx, a dropped connection) is no verdict: the answer is
 * IN_PROGRESS, and ECS asks again after `callBackDelay` (the execution's gate timeout bounds how long). Any other error
 * is thrown, and ECS reads a failed hook as FAILED: a rollback.
 */
export async function answerHook(params: {
  readonly s3: GateStore['s3'];
  readonly bucket: string;
  readonly sfn: SFNClient;
  readonly event: HookEvent;
  readonly now?: () => Date;
  /** Told of a transient error answered with IN_PROGRESS (the handler logs it). */
  readonly onTransient?: (err: unknown) => void;
}): Promise<HookAnswer> {
  const share = shareOf(params.event);
  if (!share || share.percent <= 0) return { hookStatus: 'SUCCEEDED' };
  try {
    return await answerGate(params, share);
  } catch (err) {
    if (!isTransient(err)) throw err;
    params.onTransient?.(err);
    return { hookStatus: 'IN_PROGRESS', callBackDelay: HOOK_CALLBACK_DELAY_SECONDS };
  }
}

/** answerHook for a stage that moves traffic to the new version. */
async function answerGate(
  params: Parameters<typeof answerHook>[0],
  share: { stage: 'test' | 'production'; percent: number },
): Promise<HookAnswer> {
  const { event } = params;
  const store: GateStore = { s3: params.s3, bucket: params.bucket, executionName: event.hookDetails.execution };
  const id = gateId(event.lifecycleStage, share.percent);

  const arrived = await arrivedGateIds(store);
  const sameStage = arrived.map(parseGateId).filter((g) => g?.lifecycleStage === event.lifecycleStage);
  if (sameStage.some((g) => (g?.percent ?? 0) > share.percent)) return { hookStatus: 'SUCCEEDED' };

  const closed = await readClosed(store);
  if (closed) return { hookStatus: 'FAILED' };
  const verdict = await readVerdict(store, id);
  if (verdict) return { hookStatus: verdict.verdict === 'PASS' ? 'SUCCEEDED' : 'FAILED' };

  const arrival: GateArrival = {
    id,
    lifecycleStage: event.lifecycleStage,
    stage: share.stage,
    percent: share.percent,
    testPercent: shareOf({ ...event, lifecycleStage: 'TEST_TRAFFIC' })?.percent ?? 0,
    productionPercent: shareOf({ ...event, lifecycleStage: 'PRODUCTION_TRAFFIC' })?.percent ?? 0,
    ...(event.resourceArn ? { serviceDeploymentArn: event.resourceArn } : {}),
    arrivedAt: (params.now?.() ?? new Date()).toISOString(),
  };
  await announceGate(store, params.sfn, arrival, arrived.includes(id));
  return { hookStatus: 'IN_PROGRESS', callBackDelay: HOOK_CALLBACK_DELAY_SECONDS };
}
