import middy from '@middy/core';
import type { Target } from '../config/schema.ts';
import { acquireLock, type LockResult } from '../core/lock.ts';
import type { Job } from '../core/normalize.ts';
import { ddb } from '../runtime/clients.ts';
import { getRequiredEnv } from '../runtime/env.ts';
import { leaseSeconds } from '../runtime/lock.ts';

const table = getRequiredEnv('LOCK_TABLE');

/** AcquireLock state input: the job, plus the previous answer while waiting (`$.lock`). */
export interface AcquireLockInput {
  readonly target: Target;
  readonly execution: Job['execution'];
  readonly trigger: Job['trigger'];
  readonly image: Job['image'];
  readonly previous?: Partial<LockResult>;
}

export const handler = middy<AcquireLockInput, LockResult>().handler(
  async ({ target, execution, trigger, image, previous }) =>
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
      ...(previous?.firstAskedAt ? { firstAskedAt: previous.firstAskedAt } : {}),
      ...(trigger.type === 'push' && image.tag && image.digest
        ? { push: { repository: image.repository, tag: image.tag, digest: image.digest } }
        : {}),
    }),
);
