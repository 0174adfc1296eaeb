import { z } from 'zod';
import { backup } from '../core/backup.ts';
import { ecs, s3 } from '../runtime/clients.ts';
import { getRequiredEnv } from '../runtime/env.ts';
import { lambda } from '../runtime/handler.ts';

const bucket = getRequiredEnv('ARTIFACTS_BUCKET');

const backupInput = z.object({
  cluster: z.string().min(1),
  service: z.string().min(1),
  container: z.string().min(1),
  executionName: z.string().min(1),
});

export const handler = lambda({ name: 'Backup', schema: backupInput }, (input) =>
  backup({ ecs, s3, bucket, ...input }),
);
