import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/core/audit.ts';
import {
  type Classification,
  classify,
  computeMetrics,
  humanDuration,
  type MetricsRecord,
  percentile,
  renderMetrics,
} from '../../src/core/metrics.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

let n = 0;
/** A record of prod/<service>; times are `2026-11-DDTHH:MM` UTC. */
function rec(
  service: 'web' | 'api',
  outcome: MetricsRecord['outcome'],
  startedAt: string,
  endedAt: string,
  extra: Partial<MetricsRecord> = {},
): MetricsRecord {
  n++;
  return {
    executionName: `${service}-${n}`,
    outcome,
    cluster: 'prod',
    service,
    trigger: { type: 'push' },
    startedAt: `${startedAt}:00.000Z`,
    endedAt: `${endedAt}:00.000Z`,
    ...extra,
  };
}
const push = (eventTime: string) => ({ trigger: { type: 'push' as const, eventTime: `${eventTime}:00Z` } });
const manual = { trigger: { type: 'manual' as const } };
const changed = { backupKey: 'backups/x.json', newTaskDefinitionArn: 'arn:aws:ecs:eu-west-1:1:task-definition/x:2' };

// The window: 10 days, [2026-11-01T00:00Z, 2026-11-11T00:00Z].
const since = new Date('2026-11-01T00:00:00.000Z');
const until = new Date('2026-11-11T00:00:00.000Z');

const history: MetricsRecord[] = [
  // #0 before the window: not counted anywhere
  rec('web', 'DEPLOYED', '2026-10-31T10:00', '2026-10-31T10:05', { ...push('2026-10-31T09:59'), ...changed }),
  // #1 web deploy, pushed 09:58, healthy 10:10: lead 12 min
  rec('web', 'DEPLOYED', '2026-11-01T10:00', '2026-11-01T10:10', { ...push('2026-11-01T09:58'), ...changed }),
  // #2 web push ignored (tag filtered): not a deployment
  rec('web', 'IGNORED', '2026-11-02T08:00', '2026-11-02T08:00', push('2026-11-02T08:00')),
  // #3 web rolled back: failed change, restored 20 min after it started
  rec('web', 'ROLLED_BACK', '2026-11-03T12:00', '2026-11-03T12:20', {
    ...push('2026-11-03T11:59'),
    ...changed,
    error: 'HealthCheckFailedError',
  }),
  // #4 web deploy, pushed 13:00, healthy 13:10: lead 10 min
  rec('web', 'DEPLOYED', '2026-11-03T13:02', '2026-11-03T13:10', { ...push('2026-11-03T13:00'), ...changed }),
  // #5 api failed before anything changed (no backup): not an attempt
  rec('api', 'FAILED', '2026-11-04T09:00', '2026-11-04T09:01', { error: 'TargetNotFoundError' }),
  // #6 api manual deploy: lead from its start, 30 min
  rec('api', 'DEPLOYED', '2026-11-04T10:00', '2026-11-04T10:30', { ...manual, ...changed }),
  // #7 api rollback failed at 14:00: a failed change, restored by #9 (ended 17:20): 3 h 20 min
  rec('api', 'FAILED', '2026-11-05T14:00', '2026-11-05T14:40', {
    ...push('2026-11-05T13:59'),
    ...changed,
    error: 'RollbackFailed',
  }),
  // #9 api deploy (the fix), pushed 16:45, healthy 17:20: lead 35 min
  rec('api', 'DEPLOYED', '2026-11-05T17:00', '2026-11-05T17:20', { ...push('2026-11-05T16:45'), ...changed }),
  // #5b api: Deploy refused, the backup was unreadable (a new revision exists, the service untouched): not an attempt
  rec('api', 'FAILED', '2026-11-06T08:00', '2026-11-06T08:01', { ...changed, error: 'BackupFailedError' }),
  // #8 web deploy from a push without an event time: counted as a deploy, left out of lead time
  rec('web', 'DEPLOYED', '2026-11-06T10:00', '2026-11-06T10:25', { ...changed }),
  // #10 web manual run rolled back: failed change, restored in 15 min
  rec('web', 'ROLLED_BACK', '2026-11-08T10:00', '2026-11-08T10:15', { ...manual, ...changed, error: 'RolloutFailed' }),
  // #11 api rollback failed, nothing deployed since: open
  rec('api', 'FAILED', '2026-11-09T10:00', '2026-11-09T10:30', { ...changed, error: 'RollbackFailed' }),
  // an execution that resolved no target (FAILED in Normalize): no service, not counted
  {
    executionName: 'bad-input',
    outcome: 'FAILED',
    error: 'InvalidInputError',
    trigger: { type: 'unknown' },
    startedAt: '2026-11-07T00:00:00.000Z',
    endedAt: '2026-11-07T00:00:01.000Z',
  },
];

