import type { ECSClient } from '@aws-sdk/client-ecs';
import { z } from 'zod';
import type { RolloutSpec } from '../config/schema.ts';
import { type RolloutWatch, rolloutWatchSchema } from './deploy.ts';
import { describeService, primaryDeployment } from './ecs.ts';

/** CheckRollout's answer (`$.deployment` / `$.rollback`): the watch, and the status the Choice states branch on. */
export const rolloutCheckSchema = rolloutWatchSchema.extend({
  status: z.enum(['IN_PROGRESS', 'COMPLETED', 'FAILED']),
  reason: z.string().exactOptional(),
  runningCount: z.number().int().exactOptional(),
  desiredCount: z.number().int().exactOptional(),
});
export type RolloutCheck = Readonly<z.output<typeof rolloutCheckSchema>>;

export interface CheckRolloutParams {
  readonly ecs: ECSClient;
  readonly watch: RolloutWatch;
  readonly rollout: RolloutSpec;
  readonly now?: () => Date;
}

/**
 * Reports the rollout's state truthfully: COMPLETED only when the service's PRIMARY deployment is ours (same
 * deployment id, same task definition) and ECS says COMPLETED. A deployment ECS rolled back with its circuit
 * breaker shows up as FAILED or as no longer PRIMARY: both are FAILED here.
 */
export async function checkRollout({ ecs, watch, rollout, now }: CheckRolloutParams): Promise<RolloutCheck> {
  const at = now?.() ?? new Date();
  const svc = await describeService(ecs, watch.cluster, watch.service);
  const primary = primaryDeployment(svc);
  const ours = watch.deploymentId
    ? svc.deployments?.find((d) => d.id === watch.deploymentId)
    : svc.deployments?.find((d) => d.taskDefinition === watch.taskDefinitionArn);
  const counts = {
    ...(ours?.runningCount !== undefined ? { runningCount: ours.runningCount } : {}),
    ...(ours?.desiredCount !== undefined ? { desiredCount: ours.desiredCount } : {}),
  };
  const next = {
    ...watch,
    attempt: watch.attempt + 1,
    waitSeconds: Math.min(
      rollout.maxWaitSeconds,
      Math.ceil(rollout.initialWaitSeconds * rollout.backoffRate ** (watch.attempt + 1)),
    ),
    ...counts,
  };
  const failed = (reason: string): RolloutCheck => ({ ...next, status: 'FAILED', reason });

  if (!ours) {
    const now = primary?.taskDefinition ?? svc.taskDefinition;
    // ECS drops a failed deployment once its own rollback completes; the service events keep why it failed.
    const why = watch.deploymentId
      ? svc.events?.find((e) => e.message?.includes(`(deployment ${watch.deploymentId}) deployment failed`))?.message
      : undefined;
    return failed(
      why
        ? `ECS failed deployment ${watch.deploymentId} (${why.replace(/^.*deployment failed: /, '').replace(/\.$/, '')}) and rolled back to ${now?.split('/').pop()} itself`
        : `deployment ${watch.deploymentId ?? watch.taskDefinitionArn} is gone; the service now runs ${now} (superseded or rolled back by ECS)`,
    );
  }
  if (ours.rolloutState === 'FAILED') {
    return failed(`ECS reports the rollout FAILED: ${ours.rolloutStateReason ?? 'no reason given'}`);
  }
  if (ours.status !== 'PRIMARY' || primary?.taskDefinition !== watch.taskDefinitionArn) {
    return failed(
      `ECS replaced the deployment: the service is moving to ${primary?.taskDefinition ?? '?'} instead (${
        primary?.rolloutStateReason ?? ours.rolloutStateReason ?? 'circuit breaker or another update'
      })`,
    );
  }
  if (ours.rolloutState === 'COMPLETED') {
    return {
      ...next,
      status: 'COMPLETED',
      reason: `${ours.runningCount ?? '?'} tasks running ${watch.taskDefinitionArn}`,
    };
  }
  if (at.getTime() > Date.parse(watch.deadline)) {
    return failed(
      `rollout did not complete by its deadline ${watch.deadline} (${ours.runningCount ?? 0}/${ours.desiredCount ?? '?'} tasks running, ${ours.failedTasks ?? 0} failed)`,
    );
  }
  return { ...next, status: 'IN_PROGRESS' };
}
