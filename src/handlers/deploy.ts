import middy from '@middy/core';
import type { RolloutSpec } from '../config/schema.ts';
import { deploy, type RolloutWatch } from '../core/deploy.ts';
import { ecs, s3 } from '../runtime/clients.ts';

export interface DeployInput {
  readonly cluster: string;
  readonly service: string;
  readonly taskDefinitionArn: string;
  readonly backup: { readonly bucket: string; readonly key: string };
  readonly rollout: RolloutSpec;
}

export const handler = middy<DeployInput, RolloutWatch>().handler(async (input) => deploy({ ecs, s3, ...input }));
