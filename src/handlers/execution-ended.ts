import middy from '@middy/core';
import { type ExecutionStatusChange, executionEnded } from '../core/execution-ended.ts';
import { ddb, s3 } from '../runtime/clients.ts';
import { getRequiredEnv } from '../runtime/env.ts';

const bucket = getRequiredEnv('ARTIFACTS_BUCKET');
const table = getRequiredEnv('LOCK_TABLE');

/** Target of the EventBridge rule on the state machine's ABORTED / TIMED_OUT / FAILED status changes. */
export const handler = middy<ExecutionStatusChange, { released: boolean; recorded: boolean }>().handler(async (event) =>
  executionEnded({ ddb, table, s3, bucket, event }),
);
