import { z } from 'zod';
import { lockSchema, rolloutSchema } from '../config/schema.ts';
import { rollback } from '../core/rollback.ts';
import { ecs } from '../runtime/clients.ts';
import { lambda } from '../runtime/handler.ts';
import { lockConfirmer } from '../runtime/lock.ts';

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
});

export const handler = lambda({ name: 'Rollback', schema: rollbackInput }, (input) =>
  rollback({ ecs, ...input, confirmLock: lockConfirmer(input) }),
);
