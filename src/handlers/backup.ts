import middy from '@middy/core';
import { type BackupResult, backup } from '../core/backup.ts';
import { ecs, s3 } from '../runtime/clients.ts';
import { getRequiredEnv } from '../runtime/env.ts';

const bucket = getRequiredEnv('ARTIFACTS_BUCKET');

export interface BackupInput {
  readonly cluster: string;
  readonly service: string;
  readonly container: string;
  readonly executionName: string;
}

export const handler = middy<BackupInput, BackupResult>().handler(async (input) =>
  backup({ ecs, s3, bucket, ...input }),
);
