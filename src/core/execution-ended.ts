import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { readBackup } from './backup.ts';
import { describeService, describeTaskDefinition, primaryDeployment } from './ecs.ts';
import { releaseLock } from './lock.ts';
import { auditKey, backupKey, displayImage } from './naming.ts';
import { parseInput } from './normalize.ts';
import type { AuditRecord } from './record.ts';

/**
 * The "Step Functions Execution Status Change" event EventBridge sends (the fields used). `startDate`/`stopDate`
 * are epoch milliseconds; `input` is the execution input as a JSON string.
 */
export interface ExecutionStatusChange {
  readonly 'detail-type': string;
  readonly detail: {
    readonly executionArn: string;
    readonly name: string;
    readonly status: string;
    readonly startDate: number;
    readonly stopDate?: number | null;
    readonly input?: string | null;
  };
}

/**
 * An execution stopped from the console, timed out, or failed outside rollgate's own Catch paths runs no Record
 * state: release what it held, and write the audit record it could not. Idempotent (a record already written by
 * the execution itself is kept).
 */
export async function executionEnded(params: {
  readonly ddb: DynamoDBClient;
  readonly table: string;
  readonly s3: S3Client;
  readonly ecs: ECSClient;
  readonly bucket: string;
  readonly event: ExecutionStatusChange;
}): Promise<{ released: boolean; recorded: boolean; rolledBack?: string }> {
  const { detail } = params.event;
  if (!['ABORTED', 'TIMED_OUT', 'FAILED'].includes(detail.status)) return { released: false, recorded: false };
  const startedAt = new Date(detail.startDate).toISOString();
  const { released, service } = await releaseLock({
    ddb: params.ddb,
    table: params.table,
    executionName: detail.name,
    startedAt,
  });
  const key = auditKey(startedAt, detail.name);
  const exists = await params.s3
    .send(new HeadObjectCommand({ Bucket: params.bucket, Key: key }))
    .then(() => true)
    .catch(() => false);
  if (exists) return { released, recorded: false };
  // It ended with no record of its own: past Deploy, the service may run its revision, unverified. A timed-out or
  // failed execution is rolled back here (not awaited: the rollout is ECS's to finish); an aborted one is left as the
  // operator left it, and the record says so.
  const restore =
    service && detail.status !== 'ABORTED' ? await rollbackIfOurs(params, detail.name, service) : undefined;
  let image: AuditRecord['image'];
  try {
    const parsed = parseInput(JSON.parse(detail.input ?? 'null'));
    const ref =
      parsed.kind === 'push'
        ? {
            repository: parsed.event.detail['repository-name'],
            tag: parsed.event.detail['image-tag'],
            digest: parsed.event.detail['image-digest'],
          }
        : parsed.input;
    image = {
      repository: ref.repository,
      ...(ref.tag ? { tag: ref.tag } : {}),
      ...(ref.digest ? { digest: ref.digest } : {}),
      display: displayImage(ref),
    };
  } catch {
    image = undefined;
  }
  const endedAt = new Date(detail.stopDate ?? Date.now());
  const [cluster, svc] = service ? service.split('/') : [];
  const record: AuditRecord = {
    schema: 'rollgate.audit.v1',
    executionName: detail.name,
    executionId: detail.executionArn,
    outcome: 'FAILED',
    error: `Execution${detail.status === 'TIMED_OUT' ? 'TimedOut' : detail.status === 'ABORTED' ? 'Aborted' : 'Failed'}`,
    reason: `the execution ${detail.status.toLowerCase().replace('_', ' ')} outside rollgate's own paths${
      service ? `; its lock on ${service} was ${released ? 'released' : 'already gone'}` : ''
    }${
      restore
        ? `; it had deployed ${restore.from}: rollgate started a rollback to ${restore.to} (not verified: check the service)`
        : '; check the service: a deploy may have been cut short'
    }`,
    trigger: { type: 'unknown' },
    ...(cluster && svc ? { cluster, service: svc } : {}),
    ...(image ? { image } : {}),
    startedAt,
    endedAt: endedAt.toISOString(),
    durationMs: Math.max(0, endedAt.getTime() - detail.startDate),
  };
  await params.s3.send(
    new PutObjectCommand({
      Bucket: params.bucket,
      Key: key,
      Body: `${JSON.stringify(record)}\n`,
      ContentType: 'application/json',
    }),
  );
  return { released, recorded: true, ...(restore ? { rolledBack: restore.to } : {}) };
}

/**
 * When the service's PRIMARY deployment is the revision this execution registered (tagged rollgate:execution), point
 * it back at the execution's backup. Returns what it restored, or undefined when there was nothing of this
 * execution's to undo (no backup: nothing was changed; another revision runs: rolled back or superseded already).
 */
async function rollbackIfOurs(
  params: { readonly s3: S3Client; readonly ecs: ECSClient; readonly bucket: string },
  executionName: string,
  service: string,
): Promise<{ from: string; to: string } | undefined> {
  const [cluster, svc] = service.split('/');
  if (!cluster || !svc) return undefined;
  const backup = await readBackup(params.s3, params.bucket, backupKey(cluster, svc, executionName)).catch(
    () => undefined,
  );
  const previous = backup?.taskDefinition.taskDefinitionArn;
  if (!previous) return undefined;
  const primary = primaryDeployment(await describeService(params.ecs, cluster, svc))?.taskDefinition;
  if (!primary || primary === previous) return undefined;
  const { tags } = await describeTaskDefinition(params.ecs, primary);
  if (!tags.some((t) => t.key === 'rollgate:execution' && t.value === executionName)) return undefined;
  await params.ecs.send(new UpdateServiceCommand({ cluster, service: svc, taskDefinition: previous }));
  return { from: primary, to: previous };
}