describe('classify', () => {
  it.each<[string, Partial<MetricsRecord>, Classification]>([
    ['DEPLOYED', { outcome: 'DEPLOYED' }, 'deployed'],
    ['IGNORED', { outcome: 'IGNORED' }, 'ignored'],
    ['ALREADY_DEPLOYED', { outcome: 'ALREADY_DEPLOYED' }, 'ignored'],
    ['ROLLED_BACK', { outcome: 'ROLLED_BACK', ...changed }, 'failed-change'],
    ['FAILED RollbackFailed', { outcome: 'FAILED', error: 'RollbackFailed' }, 'failed-change'],
    ['FAILED after Register', { outcome: 'FAILED', error: 'States.Timeout', ...changed }, 'failed-change'],
    [
      'FAILED: Deploy refused (backup unreadable)',
      { outcome: 'FAILED', error: 'BackupFailedError', ...changed },
      'no-change',
    ],
    ['FAILED after the backup only', { outcome: 'FAILED', error: 'ClientException', backupKey: 'b' }, 'no-change'],
    ['FAILED before anything', { outcome: 'FAILED', error: 'InvalidInputError' }, 'no-change'],
  ])('%s', (_label, overrides, expected) => {
    const base = rec('web', 'DEPLOYED', '2026-11-01T00:00', '2026-11-01T00:01');
    expect(classify({ ...base, ...overrides })).toBe(expected);
  });
});

describe('percentile', () => {
  it('interpolates linearly between closest ranks', () => {
    expect(percentile([], 0.5)).toBeNull();
    expect(percentile([7], 0.9)).toBe(7);
    expect(percentile([4, 1, 3, 2], 0.5)).toBe(2.5);
    expect(percentile([10, 20], 0.9)).toBe(19);
  });
});

