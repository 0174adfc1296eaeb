import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readEvents } from '../../local/eventbridge.ts';
import { ecrEvent } from '../helpers.ts';
import { NEW_TD } from '../unit/aws-fixtures.ts';
import { deployPath, type Harness, lockPath, startHarness } from './harness.ts';

/**
 * The branches no other state machine test enters: giving up on the lock, a rollback whose own rollout fails, and
 * the three `*Unrecorded` fallbacks (the audit record cannot be written, the outcome must not change).
 */

let h: Harness;

beforeAll(async () => {
  // wait at most 1 s for the lock, asking again every WaitForLock (250 ms here)
  h = await startHarness({ config: { target: { lock: { maxWaitSeconds: 1, pollSeconds: 1 } } } });
});

afterAll(async () => {
  await h?.close();
});

beforeEach(async () => {
  await h.reset();
});

const probePath = [...deployPath, 'Settle', 'ProbeHealth'];
const rollbackStart = ['Rollback', 'WaitForRollback', 'CheckRollback', 'RollbackDone'];

describe('deploy state machine: the rare branches', () => {
  it('gives up waiting for a lock another execution holds: LockTimedOut, FAILED with LockTimeout, nothing touched', async () => {
    await h.holdLock('holder-execution', 'demo-app:v0');
    const result = await h.run(ecrEvent('push'), { WaitForLock: 250 });
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('LockTimeout');
    expect(result.cause).toMatch(/waiting for the lock.*holder-execution/);
    const path = result.statesEntered;
    const firstAnswer = lockPath.indexOf('LockDecision') + 1;
    expect(path.slice(0, firstAnswer)).toEqual(lockPath.slice(0, firstAnswer));
    expect(path.slice(-4)).toEqual(['LockDecision', 'LockTimedOut', 'RecordFailed', 'Failed']);
    // in between, only the wait loop: WaitForLock, AcquireLock, LockDecision, at least once
    const loop = path.slice(firstAnswer, -3);
    expect(loop.length).toBeGreaterThanOrEqual(3);
    expect(loop.length % 3).toBe(0);
    expect(new Set(loop.filter((_, i) => i % 3 === 0))).toEqual(new Set(['WaitForLock']));
    expect(h.aws.ecsMock.calls()).toHaveLength(0);
    expect(h.auditOf(result)).toMatchObject({ outcome: 'FAILED', error: 'LockTimeout' });
  });

  it.each([
    {
      branch: 'RollbackRolloutFailed: the rollback rollout itself fails',
      setup: () => {
        h.aws.behaviour.oldRollout = 'FAILED';
      },
      error: 'RollbackFailed',
      tail: [
        ...rollbackStart,
        'RollbackRolloutFailed',
        'RecordRollbackFailed',
        'NotifyRollbackFailed',
        'RollbackFailed',
      ],
      cause:
        /^rollback failed: rollout failed: ECS reports the rollout FAILED: .*; original failure: health check failed/,
      event: { 'detail-type': 'Rollback Failed', detail: { outcome: 'FAILED', error: 'RollbackFailed' } },
      audit: { outcome: 'FAILED', error: 'RollbackFailed' },
    },
    {
      branch: 'RolledBackUnrecorded: rolled back, but the audit record cannot be written',
      setup: () => {
        h.aws.behaviour.auditWriteFails = true;
      },
      error: 'DeploymentRolledBack',
      tail: [
        ...rollbackStart,
        'ProbeRollback',
        'RecordRolledBack',
        'RolledBackUnrecorded',
        'NotifyRolledBack',
        'RolledBack',
      ],
      cause: /was not healthy within 1 s.* \(audit record not written\)$/,
      event: {
        'detail-type': 'Deployment Rolled Back',
        detail: { outcome: 'ROLLED_BACK', error: 'HealthCheckFailedError' },
      },
      audit: undefined,
    },
    {
      branch: 'RollbackFailedUnrecorded: the rollback fails and the audit record cannot be written',
      setup: () => {
        h.aws.behaviour.rollbackRejects = true;
        h.aws.behaviour.auditWriteFails = true;
      },
      error: 'RollbackFailed',
      tail: ['Rollback', 'RecordRollbackFailed', 'RollbackFailedUnrecorded', 'NotifyRollbackFailed', 'RollbackFailed'],
      cause: /^User is not authorized to perform ecs:UpdateService \(audit record not written\)$/,
      // the Pass state's summary is all Notify has: outcome, reason and the ASL's error name
      event: { 'detail-type': 'Rollback Failed', detail: { outcome: 'FAILED', error: 'RollbackFailed' } },
      audit: undefined,
    },
  ])('after a failed health check, $branch', async ({ setup, error, tail, cause, event, audit }) => {
    h.unhealthy.add(NEW_TD);
    setup();
    const result = await h.run(ecrEvent('push'));
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe(error);
    expect(result.statesEntered).toEqual([...probePath, ...tail]);
    expect(result.cause).toMatch(cause);
    const events = await readEvents(h.eventsFile);
    expect(events).toMatchObject([event]);
    expect(events[0]?.detail).toMatchObject({ reason: result.cause, executionName: result.name });
    const records = [...h.aws.objects.keys()].filter((k) => k.startsWith('audit/'));
    if (audit) expect(h.auditOf(result)).toMatchObject(audit);
    else expect(records).toEqual([]);
  });

  it('still fails with the original error when the audit record cannot be written (FailedUnrecorded)', async () => {
    h.aws.behaviour.backupWriteFails = true;
    h.aws.behaviour.auditWriteFails = true;
    const result = await h.run(ecrEvent('push'));
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('BackupFailedError');
    expect(result.statesEntered).toEqual([...lockPath, 'Backup', 'RecordFailed', 'FailedUnrecorded', 'Failed']);
    expect(result.cause).toMatch(/Access Denied.* \(audit record not written\)$/);
    expect(h.aws.updateServiceCalls()).toEqual([]);
  });
});
