/**
 * What the commands that talk to AWS share: the ARNs they accept, the console URL they print, and the explanation of
 * the AWS errors they meet. Clients use the SDK's default chain for credentials and region (AWS_PROFILE, AWS_REGION).
 */

import type { S3Client } from '@aws-sdk/client-s3';
import type { SFNClient } from '@aws-sdk/client-sfn';

/** Clients a command uses instead of building its own; tests pass mocked ones. */
export interface AwsClients {
  readonly s3?: S3Client;
  readonly sfn?: SFNClient;
}

/** An AWS error already turned into an explanation (it knew the bucket): printed as is, exit 1. */
export class ExplainedError extends Error {
  override name = 'ExplainedError';
}

export const STATE_MACHINE_ARN =
  /^arn:aws[a-z-]*:states:([a-z0-9-]+):\d{12}:stateMachine:[A-Za-z0-9_.-]{1,80}(:[A-Za-z0-9_.-]+)?$/;
export const EXECUTION_ARN =
  /^arn:aws[a-z-]*:states:([a-z0-9-]+):\d{12}:execution:[A-Za-z0-9_.-]{1,80}:[A-Za-z0-9_.-]{1,80}$/;

/** The region in an ARN (`arn:aws:states:<region>:...`). */
export function regionOf(arn: string): string {
  return arn.split(':')[3] ?? '';
}

/** The Step Functions console page of an execution. */
export function consoleUrl(executionArn: string): string {
  const region = regionOf(executionArn);
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

/**
 * One line (or a few) a person can act on, for the errors the AWS commands meet: no credentials, no region, a missing
 * bucket, access denied, a refused redrive. Undefined for an error that is not one of them.
 */
export function explainAwsError(err: unknown, context: { readonly bucket?: string } = {}): string | undefined {
  if (err instanceof ExplainedError) return err.message;
  const name = (err as { name?: string } | undefined)?.name ?? '';
  const msg = (err as { message?: string } | undefined)?.message ?? String(err);
  if (name === 'CredentialsProviderError' || /could not load credentials/i.test(msg)) {
    return 'no AWS credentials found: set AWS_PROFILE (after `aws sso login` or `aws configure`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY';
  }
  if (/region is missing/i.test(msg)) return 'no AWS region: set AWS_REGION (or a region in your AWS_PROFILE)';
  switch (name) {
    case 'ExpiredToken':
    case 'ExpiredTokenException':
      return `your AWS credentials have expired (${msg}): refresh them (e.g. \`aws sso login\`) and try again`;
    case 'InvalidAccessKeyId':
    case 'SignatureDoesNotMatch':
    case 'UnrecognizedClientException':
    case 'InvalidClientTokenId':
      return `AWS rejected the credentials (${name}): check AWS_PROFILE / AWS_ACCESS_KEY_ID`;
    case 'NoSuchBucket':
      return `bucket ${context.bucket ? `"${context.bucket}" ` : ''}does not exist: check --bucket / ROLLGATE_BUCKET (the artifacts bucket of the rollgate stack) and AWS_REGION`;
    case 'AccessDenied':
    case 'AccessDeniedException':
      return `access denied: ${msg}`;
    case 'StateMachineDoesNotExist':
      return `no such state machine: ${msg} (check --state-machine-arn and that its region is the one in the ARN)`;
    case 'ExecutionDoesNotExist':
      return `no such execution: ${msg} (check the ARN)`;
    case 'InvalidArn':
      return `AWS rejected the ARN: ${msg}`;
    case 'ExecutionAlreadyExists':
      return `an execution with this name already exists: ${msg}; run the command again (names carry a random suffix)`;
    case 'ExecutionLimitExceeded':
      return `too many running executions on this account: ${msg}; wait for some to finish`;
    case 'InvalidExecutionInput':
      return `Step Functions rejected the input: ${msg}`;
    case 'ExecutionNotRedrivable':
      return [
        `AWS refused to redrive this execution (ExecutionNotRedrivable): ${msg}`,
        'Redrive resumes an unsuccessful Standard execution from the step that failed, with the same input and the same',
        'state machine definition. It is refused when the execution SUCCEEDED or is still RUNNING, ended more than 14',
        'days ago, started before redrive existed (15 Nov 2023), was redriven too often, or its history is too long.',
        'Redrive suits runs stopped by an infrastructure error (timeout, throttling, an abort); a deploy that rollgate',
        'rolled back, or a definition that has changed since, needs a new execution instead:',
        '  rollgate start --repository R --tag T --state-machine-arn ARN',
      ].join('\n');
    default:
      // an SDK service error we have no advice for: its name and message still say what AWS refused
      return (err as { $metadata?: unknown } | undefined)?.$metadata !== undefined ? `${name}: ${msg}` : undefined;
  }
}

/** Reads with an AWS call, turning its failure into an explanation that names the bucket. */
export async function explained<T>(bucket: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new ExplainedError(explainAwsError(err, { bucket }) ?? (err as Error).message, { cause: err });
  }
}
