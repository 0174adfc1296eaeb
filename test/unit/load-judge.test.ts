import { S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { aggregate } from '../../loadgen/aggregate.ts';
import type { LoadReport } from '../../loadgen/types.ts';
import { defaultJudge } from '../../src/config/judge.ts';
import { loadSchema } from '../../src/config/schema.ts';
import { type AuditRecord, auditRecord, writeAuditRecord } from '../../src/core/audit.ts';
import { judgeLoad } from '../../src/core/load-judge.ts';
import { pairedBaseline, planLoad } from '../../src/core/load-test.ts';
import { fakeResult, prng } from '../loadgen/helpers.ts';
import { memoryBucket } from './s3-fake.ts';

const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: 'us-east-1' });
let objects: Map<string, string>;
beforeEach(() => {
  s3Mock.reset();
  objects = memoryBucket(s3Mock);
});

/** A report of `n` latencies around `medianUs` (deterministic spread). */
function reportOf(medianUs: number, n = 300, seed = 1): LoadReport {
  const r = prng(seed);
  return aggregate([
    fakeResult(
      0,
      Array.from({ length: n }, () => Math.round(medianUs * (0.8 + 0.4 * r()))),
    ),
  ]);
}

async function deployed(name: string, startedAt: string, report: LoadReport, extra: Partial<AuditRecord> = {}) {
  const reportKey = `reports/demo/web/${name}/report.json`;
  objects.set(reportKey, JSON.stringify(report));
  await writeAuditRecord(
    { s3, bucket: 'b' },
    auditRecord(
      {
        executionName: name,
        executionId: `arn:${name}`,
        outcome: 'DEPLOYED',
        reason: 'ok',
        trigger: { type: 'unknown' },
        cluster: 'demo',
        service: 'web',
        reportKey,
        startedAt,
        ...extra,
      },
      new Date(Date.parse(startedAt) + 60_000),
    ),
  );
}

const common = { s3, bucket: 'b', service: 'demo/web', executionName: 'now-1', now: new Date('2026-03-10T12:00:00Z') };

describe('the judge across time (no second route)', () => {
  it('compares with the newest DEPLOYED report of the same service and load settings, and says so', async () => {
    await deployed('old-1', '2026-03-09T10:00:00.000Z', reportOf(20_000, 300, 2));
    await deployed('old-2', '2026-03-10T09:00:00.000Z', reportOf(20_000, 300, 3));
    await deployed('rolled', '2026-03-10T10:00:00.000Z', reportOf(90_000), { outcome: 'ROLLED_BACK' });
    const d = await judgeLoad({ ...common, report: reportOf(26_000, 300, 4), spec: defaultJudge() });
    expect(d.report.comparison).toBe('across-time');
    expect(d.report.baseline.execution).toBe('old-2');
    expect(d.report.verdict).toBe('Fail');
    expect(d.passed).toBe(false);
    expect(d.report.reason).toMatch(/across time: against the last DEPLOYED execution old-2 .*not the same moment/);
    expect(d.report.baseline.latencyUs).toBeTruthy();
    const same = await judgeLoad({ ...common, report: reportOf(20_000, 300, 5), spec: defaultJudge() });
    expect(same.report.verdict).toBe('Pass');
  });

  it('skips (and says why) when no DEPLOYED report has the same load settings', async () => {
    const other = reportOf(20_000);
    await deployed('old-1', '2026-03-09T10:00:00.000Z', { ...other, rate: { target: 999, achieved: 999 } });
    const d = await judgeLoad({ ...common, report: reportOf(20_000), spec: defaultJudge() });
    expect(d.report.verdict).toBe('Skipped');
    expect(d.passed).toBe(true);
    expect(d.report.reason).toMatch(/^judge skipped: no DEPLOYED execution of demo\/web .* same load settings/);
  });

  it('with baseline: paired, a one-route run is not compared across time; a gate verdict of the execution carries', async () => {
    await deployed('old-1', '2026-03-09T10:00:00.000Z', reportOf(20_000));
    const spec = { ...defaultJudge(), baseline: 'paired' as const };
    const d = await judgeLoad({ ...common, report: reportOf(20_000), spec });
    expect(d.report.verdict).toBe('Skipped');
    expect(d.report.reason).toMatch(/judge\.baseline is paired/);
    const gate = reportOf(20_000);
    const paired = await judgeLoad({ ...common, report: { ...gate, baseline: reportOf(20_000, 300, 9) }, spec });
    expect(paired.report.comparison).toBe('paired');
    expect(paired.report.verdict).toBe('Pass');
    const gates = 'reports/demo/web/now-1/gates/';
    const none = await judgeLoad({ ...common, report: reportOf(20_000), spec, gateReportsPrefix: gates });
    expect(none.report.verdict).toBe('Skipped');
    objects.set(`${gates}POST_TEST_TRAFFIC_SHIFT-100/report.json`, JSON.stringify({ ...gate, judge: paired.report }));
    const final = await judgeLoad({ ...common, report: reportOf(20_000), spec, gateReportsPrefix: gates });
    expect(final.report.verdict).toBe('Pass');
    expect(final.report.metrics).toEqual(paired.report.metrics);
    expect(final.report.reason).toMatch(/judged at the gate, paired/);
  });
});

