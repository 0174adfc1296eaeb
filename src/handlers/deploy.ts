import { z } from 'zod';
import { lockSchema, rolloutSchema } from '../config/schema.ts';
import { deploy } from '../core/deploy.ts';
import { ecs, s3 } from '../runtime/clients.ts';
import { lambda } from '../runtime/handler.ts';
import { lockConfirmer } from '../runtime/lock.ts';

const deployInput = z.object({
  cluster: z.string().min(1),
  service: z.string().min(1),
  taskDefinitionArn: z.string().min(1),
  backup: z.object({ bucket: z.string().min(1), key: z.string().min(1) }),
  rollout: rolloutSchema,
  /** This execution and the target's lock settings: the lock is confirmed before the service is touched. */
  executionName: z.string().min(1),
  image: z.string().min(1),
  lock: lockSchema,
});

export const handler = lambda({ name: 'Deploy', schema: deployInput }, (input) =>
  deploy({ ecs, s3, ...input, confirmLock: lockConfirmer(input) }),
);
