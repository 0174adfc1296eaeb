import { EXECUTION_TIMEOUT_SECONDS, type LockSpec, type Target } from '../config/schema.ts';
import { confirmLock } from '../core/lock.ts';
import { ddb } from './clients.ts';
import { getRequiredEnv } from './env.ts';

/**
 * The lease: how long a lock may be held before another execution may take it. By default the state machine's own
 * timeout: an execution cannot outlive it, and the status-change rule releases an aborted or timed-out one at once.
 */
export function leaseSeconds(target: Pick<Target, 'lock'>): number {
  return target.lock.leaseSeconds ?? EXECUTION_TIMEOUT_SECONDS;
}

/** What Deploy and Rollback pass to confirm they still hold the lock (from the execution state). */
export interface LockContext {
  readonly cluster: string;
  readonly service: string;
  readonly executionName: string;
  readonly image: string;
  readonly lock: LockSpec;
}

let table: string | undefined;

/** A confirmLock bound to the lock table (LOCK_TABLE, read on first use) and this execution. */
export function lockConfirmer(ctx: LockContext): () => Promise<void> {
  table ??= getRequiredEnv('LOCK_TABLE');
  const bound = table;
  return () =>
    confirmLock({
      ddb,
      table: bound,
      cluster: ctx.cluster,
      service: ctx.service,
      executionName: ctx.executionName,
      image: ctx.image,
      leaseSeconds: leaseSeconds(ctx),
    });
}
