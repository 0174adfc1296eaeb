import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { LockLostError } from './errors.ts';
import {
  executionLockPk,
  LOCK_SK,
  PUSH_SEEN_SK,
  pushSeenPk,
  serviceLockPk,
  serviceOfLockPk,
  WAITER_SK_PREFIX,
  waiterSk,
} from './naming.ts';

/**
 * The per-service deploy lock in DynamoDB. Step Functions has no lock between executions, EventBridge delivers at
 * least once, and anyone can start an execution from the console: this is what keeps two deploys of one service from
 * overlapping. One table, key (pk, sk):
 *
 * - `service#<cluster>/<service>` / `lock`: the holder (execution, image, lease expiry);
 * - `service#<cluster>/<service>` / `wait#<startedAt>#<execution>`: an execution waiting for the lock;
 * - `execution#<name>` / `lock`: the service an execution waits for or holds, and its waiter key, written when it
 *   first asks, so that whatever ends it (Record, or the status-change rule after an abort) finds what to release;
 * - `push#<repository>:<tag>@<digest>` / `seen`: a push already handled (duplicate deliveries are ignored).
 *
 * Every write is conditional; time is epoch seconds in `expiresAt` (the table's TTL attribute).
 */

/** What to do when the service is already being deployed (rollgate.config.yml `lock.policy`). */
export type LockPolicy = 'supersede' | 'queue' | 'reject';

/** AcquireLock's answer (`$.lock`); the LockDecision Choice state branches on `status`. */
export const lockResultSchema = z.object({
  status: z.enum(['ACQUIRED', 'WAIT', 'SUPERSEDED', 'REJECTED', 'DUPLICATE', 'GAVE_UP']),
  reason: z.string().exactOptional(),
  /** For WAIT: seconds the WaitForLock state waits before asking again. */
  waitSeconds: z.number().int().min(0),
  /** When this execution first asked (ISO): the start of its wait. */
  firstAskedAt: z.string().min(1),
  holder: z.string().exactOptional(),
});
export type LockResult = Readonly<z.output<typeof lockResultSchema>>;

/**
 * `$.lock` as AcquireLock reads it back (`previous`): the InitLock Pass state's `{status: "NONE"}` before the first
 * ask, then AcquireLock's last answer.
 */
export const lockStateSchema = z.discriminatedUnion('status', [
  z.object({ status: z.literal('NONE') }).strict(),
  lockResultSchema,
]);

export interface LockParams {
  readonly ddb: DynamoDBClient;
  readonly table: string;
  readonly cluster: string;
  readonly service: string;
  readonly executionName: string;
  /** The execution's start (ISO): waiters are ordered by it, newest push last. */
  readonly startedAt: string;
  readonly image: string;
  readonly now?: () => Date;
}

export interface AcquireParams extends LockParams {
  readonly policy: LockPolicy;
  readonly leaseSeconds: number;
  readonly pollSeconds: number;
  readonly maxWaitSeconds: number;
  /** Set on the first ask; carried in the state on later ones. */
  readonly firstAskedAt?: string;
  /** For pushes: the digest-pinned identity of the push, so a second delivery of it deploys nothing. */
  readonly push?: { readonly repository: string; readonly tag: string; readonly digest: string };
}

const S = (value: string) => ({ S: value });
const N = (value: number) => ({ N: String(value) });
const epoch = (d: Date) => Math.floor(d.getTime() / 1000);

/**
 * The execution's marker: which service's lock it waits for or holds (and its waiter entry while waiting), so that
 * whatever ends the execution (Record, the status-change rule) can release it.
 */
function putExecutionMarker(
  ddb: DynamoDBClient,
  table: string,
  executionName: string,
  marker: { readonly service: string; readonly waiter?: string; readonly expiresAt: number },
) {
  return ddb.send(
    new PutItemCommand({
      TableName: table,
      Item: {
        pk: S(executionLockPk(executionName)),
        sk: S(LOCK_SK),
        service: S(marker.service),
        ...(marker.waiter ? { waiter: S(marker.waiter) } : {}),
        expiresAt: N(marker.expiresAt),
      },
    }),
  );
}

function serviceKey(p: Pick<LockParams, 'cluster' | 'service'>) {
  return serviceLockPk(p.cluster, p.service);
}

function waiterKey(p: Pick<LockParams, 'startedAt' | 'executionName'>) {
  return waiterSk(p.startedAt, p.executionName);
}

/** Takes the service's lock for this execution if it is free, expired or already its own; false otherwise. */
function putLock(
  params: Pick<LockParams, 'ddb' | 'table' | 'cluster' | 'service' | 'executionName' | 'image'>,
  now: Date,
  expiresAt: number,
): Promise<boolean> {
  return conditional(() =>
    params.ddb.send(
      new PutItemCommand({
        TableName: params.table,
        Item: {
          pk: S(serviceKey(params)),
          sk: S(LOCK_SK),
          execution: S(params.executionName),
          image: S(params.image),
          acquiredAt: S(now.toISOString()),
          expiresAt: N(expiresAt),
        },
        ConditionExpression: 'attribute_not_exists(pk) OR execution = :me OR expiresAt < :now',
        ExpressionAttributeValues: { ':me': S(params.executionName), ':now': N(epoch(now)) },
      }),
    ),
  );
}

