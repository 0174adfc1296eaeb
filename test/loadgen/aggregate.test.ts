import { describe, expect, it } from 'vitest';
import { aggregate } from '../../loadgen/aggregate.ts';
import { LoadInputError } from '../../loadgen/errors.ts';
import { createHistogram, percentilesMs } from '../../loadgen/histograms.ts';
import { evaluateSlo } from '../../loadgen/slo.ts';
import { fakeResult, prng } from './helpers.ts';

/** Latency-like samples in microseconds: mostly fast, a heavy tail, and a different shape per worker. */
function samples(seed: number, n: number, shape: 'uniform' | 'lognormal' | 'bimodal'): number[] {
  const rnd = prng(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (shape === 'uniform') out.push(Math.round(200 + rnd() * 5000));
    else if (shape === 'lognormal') {
      const z = Math.sqrt(-2 * Math.log(rnd() || 1e-12)) * Math.cos(2 * Math.PI * rnd());
      out.push(Math.round(Math.exp(7 + 1.2 * z)));
    } else out.push(rnd() < 0.97 ? Math.round(800 + rnd() * 400) : Math.round(900_000 + rnd() * 100_000));
  }
  return out;
}

describe('aggregate', () => {
  it.each([
    ['skewed workers of different sizes', [3, 11, 29], [20_000, 3_000, 700]],
    ['many small workers', [1, 2, 3, 4, 5, 6, 7, 8], [500, 500, 500, 500, 500, 500, 500, 500]],
  ])('merges histograms exactly: percentiles equal those of all samples pooled (%s)', (_name, seeds, sizes) => {
    const shapes = ['uniform', 'lognormal', 'bimodal'] as const;
    const perWorker = seeds.map((seed, i) => samples(seed, sizes[i] ?? 100, shapes[i % 3] ?? 'uniform'));
    const pooled = createHistogram();
    for (const w of perWorker) for (const v of w) pooled.recordValue(v);

    const report = aggregate(perWorker.map((s, i) => fakeResult(i, s)));
    const expected = percentilesMs(pooled);
    for (const key of ['p50', 'p90', 'p95', 'p99', 'p999', 'max'] as const) {
      // Exact bucket addition: equal to HdrHistogram's own precision (3 significant digits = 0.1%).
      expect(Math.abs(report.latencyMs[key] - expected[key])).toBeLessThanOrEqual(expected[key] * 0.001 + 0.001);
    }
    expect(report.requests.total).toBe(sizes.reduce((a, b) => a + b, 0));
  });

  it('does not average percentiles: one slow worker dominates the merged p99', () => {
    const fast = fakeResult(
      0,
      Array.from({ length: 9_900 }, () => 1_000),
    );
    const slow = fakeResult(
      1,
      Array.from({ length: 100 }, () => 2_000_000),
    );
    const report = aggregate([fast, slow]);
    // 1% of all samples are 2 s: p99 sits at the boundary, p99.9 is in the slow worker's range.
    expect(report.latencyMs.p999).toBeGreaterThan(1_900);
    expect(report.latencyMs.p50).toBeLessThan(1.01);
  });

  it('sums counters and merges timelines by second, in worker order whatever the input order', () => {
    const a = fakeResult(0, [1000, 2000, 3000]);
    const b = fakeResult(1, [4000, 5000, 6000, 7000, 8000, 9000]);
    const report = aggregate([b, a], { slo: {} });
    expect(report.workers).toBe(2);
    expect(report.requests).toEqual({ scheduled: 9, total: 9, ok: 7, errors: 2, dropped: 0, queued: 0, waited: 0 });
    expect(report.answered).toBe(9);
    expect(report).toMatchObject({ connections: 10, maxConnections: 100, generator: { limited: false } });
    expect(report.statusCodes).toEqual({ '200': 7, '503': 2 });
    expect(report.timeline.map((p) => p.sent)).toEqual([3, 3, 3]);
    expect(report.timeline[1]?.p99Ms).toBe(2.001);
    expect(report.perWorker.map((w) => w.workerIndex)).toEqual([0, 1]);
    expect(report.startedAt).toBe('2026-01-01T00:00:00.000Z');
    expect(report.rate).toEqual({ target: 3, achieved: 3 });
  });

  it('is pure: the same input gives the same report and is not mutated', () => {
    const input = [fakeResult(0, samples(1, 1000, 'lognormal')), fakeResult(1, samples(2, 1000, 'bimodal'))];
    const before = structuredClone(input);
    const first = aggregate(input, { slo: { p99Ms: 100 } });
    const second = aggregate(input, { slo: { p99Ms: 100 } });
    expect(second).toEqual(first);
    expect(JSON.stringify(second)).toBe(JSON.stringify(first));
    expect(input).toEqual(before);
  });

  it('merging groups of workers first, then the groups, gives the very report of merging every worker at once', () => {
    const shapes = ['uniform', 'lognormal', 'bimodal'] as const;
    const workers = Array.from({ length: 95 }, (_, i) =>
      fakeResult(i, samples(100 + i, 50 + ((i * 37) % 200), shapes[i % 3] as (typeof shapes)[number]), {
        // one slow, limited worker: the merge must keep its lateness and connection wait
        ...(i === 61
          ? { requests: { scheduled: 90, total: 80, ok: 70, errors: 10, dropped: 10, queued: 0, waited: 9 } }
          : {}),
      }),
    );
    const slo = { p95Ms: 50, maxErrorRate: 0.05 };
    const direct = aggregate(workers, { slo, url: 'http://svc/' });
    // as the pipeline groups them (40, 40, 15), each group merged without SLOs, handed on in any order
    const groups = [workers.slice(0, 40), workers.slice(40, 80), workers.slice(80)].map((g) => aggregate(g));
    const tree = aggregate([groups[2], groups[0], groups[1]] as typeof groups, { slo, url: 'http://svc/' });
    expect(tree).toEqual(direct);
    expect(tree.workers).toBe(95);
    // a group merge mixed with single workers merges too
    expect(aggregate([workers[0], ...workers.slice(1, 40)].map((w) => w as (typeof workers)[number]))).toEqual(
      aggregate([aggregate(workers.slice(1, 40)), workers[0] as (typeof workers)[number]]),
    );
  });

  it('rejects an empty list and a result of another schema, naming the field', () => {
    expect(() => aggregate([])).toThrow(LoadInputError);
    const bad = { ...fakeResult(0, [1]), schema: 'something.else' } as unknown as ReturnType<typeof fakeResult>;
    expect(() => aggregate([fakeResult(0, [1]), bad])).toThrow(/results\[1\]\.schema/);
  });
});

