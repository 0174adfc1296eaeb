import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  type AuditRecord,
  auditRecord,
  type JudgeSummary,
  type Outcome,
  type Summary,
  summaryOf,
  writeAuditRecord,
} from './audit.ts';
import type { BackupResult } from './backup.ts';
import type { RolloutCheck } from './check-rollout.ts';
import { ASL_ERRORS } from './errors.ts';
import { releaseLock } from './lock.ts';
import { shortImage } from './naming.ts';
import type { Job } from './normalize.ts';
import type { ProbeResult } from './probe-health.ts';
import type { RegisterResult } from './register.ts';
import { markVerified } from './verified.ts';

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
    readonly judge?: JudgeSummary;
  };
  /** AcquireLock's last answer (why an execution was superseded, rejected or a duplicate). */
  readonly lock?: { readonly status?: string; readonly reason?: string };
  /** Inspect's answer (why an execution found its image already deployed). */
  readonly current?: { readonly reason?: string };
  /** On a Normalize failure the raw input is all there is. */
  readonly input?: unknown;
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
    case ASL_ERRORS.RolloutFailed:
      return `rollout failed: ${msg}`;
    case 'HealthCheckFailedError':
      return `health check failed: ${msg}`;
    case ASL_ERRORS.SloViolated:
      return `SLO gate failed: ${msg}`;
    case ASL_ERRORS.JudgeFailed:
      return `judge failed the new version: ${msg}`;
    case ASL_ERRORS.LoadInconclusive:
      return `SLO gate ${msg}`;
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
  return auditRecord(
    {
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
      ...(state.release
        ? { imageUri: state.release.image, newTaskDefinitionArn: state.release.taskDefinitionArn }
        : {}),
      ...(state.backup
        ? {
            previousImage: state.backup.image,
            previousTaskDefinitionArn: state.backup.taskDefinitionArn,
            backupKey: state.backup.key,
          }
        : {}),
      ...(state.load?.reportKey ? { reportKey: state.load.reportKey } : {}),
      ...(state.load?.htmlKey ? { reportHtmlKey: state.load.htmlKey } : {}),
      ...(state.load?.judge ? { judge: state.load.judge } : {}),
      startedAt: execution.startedAt,
    },
    endedAt,
  );
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

/**
 * Releases the execution's lock, marks a DEPLOYED revision verified (see verified.ts), writes the audit record
 * (`audit/dt=YYYY-MM-DD/<execution>.json`) and returns the execution's summary. The record is written even when the
 * lock table cannot be reached or the mark cannot be written; then that error is thrown.
 */
export async function record(params: RecordParams): Promise<Summary> {
  const { s3, bucket, path, state } = params;
  // A lock table that cannot be reached must not cost the audit record: write it, then fail with the lock's error
  let lockError: unknown;
  if (params.lock && state.execution) {
    await releaseLock({
      ...params.lock,
      executionName: state.execution.name,
      startedAt: state.execution.startedAt,
    }).catch((err: unknown) => {
      lockError = err;
    });
  }
  const endedAt = params.now?.() ?? new Date();
  // DEPLOYED: every gate passed on this revision, in this service; Inspect counts only a marked revision as deployed
  let markError: unknown;
  if (path === 'DEPLOYED' && state.release && state.target && state.execution) {
    const mark = {
      cluster: state.target.cluster,
      service: state.target.service,
      taskDefinitionArn: state.release.taskDefinitionArn,
      executionName: state.execution.name,
      image: state.release.image,
    };
    await markVerified({ s3, bucket }, mark, endedAt).catch((err: unknown) => {
      markError = err;
    });
  }
  const rec = buildRecord(path, state, endedAt, params.redriveCount);
  await writeAuditRecord({ s3, bucket }, rec);
  if (lockError !== undefined) throw lockError;
  if (markError !== undefined) throw markError;
  return summaryOf(rec);
}

/**
 * The terminal path of an execution that ended SUCCEEDED, from its output (the whole state: a Record state that
 * failed leaves it there, with `recordFailure`): a registered revision means DEPLOYED (the only success path past
 * Register), an image found running ALREADY_DEPLOYED, anything else IGNORED.
 */
export function successPath(state: ExecutionState & { readonly current?: { readonly alreadyRunning?: boolean } }) {
  if (state.release) return 'DEPLOYED' as const;
  if (state.current?.alreadyRunning === true) return 'ALREADY_DEPLOYED' as const;
  return 'IGNORED' as const;
}
