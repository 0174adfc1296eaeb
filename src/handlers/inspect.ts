import { z } from 'zod';
import { inspectService } from '../core/inspect.ts';
import { jobImageSchema } from '../core/normalize.ts';
import { ecs } from '../runtime/clients.ts';
import { lambda } from '../runtime/handler.ts';

const inspectInput = z.object({
  cluster: z.string().min(1),
  service: z.string().min(1),
  container: z.string().min(1),
  image: jobImageSchema,
});

export const handler = lambda({ name: 'Inspect', schema: inspectInput }, (input) => inspectService({ ecs, ...input }));
