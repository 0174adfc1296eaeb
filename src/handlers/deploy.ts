import { z } from 'zod';
import { codeDeployDeliverySchema } from '../config/codedeploy.ts';
import { lockSchema, rolloutSchema } from '../config/schema.ts';
import { deploy } from '../core/deploy.ts';
import { codeDeploy, ecs, s3, sfn } from '../runtime/clients.ts';
import { getRequiredEnv } from '../runtime/env.ts';
import { codeDeployHooksFromEnv, gateHookFromEnv } from '../runtime/gates.ts';
import { lambda } from '../runtime/handler.ts';
import { lockConfirmer } from '../runtime/lock.ts';

const deployInput = z.object({
  cluster: z.string().min(1),
  service: z.string().min(1),
  taskDefinitionArn: z.string().min(1),
  backup: z.object({ bucket: z.string().min(1), key: z.string().min(1) }),
  rollout: rolloutSchema,
  /** This execution and the target's lock settings: the lock is confirmed before the service is touched. */
  executionName: z.string().min(1),
  image: z.string().min(1),
  lock: lockSchema,
  /**
   * The target's strategy fields (`$.target`): anything but rolling deploys through ECS's service deployments;
   * `codeDeploy` through CodeDeploy.
   */
  delivery: codeDeployDeliverySchema,
});

const bucket = getRequiredEnv('ARTIFACTS_BUCKET');

export const handler = lambda({ name: 'Deploy', schema: deployInput }, (input) =>
  deploy({
    ecs,
    s3,
    ...input,
    hook: gateHookFromEnv,
    codeDeploy: { codeDeploy, sfn, bucket, image: input.image, hooks: codeDeployHooksFromEnv },
    confirmLock: lockConfirmer(input),
  }),
);
