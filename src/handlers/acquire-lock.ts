import middy from '@middy/core';
import type { Target } from '../config/schema.ts';
import { acquireLock, type LockResult } from '../core/lock.ts';
import type { Job } from '../core/normalize.ts';
import { ddb } from '../runtime/clients.ts';
import { getRequiredEnv } from '../runtime/env.ts';

const table = getRequiredEnv('LOCK_TABLE');

/** AcquireLock state input: the job, plus the previous answer while waiting (`$.lock`). */
export interface AcquireLockInput {
  readonly target: Target;
  readonly execution: Job['execution'];
  readonly trigger: Job['trigger'];
  readonly image: Job['image'];
  readonly previous?: Partial<LockResult>;
}

/**
 * The lease: how long a lock may be held before another execution may take it. By default long enough for the
 * slowest path an execution can take (rollout and rollback to their deadlines, health probes, the load test).
 */
export function leaseSeconds(target: Target): number {
  if (target.lock.leaseSeconds !== undefined) return target.lock.leaseSeconds;
  const health = target.health.settleSeconds + target.health.deadlineSeconds;
  const load = target.load ? target.load.durationSeconds + 60 : 0;
  return 2 * (target.rollout.deadlineSeconds + health) + load + 300;
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
