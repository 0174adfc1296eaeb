import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type LocalDynamo, startDynamo } from '../../local/dynamodb.ts';
import { type AcquireParams, acquireLock, lockHolder, releaseLock } from '../../src/core/lock.ts';
import { clearTable } from '../statemachine/fake-aws.ts';

/** The lock core against a real DynamoDB-compatible server (dynalite), with a controlled clock. */

let dynamo: LocalDynamo;
let ddb: DynamoDBClient;
const table = 'locks';
let clock = new Date('2026-11-22T10:00:00.000Z');
const now = () => clock;

beforeAll(async () => {
  dynamo = await startDynamo({ table, region: 'us-east-1' });
  ddb = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
});

afterAll(async () => {
  ddb.destroy();
  await dynamo.close();
});

beforeEach(async () => {
  await clearTable(dynamo.endpoint, table);
  clock = new Date('2026-11-22T10:00:00.000Z');
});

function ask(name: string, startedAt: string, overrides: Partial<AcquireParams> = {}) {
  return acquireLock({
    ddb,
    table,
    cluster: 'demo',
    service: 'web',
    executionName: name,
    startedAt,
    image: `web:${name}`,
    policy: 'supersede',
    leaseSeconds: 60,
    pollSeconds: 5,
    maxWaitSeconds: 600,
    now,
    ...overrides,
  });
}

