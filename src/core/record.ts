import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { BackupResult } from './backup.ts';
import type { RolloutCheck } from './check-rollout.ts';
import { releaseLock } from './lock.ts';
import { auditKey, shortImage } from './naming.ts';
import type { Job } from './normalize.ts';
import type { ProbeResult } from './probe-health.ts';
import type { RegisterResult } from './register.ts';

/** The outcome of an execution, as the CLI, the audit trail and the exit codes use it. */
export type Outcome = 'DEPLOYED' | 'ALREADY_DEPLOYED' | 'ROLLED_BACK' | 'IGNORED' | 'FAILED';

/** What a Record state passes: which terminal path it is on, plus the whole execution state. */
export type RecordPath = 'DEPLOYED' | 'ALREADY_DEPLOYED' | 'IGNORED' | 'ROLLED_BACK' | 'ROLLBACK_FAILED' | 'FAILED';

/** A Catch's error output: `Cause` is a string; from Lambda on AWS it is a JSON `{errorType, errorMessage}`. */
export interface CaughtError {
  readonly Error: string;
  readonly Cause?: string;
}

/** The state the Record states receive (`$`), each part present when the execution got that far. */
export interface ExecutionState extends Partial<Job> {
  readonly backup?: BackupResult;
  readonly release?: RegisterResult;
  readonly deployment?: RolloutCheck;
  readonly health?: ProbeResult;
  readonly failure?: CaughtError;
  readonly rollback?: RolloutCheck;
  readonly rollbackFailure?: CaughtError;
  /** AggregateLoad's outcome (or, if it failed, the raw worker results: hence all optional). */
  readonly load?: {
    readonly reportKey?: string;
    readonly htmlKey?: string;
    readonly passed?: boolean;
    readonly reason?: string;
  };
  /** AcquireLock's last answer (why an execution was superseded, rejected or a duplicate). */
  readonly lock?: { readonly status?: string; readonly reason?: string };
  /** Inspect's answer (why an execution found its image already deployed). */
  readonly current?: { readonly reason?: string };
  /** On a Normalize failure the raw input is all there is. */
  readonly input?: unknown;
}

/** The audit record written to S3 for every execution (schema rollgate.audit.v1). */
export interface AuditRecord {
  readonly schema: 'rollgate.audit.v1';
  readonly executionName: string;
  readonly executionId: string;
  readonly outcome: Outcome;
  /** Set when a gate or step failed: the error name (e.g. HealthCheckFailedError, RollbackFailed). */
  readonly error?: string;
  readonly reason: string;
  /** What started it; a redriven execution is `{ type: 'redrive', redriveCount, initial: <the first trigger> }`. */
  readonly trigger:
    | Job['trigger']
    | { readonly type: 'unknown' }
    | {
        readonly type: 'redrive';
        readonly redriveCount: number;
        readonly initial: Job['trigger'] | { readonly type: 'unknown' };
      };
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
  readonly startedAt: string;
  readonly endedAt: string;
  readonly durationMs: number;
}

/** Record's output (`$.summary`): what the execution ends with; the Fail states read `reason` as their Cause. */
export interface Summary {
  readonly executionName: string;
  readonly outcome: Outcome;
  readonly error?: string;
  readonly reason: string;
  readonly image?: string;
  readonly target?: string;
  readonly auditKey: string;
  readonly report?: string;
}