describe('planLoad pairs the routes', () => {
  const load = loadSchema.parse({ url: 'http://prod:80/api?q=1', rate: 10, durationSeconds: 2, judge: {} });
  const base = { load, cluster: 'demo', service: 'web', executionName: 'e' };

  it('the test listener against production, at the same schedule', () => {
    const plan = planLoad({ ...base, route: { origin: 'http://test:81' }, stage: 'test' });
    expect(plan.shard.url).toBe('http://test:81/api?q=1');
    expect(plan.shard.baseline).toEqual({ url: 'http://prod:80/api?q=1' });
    expect(plan.reportPrefix).toBe('reports/demo/web/e/');
    const gate = planLoad({
      ...base,
      route: { origin: 'http://test:81' },
      stage: 'test',
      gateId: 'POST_TEST_TRAFFIC_SHIFT-100',
    });
    expect(gate.reportPrefix).toBe('reports/demo/web/e/gates/POST_TEST_TRAFFIC_SHIFT-100/');
  });

  it('the test header at the test stage; never a production step (production mixes both versions)', () => {
    const header = { headers: { 'x-canary': '1' } };
    expect(pairedBaseline(load, header, 'test')).toEqual({ url: 'http://prod:80/api?q=1' });
    expect(pairedBaseline(load, header, 'production')).toBeUndefined();
    expect(pairedBaseline(load, undefined, undefined)).toBeUndefined();
  });

  it('no judge, or judge.baseline previous: one route', () => {
    const { judge: _, ...noJudge } = load;
    expect(pairedBaseline(noJudge, { origin: 'http://test:81' }, 'test')).toBeUndefined();
    const previous = { ...load, judge: { ...defaultJudge(), baseline: 'previous' as const } };
    expect(pairedBaseline(previous, { origin: 'http://test:81' }, 'test')).toBeUndefined();
  });

  it('validate names a load test too short for the judge', async () => {
    const { configSchema } = await import('../../src/config/schema.ts');
    const config = (rate: number) => ({
      version: 1,
      targets: [
        {
          name: 'web',
          repository: 'web',
          cluster: 'demo',
          service: 'web',
          container: 'web',
          health: { url: 'http://p/health' },
          load: { url: 'http://p/', rate, durationSeconds: 2, judge: {} },
        },
      ],
    });
    const short = configSchema.safeParse(config(10));
    expect(short.success).toBe(false);
    expect(short.error?.issues[0]?.path).toEqual(['targets', 0, 'load', 'judge', 'minSamples']);
    expect(short.error?.issues[0]?.message).toMatch(
      /^at most 20 \(rate x durationSeconds: the requests each side gets\).* fewer than 30 answers on a side every verdict is NoData/,
    );
    expect(configSchema.safeParse(config(15)).success).toBe(true);
  });

  it('the judge config has sane defaults and names a bad field', () => {
    expect(defaultJudge()).toMatchObject({
      confidence: 0.98,
      minSamples: 30,
      onMarginal: 'rollback',
      onNoData: 'rollback',
    });
    const bad = loadSchema.safeParse({ url: 'http://p/', rate: 1, durationSeconds: 1, judge: { confidence: 2 } });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues[0]?.path)).toBe('["judge","confidence"]');
  });
});