describe('computeMetrics', () => {
  const report = computeMetrics({ records: history, since, until });

  it('reports the window', () => {
    expect(report.since).toBe('2026-11-01T00:00:00.000Z');
    expect(report.until).toBe('2026-11-11T00:00:00.000Z');
    expect(report.days).toBe(10);
    expect(Object.keys(report.services)).toEqual(['prod/api', 'prod/web']);
  });

  it('computes prod/web by hand', () => {
    // deploys #1 #4 #8 (not #0: before the window) -> 3, 3 / 10 days
    // leads: #1 12 min, #4 10 min (#8 has no push time) -> sorted [10, 12] min
    //   median (10 + 12) / 2 = 11 min; p90 = 10 + 0.9 * (12 - 10) = 11.8 min
    // failed changes #3 #10; attempts 3 + 2 = 5; CFR 2 / 5
    // restore: #3 20 min, #10 15 min -> mean = median = 17.5 min
    // between failures: 11-08T10:00 - 11-03T12:00 = 4 d 22 h = 118 h
    expect(report.services['prod/web']).toEqual({
      deployments: { count: 3, perDay: 0.3 },
      leadTime: { count: 2, fromPush: 2, fromStart: 0, missing: 1, medianMs: 11 * MIN, p90Ms: 11.8 * MIN },
      changeFailureRate: { failed: 2, attempts: 5, rate: 0.4 },
      timeToRestore: {
        failures: 2,
        restored: 2,
        open: 0,
        meanMs: 17.5 * MIN,
        medianMs: 17.5 * MIN,
        openExecutions: [],
      },
      meanTimeBetweenFailuresMs: 118 * HOUR,
      notCounted: { ignored: 1, failedWithoutChange: 0 },
    });
  });

  it('computes prod/api by hand', () => {
    const api = history.filter((r) => r.service === 'api');
    const [, manualDeploy, firstRollbackFailed, , , secondRollbackFailed] = api;
    expect(manualDeploy?.trigger.type).toBe('manual');
    // deploys #6 #9 -> 2, 0.2/day
    // leads: #6 manual 30 min (from its start), #9 35 min -> median 32.5 min; p90 = 30 + 0.9 * 5 = 34.5 min
    // failed changes #7 #11 (RollbackFailed); #5 and #5b changed nothing; attempts 2 + 2 = 4; CFR 0.5
    // restore: #7 until #9 ended, 17:20 - 14:00 = 200 min; #11 open
    // between failures: 11-09T10:00 - 11-05T14:00 = 3 d 20 h = 92 h
    expect(report.services['prod/api']).toEqual({
      deployments: { count: 2, perDay: 0.2 },
      leadTime: { count: 2, fromPush: 1, fromStart: 1, missing: 0, medianMs: 32.5 * MIN, p90Ms: 34.5 * MIN },
      changeFailureRate: { failed: 2, attempts: 4, rate: 0.5 },
      timeToRestore: {
        failures: 2,
        restored: 1,
        open: 1,
        meanMs: 200 * MIN,
        medianMs: 200 * MIN,
        openExecutions: [secondRollbackFailed?.executionName],
      },
      meanTimeBetweenFailuresMs: 92 * HOUR,
      notCounted: { ignored: 0, failedWithoutChange: 2 },
    });
    expect(firstRollbackFailed?.error).toBe('RollbackFailed');
  });

  it('computes all services by hand', () => {
    // deploys 3 + 2 = 5 -> 0.5/day
    // leads [10, 12, 30, 35] min: median (12 + 30) / 2 = 21 min; p90 at rank 0.9 * 3 = 2.7: 30 + 0.7 * 5 = 33.5 min
    // failed changes 4 of 9 attempts
    // restore [20, 200, 15] min, 1 open: mean 235 / 3 min, median 20 min
    // between failures: #3 11-03T12:00 .. #11 11-09T10:00 = 5 d 22 h = 142 h over 3 gaps
    // not counted: #2 ignored; #5, #5b and the no-target FAILED changed nothing
    expect(report.overall).toEqual({
      deployments: { count: 5, perDay: 0.5 },
      leadTime: { count: 4, fromPush: 3, fromStart: 1, missing: 1, medianMs: 21 * MIN, p90Ms: 33.5 * MIN },
      changeFailureRate: { failed: 4, attempts: 9, rate: 4 / 9 },
      timeToRestore: {
        failures: 4,
        restored: 3,
        open: 1,
        meanMs: (235 * MIN) / 3,
        medianMs: 20 * MIN,
        openExecutions: [report.services['prod/api']?.timeToRestore.openExecutions[0]],
      },
      meanTimeBetweenFailuresMs: (142 * HOUR) / 3,
      notCounted: { ignored: 1, failedWithoutChange: 3 },
    });
  });

  it('finds the deploy that restored a RollbackFailed after the window, and counts nothing else from there', () => {
    const records = [
      rec('api', 'FAILED', '2026-11-10T20:00', '2026-11-10T20:30', { ...changed, error: 'RollbackFailed' }),
      rec('api', 'DEPLOYED', '2026-11-11T09:00', '2026-11-11T09:30', { ...manual, ...changed }),
    ];
    const r = computeMetrics({ records, since, until });
    // 11-11T09:30 - 11-10T20:00 = 13.5 h; the fix itself is outside the window
    expect(r.overall.timeToRestore).toMatchObject({ restored: 1, open: 0, meanMs: 13.5 * HOUR });
    expect(r.overall.deployments.count).toBe(0);
  });

  it('counts a redriven execution once (its latest record)', () => {
    const first = rec('web', 'FAILED', '2026-11-02T10:00', '2026-11-02T10:05', { error: 'States.Timeout' });
    const redriven = { ...first, outcome: 'DEPLOYED' as const, endedAt: '2026-11-02T11:00:00.000Z', ...changed };
    const r = computeMetrics({ records: [redriven, first], since, until });
    expect(r.overall.deployments.count).toBe(1);
    expect(r.overall.notCounted.failedWithoutChange).toBe(0);
  });

  it('reads audit records as they are', () => {
    const audit: AuditRecord = {
      schema: 'rollgate.audit.v1',
      executionName: 'e1',
      executionId: 'arn:aws:states:eu-west-1:123456789012:execution:rollgate-deploy-prod:e1',
      outcome: 'DEPLOYED',
      reason: 'rollout completed',
      trigger: { type: 'push', eventId: 'id', eventTime: '2026-11-02T09:59:00Z' },
      cluster: 'prod',
      service: 'web',
      startedAt: '2026-11-02T10:00:00.000Z',
      endedAt: '2026-11-02T10:04:00.000Z',
      durationMs: 240_000,
    };
    expect(computeMetrics({ records: [audit], since, until }).overall.leadTime.medianMs).toBe(5 * MIN);
  });

  it('has n/a figures with no history, and refuses an empty window', () => {
    const r = computeMetrics({ records: [], since, until });
    expect(r.overall.changeFailureRate.rate).toBeNull();
    expect(r.overall.leadTime.medianMs).toBeNull();
    expect(r.overall.meanTimeBetweenFailuresMs).toBeNull();
    expect(() => computeMetrics({ records: [], since: until, until: since })).toThrow(RangeError);
  });
});

describe('renderMetrics', () => {
  it('prints each figure, overall then per service', () => {
    const text = renderMetrics(computeMetrics({ records: history, since, until }));
    expect(text).toContain('DORA metrics 2026-11-01T00:00:00.000Z .. 2026-11-11T00:00:00.000Z (10.0 days)');
    expect(text).toContain('deployment frequency   5 deploy(s), 0.50/day');
    expect(text).toContain('lead time              median 21 min, p90 34 min');
    expect(text).toContain('change failure rate    44.4% (4 failed of 9 attempt(s))');
    expect(text).toMatch(/time to restore {8}mean 1.3 h, median 20 min \(3 restored, 1 OPEN: api-\d+\)/);
    expect(text.indexOf('all services')).toBeLessThan(text.indexOf('prod/api'));
    expect(text.indexOf('prod/api')).toBeLessThan(text.indexOf('prod/web'));
  });

  it.each([
    [null, 'n/a'],
    [42_000, '42 s'],
    [12 * MIN, '12 min'],
    [3.5 * HOUR, '3.5 h'],
    [50 * HOUR, '2.1 d'],
  ])('humanDuration(%s) = %s', (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });
});
