import middy from '@middy/core';
import { type ExecutionStatusChange, executionEnded } from '../core/execution-ended.ts';
import { ddb, ecs, s3 } from '../runtime/clients.ts';
import { getRequiredEnv } from '../runtime/env.ts';

const bucket = getRequiredEnv('ARTIFACTS_BUCKET');
const table = getRequiredEnv('LOCK_TABLE');

/** Target of the EventBridge rule on the state machine's ABORTED / TIMED_OUT / FAILED status changes. */
export const handler = middy<ExecutionStatusChange, Awaited<ReturnType<typeof executionEnded>>>().handler(
  async (event) => executionEnded({ ddb, table, s3, ecs, bucket, event }),
);
