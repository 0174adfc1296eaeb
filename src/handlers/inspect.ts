import { z } from 'zod';
import { codeDeploySchema } from '../config/codedeploy.ts';
import { inspectService } from '../core/inspect.ts';
import { jobImageSchema } from '../core/normalize.ts';
import { ecs, s3 } from '../runtime/clients.ts';
import { getRequiredEnv } from '../runtime/env.ts';
import { lambda } from '../runtime/handler.ts';

const inspectInput = z.object({
  cluster: z.string().min(1),
  service: z.string().min(1),
  container: z.string().min(1),
  image: jobImageSchema,
  /** The target (`$.target`): its `codeDeploy`, checked against the service's deployment controller. */
  delivery: z.object({ codeDeploy: codeDeploySchema.exactOptional() }),
});

const bucket = getRequiredEnv('ARTIFACTS_BUCKET');

export const handler = lambda({ name: 'Inspect', schema: inspectInput }, ({ delivery, ...input }) =>
  inspectService({ ecs, artifacts: { s3, bucket }, ...input, codeDeploy: delivery.codeDeploy }),
);
