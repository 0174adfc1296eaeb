import { z } from 'zod';
import { executionEnded } from '../core/execution-ended.ts';
import { codeDeploy, ddb, ecs, s3 } from '../runtime/clients.ts';
import { getRequiredEnv } from '../runtime/env.ts';
import { lambda } from '../runtime/handler.ts';

const bucket = getRequiredEnv('ARTIFACTS_BUCKET');
const table = getRequiredEnv('LOCK_TABLE');

/** The "Step Functions Execution Status Change" event (the fields read); times are epoch milliseconds. */
const statusChangeEvent = z.object({
  'detail-type': z.string(),
  detail: z.object({
    executionArn: z.string().min(1),
    name: z.string().min(1),
    status: z.string().min(1),
    startDate: z.number(),
    stopDate: z.number().nullable().exactOptional(),
    /** The execution input as a JSON string. */
    input: z.string().nullable().exactOptional(),
    /** The execution output as a JSON string (SUCCEEDED: a Record state that failed left `recordFailure` in it). */
    output: z.string().nullable().exactOptional(),
  }),
});

/** Target of the EventBridge rule on the state machine's status changes (ABORTED, TIMED_OUT, FAILED, SUCCEEDED). */
export const handler = lambda(
  {
    name: 'ExecutionEnded',
    schema: statusChangeEvent,
    logKeys: (event) => ({ executionName: event.detail.name, stateName: 'ExecutionEnded' }),
  },
  (event) => executionEnded({ ddb, table, s3, ecs, bucket, event, codeDeploy }),
);
