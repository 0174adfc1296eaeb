import { type ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import type { CodeDeployTarget } from '../config/codedeploy.ts';
import type { RolloutSpec } from '../config/schema.ts';
import type { CodeDeployHooks } from './codedeploy.ts';
import { type CodeDeployContext, deployWithCodeDeploy } from './codedeploy-rollout.ts';
import { describeService, primaryDeployment } from './ecs.ts';
import { BackupFailedError, isMissingObject, messageOf, TargetNotFoundError } from './errors.ts';
import {
  type GateHook,
  latestServiceDeployment,
  strategyConfiguration,
  updateServiceProgressive,
} from './service-deployments.ts';

/** A rollout being waited for (the state's `$.deployment` / `$.rollback`); CheckRollout reads it. */
export const rolloutWatchSchema = z.object({
  cluster: z.string().min(1),
  service: z.string().min(1),
  taskDefinitionArn: z.string().min(1),
  /** The ECS deployment id (`ecs-svc/...`) of the rollout, when ECS returned one. */
  deploymentId: z.string().exactOptional(),
  startedAt: z.string().min(1),
  /** ISO time after which an unfinished rollout is FAILED. */
  deadline: z.string().min(1),
  /** Seconds the next Wait state waits (the WaitForRollout state reads `SecondsPath`). */
  waitSeconds: z.number().int().min(0),
  attempt: z.number().int().min(0),
  /** A progressive deployment (or its rollback): the ECS service deployment CheckRollout follows. */
  serviceDeploymentArn: z.string().min(1).exactOptional(),
  /** The service deployment's end state: SUCCESSFUL, or ROLLBACK_SUCCESSFUL once stopped with ROLLBACK. */
  expect: z.enum(['SUCCESSFUL', 'ROLLBACK_SUCCESSFUL']).exactOptional(),
  /** CheckRollout answers BAKING during ECS's bake (the deploy's watch, not a rollback's). */
  bake: z.boolean().exactOptional(),
  /** A CODE_DEPLOY target: the CodeDeploy deployment CheckRollout follows (codedeploy-rollout.ts). */
  codeDeployDeploymentId: z.string().min(1).exactOptional(),
});
export type RolloutWatch = Readonly<z.output<typeof rolloutWatchSchema>>;

export interface DeployParams {
  readonly ecs: ECSClient;
  readonly s3: S3Client;
  readonly cluster: string;
  readonly service: string;
  readonly taskDefinitionArn: string;
  /** The backup Backup wrote; its presence in S3 is checked before the service is touched. */
  readonly backup: { readonly bucket: string; readonly key: string };
  readonly rollout: RolloutSpec;
  readonly now?: () => Date;
  /** Throws when this execution does not hold the service's deploy lock (see confirmLock). */
  readonly confirmLock?: () => Promise<void>;
  /**
   * The target's strategy; anything but `rolling` deploys with ECS's strategy and rollgate's lifecycle hook on this
   * execution (`hook` is read only then: GATE_HOOK_FUNCTION_ARN and ECS_HOOK_ROLE_ARN).
   */
  readonly delivery?: CodeDeployTarget;
  readonly hook?: () => GateHook;
  readonly executionName?: string;
  /** A target with `codeDeploy` deploys through CodeDeploy (codedeploy-rollout.ts) with these. */
  readonly codeDeploy?: Omit<CodeDeployContext, 'spec' | 's3' | 'executionName'> & {
    readonly hooks: () => CodeDeployHooks;
  };
}

/**
 * Points the service at the new revision after checking that the backup exists: a rolling update, or with the
 * target's progressive strategy an ECS service deployment gated by rollgate's hook.
 */
export async function deploy(params: DeployParams): Promise<RolloutWatch> {
  await params.confirmLock?.();
  const svc = await describeService(params.ecs, params.cluster, params.service);
  const { delivery } = params;
  if (delivery?.codeDeploy) {
    if (!params.codeDeploy || !params.executionName)
      throw new Error('deploy: a codeDeploy target needs the CodeDeploy context and executionName');
    return deployWithCodeDeploy({
      ...params,
      ...params.codeDeploy,
      spec: delivery.codeDeploy,
      executionName: params.executionName,
      svc,
      checkBackup: () => checkBackup(params),
      watchOf,
    });
  }
  if (delivery && delivery.strategy !== 'rolling') {
    // A retry or redrive after UpdateService went through: follow the service deployment to this revision.
    if (svc.taskDefinition === params.taskDefinitionArn) {
      const running = await latestServiceDeployment(params.ecs, params.cluster, params.service, [
        'PENDING',
        'IN_PROGRESS',
      ]);
      const arn = running?.arn ?? svc.currentServiceDeployment;
      if (arn) return progressiveWatch(params, arn);
    }
    await checkBackup(params);
    if (!params.hook || !params.executionName)
      throw new Error('deploy: a progressive strategy needs hook and executionName');
    const arn = await updateServiceProgressive({
      ...params,
      current: svc,
      deploymentConfiguration: strategyConfiguration(delivery, {
        ...params.hook(),
        executionName: params.executionName,
      }),
    });
    return progressiveWatch(params, arn);
  }
  // A retry or redrive after UpdateService went through: follow that deployment instead of starting another. This
  // comes first, so that a transient S3 error on the retry cannot end the execution without a rollback.
  const current = primaryDeployment(svc);
  if (current?.taskDefinition === params.taskDefinitionArn && current.rolloutState !== 'FAILED') {
    return watchOf(params, current.id);
  }
  await checkBackup(params);
  return updateService(params);
}

/** The deploy's watch of a service deployment: to SUCCESSFUL, BAKING during the bake. */
function progressiveWatch(params: DeployParams, serviceDeploymentArn: string): RolloutWatch {
  return { ...watchOf(params, undefined), serviceDeploymentArn, expect: 'SUCCESSFUL', bake: true };
}

/** Refuses the deploy (BackupFailedError) unless the backup is in S3. */
async function checkBackup({ s3, backup }: Pick<DeployParams, 's3' | 'backup'>): Promise<void> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: backup.bucket, Key: backup.key }));
  } catch (err) {
    // Only a backup that is not there (or not ours to read) refuses the deploy; throttling and 5xx go back to the
    // ASL's Retry by their own names.
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (isMissingObject(err) || status === 403) {
      throw new BackupFailedError(
        `refusing to deploy: backup s3://${backup.bucket}/${backup.key} is not readable (${messageOf(err)})`,
        { cause: err },
      );
    }
    throw err;
  }
}

