import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { aggregate } from '../../loadgen/aggregate.ts';
import { renderReportHtml, renderSummaryMd, writeReportFiles } from '../../loadgen/report.ts';
import { fakeResult, prng } from './helpers.ts';

function sampleReport(slo = { p95Ms: 250, p99Ms: 900, maxErrorRate: 0.001, minAchievedRate: 0.9 }) {
  const rnd = prng(7);
  const slowTail = Array.from({ length: 5000 }, () => (rnd() < 0.9 ? 2000 + rnd() * 3000 : 300_000 + rnd() * 700_000));
  return aggregate(
    [
      fakeResult(0, slowTail.map(Math.round), { url: 'http://127.0.0.1:9/<script>?a=1&b="2"' }),
      fakeResult(1, slowTail.slice(0, 2000).map(Math.round), {
        requests: { scheduled: 2030, total: 2000, ok: 1999, errors: 1, dropped: 30, queued: 3, waited: 0 },
      }),
    ],
    { slo },
  );
}

/** Open tags minus close tags for the elements the page uses (void elements excluded). */
function unbalanced(html: string): string[] {
  const out: string[] = [];
  for (const tag of [
    'html',
    'head',
    'body',
    'main',
    'section',
    'div',
    'table',
    'tr',
    'td',
    'svg',
    'g',
    'text',
    'ul',
    'li',
    'p',
    'h1',
    'h2',
    'style',
    'title',
    'code',
    'span',
  ]) {
    const opens = (html.match(new RegExp(`<${tag}[\\s>]`, 'g')) ?? []).length;
    const closes = (html.match(new RegExp(`</${tag}>`, 'g')) ?? []).length;
    if (opens !== closes) out.push(`${tag}: ${opens} open, ${closes} closed`);
  }
  return out;
}

describe('renderReportHtml', () => {
  const report = sampleReport();
  const html = renderReportHtml(report);

  it('references nothing outside the page: no URL scheme, remote src/href, @import or url()', () => {
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/\/\/[a-z0-9.-]+\.[a-z]{2,}/i); // protocol-relative //host.tld
    expect(html).not.toMatch(/\s(src|href|xlink:href|action|srcset)\s*=/i);
    expect(html).not.toMatch(/@import/i);
    expect(html).not.toMatch(/url\(/i);
    expect(html).not.toMatch(/<(script|link|iframe|img|object|embed)\b/i);
  });

  it('is well-formed enough: one document, balanced elements, escaped text', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(unbalanced(html)).toEqual([]);
    expect(html).toContain('&lt;script&gt;');
    expect(html).not.toContain('<script>');
    expect(html).toContain('&#58;//127.0.0.1:9/'); // the target URL, shown without a literal scheme separator
  });

  it('shows the verdict and explains each SLO violation', () => {
    expect(report.slo.passed).toBe(false);
    expect(html).toContain('FAIL');
    for (const v of report.slo.violations) expect(html).toContain(v.message.replace(/&/g, '&amp;'));
    expect(html).toMatch(/p95 latency [\d.]+ ms exceeds 250 ms/);
    expect(html).toContain('Latency by percentile');
    expect(html).toContain('Throughput and errors over time');
    expect((html.match(/<svg /g) ?? []).length).toBe(2);
  });

  it('applies the default 1% error-rate limit when no SLOs were set', () => {
    const report = sampleReport({} as never);
    expect(report.slo).toMatchObject({ verdict: 'pass', spec: { maxErrorRate: 0.01 } });
    const html = renderReportHtml(report);
    expect(html).toContain('SLOs met');
    expect(html).not.toContain('violated');
  });

  it('calls a generator-limited run inconclusive, in the page and the summary', () => {
    const rnd = prng(3);
    const samples = Array.from({ length: 2000 }, () => Math.round(20_000 + rnd() * 2000));
    const report = aggregate([
      fakeResult(0, samples, {
        requests: { scheduled: 2000, total: 2000, ok: 1999, errors: 1, dropped: 0, queued: 0, waited: 900 },
        maxConnections: 5,
      }),
    ]);
    expect(report.slo.verdict).toBe('inconclusive');
    expect(renderReportHtml(report)).toContain('INCONCLUSIVE');
    expect(renderSummaryMd(report)).toContain(
      '**INCONCLUSIVE**: the load generator could not keep up (all 5 connections it may open were busy',
    );
  });
});

describe('writeReportFiles', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('writes report.json (rollgate.loadtest.v1), report.html and summary.md and returns their paths', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rollgate-report-'));
    dirs.push(dir);
    const report = sampleReport();
    const paths = await writeReportFiles(join(dir, 'nested'), report);
    expect(paths).toEqual({
      json: join(dir, 'nested', 'report.json'),
      html: join(dir, 'nested', 'report.html'),
      markdown: join(dir, 'nested', 'summary.md'),
    });
    const json = JSON.parse(await readFile(paths.json, 'utf8'));
    expect(json).toEqual(report);
    expect(json).toMatchObject({
      schema: 'rollgate.loadtest.v1',
      rate: { target: expect.any(Number), achieved: expect.any(Number) },
      requests: { total: 7000, errors: 2, dropped: 30 },
      latencyMs: {
        p50: expect.any(Number),
        p90: expect.any(Number),
        p95: expect.any(Number),
        p99: expect.any(Number),
        p999: expect.any(Number),
        max: expect.any(Number),
      },
      slo: { passed: false, violations: expect.any(Array) },
      workers: 2,
      histograms: { latencyUs: expect.stringMatching(/^[A-Za-z0-9+/=]+$/) },
    });
    const md = await readFile(paths.markdown, 'utf8');
    expect(md).toContain('**FAIL**');
    expect(md).toMatch(/\| latency p99 \/ p99\.9 \/ max \|/);
    expect(md).toContain(report.slo.violations[0]?.message);
    expect(renderSummaryMd(report)).toBe(md);
  });
});