async function conditional<T>(fn: () => Promise<T>): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException || (err as Error).name === 'ConditionalCheckFailedException') {
      return false;
    }
    throw err;
  }
}

/**
 * One attempt to take the lock, following the policy. Safe to call again after a retry or a redrive: every write is
 * keyed by the execution and conditional on it.
 */
export async function acquireLock(params: AcquireParams): Promise<LockResult> {
  const { ddb, table, executionName, image, policy } = params;
  const now = params.now?.() ?? new Date();
  const firstAskedAt = params.firstAskedAt ?? now.toISOString();
  const base = { firstAskedAt, waitSeconds: params.pollSeconds };
  const pk = serviceKey(params);
  const lease = epoch(now) + params.leaseSeconds;

  if (params.push) {
    const { repository, tag, digest } = params.push;
    const first = await conditional(() =>
      ddb.send(
        new PutItemCommand({
          TableName: table,
          Item: {
            pk: S(pushSeenPk({ repository, tag, digest })),
            sk: S(PUSH_SEEN_SK),
            execution: S(executionName),
            expiresAt: N(epoch(now) + 7 * 86_400),
          },
          ConditionExpression: 'attribute_not_exists(pk) OR execution = :me',
          ExpressionAttributeValues: { ':me': S(executionName) },
        }),
      ),
    );
    if (!first) {
      const seen = await ddb.send(
        new GetItemCommand({
          TableName: table,
          Key: { pk: S(pushSeenPk({ repository, tag, digest })), sk: S(PUSH_SEEN_SK) },
        }),
      );
      return {
        ...base,
        status: 'DUPLICATE',
        reason: `duplicate delivery of the push of ${repository}:${tag}@${digest.slice(0, 19)}: already handled by execution ${seen.Item?.execution?.S ?? '?'}`,
      };
    }
  }

  const me = waiterKey(params);
  const leave = () => ddb.send(new DeleteItemCommand({ TableName: table, Key: { pk: S(pk), sk: S(me) } }));
  // Where this execution waits or holds, for whatever ends it (written first: an abort at any point is released).
  await putExecutionMarker(ddb, table, executionName, { service: pk, waiter: me, expiresAt: lease });
  // A retried AcquireLock of the holder: it holds the lock, whatever the waiters say.
  const held = await ddb.send(
    new GetItemCommand({ TableName: table, Key: { pk: S(pk), sk: S(LOCK_SK) }, ConsistentRead: true }),
  );
  if (held.Item?.execution?.S === executionName && Number(held.Item.expiresAt?.N ?? 0) >= epoch(now)) {
    await leave();
    return {
      ...base,
      status: 'ACQUIRED',
      reason: `lock on ${params.cluster}/${params.service} already held by this execution`,
    };
  }
  // Register (or refresh) this execution as a waiter, then look at the lock and the other waiters in one query.
  await ddb.send(
    new PutItemCommand({
      TableName: table,
      Item: { pk: S(pk), sk: S(me), execution: S(executionName), image: S(image), expiresAt: N(lease) },
    }),
  );
  const items =
    (
      await ddb.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': S(pk) },
          ConsistentRead: true,
        }),
      )
    ).Items ?? [];
  const live = items.filter((i) => Number(i.expiresAt?.N ?? 0) >= epoch(now));
  const holder = live.find((i) => i.sk?.S === 'lock' && i.execution?.S !== executionName);
  const waiters = live.filter((i) => i.sk?.S?.startsWith(WAITER_SK_PREFIX) && i.sk.S !== me);
  const holding = holder ? ` (${holder.execution?.S} is deploying ${holder.image?.S})` : '';

  if (policy === 'supersede') {
    const newer = waiters
      .filter((w) => (w.sk?.S ?? '') > me)
      .sort((a, b) => (b.sk?.S ?? '').localeCompare(a.sk?.S ?? ''))[0];
    if (newer) {
      await leave();
      return {
        ...base,
        status: 'SUPERSEDED',
        reason: `superseded by ${newer.image?.S} (execution ${newer.execution?.S})`,
      };
    }
  }
  if (policy === 'reject' && holder) {
    await leave();
    return {
      ...base,
      status: 'REJECTED',
      reason: `rejected: the service is being deployed${holding} and the lock policy is reject`,
    };
  }
  if (policy === 'queue') {
    const older = waiters.some((w) => (w.sk?.S ?? '') < me);
    if (older || holder)
      return waitOrGiveUp(
        params,
        base,
        now,
        `queued behind ${older ? 'earlier executions' : 'the running deploy'}${holding}`,
        holder?.execution?.S,
      );
  }
  if (holder) return waitOrGiveUp(params, base, now, `waiting for the lock${holding}`, holder.execution?.S);

  const acquired = await putLock(params, now, lease);
  if (!acquired) return waitOrGiveUp(params, base, now, 'waiting for the lock (taken meanwhile)', undefined);
  await leave();
  return {
    ...base,
    status: 'ACQUIRED',
    reason: `lock on ${params.cluster}/${params.service} held until ${new Date(lease * 1000).toISOString()}`,
  };
}