/** What a watch is made from: the service, the revision it goes to, the poll timings, the clock. */
export interface WatchParams {
  readonly cluster: string;
  readonly service: string;
  readonly taskDefinitionArn: string;
  readonly rollout: RolloutSpec;
  readonly now?: () => Date;
}

/** Seconds the next Wait state waits after check number `attempt + 1`: back-off from initialWait to maxWait. */
export function nextWaitSeconds(watch: { readonly attempt: number }, rollout: RolloutSpec): number {
  return Math.min(
    rollout.maxWaitSeconds,
    Math.ceil(rollout.initialWaitSeconds * rollout.backoffRate ** (watch.attempt + 1)),
  );
}

/** The watch CheckRollout follows for a deployment that already exists. */
export function watchOf(params: WatchParams, deploymentId: string | undefined): RolloutWatch {
  const now = params.now?.() ?? new Date();
  return {
    cluster: params.cluster,
    service: params.service,
    taskDefinitionArn: params.taskDefinitionArn,
    ...(deploymentId ? { deploymentId } : {}),
    startedAt: now.toISOString(),
    deadline: new Date(now.getTime() + params.rollout.deadlineSeconds * 1000).toISOString(),
    waitSeconds: params.rollout.initialWaitSeconds,
    attempt: 0,
  };
}

/** UpdateService to a task definition and the watch that CheckRollout follows; shared by Deploy and Rollback. */
export async function updateService(params: WatchParams & { readonly ecs: ECSClient }): Promise<RolloutWatch> {
  const { ecs, cluster, service, taskDefinitionArn } = params;
  const now = params.now?.() ?? new Date();
  const out = await ecs.send(new UpdateServiceCommand({ cluster, service, taskDefinition: taskDefinitionArn }));
  if (!out.service) throw new TargetNotFoundError(`UpdateService returned no service for ${cluster}/${service}`);
  const deployment = out.service.deployments?.find(
    (d) => d.status === 'PRIMARY' && d.taskDefinition === taskDefinitionArn,
  );
  return watchOf({ ...params, now: () => now }, deployment?.id);
}
