import middy from '@middy/core';
import { type ExecutionInfo, type Job, normalize } from '../core/normalize.ts';
import { configFromEnv } from '../runtime/config.ts';

const config = configFromEnv();

/** Normalize state input: the raw execution input and `$$.Execution` (set by the Start Pass state). */
export interface NormalizeInput {
  readonly input: unknown;
  readonly execution: ExecutionInfo;
}

export const handler = middy<NormalizeInput, Job>().handler(async ({ input, execution }) =>
  normalize({ config, input, execution }),
);
