/**
 * The audit model: the record every execution ends with (`rollgate.audit.v1`, docs/audit.md), how it is built, written
 * to and read from S3, and the two views of it the rest of rollgate passes around: the Record state's `Summary` and a
 * `HistoryRow` of `rollgate history` (local and `--aws`). Record, the status-change handler, the local runner and
 * `rollgate history` / `metrics` all go through here, so a record means the same thing wherever it is read.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { auditDayPrefix, auditKey, displayImage, type ImageRef } from './naming.ts';
import type { Job } from './normalize.ts';

export const AUDIT_SCHEMA = 'rollgate.audit.v1';

/** The outcome of an execution, as the CLI, the audit trail and the exit codes use it. */
export type Outcome = 'DEPLOYED' | 'ALREADY_DEPLOYED' | 'ROLLED_BACK' | 'IGNORED' | 'FAILED';

/** What started an execution; a redriven execution is `{ type: 'redrive', redriveCount, initial }`. */
export type Trigger =
  | Job['trigger']
  | { readonly type: 'unknown' }
  | {
      readonly type: 'redrive';
      readonly redriveCount: number;
      readonly initial: Job['trigger'] | { readonly type: 'unknown' };
    };

/** The audit record written to S3 for every execution (schema rollgate.audit.v1; fields are added, never renamed). */
export interface AuditRecord {
  readonly schema: typeof AUDIT_SCHEMA;
  readonly executionName: string;
  readonly executionId: string;
  readonly outcome: Outcome;
  /** Set when a gate or step failed: the error name (e.g. HealthCheckFailedError, RollbackFailed). */
  readonly error?: string;
  readonly reason: string;
  readonly trigger: Trigger;
  readonly target?: string;
  readonly cluster?: string;
  readonly service?: string;
  readonly image?: Job['image'];
  readonly imageUri?: string;
  readonly previousImage?: string;
  readonly previousTaskDefinitionArn?: string;
  readonly newTaskDefinitionArn?: string;
  readonly backupKey?: string;
  readonly reportKey?: string;
  readonly reportHtmlKey?: string;
  /** The judge's verdict on the last load test (load.judge): paired or across time, with its evidence. */
  readonly judge?: JudgeSummary;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly durationMs: number;
}

/** The judge's verdict as the audit record and AggregateLoad's outcome keep it (loadgen/types.ts JudgeReport, short). */
export interface JudgeSummary {
  readonly verdict: 'Pass' | 'Marginal' | 'Fail' | 'NoData' | 'Skipped';
  readonly comparison: 'paired' | 'across-time' | 'none';
  readonly score: number | null;
  readonly reason: string;
}

/** Everything of a record but what `auditRecord` derives (schema, endedAt as ISO, durationMs). */
export type AuditFields = Omit<AuditRecord, 'schema' | 'endedAt' | 'durationMs'>;

/** Builds a record: the one place `schema`, `endedAt` and `durationMs` are set. */
export function auditRecord(fields: AuditFields, endedAt: Date): AuditRecord {
  return {
    schema: AUDIT_SCHEMA,
    ...fields,
    endedAt: endedAt.toISOString(),
    durationMs: Math.max(0, endedAt.getTime() - Date.parse(fields.startedAt)),
  };
}

/** The record's `image` for an image reference. */
export function auditImage(ref: ImageRef): NonNullable<AuditRecord['image']> {
  return {
    repository: ref.repository,
    ...(ref.tag ? { tag: ref.tag } : {}),
    ...(ref.digest ? { digest: ref.digest } : {}),
    display: displayImage(ref),
  };
}

/** `cluster/service` of a record (the form `--service` and the lock use), or the bare service, or undefined. */
export function serviceOf(r: Pick<AuditRecord, 'cluster' | 'service'>): string | undefined {
  return r.cluster && r.service ? `${r.cluster}/${r.service}` : r.service;
}

/** Whether a `cluster/service` matches `--service` given as `cluster/service` or just `service`. */
export function serviceMatches(actual: string | undefined, wanted: string | undefined): boolean {
  return !wanted || actual === wanted || (actual?.endsWith(`/${wanted}`) ?? false);
}

/** When the image was pushed (the push event's time), for lead time; undefined for manual and redriven runs. */
export function pushedAt(r: Pick<AuditRecord, 'trigger'>): string | undefined {
  return 'eventTime' in r.trigger ? r.trigger.eventTime : undefined;
}

/** Record's output (`$.summary`): what the execution ends with; the Fail states read `reason` as their Cause. */
export interface Summary {
  readonly executionName: string;
  readonly outcome: Outcome;
  readonly error?: string;
  readonly reason: string;
  /** `image.display`. */
  readonly image?: string;
  readonly target?: string;
  readonly auditKey: string;
  /** The load test report (`reportKey`). */
  readonly report?: string;
}

export function summaryOf(r: AuditRecord): Summary {
  return {
    executionName: r.executionName,
    outcome: r.outcome,
    ...(r.error ? { error: r.error } : {}),
    reason: r.reason,
    ...(r.image ? { image: r.image.display } : {}),
    ...(r.target ? { target: r.target } : {}),
    auditKey: auditKey(r.startedAt, r.executionName),
    ...(r.reportKey ? { report: r.reportKey } : {}),
  };
}

