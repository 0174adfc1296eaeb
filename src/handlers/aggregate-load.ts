import middy from '@middy/core';
import type { LoadSpec } from '../config/schema.ts';
import { aggregateLoad, type LoadOutcome } from '../core/load-test.ts';
import { s3 } from '../runtime/clients.ts';
import { getRequiredEnv } from '../runtime/env.ts';

const bucket = getRequiredEnv('ARTIFACTS_BUCKET');

export interface AggregateLoadInput {
  /** The GenerateLoad Map state's results: per group of workers, each worker's result key in S3. */
  readonly resultKeys: string[][];
  /** `$.loadPlan.resultPrefix`: every key must be under it. */
  readonly resultPrefix: string;
  readonly load: LoadSpec;
  readonly reportPrefix: string;
}

export const handler = middy<AggregateLoadInput, LoadOutcome>().handler(async (input) =>
  aggregateLoad({ s3, bucket, ...input }),
);
