import { z } from 'zod';
import type { WorkerShard } from '../../loadgen/types.ts';
import { generateLoad } from '../core/load-test.ts';
import { s3 } from '../runtime/clients.ts';
import { getRequiredEnv } from '../runtime/env.ts';
import { lambda } from '../runtime/handler.ts';

const bucket = getRequiredEnv('ARTIFACTS_BUCKET');

/** One iteration of the GenerateLoad Map state's inner Map. */
const generateLoadInput = z.object({
  /** `$.loadPlan.shard`: checked in depth by the engine (LoadInputError names a bad field). */
  shard: z.custom<WorkerShard>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'a load shard'),
  workerIndex: z.number().int().min(0),
  resultPrefix: z.string().min(1),
});

/** Runs one load generator and returns only the S3 key of its result. */
export const handler = lambda({ name: 'Generate', schema: generateLoadInput }, (input, context) =>
  generateLoad({ s3, bucket, ...input, context }),
);
