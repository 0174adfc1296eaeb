import { z } from 'zod';
import { rolloutSchema } from '../config/schema.ts';
import { checkRollout } from '../core/check-rollout.ts';
import { rolloutWatchSchema } from '../core/deploy.ts';
import { codeDeploy, ecs } from '../runtime/clients.ts';
import { lambda } from '../runtime/handler.ts';

/** Used by both CheckRollout (`$.deployment`) and CheckRollback (`$.rollback`). */
const checkRolloutInput = z.object({ watch: rolloutWatchSchema, rollout: rolloutSchema });

export const handler = lambda({ name: 'CheckRollout', schema: checkRolloutInput }, ({ watch, rollout }) =>
  checkRollout({ ecs, codeDeploy, watch, rollout }),
);
