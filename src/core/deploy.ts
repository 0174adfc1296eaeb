import { type ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import type { RolloutSpec } from '../config/schema.ts';
import { describeService, primaryDeployment } from './ecs.ts';
import { BackupFailedError, messageOf, TargetNotFoundError } from './errors.ts';

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
}

/** Points the service at the new revision (rolling update) after checking that the backup exists. */
export async function deploy(params: DeployParams): Promise<RolloutWatch> {
  const { s3, backup } = params;
  await params.confirmLock?.();
  // A retry or redrive after UpdateService went through: follow that deployment instead of starting another. This
  // comes first, so that a transient S3 error on the retry cannot end the execution without a rollback.
  const current = primaryDeployment(await describeService(params.ecs, params.cluster, params.service));
  if (current?.taskDefinition === params.taskDefinitionArn && current.rolloutState !== 'FAILED') {
    return watchOf(params, current.id);
  }
  try {
    await s3.send(new HeadObjectCommand({ Bucket: backup.bucket, Key: backup.key }));
  } catch (err) {
    // Only a backup that is not there (or not ours to read) refuses the deploy; throttling and 5xx go back to the
    // ASL's Retry by their own names.
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const name = (err as Error).name;
    if (name === 'NotFound' || name === 'NoSuchKey' || status === 404 || status === 403) {
      throw new BackupFailedError(
        `refusing to deploy: backup s3://${backup.bucket}/${backup.key} is not readable (${messageOf(err)})`,
        { cause: err },
      );
    }
    throw err;
  }
  return updateService(params);
}

/** The watch CheckRollout follows for a deployment that already exists. */
export function watchOf(
  params: {
    readonly cluster: string;
    readonly service: string;
    readonly taskDefinitionArn: string;
    readonly rollout: RolloutSpec;
    readonly now?: () => Date;
  },
  deploymentId: string | undefined,
): RolloutWatch {
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
export async function updateService(params: {
  readonly ecs: ECSClient;
  readonly cluster: string;
  readonly service: string;
  readonly taskDefinitionArn: string;
  readonly rollout: RolloutSpec;
  readonly now?: () => Date;
}): Promise<RolloutWatch> {
  const { ecs, cluster, service, taskDefinitionArn } = params;
  const now = params.now?.() ?? new Date();
  const out = await ecs.send(new UpdateServiceCommand({ cluster, service, taskDefinition: taskDefinitionArn }));
  if (!out.service) throw new TargetNotFoundError(`UpdateService returned no service for ${cluster}/${service}`);
  const deployment = out.service.deployments?.find(
    (d) => d.status === 'PRIMARY' && d.taskDefinition === taskDefinitionArn,
  );
  return watchOf({ ...params, now: () => now }, deployment?.id);
}
