import middy from '@middy/core';
import type { WorkerShard } from '../../loadgen/types.ts';
import { generateLoad } from '../core/load-test.ts';
import { s3 } from '../runtime/clients.ts';
import { getRequiredEnv } from '../runtime/env.ts';

const bucket = getRequiredEnv('ARTIFACTS_BUCKET');

/** One iteration of the GenerateLoad Map state's inner Map. */
export interface GenerateLoadInput {
  /** `$.loadPlan.shard`: validated by the engine (LoadInputError names a bad field). */
  readonly shard: WorkerShard;
  readonly workerIndex: number;
  readonly resultPrefix: string;
}

/** Runs one load generator and returns only the S3 key of its result. */
export const handler = middy<GenerateLoadInput, string>().handler(async (input, context) =>
  generateLoad({ s3, bucket, ...input, context }),
);
