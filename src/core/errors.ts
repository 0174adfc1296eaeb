/**
 * Every named error a Lambda task can throw. The class `name` is the string Step Functions puts in `Error`,
 * which the ASL `Retry`/`Catch` `ErrorEquals` match: rename one here and in statemachines/*.asl.json together
 * (test/contract.test.ts checks every non-`States.` name in the ASL exists here).
 */

/** The execution input is neither an ECR push event nor a manual input; the message says what is wrong. */
export class InvalidInputError extends Error {
  override name = 'InvalidInputError';
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

/** The rollout did not reach COMPLETED: ECS reported FAILED, rolled it back itself, or the deadline passed. */
export class RolloutFailedError extends Error {
  override name = 'RolloutFailedError';
}

/** The health URL did not answer as expected N times in a row before the deadline. */
export class HealthCheckFailedError extends Error {
  override name = 'HealthCheckFailedError';
}

/** The load test violated the target's SLOs; the message lists each violation. */
export class SloViolatedError extends Error {
  override name = 'SloViolatedError';
}

/** A load generator's result in S3 is missing, malformed, or outside the execution's result prefix. */
export class LoadResultError extends Error {
  override name = 'LoadResultError';
}

/**
 * The load generator could not keep its schedule (connections or CPU), so the load test says nothing about the
 * service; the target's `load.onInconclusive` is `rollback` (the default). The message says why.
 */
export class LoadTestInconclusiveError extends Error {
  override name = 'LoadTestInconclusiveError';
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

/** The message of an unknown thrown value, for error causes and audit records. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : JSON.stringify(err);
}

/**
 * AWS error names the ASL retries as transient (with back-off, in Retry, never in handler loops): Lambda's own
 * invocation errors and the SDK's throttling/5xx names for ECS and S3.
 */
export const TRANSIENT_AWS_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'ThrottlingException',
  'TooManyRequestsException',
  'ServerException',
  'ServiceUnavailable',
  'InternalError',
  'SlowDown',
  'InternalException',
] as const;