/**
 * One line of the audit trail, as `rollgate history [--aws] --json` and `rollgate run --json` print it: a record's
 * summary with when, what triggered it and where; or (`history --aws`) an execution still RUNNING, with no record yet.
 */
export interface HistoryRow extends Omit<Summary, 'outcome' | 'auditKey'> {
  readonly outcome: Outcome | 'RUNNING';
  readonly auditKey?: string;
  /** `trigger.type`: push, manual, redrive, unknown; `?` for a running execution. */
  readonly trigger: string;
  readonly pushedAt?: string;
  /** `cluster/service`. */
  readonly service?: string;
  readonly previousImage?: string;
  readonly backupKey?: string;
  readonly executionArn?: string;
  readonly startedAt: string;
  readonly endedAt?: string;
  readonly durationMs?: number;
}

export function historyRow(r: AuditRecord): HistoryRow {
  const service = serviceOf(r);
  const pushed = pushedAt(r);
  return {
    ...summaryOf(r),
    trigger: r.trigger.type,
    ...(pushed ? { pushedAt: pushed } : {}),
    ...(service ? { service } : {}),
    ...(r.previousImage ? { previousImage: r.previousImage } : {}),
    ...(r.backupKey ? { backupKey: r.backupKey } : {}),
    executionArn: r.executionId,
    startedAt: r.startedAt,
    endedAt: r.endedAt,
    durationMs: r.durationMs,
  };
}

/** A record from its JSON text, or undefined when it is not a rollgate.audit.v1 record. */
export function parseAuditRecord(text: string): AuditRecord | undefined {
  try {
    const rec = JSON.parse(text) as AuditRecord | null;
    return rec?.schema === AUDIT_SCHEMA ? rec : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The S3 commands, loaded when a record is first read or written: the model above is also what `rollgate history`
 * and `metrics` read from local files, and they should not load the S3 client for it.
 */
const s3api = () => import('@aws-sdk/client-s3');

interface Bucket {
  readonly s3: S3Client;
  readonly bucket: string;
}

/** Writes a record to `audit/dt=YYYY-MM-DD/<execution>.json` and returns that key. */
export async function writeAuditRecord({ s3, bucket }: Bucket, rec: AuditRecord): Promise<string> {
  const { PutObjectCommand } = await s3api();
  const key = auditKey(rec.startedAt, rec.executionName);
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      // one object per line: Athena's JSON SerDe reads JSON Lines (docs/audit.md)
      Body: `${JSON.stringify(rec)}\n`,
      ContentType: 'application/json',
    }),
  );
  return key;
}

/** Whether the execution's record exists (any error reading it counts as no). */
export async function auditRecordExists(
  { s3, bucket }: Bucket,
  execution: { readonly startedAt: string; readonly name: string },
): Promise<boolean> {
  const { HeadObjectCommand } = await s3api();
  return s3
    .send(new HeadObjectCommand({ Bucket: bucket, Key: auditKey(execution.startedAt, execution.name) }))
    .then(() => true)
    .catch(() => false);
}

/** The execution's record, or undefined when there is none (or it cannot be read). */
export async function readAuditRecord(
  { s3, bucket }: Bucket,
  execution: { readonly startedAt: string; readonly name: string },
): Promise<AuditRecord | undefined> {
  const { GetObjectCommand } = await s3api();
  try {
    const out = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: auditKey(execution.startedAt, execution.name) }),
    );
    return parseAuditRecord((await out.Body?.transformToString()) ?? '');
  } catch {
    return undefined;
  }
}

const DAY_MS = 86_400_000;
/** Parallel S3 requests: enough to hide latency, few enough not to trip S3's per-prefix request rates. */
const S3_CONCURRENCY = 8;

/** The `audit/dt=YYYY-MM-DD/` prefixes of the UTC days a window touches, oldest first. */
export function auditDayPrefixes(since: Date, until: Date): string[] {
  const prefixes: string[] = [];
  const last = until.toISOString().slice(0, 10);
  for (let t = Date.parse(`${since.toISOString().slice(0, 10)}T00:00:00.000Z`); ; t += DAY_MS) {
    const day = new Date(t).toISOString().slice(0, 10);
    prefixes.push(auditDayPrefix(day));
    if (day >= last) break;
  }
  return prefixes;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * The records of executions started in [since, until], newest first: one ListObjectsV2 per UTC day of the window
 * (`audit/dt=<day>/`, paginated), one GetObject per record. Objects that are not rollgate.audit.v1 are skipped.
 */
export async function readAuditRecords(
  params: Bucket & { readonly since: Date; readonly until: Date },
): Promise<AuditRecord[]> {
  const { s3, bucket, since, until } = params;
  const { GetObjectCommand, ListObjectsV2Command } = await s3api();
  const keyLists = await mapLimit(auditDayPrefixes(since, until), S3_CONCURRENCY, async (prefix) => {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }),
      );
      for (const o of page.Contents ?? []) if (o.Key?.endsWith('.json')) keys.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  });
  const records = await mapLimit(keyLists.flat(), S3_CONCURRENCY, async (key) => {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return parseAuditRecord((await out.Body?.transformToString()) ?? '');
  });
  const from = since.getTime();
  const to = until.getTime();
  return records
    .filter((r): r is AuditRecord => {
      const t = r ? Date.parse(r.startedAt) : Number.NaN;
      return t >= from && t <= to;
    })
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}
