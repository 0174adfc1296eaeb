import middy from '@middy/core';
import type { Job } from '../core/normalize.ts';
import { type RegisterResult, register } from '../core/register.ts';
import { ecs, s3 } from '../runtime/clients.ts';

export interface RegisterInput {
  readonly backup: { readonly bucket: string; readonly key: string };
  readonly container: string;
  readonly image: Job['image'];
  readonly executionName: string;
}

export const handler = middy<RegisterInput, RegisterResult>().handler(async (input) => register({ ecs, s3, ...input }));
