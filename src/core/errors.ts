/**
 * Every named error rollgate throws, the load generator's included, and the error names the state machine makes up
 * itself. The rule (test/contract.test.ts checks it against statemachines/*.asl.json):
 *
 * - A class here is thrown by code: `*Error` suffix, `name` = the class name, which is the string Step Functions puts
 *   in `Error` and the ASL `Retry`/`Catch` `ErrorEquals` match. A class nothing throws is deleted.
 * - A name in {@link ASL_ERRORS} is never thrown: the state machine decides it from data (a Choice state's
 *   Default) and writes it itself, in a Pass state's `{Error, Cause}` or a Fail state's `Error`. It names what
 *   happened, with no `Error` suffix, so the two kinds cannot be confused in an audit record.
 * - Transient AWS names (retried, never caught) are in {@link TASK_RETRY}, the one Retry block of every Task.
 */

/** The execution input is neither an ECR push event nor a manual input; the message says what is wrong. */
export class InvalidInputError extends Error {
  override name = 'InvalidInputError';
}

/**
 * A Lambda's payload does not match its handler's schema (src/runtime/handler.ts): a Task state's `Parameters` built
 * something its handler does not take. A wiring bug between the ASL and the code; the message names each field.
 */
export class InvalidPayloadError extends Error {
  override name = 'InvalidPayloadError';
}

/** rollgate.config.yml (or the ROLLGATE_CONFIG env var) does not match the schema. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** A required environment variable is missing or empty at cold start. */
export class MissingEnvError extends Error {
  override name = 'MissingEnvError';
}

/**
 * The image to deploy is not in ECR (by digest, or by tag), or the input's tag and digest name different images:
 * CheckImage throws it before anything is touched.
 */
export class ImageNotFoundError extends Error {
  override name = 'ImageNotFoundError';
}

/** The ECS service or its task definition could not be read or is not shaped as the target says. */
export class TargetNotFoundError extends Error {
  override name = 'TargetNotFoundError';
}

/** Writing or reading the backup of the running task definition failed; nothing was deployed. */
export class BackupFailedError extends Error {
  override name = 'BackupFailedError';
}

/** The health URL did not answer as expected N times in a row before the deadline. */
export class HealthCheckFailedError extends Error {
  override name = 'HealthCheckFailedError';
}

/** A load generator's result in S3 is missing, malformed, or outside the execution's result prefix. */
export class LoadResultError extends Error {
  override name = 'LoadResultError';
}

/**
 * PutEvents did not accept the rollback event (`FailedEntryCount` > 0): the message carries EventBridge's ErrorCode
 * and ErrorMessage. The Notify states catch it so that a lost notification never changes the execution's outcome.
 */
export class EventPublishFailedError extends Error {
  override name = 'EventPublishFailedError';
}

/** Another execution holds the service's deploy lock: this one must not change the service. */
export class LockLostError extends Error {
  override name = 'LockLostError';
}

/** A load shard, CLI flag or report input is malformed; the message names the field, the value and what was expected. */
export class LoadInputError extends Error {
  override name = 'LoadInputError';
}

/** The requested load cannot be planned within the Lambda and Step Functions limits; the message says which. */
export class LoadPlanError extends Error {
  override name = 'LoadPlanError';
}

/**
 * The error names the state machine writes itself (never thrown, so no class), with the states that write them.
 * Records and the CLI read them from `Error` like any other name.
 */
export const ASL_ERRORS = {
  /** LockDecision gave up waiting for the deploy lock (Pass state LockTimedOut). */
  LockTimeout: 'LockTimeout',
  /** CheckRollout or CheckRollback answered FAILED (Pass states RolloutFailed, RollbackRolloutFailed). */
  RolloutFailed: 'RolloutFailed',
  /** AggregateLoad answered `passed: false` with a failing verdict (Pass state SloViolated). */
  SloViolated: 'SloViolated',
  /** The SLOs held but the judge (load.judge) found the new version worse than its baseline (Pass state JudgeFailed). */
  JudgeFailed: 'JudgeFailed',
  /**
   * The load generator could not keep its schedule (connections or CPU), so the load test says nothing about the
   * service, and the target's `load.onInconclusive` is `rollback`, the default (Pass state LoadInconclusive).
   */
  LoadInconclusive: 'LoadInconclusive',
  /** ECS reached no gate of a progressive deployment within the target's gateTimeoutSeconds (Pass state GateTimedOut). */
  GateTimedOut: 'GateTimedOut',
  /** The new image failed a gate and the previous one runs again (Fail state RolledBack). */
  DeploymentRolledBack: 'DeploymentRolledBack',
  /** The rollback itself failed (Fail state RollbackFailed, Pass state RollbackFailedUnrecorded). */
  RollbackFailed: 'RollbackFailed',
} as const;

/** The message of an unknown thrown value, for error causes and audit records. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : JSON.stringify(err);
}

/**
 * The one Retry block of every Task state in statemachines/deploy.asl.json (ASL has no way to share it: the contract
 * test checks each copy equals this). Transient errors are retried with back-off here, never in handler loops:
 * Lambda's own invocation errors, then the SDK's throttling/5xx names for the AWS APIs the handlers call.
 */
export const TASK_RETRY = [
  {
    ErrorEquals: [
      'Lambda.ServiceException',
      'Lambda.AWSLambdaException',
      'Lambda.SdkClientException',
      'Lambda.TooManyRequestsException',
    ],
    IntervalSeconds: 2,
    MaxAttempts: 6,
    BackoffRate: 2,
    JitterStrategy: 'FULL',
  },
  {
    ErrorEquals: [
      'ThrottlingException',
      'TooManyRequestsException',
      'ServerException',
      'ServiceUnavailable',
      'InternalError',
      'SlowDown',
    ],
    IntervalSeconds: 1,
    MaxAttempts: 5,
    BackoffRate: 2,
    MaxDelaySeconds: 20,
    JitterStrategy: 'FULL',
  },
] as const;

/** Network failures the SDK surfaces as plain errors: the connection was refused, reset or timed out. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND']);

/**
 * An AWS call's error that is worth asking again for, later: the names TASK_RETRY retries (throttling, 5xx), anything
 * the SDK marks `$retryable` or answers with a 5xx or 429, and a dropped connection. Not a missing object, a denied
 * call or a bad request: those stay errors.
 */
export function isTransient(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { name?: string; code?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode ?? 0;
  if (e.$retryable || status >= 500 || status === 429) return true;
  if (TASK_RETRY[1].ErrorEquals.some((name) => name === e.name)) return true;
  return NETWORK_CODES.has(e.code ?? '') || e.name === 'TimeoutError';
}

/** S3's answer for an object that is not there (GetObject's NoSuchKey, HeadObject's bodiless 404). */
export function isMissingObject(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}