describe('evaluateSlo', () => {
  const report = {
    latencyMs: { min: 1, mean: 50, p50: 20, p90: 200, p95: 412.34, p99: 950, p999: 990, max: 1000 },
    errorRate: 0.025,
    rate: { target: 1000, achieved: 812.4 },
    requests: { scheduled: 1000, total: 1000, ok: 975, errors: 25, dropped: 0, queued: 0, waited: 0 },
    answered: 1000,
    generator: { limited: false, reasons: [] },
  };

  it('passes when every objective holds, thresholds inclusive', () => {
    expect(evaluateSlo(report, { p95Ms: 412.34, p99Ms: 1000, maxErrorRate: 0.05, minAchievedRate: 0.8 })).toEqual({
      passed: true,
      verdict: 'pass',
      violations: [],
    });
    expect(evaluateSlo({ ...report, errorRate: 0.01 }, {})).toEqual({ passed: true, verdict: 'pass', violations: [] });
  });

  it('applies a 1% error-rate limit when the SLOs set none', () => {
    expect(evaluateSlo(report, { p95Ms: 500 })).toMatchObject({
      verdict: 'fail',
      violations: [{ metric: 'errorRate', threshold: 0.01, message: 'error rate 2.5% exceeds 1%' }],
    });
  });

  it('fails a run in which no request was answered, or most failed, whatever the SLOs', () => {
    const none = { ...report, errorRate: 1, answered: 0, latencyMs: { ...report.latencyMs, p95: 0, p99: 0 } };
    expect(evaluateSlo(none, { p95Ms: 20, maxErrorRate: 1 })).toEqual({
      passed: false,
      verdict: 'fail',
      violations: [{ metric: 'answered', threshold: 1, actual: 0, message: 'no request was answered (1000 failed)' }],
    });
    // the floor comes before the generator's health: a service that answers nothing is never "inconclusive"
    const limited = { ...none, generator: { limited: true, reasons: ['all 5 connections were busy'] } };
    expect(evaluateSlo(limited, {}).verdict).toBe('fail');
    const most = { ...report, errorRate: 0.6, answered: 1000 };
    expect(evaluateSlo(most, { maxErrorRate: 1 })).toMatchObject({
      verdict: 'fail',
      violations: [{ metric: 'errorRate', message: 'most requests failed: error rate 60% (25 of 1000)' }],
    });
  });

  it('calls a generator-limited run inconclusive, never a pass or a verdict on the service', () => {
    const limited = { ...report, generator: { limited: true, reasons: ['its scheduler ran 150 ms late at p99'] } };
    expect(evaluateSlo(limited, { p95Ms: 250 })).toMatchObject({
      passed: false,
      verdict: 'inconclusive',
      inconclusive: 'inconclusive: the load generator could not keep up (its scheduler ran 150 ms late at p99)',
    });
    expect(evaluateSlo(limited, { p95Ms: 1000, maxErrorRate: 0.05 }).verdict).toBe('inconclusive');
  });

  it('names metric, threshold and actual in every violation message', () => {
    const result = evaluateSlo(report, { p95Ms: 250, p99Ms: 900, maxErrorRate: 0.01, minAchievedRate: 0.9 });
    expect(result.passed).toBe(false);
    expect(result.violations).toEqual([
      { metric: 'p95Ms', threshold: 250, actual: 412.34, message: 'p95 latency 412.3 ms exceeds 250 ms' },
      { metric: 'p99Ms', threshold: 900, actual: 950, message: 'p99 latency 950 ms exceeds 900 ms' },
      { metric: 'errorRate', threshold: 0.01, actual: 0.025, message: 'error rate 2.5% exceeds 1%' },
      {
        metric: 'achievedRate',
        threshold: 0.9,
        actual: 0.8124,
        message: 'achieved rate 812.4 req/s is 81.24% of the 1000 req/s target, below 90%',
      },
    ]);
  });
});
