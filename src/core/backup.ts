import type { ECSClient, Service, Tag, TaskDefinition } from '@aws-sdk/client-ecs';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { containerImage, describeService, describeTaskDefinition } from './ecs.ts';
import { BackupFailedError, messageOf } from './errors.ts';
import { backupKey } from './naming.ts';

/** What Backup writes to S3 (`backups/<cluster>/<service>/<execution>.json`). */
export interface BackupDocument {
  readonly schema: 'rollgate.backup.v1';
  readonly takenAt: string;
  readonly executionName: string;
  readonly cluster: string;
  readonly service: string;
  readonly container: string;
  readonly image: string;
  readonly taskDefinition: TaskDefinition;
  readonly tags: Tag[];
  /** The service's deployment settings at backup time. */
  readonly serviceSettings: Pick<
    Service,
    'desiredCount' | 'deploymentConfiguration' | 'launchType' | 'platformVersion' | 'networkConfiguration'
  >;
}

/** Backup's output (the state's `$.backup`): read by Register, Deploy and Rollback. */
export const backupResultSchema = z.object({
  bucket: z.string().min(1),
  key: z.string().min(1),
  taskDefinitionArn: z.string().min(1),
  image: z.string().min(1),
  /** True when an earlier attempt of this execution (a retry or redrive) had already written it. */
  reused: z.boolean(),
});
export type BackupResult = Readonly<z.output<typeof backupResultSchema>>;

export interface BackupParams {
  readonly ecs: ECSClient;
  readonly s3: S3Client;
  readonly bucket: string;
  readonly cluster: string;
  readonly service: string;
  readonly container: string;
  readonly executionName: string;
  readonly now?: () => Date;
}

/**
 * Writes the service's current task definition and deployment settings to S3. Nothing may be deployed before this
 * returns. Re-running it for the same execution keeps the first backup: after a deploy began, the "current" task
 * definition is the new one, and backing that up would lose the way back.
 */
export async function backup(params: BackupParams): Promise<BackupResult> {
  const { ecs, s3, bucket, cluster, service, container, executionName } = params;
  const key = backupKey(cluster, service, executionName);
  const existing = await readBackup(s3, bucket, key).catch(() => undefined);
  if (existing) {
    return { bucket, key, taskDefinitionArn: arnOf(existing.taskDefinition), image: existing.image, reused: true };
  }
  const svc = await describeService(ecs, cluster, service);
  if (!svc.taskDefinition) throw new BackupFailedError(`service ${cluster}/${service} has no task definition`);
  const { taskDefinition, tags } = await describeTaskDefinition(ecs, svc.taskDefinition);
  const image = containerImage(taskDefinition, container);
  const doc: BackupDocument = {
    schema: 'rollgate.backup.v1',
    takenAt: (params.now?.() ?? new Date()).toISOString(),
    executionName,
    cluster,
    service,
    container,
    image,
    taskDefinition,
    tags,
    serviceSettings: {
      desiredCount: svc.desiredCount,
      deploymentConfiguration: svc.deploymentConfiguration,
      launchType: svc.launchType,
      platformVersion: svc.platformVersion,
      networkConfiguration: svc.networkConfiguration,
    },
  };
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: JSON.stringify(doc, null, 2),
        ContentType: 'application/json',
      }),
    );
  } catch (err) {
    throw new BackupFailedError(`could not write backup s3://${bucket}/${key}: ${messageOf(err)}`, { cause: err });
  }
  return { bucket, key, taskDefinitionArn: arnOf(taskDefinition), image, reused: false };
}

/** Reads a backup document back; throws BackupFailedError when it is missing or not a rollgate backup. */
export async function readBackup(s3: S3Client, bucket: string, key: string): Promise<BackupDocument> {
  let text: string;
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    text = (await out.Body?.transformToString()) ?? '';
  } catch (err) {
    throw new BackupFailedError(`backup s3://${bucket}/${key} cannot be read: ${messageOf(err)}`, { cause: err });
  }
  const doc = JSON.parse(text) as Partial<BackupDocument>;
  if (doc.schema !== 'rollgate.backup.v1' || !doc.taskDefinition) {
    throw new BackupFailedError(`s3://${bucket}/${key} is not a rollgate backup (schema ${String(doc.schema)})`);
  }
  return doc as BackupDocument;
}

function arnOf(td: TaskDefinition): string {
  if (!td.taskDefinitionArn) throw new BackupFailedError('task definition has no ARN');
  return td.taskDefinitionArn;
}
