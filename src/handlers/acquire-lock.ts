import middy from '@middy/core';
import { EXECUTION_TIMEOUT_SECONDS, type Target } from '../config/schema.ts';
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
 * The lease: how long a lock may be held before another execution may take it. By default the state machine's own
 * timeout: an execution cannot outlive it, and the status-change rule releases an aborted or timed-out one at once.
 */
export function leaseSeconds(target: Target): number {
  return target.lock.leaseSeconds ?? EXECUTION_TIMEOUT_SECONDS;
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
