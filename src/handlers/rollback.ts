import middy from '@middy/core';
import type { LockSpec, RolloutSpec } from '../config/schema.ts';
import type { RolloutWatch } from '../core/deploy.ts';
import { rollback } from '../core/rollback.ts';
import { ecs } from '../runtime/clients.ts';
import { lockConfirmer } from '../runtime/lock.ts';

export interface RollbackInput {
  readonly cluster: string;
  readonly service: string;
  readonly taskDefinitionArn: string;
  readonly rollout: RolloutSpec;
  /** This execution and the target's lock settings: the lock is confirmed before the service is touched. */
  readonly executionName: string;
  readonly image: string;
  readonly lock: LockSpec;
}

export const handler = middy<RollbackInput, RolloutWatch>().handler(async (input) =>
  rollback({ ecs, ...input, confirmLock: lockConfirmer(input) }),
);
