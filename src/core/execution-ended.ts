import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { releaseLock } from './lock.ts';
import { auditKey, displayImage } from './naming.ts';
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
  readonly bucket: string;
  readonly event: ExecutionStatusChange;
}): Promise<{ released: boolean; recorded: boolean }> {
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
    }; check the service: a deploy may have been cut short`,
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
  return { released, recorded: true };
}
