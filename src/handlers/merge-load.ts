import { z } from 'zod';
import { mergeLoadGroup } from '../core/load-test.ts';
import { s3 } from '../runtime/clients.ts';
import { getRequiredEnv } from '../runtime/env.ts';
import { lambda } from '../runtime/handler.ts';

const bucket = getRequiredEnv('ARTIFACTS_BUCKET');

const mergeLoadInput = z.object({
  /** The group's GenerateGroup Map result: each of its workers' result keys (at most 40). */
  resultKeys: z.array(z.string().min(1)).min(1).max(40),
  /** `$.loadPlan.resultPrefix`: every key must be under it, and the merge is written there. */
  resultPrefix: z.string().min(1),
});

export const handler = lambda({ name: 'MergeGroup', schema: mergeLoadInput }, (input) =>
  mergeLoadGroup({ s3, bucket, ...input }),
);
