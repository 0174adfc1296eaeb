import { answerHook, hookEventSchema } from '../core/gate-hook.ts';
import { s3, sfn } from '../runtime/clients.ts';
import { getRequiredEnv } from '../runtime/env.ts';
import { lambda, logger } from '../runtime/handler.ts';

const bucket = getRequiredEnv('ARTIFACTS_BUCKET');

/**
 * The ECS lifecycle hook of progressive deployments (POST_TEST_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT): records the
 * gate, wakes the execution parked in AwaitGate, answers IN_PROGRESS until the gate's verdict, then SUCCEEDED or
 * FAILED (src/core/gate-hook.ts). ECS invokes it, no Task state: its log keys come from the event.
 */
export const handler = lambda(
  {
    name: 'GateHook',
    schema: hookEventSchema,
    logKeys: (event) => ({ executionName: event.hookDetails.execution, stateName: 'GateHook' }),
  },
  (event) =>
    answerHook({
      s3,
      bucket,
      sfn,
      event,
      onTransient: (error) => logger.warn('transient error, answering IN_PROGRESS', { error }),
    }),
);
