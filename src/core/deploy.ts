import { type ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { RolloutSpec } from '../config/schema.ts';
import { BackupFailedError, messageOf, TargetNotFoundError } from './errors.ts';

/** A rollout being waited for (the state's `$.deployment` / `$.rollback`); CheckRollout reads it. */
export interface RolloutWatch {
  readonly cluster: string;
  readonly service: string;
  readonly taskDefinitionArn: string;
  /** The ECS deployment id (`ecs-svc/...`) of the rollout, when ECS returned one. */
  readonly deploymentId?: string;
  readonly startedAt: string;
  /** ISO time after which an unfinished rollout is FAILED. */
  readonly deadline: string;
  /** Seconds the next Wait state waits (the WaitForRollout state reads `SecondsPath`). */
  readonly waitSeconds: number;
  readonly attempt: number;
}

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
}

/** Points the service at the new revision (rolling update) after checking that the backup exists. */
export async function deploy(params: DeployParams): Promise<RolloutWatch> {
  const { s3, backup } = params;
  try {
    await s3.send(new HeadObjectCommand({ Bucket: backup.bucket, Key: backup.key }));
  } catch (err) {
    throw new BackupFailedError(
      `refusing to deploy: backup s3://${backup.bucket}/${backup.key} is not readable (${messageOf(err)})`,
      { cause: err },
    );
  }
  return updateService(params);
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
  const { ecs, cluster, service, taskDefinitionArn, rollout } = params;
  const now = params.now?.() ?? new Date();
  const out = await ecs.send(new UpdateServiceCommand({ cluster, service, taskDefinition: taskDefinitionArn }));
  if (!out.service) throw new TargetNotFoundError(`UpdateService returned no service for ${cluster}/${service}`);
  const deployment = out.service.deployments?.find(
    (d) => d.status === 'PRIMARY' && d.taskDefinition === taskDefinitionArn,
  );
  return {
    cluster,
    service,
    taskDefinitionArn,
    ...(deployment?.id ? { deploymentId: deployment.id } : {}),
    startedAt: now.toISOString(),
    deadline: new Date(now.getTime() + rollout.deadlineSeconds * 1000).toISOString(),
    waitSeconds: rollout.initialWaitSeconds,
    attempt: 0,
  };
}
