import middy from '@middy/core';
import type { Summary } from '../core/audit.ts';
import { type ExecutionState, type RecordPath, record } from '../core/record.ts';
import { ddb, s3 } from '../runtime/clients.ts';
import { getRequiredEnv } from '../runtime/env.ts';

const bucket = getRequiredEnv('ARTIFACTS_BUCKET');
const table = getRequiredEnv('LOCK_TABLE');

/** Each Record* state passes its terminal path and the whole execution state. */
export interface RecordInput {
  readonly path: RecordPath;
  readonly state: ExecutionState;
  /** `$$.Execution.RedriveCount`: 0, or how many times the execution was redriven. */
  readonly redriveCount?: number;
}

export const handler = middy<RecordInput, Summary>().handler(async ({ path, state, redriveCount }) =>
  record({ s3, bucket, path, state, lock: { ddb, table }, ...(redriveCount ? { redriveCount } : {}) }),
);
