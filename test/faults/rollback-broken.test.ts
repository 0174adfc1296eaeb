import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OTHER_FAULTS } from './cases.ts';
import { openRunner } from './in-process.ts';

/**
 * The rollback target broken too: the version to roll back to (v2, pinned by digest) was deleted from the registry,
 * so its tasks cannot start. rollgate ends in RollbackFailed, publishes its event and records it; the lock is free.
 */
let cloud: Awaited<ReturnType<typeof openRunner>>;
beforeAll(async () => {
  cloud = await openRunner();
}, 60_000);
afterAll(() => cloud.close());

describe('rollback target broken', () => {
  it(`${OTHER_FAULTS.rollbackBroken}: RollbackFailed, its event, its record, the lock free`, async () => {
    const push = JSON.parse(readFileSync('test/fixtures/events/ecr/push.json', 'utf8'));
    expect((await cloud.runner.run(push)).summary.outcome).toBe('DEPLOYED');
    // the image v2 runs by digest is deleted from the (local) ECR
    const registry = path.join(cloud.env.stateDir, 'registry.json');
    const pushed = JSON.parse(readFileSync(registry, 'utf8')) as { images: { tag: string }[] };
    writeFileSync(registry, JSON.stringify({ images: pushed.images.filter((i) => i.tag !== 'v2') }));

    const done = await cloud.runner.run({ repository: 'demo-app', tag: 'v3-unhealthy' });
    expect(done).toMatchObject({ status: 'FAILED', error: 'RollbackFailed' });
    expect(done.statesEntered).toContain('RecordRollbackFailed');
    expect(done.summary).toMatchObject({ outcome: 'FAILED', error: 'RollbackFailed' });
    expect(done.unrecorded).toBeUndefined();
    expect(await cloud.runner.readAudit(done.startDate, done.name)).toMatchObject({ error: 'RollbackFailed' });
    const events = await cloud.runner.eventsOf(done.name);
    expect(events).toHaveLength(1);
    expect(events[0]).toContain('Rollback Failed');
    expect(await cloud.locksHeld(done.name)).toBe(0);
  }, 180_000);
});