describe('acquireLock', () => {
  it('gives the lock to the first, makes the second wait, and hands it over on release', async () => {
    expect((await ask('a', '2026-11-22T10:00:00.000Z')).status).toBe('ACQUIRED');
    const b = await ask('b', '2026-11-22T10:00:00.100Z');
    expect(b).toMatchObject({ status: 'WAIT', waitSeconds: 5, holder: 'a' });
    expect(await lockHolder({ ddb, table, cluster: 'demo', service: 'web', now })).toMatchObject({ execution: 'a' });
    expect(await releaseLock({ ddb, table, executionName: 'a' })).toEqual({ released: true, service: 'demo/web' });
    expect((await ask('b', '2026-11-22T10:00:00.100Z', { firstAskedAt: b.firstAskedAt })).status).toBe('ACQUIRED');
  });

  it('is idempotent for its holder (a retried or redriven AcquireLock)', async () => {
    expect((await ask('a', '2026-11-22T10:00:00.000Z')).status).toBe('ACQUIRED');
    expect((await ask('a', '2026-11-22T10:00:00.000Z')).status).toBe('ACQUIRED');
  });

  it('reject: a second execution ends at once while one holds the lock', async () => {
    await ask('a', '2026-11-22T10:00:00.000Z', { policy: 'reject' });
    const b = await ask('b', '2026-11-22T10:00:01.000Z', { policy: 'reject' });
    expect(b.status).toBe('REJECTED');
    expect(b.reason).toContain('a is deploying web:a');
  });

  it('supersede: an older waiter steps aside for a newer one', async () => {
    await ask('a', '2026-11-22T10:00:00.000Z');
    expect((await ask('b', '2026-11-22T10:00:01.000Z')).status).toBe('WAIT');
    expect((await ask('c', '2026-11-22T10:00:02.000Z')).status).toBe('WAIT');
    const b = await ask('b', '2026-11-22T10:00:01.000Z');
    expect(b).toMatchObject({ status: 'SUPERSEDED', reason: 'superseded by web:c (execution c)' });
  });

  it('queue: a newer waiter waits behind an older one even when the lock is free', async () => {
    await ask('a', '2026-11-22T10:00:00.000Z', { policy: 'queue' });
    await ask('b', '2026-11-22T10:00:01.000Z', { policy: 'queue' });
    await ask('c', '2026-11-22T10:00:02.000Z', { policy: 'queue' });
    await releaseLock({ ddb, table, executionName: 'a' });
    expect((await ask('c', '2026-11-22T10:00:02.000Z', { policy: 'queue' })).status).toBe('WAIT');
    expect((await ask('b', '2026-11-22T10:00:01.000Z', { policy: 'queue' })).status).toBe('ACQUIRED');
  });

  it('lets another execution take an expired lease', async () => {
    await ask('a', '2026-11-22T10:00:00.000Z');
    clock = new Date('2026-11-22T10:00:59.000Z');
    expect((await ask('b', '2026-11-22T10:00:30.000Z')).status).toBe('WAIT');
    clock = new Date('2026-11-22T10:01:01.000Z');
    expect((await ask('b', '2026-11-22T10:00:30.000Z')).status).toBe('ACQUIRED');
    // the crashed holder's late release does not free b's lock
    expect((await releaseLock({ ddb, table, executionName: 'a' })).released).toBe(false);
    expect(await lockHolder({ ddb, table, cluster: 'demo', service: 'web', now })).toMatchObject({ execution: 'b' });
  });

  it('gives up after maxWaitSeconds', async () => {
    await ask('a', '2026-11-22T10:00:00.000Z', { leaseSeconds: 3600 });
    const first = await ask('b', '2026-11-22T10:00:01.000Z', { maxWaitSeconds: 30 });
    clock = new Date('2026-11-22T10:00:40.000Z');
    const later = await ask('b', '2026-11-22T10:00:01.000Z', { maxWaitSeconds: 30, firstAskedAt: first.firstAskedAt });
    expect(later).toMatchObject({ status: 'GAVE_UP', reason: expect.stringMatching(/^gave up after waiting 40 s/) });
  });

  it('marks a push once: a second delivery is a DUPLICATE, the same execution asking again is not', async () => {
    const push = { repository: 'web', tag: 'v2', digest: 'sha256:abcdef0123456789' };
    expect((await ask('a', '2026-11-22T10:00:00.000Z', { push })).status).toBe('ACQUIRED');
    expect((await ask('a', '2026-11-22T10:00:00.000Z', { push })).status).toBe('ACQUIRED');
    const dup = await ask('b', '2026-11-22T10:00:00.500Z', { push });
    expect(dup).toMatchObject({
      status: 'DUPLICATE',
      reason: expect.stringContaining('already handled by execution a'),
    });
  });

  it('keeps the lock for its holder when a retried AcquireLock finds newer waiters (supersede)', async () => {
    await ask('a', '2026-11-22T10:00:00.000Z');
    await ask('b', '2026-11-22T10:00:01.000Z');
    expect((await ask('a', '2026-11-22T10:00:00.000Z')).status).toBe('ACQUIRED');
  });

  it('leaves no ghost waiter behind an execution that ended while waiting (queue)', async () => {
    await ask('a', '2026-11-22T10:00:00.000Z', { policy: 'queue' });
    await ask('b', '2026-11-22T10:00:01.000Z', { policy: 'queue' });
    await ask('c', '2026-11-22T10:00:02.000Z', { policy: 'queue' });
    // b is stopped while waiting: what ends it releases by execution name alone
    expect(await releaseLock({ ddb, table, executionName: 'b' })).toEqual({ released: false, service: 'demo/web' });
    await releaseLock({ ddb, table, executionName: 'a' });
    expect((await ask('c', '2026-11-22T10:00:02.000Z', { policy: 'queue' })).status).toBe('ACQUIRED');
  });

  it('leaves no ghost waiter after giving up', async () => {
    await ask('a', '2026-11-22T10:00:00.000Z', { policy: 'queue', leaseSeconds: 3600 });
    const b = await ask('b', '2026-11-22T10:00:01.000Z', { policy: 'queue', maxWaitSeconds: 30 });
    await ask('c', '2026-11-22T10:00:02.000Z', { policy: 'queue' });
    clock = new Date('2026-11-22T10:00:40.000Z');
    const gaveUp = await ask('b', '2026-11-22T10:00:01.000Z', {
      policy: 'queue',
      maxWaitSeconds: 30,
      firstAskedAt: b.firstAskedAt,
    });
    expect(gaveUp.status).toBe('GAVE_UP');
    await releaseLock({ ddb, table, executionName: 'a' });
    expect((await ask('c', '2026-11-22T10:00:02.000Z', { policy: 'queue' })).status).toBe('ACQUIRED');
  });
});
