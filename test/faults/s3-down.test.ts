import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OTHER_FAULTS } from './cases.ts';
import { openRunner } from './in-process.ts';

/**
 * The local S3 stopped mid-run, as an S3 outage would: the run's outcome still reaches the local audit trail and the
 * operator is told that S3 has no record of it; the lock is free; at Backup, nothing is deployed.
 */
let cloud: Awaited<ReturnType<typeof openRunner>>;
beforeAll(async () => {
  cloud = await openRunner();
}, 60_000);
afterAll(() => cloud.close());

describe('S3 unavailable', () => {
  it(`${OTHER_FAULTS.s3AtRecord}: rolled back, lock free, the outcome kept locally and the operator told`, async () => {
    let stopped: Promise<void> | undefined;
    const done = await cloud.runner.run(
      { repository: 'demo-app', tag: 'v3-unhealthy' },
      {
        // ProbeRollback probes for a second or more: S3 is down by the time RecordRolledBack writes
        onEvent: (e) => {
          if (e.type === 'StateEntered' && e.state === 'ProbeRollback') stopped ??= cloud.runner.cloud.s3.close();
        },
      },
    );
    await stopped;
    expect(done.statesEntered).toContain('RolledBackUnrecorded');
    expect(done.summary).toMatchObject({ outcome: 'ROLLED_BACK' });
    expect(done.unrecorded).toMatch(/S3.*kept in .* only/);
    expect(await cloud.serving()).toBe('demo-app:v1');
    expect(await cloud.locksHeld(done.name)).toBe(0);
    expect(await cloud.runner.eventsOf(done.name)).toHaveLength(1); // the rollback was still published
  });

  it(`${OTHER_FAULTS.s3AtBackup}: FAILED with nothing deployed, lock free, the operator told`, async () => {
    const done = await cloud.runner.run({ repository: 'demo-app', tag: 'v5' });
    expect(done.statesEntered).toContain('Backup');
    expect(done.statesEntered).not.toContain('Register');
    expect(done.statesEntered).not.toContain('Deploy');
    expect(done.summary).toMatchObject({ outcome: 'FAILED' });
    expect(done.unrecorded).toMatch(/S3.*kept in .* only/);
    expect(await cloud.serving()).toBe('demo-app:v1');
    expect(await cloud.locksHeld(done.name)).toBe(0);
  });
});
