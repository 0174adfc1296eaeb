import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregate } from '../../loadgen/aggregate.ts';
import { generate } from '../../loadgen/generate.ts';
import { renderReportHtml } from '../../loadgen/report.ts';
import type { LoadReport } from '../../loadgen/types.ts';
import { defaultJudge } from '../../src/config/judge.ts';
import { judgeReports } from '../../src/core/load-judge.ts';
import { type LocalServer, startServer } from './helpers.ts';

/**
 * Paired load: one worker sends the same schedule to two routes at the same moments. Two local servers: the baseline
 * answers after 10 ms, the candidate after 14 ms (40% slower, both far under any usual latency limit).
 */
describe('paired load (the judge)', () => {
  let base: LocalServer;
  let cand: LocalServer;
  const arrivals: { base: number[]; cand: number[] } = { base: [], cand: [] };
  let report: LoadReport;
  beforeAll(async () => {
    base = await startServer((_req, res) => {
      arrivals.base.push(performance.now());
      setTimeout(() => res.end('ok'), 10);
    });
    cand = await startServer((req, res) => {
      arrivals.cand.push(performance.now());
      setTimeout(() => res.end(req.headers['x-canary'] ?? 'none'), 14);
    });
    const result = await generate({
      url: cand.url,
      headers: { 'x-canary': 'yes' },
      baseline: { url: base.url },
      rate: 60,
      durationSec: 2,
      connections: 4,
      warmupSec: 0,
      tickMs: 20,
    });
    report = aggregate([result], { slo: { p95Ms: 250 } });
  }, 20_000);
  afterAll(async () => {
    await base?.close();
    await cand?.close();
  });

  it('sends each scheduled request to both routes at the same moment, the candidate with its own headers', () => {
    expect(report.baseline).toBeDefined();
    expect(report.requests.scheduled).toBe(report.baseline?.requests.scheduled);
    expect(report.requests.total).toBe(120);
    expect(report.baseline?.requests.total).toBe(120);
    // the warm-up request of each connection arrives first; after them, request i reaches both servers together
    const b = arrivals.base.slice(-120);
    const c = arrivals.cand.slice(-120);
    const gaps = b.map((t, i) => Math.abs(t - (c[i] as number))).sort((x, y) => x - y);
    expect(gaps[Math.floor(gaps.length / 2)]).toBeLessThan(5);
    expect(report.url).toBe(cand.url);
    expect(report.baseline?.url).toBe(base.url);
  });

  it('keeps one histogram per version: the judge fails the slower candidate, both curves in the HTML', () => {
    expect(report.latencyMs.p50).toBeGreaterThan(report.baseline?.latencyMs.p50 ?? Number.POSITIVE_INFINITY);
    const decision = judgeReports(report, report.baseline as LoadReport, defaultJudge(), {
      comparison: 'paired',
      baseline: { url: base.url },
    });
    expect(decision.passed).toBe(false);
    expect(decision.report.verdict).toBe('Fail');
    expect(decision.report.metrics[0]?.class).toBe('High');
    expect(decision.report.reason).toMatch(
      /^judge Fail: p50 \+\d+% \(HL \+\d\.\d ms, 98% CI \+\d\.\d\.\.\+\d\.\d ms\)/,
    );
    expect(decision.report.reason).toContain('paired with production under the same schedule');
    // the slower one still meets the fixed SLO: only the comparison catches it
    expect(report.slo.verdict).toBe('pass');
    const html = renderReportHtml({ ...report, judge: decision.report });
    expect(html).toMatch(/<path data-version="baseline" class="line baseline" d="M[^"]+L/);
    expect(html).toMatch(/<path data-version="candidate" class="line candidate" d="M[^"]+L/);
    expect(html).toContain('JUDGE FAIL');
    expect(html).toMatch(/<tr data-metric="latency">.*High/);
  });

  it('names the baseline field when its route is wrong', async () => {
    await expect(
      generate({ url: cand.url, baseline: { url: 'ftp://x' }, rate: 1, durationSec: 1, connections: 1 }),
    ).rejects.toThrow(/^baseline\.url must be/);
  });
});
