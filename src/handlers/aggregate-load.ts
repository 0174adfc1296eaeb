import { z } from 'zod';
import { loadSchema } from '../config/schema.ts';
import { aggregateLoad } from '../core/load-test.ts';
import { s3 } from '../runtime/clients.ts';
import { getRequiredEnv } from '../runtime/env.ts';
import { lambda } from '../runtime/handler.ts';

const bucket = getRequiredEnv('ARTIFACTS_BUCKET');

const aggregateLoadInput = z.object({
  /**
   * The GenerateLoad Map state's results: per group of workers, the key of the group's merged result in S3 (or of its
   * workers' results, as a list). Each object is checked in depth when read (LoadResultError) and by loadgen's
   * aggregate (LoadInputError naming what is wrong).
   */
  resultKeys: z.array(z.union([z.string().min(1), z.array(z.string().min(1)).min(1)])).min(1),
  /** `$.loadPlan.resultPrefix`: every key must be under it. */
  resultPrefix: z.string().min(1),
  load: loadSchema,
  reportPrefix: z.string().min(1),
  /** With load.judge, for the comparison across time: whose earlier DEPLOYED reports to read. */
  cluster: z.string().min(1).exactOptional(),
  service: z.string().min(1).exactOptional(),
  executionName: z.string().min(1).exactOptional(),
});

export const handler = lambda({ name: 'AggregateLoad', schema: aggregateLoadInput }, (input) =>
  aggregateLoad({ s3, bucket, ...input }),
);
