import { z } from 'zod';
import { codeDeployDeliverySchema } from '../config/codedeploy.ts';
import { lockSchema, rolloutSchema } from '../config/schema.ts';
import { rollback } from '../core/rollback.ts';
import { codeDeploy, ecs, s3, sfn } from '../runtime/clients.ts';
import { getRequiredEnv } from '../runtime/env.ts';
import { lambda } from '../runtime/handler.ts';
import { lockConfirmer } from '../runtime/lock.ts';

const bucket = getRequiredEnv('ARTIFACTS_BUCKET');

const rollbackInput = z.object({
  cluster: z.string().min(1),
  service: z.string().min(1),
  /** The backed-up revision to go back to. */
  taskDefinitionArn: z.string().min(1),
  rollout: rolloutSchema,
  /** This execution and the target's lock settings: the lock is confirmed before the service is touched. */
  executionName: z.string().min(1),
  image: z.string().min(1),
  lock: lockSchema,
  /**
   * The target's strategy fields (`$.target`): a progressive deployment is stopped with ROLLBACK, a CodeDeploy one
   * with StopDeployment (autoRollbackEnabled).
   */
  delivery: codeDeployDeliverySchema,
  /** Why the execution rolls back (`$.failure`), for the gates' FAIL mark. */
  failure: z.object({ Error: z.string().exactOptional(), Cause: z.string().exactOptional() }).exactOptional(),
});

export const handler = lambda({ name: 'Rollback', schema: rollbackInput }, (input) =>
  rollback({
    ecs,
    ...input,
    gates: { s3, bucket, executionName: input.executionName },
    codeDeploy: { codeDeploy, sfn, image: input.image },
    reason: [input.failure?.Error, input.failure?.Cause].filter(Boolean).join(': ') || 'the execution rolls back',
    confirmLock: lockConfirmer(input),
  }),
);
