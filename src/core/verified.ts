/**
 * The verified mark: `verified/<cluster>/<service>/<family>/<revision>.json`, written when an execution records
 * DEPLOYED (every gate of that execution passed on that revision, in that service). Inspect counts a running image as
 * ALREADY_DEPLOYED only when its revision carries the mark: a revision an interrupted, stopped or killed execution left
 * running, or one rollgate never deployed, is deployed (and judged) again.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { isMissingObject } from './errors.ts';
import { verifiedKey } from './naming.ts';

interface Bucket {
  readonly s3: S3Client;
  readonly bucket: string;
}

export interface VerifiedMark {
  readonly cluster: string;
  readonly service: string;
  readonly taskDefinitionArn: string;
  /** The execution that verified it. */
  readonly executionName: string;
  readonly image?: string;
}

/** Writes the mark (idempotent: a redrive writes the same one again). */
export async function markVerified({ s3, bucket }: Bucket, mark: VerifiedMark, at: Date): Promise<string> {
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  const key = verifiedKey(mark.cluster, mark.service, mark.taskDefinitionArn);
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: `${JSON.stringify({ ...mark, verifiedAt: at.toISOString() })}\n`,
      ContentType: 'application/json',
    }),
  );
  return key;
}

/**
 * Whether an execution verified the revision in this service. No mark: false. Any other failure to read S3 is thrown
 * (Inspect fails, the execution ends FAILED with nothing changed): an outage never passes for "verified".
 */
export async function isVerified(
  { s3, bucket }: Bucket,
  where: { readonly cluster: string; readonly service: string; readonly taskDefinitionArn: string },
): Promise<boolean> {
  const { HeadObjectCommand } = await import('@aws-sdk/client-s3');
  try {
    await s3.send(
      new HeadObjectCommand({
        Bucket: bucket,
        Key: verifiedKey(where.cluster, where.service, where.taskDefinitionArn),
      }),
    );
    return true;
  } catch (err) {
    if (isMissingObject(err)) return false;
    throw err;
  }
}