async function waitOrGiveUp(
  params: AcquireParams,
  base: { firstAskedAt: string; waitSeconds: number },
  now: Date,
  reason: string,
  holder: string | undefined,
): Promise<LockResult> {
  const waited = (now.getTime() - Date.parse(base.firstAskedAt)) / 1000;
  const who = holder ? { holder } : {};
  if (waited >= params.maxWaitSeconds) {
    await params.ddb.send(
      new DeleteItemCommand({ TableName: params.table, Key: { pk: S(serviceKey(params)), sk: S(waiterKey(params)) } }),
    );
    return {
      ...base,
      ...who,
      status: 'GAVE_UP',
      reason: `gave up after waiting ${Math.round(waited)} s for the lock: ${reason}`,
    };
  }
  return { ...base, ...who, status: 'WAIT', reason };
}

/**
 * Releases what an execution holds: the lock if it is the holder, its waiter entry, its reverse entry. Idempotent,
 * called on every terminal path (the Record states) and for aborted or timed-out executions.
 */
export async function releaseLock(
  params: Omit<LockParams, 'image' | 'cluster' | 'service' | 'startedAt'> & {
    readonly startedAt?: string;
  },
): Promise<{ released: boolean; service?: string }> {
  const { ddb, table, executionName } = params;
  const reverse = await ddb.send(
    new GetItemCommand({
      TableName: table,
      Key: { pk: S(executionLockPk(executionName)), sk: S(LOCK_SK) },
      ConsistentRead: true,
    }),
  );
  const pk = reverse.Item?.service?.S;
  let released = false;
  if (pk) {
    released = await conditional(() =>
      ddb.send(
        new DeleteItemCommand({
          TableName: table,
          Key: { pk: S(pk), sk: S(LOCK_SK) },
          ConditionExpression: 'execution = :me',
          ExpressionAttributeValues: { ':me': S(executionName) },
        }),
      ),
    );
    await ddb.send(
      new DeleteItemCommand({ TableName: table, Key: { pk: S(executionLockPk(executionName)), sk: S(LOCK_SK) } }),
    );
  }
  // its waiter entry, by the key stored when it first asked (no need to rebuild the start time byte for byte)
  const waiter =
    reverse.Item?.waiter?.S ??
    (params.startedAt ? waiterKey({ startedAt: params.startedAt, executionName }) : undefined);
  if (pk && waiter) {
    await ddb.send(new DeleteItemCommand({ TableName: table, Key: { pk: S(pk), sk: S(waiter) } }));
  }
  return { released, ...(pk ? { service: serviceOfLockPk(pk) } : {}) };
}

/** The holder of a service's lock, if any and not expired (for the CLI and tests). */
export async function lockHolder(
  params: Pick<LockParams, 'ddb' | 'table' | 'cluster' | 'service' | 'now'>,
): Promise<{ execution: string; image: string; expiresAt: number } | undefined> {
  const out = await params.ddb.send(
    new GetItemCommand({
      TableName: params.table,
      Key: { pk: S(serviceKey(params)), sk: S(LOCK_SK) },
      ConsistentRead: true,
    }),
  );
  const item = out.Item;
  const expiresAt = Number(item?.expiresAt?.N ?? 0);
  if (!item || expiresAt < epoch(params.now?.() ?? new Date())) return undefined;
  return { execution: item.execution?.S ?? '', image: item.image?.S ?? '', expiresAt };
}

/**
 * Confirms (and renews) that this execution holds the service's lock, taking it again only if it is free or expired.
 * Deploy and Rollback call it first: a redriven execution resumes after AcquireLock, and its lock may have been
 * released when it failed; it must not change a service another execution is deploying meanwhile.
 */
export async function confirmLock(params: {
  readonly ddb: DynamoDBClient;
  readonly table: string;
  readonly cluster: string;
  readonly service: string;
  readonly executionName: string;
  readonly image: string;
  readonly leaseSeconds: number;
  readonly now?: () => Date;
}): Promise<void> {
  const { ddb, table, executionName } = params;
  const now = params.now?.() ?? new Date();
  const pk = serviceKey(params);
  const held = await putLock(params, now, epoch(now) + params.leaseSeconds);
  if (!held) {
    const holder = await lockHolder(params);
    throw new LockLostError(
      `${params.cluster}/${params.service} is locked by execution ${holder?.execution ?? '?'} (${holder?.image ?? '?'}): this execution no longer holds the deploy lock (resumed by a redrive?) and leaves the service alone`,
    );
  }
  await putExecutionMarker(ddb, table, executionName, { service: pk, expiresAt: epoch(now) + params.leaseSeconds });
}
