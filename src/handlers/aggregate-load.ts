import middy from '@middy/core';
import type { WorkerResult } from '../../loadgen/types.ts';
import type { LoadSpec } from '../config/schema.ts';
import { aggregateLoad, type LoadOutcome } from '../core/load-test.ts';
import { s3 } from '../runtime/clients.ts';
import { getRequiredEnv } from '../runtime/env.ts';

const bucket = getRequiredEnv('ARTIFACTS_BUCKET');

export interface AggregateLoadInput {
  /** The GenerateLoad Map state's results, one per shard. */
  readonly results: WorkerResult[];
  readonly load: LoadSpec;
  readonly reportPrefix: string;
}

export const handler = middy<AggregateLoadInput, LoadOutcome>().handler(async (input) =>
  aggregateLoad({ s3, bucket, ...input }),
);
