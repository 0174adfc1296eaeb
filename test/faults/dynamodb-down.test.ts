import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OTHER_FAULTS } from './cases.ts';
import { openRunner } from './in-process.ts';

/** The local DynamoDB (the lock table) stopped: nothing is deployed, and the audit record is still written. */
let cloud: Awaited<ReturnType<typeof openRunner>>;
beforeAll(async () => {
  cloud = await openRunner();
}, 60_000);
afterAll(() => cloud.close());

describe('DynamoDB unavailable', () => {
  it(`${OTHER_FAULTS.dynamoAtLock}: FAILED with nothing deployed, its audit record written`, async () => {
    await cloud.runner.cloud.dynamo.close();
    const done = await cloud.runner.run({ repository: 'demo-app', tag: 'v5' });
    expect(done.statesEntered).toContain('AcquireLock');
    expect(done.statesEntered).not.toContain('Backup');
    expect(done.summary).toMatchObject({ outcome: 'FAILED' });
    // Record could not release the lock, but wrote the record: the audit trail in S3 has it
    expect(done.unrecorded).toBeUndefined();
    expect(await cloud.runner.readAudit(done.startDate, done.name)).toMatchObject({ outcome: 'FAILED' });
    expect(await cloud.serving()).toBe('demo-app:v1');
  });
});
