import middy from '@middy/core';
import type { LockSpec, RolloutSpec } from '../config/schema.ts';
import { deploy, type RolloutWatch } from '../core/deploy.ts';
import { ecs, s3 } from '../runtime/clients.ts';
import { lockConfirmer } from '../runtime/lock.ts';

export interface DeployInput {
  readonly cluster: string;
  readonly service: string;
  readonly taskDefinitionArn: string;
  readonly backup: { readonly bucket: string; readonly key: string };
  readonly rollout: RolloutSpec;
  /** This execution and the target's lock settings: the lock is confirmed before the service is touched. */
  readonly executionName: string;
  readonly image: string;
  readonly lock: LockSpec;
}

export const handler = middy<DeployInput, RolloutWatch>().handler(async (input) =>
  deploy({ ecs, s3, ...input, confirmLock: lockConfirmer(input) }),
);