/** The message of a caught error: Lambda's JSON cause on AWS, the plain message locally. */
export function causeMessage(caught: CaughtError | undefined): string {
  if (!caught) return 'unknown error';
  const raw = caught.Cause ?? '';
  try {
    const parsed = JSON.parse(raw) as { errorMessage?: unknown };
    if (parsed && typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON: the cause is the message itself
  }
  return raw || caught.Error;
}

/** A short human phrase for what failed, by error name. */
export function describeFailure(caught: CaughtError | undefined): string {
  const msg = causeMessage(caught);
  switch (caught?.Error) {
    case 'RolloutFailed':
    case 'RolloutFailedError':
      return `rollout failed: ${msg}`;
    case 'HealthCheckFailedError':
      return `health check failed: ${msg}`;
    case 'SloViolatedError':
      return `SLO gate failed: ${msg}`;
    case 'States.Timeout':
      return `a step timed out: ${msg}`;
    default:
      return `${caught?.Error ?? 'error'}: ${msg}`;
  }
}

/** Builds the audit record for a terminal path. Pure, exported for tests. */
export function buildRecord(path: RecordPath, state: ExecutionState, endedAt: Date, redriveCount = 0): AuditRecord {
  const execution = state.execution ?? { id: 'unknown', name: 'unknown', startedAt: endedAt.toISOString() };
  let outcome: Outcome;
  let reason: string;
  let error: string | undefined;
  switch (path) {
    case 'DEPLOYED':
      outcome = 'DEPLOYED';
      reason = `rollout completed; ${state.health?.consecutiveSuccesses ?? 0} consecutive health probes passed${
        state.load?.passed && state.load.reason ? `; ${state.load.reason}` : ''
      }`;
      break;
    case 'IGNORED':
      outcome = 'IGNORED';
      reason = (state.lock?.status !== 'ACQUIRED' ? state.lock?.reason : undefined) ?? state.reason ?? 'ignored';
      break;
    case 'ALREADY_DEPLOYED':
      outcome = 'ALREADY_DEPLOYED';
      reason = state.current?.reason ?? 'the image already runs';
      break;
    case 'ROLLED_BACK':
      outcome = 'ROLLED_BACK';
      error = state.failure?.Error;
      reason = `${describeFailure(state.failure)}; rolled back to ${state.backup ? shortImage(state.backup.image) : 'the previous revision'}`;
      break;
    case 'ROLLBACK_FAILED':
      outcome = 'FAILED';
      error = 'RollbackFailed';
      reason = `rollback failed: ${describeFailure(state.rollbackFailure)}; original failure: ${describeFailure(state.failure)}`;
      break;
    case 'FAILED':
      outcome = 'FAILED';
      error = state.failure?.Error;
      reason = `${describeFailure(state.failure)}${state.backup ? '' : ' (nothing was changed)'}`;
      break;
  }
  const t = state.target;
  return {
    schema: 'rollgate.audit.v1',
    executionName: execution.name,
    executionId: execution.id,
    outcome,
    ...(error ? { error } : {}),
    reason,
    trigger:
      redriveCount > 0
        ? { type: 'redrive', redriveCount, initial: state.trigger ?? { type: 'unknown' } }
        : (state.trigger ?? { type: 'unknown' }),
    ...(t ? { target: t.name, cluster: t.cluster, service: t.service } : {}),
    ...(state.image ? { image: state.image } : {}),
    ...(state.release ? { imageUri: state.release.image, newTaskDefinitionArn: state.release.taskDefinitionArn } : {}),
    ...(state.backup
      ? {
          previousImage: state.backup.image,
          previousTaskDefinitionArn: state.backup.taskDefinitionArn,
          backupKey: state.backup.key,
        }
      : {}),
    ...(state.load?.reportKey ? { reportKey: state.load.reportKey } : {}),
    ...(state.load?.htmlKey ? { reportHtmlKey: state.load.htmlKey } : {}),
    startedAt: execution.startedAt,
    endedAt: endedAt.toISOString(),
    durationMs: Math.max(0, endedAt.getTime() - Date.parse(execution.startedAt)),
  };
}

export interface RecordParams {
  readonly s3: S3Client;
  /** The lock table: the execution's lock and waiter entries are released first, on every terminal path. */
  readonly lock?: { readonly ddb: DynamoDBClient; readonly table: string };
  /** `$$.Execution.RedriveCount`: the record of a redriven execution says so. */
  readonly redriveCount?: number;
  readonly bucket: string;
  readonly path: RecordPath;
  readonly state: ExecutionState;
  readonly now?: () => Date;
}

/** Writes the audit record (`audit/dt=YYYY-MM-DD/<execution>.json`) and returns the execution's summary. */
export async function record(params: RecordParams): Promise<Summary> {
  const { s3, bucket, path, state } = params;
  if (params.lock && state.execution) {
    await releaseLock({ ...params.lock, executionName: state.execution.name, startedAt: state.execution.startedAt });
  }
  const rec = buildRecord(path, state, params.now?.() ?? new Date(), params.redriveCount);
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
  return {
    executionName: rec.executionName,
    outcome: rec.outcome,
    ...(rec.error ? { error: rec.error } : {}),
    reason: rec.reason,
    ...(rec.image ? { image: rec.image.display } : {}),
    ...(rec.target ? { target: rec.target } : {}),
    auditKey: key,
    ...(rec.reportKey ? { report: rec.reportKey } : {}),
  };
}
