import middy from '@middy/core';
import type { RolloutSpec } from '../config/schema.ts';
import { checkRollout, type RolloutCheck } from '../core/check-rollout.ts';
import type { RolloutWatch } from '../core/deploy.ts';
import { ecs } from '../runtime/clients.ts';

/** Used by both CheckRollout (`$.deployment`) and CheckRollback (`$.rollback`). */
export interface CheckRolloutInput {
  readonly watch: RolloutWatch;
  readonly rollout: RolloutSpec;
}

export const handler = middy<CheckRolloutInput, RolloutCheck>().handler(async ({ watch, rollout }) =>
  checkRollout({ ecs, watch, rollout }),
);
