import { z } from 'zod';
import { targetSchema } from '../config/schema.ts';
import { acquireLock, lockStateSchema } from '../core/lock.ts';
import { executionInfoSchema, jobImageSchema, triggerSchema } from '../core/normalize.ts';
import { ddb } from '../runtime/clients.ts';
import { getRequiredEnv } from '../runtime/env.ts';
import { lambda } from '../runtime/handler.ts';
import { leaseSeconds } from '../runtime/lock.ts';

const table = getRequiredEnv('LOCK_TABLE');

/** AcquireLock state input: the job, plus `$.lock` (InitLock's NONE, then the previous answer while waiting). */
const acquireLockInput = z.object({
  target: targetSchema,
  execution: executionInfoSchema,
  trigger: triggerSchema,
  image: jobImageSchema,
  previous: lockStateSchema,
});

export const handler = lambda(
  { name: 'AcquireLock', schema: acquireLockInput },
  ({ target, execution, trigger, image, previous }) =>
    acquireLock({
      ddb,
      table,
      cluster: target.cluster,
      service: target.service,
      executionName: execution.name,
      startedAt: execution.startedAt,
      image: image.display,
      policy: target.lock.policy,
      leaseSeconds: leaseSeconds(target),
      pollSeconds: target.lock.pollSeconds,
      maxWaitSeconds: target.lock.maxWaitSeconds,
      ...(previous.status !== 'NONE' ? { firstAskedAt: previous.firstAskedAt } : {}),
      ...(trigger.type === 'push' && image.tag && image.digest
        ? { push: { repository: image.repository, tag: image.tag, digest: image.digest } }
        : {}),
    }),
);
