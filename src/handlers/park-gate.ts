import { z } from 'zod';
import { testRouteSchema } from '../config/progressive.ts';
import { parkGate } from '../core/gates.ts';
import { s3, sfn } from '../runtime/clients.ts';
import { getRequiredEnv } from '../runtime/env.ts';
import { lambda } from '../runtime/handler.ts';

const bucket = getRequiredEnv('ARTIFACTS_BUCKET');

const parkGateInput = z.object({
  /** `$$.Task.Token` of the AwaitGate state (lambda:invoke.waitForTaskToken). */
  taskToken: z.string().min(1),
  executionName: z.string().min(1),
  /** The target (`$.target`): its test route decides where each gate is probed. */
  target: z.object({ testRoute: testRouteSchema.exactOptional() }),
});

/** AwaitGate's Lambda: parks the execution's task token for the hook, or sends a gate that already arrived. */
export const handler = lambda({ name: 'ParkGate', schema: parkGateInput }, ({ taskToken, executionName, target }) =>
  parkGate({ s3, bucket, sfn, executionName, taskToken, testRoute: target.testRoute }),
);
