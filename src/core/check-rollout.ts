import type { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import type { ECSClient } from '@aws-sdk/client-ecs';
import { z } from 'zod';
import type { RolloutSpec } from '../config/schema.ts';
import { getDeployment, readDeployment } from './codedeploy.ts';
import { nextWaitSeconds, type RolloutWatch, rolloutWatchSchema } from './deploy.ts';
import { describeService, primaryDeployment } from './ecs.ts';
import { describeServiceDeployment, readServiceDeployment } from './service-deployments.ts';

/** CheckRollout's answer (`$.deployment` / `$.rollback`): the watch, and the status the Choice states branch on. */
export const rolloutCheckSchema = rolloutWatchSchema.extend({
  /** BAKING: a progressive deployment in ECS's bake (all traffic on the new version, the old one still up). */
  status: z.enum(['IN_PROGRESS', 'BAKING', 'COMPLETED', 'FAILED']),
  reason: z.string().exactOptional(),
  runningCount: z.number().int().exactOptional(),
  desiredCount: z.number().int().exactOptional(),
});
export type RolloutCheck = Readonly<z.output<typeof rolloutCheckSchema>>;

export interface CheckRolloutParams {
  readonly ecs: ECSClient;
  /** For a watch of a CodeDeploy deployment (`codeDeployDeploymentId`). */
  readonly codeDeploy?: CodeDeployClient;
  readonly watch: RolloutWatch;
  readonly rollout: RolloutSpec;
  readonly now?: () => Date;
}

/**
 * Reports the rollout's state truthfully: COMPLETED only when the service's PRIMARY deployment is ours (same
 * deployment id, same task definition) and ECS says COMPLETED. A deployment ECS rolled back with its circuit
 * breaker shows up as FAILED or as no longer PRIMARY: both are FAILED here.
 */
export async function checkRollout({
  ecs,
  codeDeploy,
  watch,
  rollout,
  now,
}: CheckRolloutParams): Promise<RolloutCheck> {
  const at = now?.() ?? new Date();
  if (watch.codeDeployDeploymentId) {
    if (!codeDeploy) throw new Error('checkRollout: a CodeDeploy watch needs a CodeDeploy client');
    return checkCodeDeploy({ codeDeploy, watch, rollout, at });
  }
  if (watch.serviceDeploymentArn)
    return checkServiceDeployment({ ecs, watch, arn: watch.serviceDeploymentArn, rollout, at });
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
    waitSeconds: nextWaitSeconds(watch, rollout),
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

/**
 * A progressive deployment or its rollback, from DescribeServiceDeployments. The deadline counts from the first
 * check (the gates came before it) and again from each check during the bake, whose length the target sets.
 */
async function checkServiceDeployment(params: {
  readonly ecs: ECSClient;
  readonly watch: RolloutWatch;
  readonly arn: string;
  readonly rollout: RolloutSpec;
  readonly at: Date;
}): Promise<RolloutCheck> {
  const { ecs, watch, arn, rollout, at } = params;
  const d = await describeServiceDeployment(ecs, arn);
  const reading = readServiceDeployment(d, watch.expect ?? 'SUCCESSFUL', watch.bake === true);
  const fresh = new Date(at.getTime() + rollout.deadlineSeconds * 1000).toISOString();
  const deadline = watch.attempt === 0 || reading.status === 'BAKING' ? fresh : watch.deadline;
  const target = d.targetServiceRevision;
  return progressed(
    { watch, rollout, at, reading, deadline },
    `ECS service deployment ${arn}`,
    `${d.status}, stage ${d.lifecycleStage ?? '?'}`,
    {
      ...(target?.runningTaskCount !== undefined ? { runningCount: target.runningTaskCount } : {}),
      ...(target?.requestedTaskCount !== undefined ? { desiredCount: target.requestedTaskCount } : {}),
    },
  );
}

/**
 * The next watch after a check of a deployment the cloud walks (an ECS service deployment, a CodeDeploy deployment):
 * the reading, the deadline (FAILED past it while still IN_PROGRESS), the next wait.
 */
function progressed(
  check: {
    readonly watch: RolloutWatch;
    readonly rollout: RolloutSpec;
    readonly at: Date;
    readonly reading: { readonly status: RolloutCheck['status']; readonly reason?: string };
    readonly deadline: string;
  },
  what: string,
  state: string,
  extra: Partial<RolloutCheck> = {},
): RolloutCheck {
  const { watch, rollout, at, reading, deadline } = check;
  const next: RolloutCheck = {
    ...watch,
    deadline,
    attempt: watch.attempt + 1,
    waitSeconds: nextWaitSeconds(watch, rollout),
    ...extra,
    status: reading.status,
    ...(reading.reason ? { reason: reading.reason } : {}),
  };
  if (reading.status === 'IN_PROGRESS' && at.getTime() > Date.parse(deadline)) {
    return { ...next, status: 'FAILED', reason: `${what} did not finish by its deadline ${deadline} (${state})` };
  }
  return next;
}

/**
 * CheckRollout of a CodeDeploy deployment (or of the rollback CodeDeploy started for it, which the watch then
 * follows). The deadline counts from the first check and again from the second: the execution waits at its gates
 * between them (RolloutDone sends a deploy's watch to AwaitGate until every gate passed), and after them CodeDeploy
 * shifts the traffic; it counts again from each check during the termination wait (BAKING), as long as the group sets.
 */
async function checkCodeDeploy(params: {
  readonly codeDeploy: CodeDeployClient;
  readonly watch: RolloutWatch;
  readonly rollout: RolloutSpec;
  readonly at: Date;
}): Promise<RolloutCheck> {
  const { codeDeploy, rollout, at } = params;
  let { watch: w } = params;
  const expect = w.expect ?? 'SUCCESSFUL';
  let d = await getDeployment(codeDeploy, w.codeDeployDeploymentId ?? '');
  let reading = readDeployment(d, expect, w.bake === true);
  if (reading.follow) {
    w = { ...w, codeDeployDeploymentId: reading.follow };
    d = await getDeployment(codeDeploy, reading.follow);
    reading = readDeployment(d, expect, w.bake === true);
  }
  const fresh = new Date(at.getTime() + rollout.deadlineSeconds * 1000).toISOString();
  const deadline = w.attempt <= 1 || reading.status === 'BAKING' ? fresh : w.deadline;
  return progressed(
    { watch: w, rollout, at, reading, deadline },
    `CodeDeploy deployment ${d.deploymentId}`,
    `${d.status}`,
  );
}
