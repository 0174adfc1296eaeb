import { z } from 'zod';
import { jobImageSchema } from '../core/normalize.ts';
import { register } from '../core/register.ts';
import { ecs, s3 } from '../runtime/clients.ts';
import { lambda } from '../runtime/handler.ts';

const registerInput = z.object({
  backup: z.object({ bucket: z.string().min(1), key: z.string().min(1) }),
  container: z.string().min(1),
  image: jobImageSchema,
  executionName: z.string().min(1),
});

export const handler = lambda({ name: 'Register', schema: registerInput }, (input) => register({ ecs, s3, ...input }));
