import middy from '@middy/core';
import type { RolloutSpec } from '../config/schema.ts';
import type { RolloutWatch } from '../core/deploy.ts';
import { rollback } from '../core/rollback.ts';
import { ecs } from '../runtime/clients.ts';

export interface RollbackInput {
  readonly cluster: string;
  readonly service: string;
  readonly taskDefinitionArn: string;
  readonly rollout: RolloutSpec;
}

export const handler = middy<RollbackInput, RolloutWatch>().handler(async (input) => rollback({ ecs, ...input }));
