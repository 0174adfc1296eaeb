import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushEvent } from '../../cli/commands/demo.ts';
import type { LoadReport } from '../../loadgen/types.ts';
import type { LocalRunner as Runner } from '../../local/runner.ts';
import { launchChromium } from './browser.ts';
import { e2eEnv, openRunner, processesWithMarker } from './env.ts';

/**
 * The judge through the whole pipeline on the local cloud: rollgate.config.yml's `checkout` (blue/green with a test
 * listener, `load.judge: { baseline: paired }`, 40 ms of service time) alone. A version 25% slower than v1 stays far
 * under the 250 ms SLO, and is rolled back by the comparison; its report opens in Debian's Chromium with both
 * versions' percentile curves drawn.
 */

let env: Awaited<ReturnType<typeof e2eEnv>>;
let runner: Runner;
let browser: Browser;

beforeAll(async () => {
  env = await e2eEnv(
    (config) => {
      const doc = config as {
        targets: Array<{ name: string; load: Record<string, unknown> }>;
        local: { clusters: Array<{ services: Array<{ name: string }> }> };
      };
      doc.targets = doc.targets.filter((t) => t.name === 'checkout');
      // the judge alone decides here: a run the shared machine starves is inconclusive for the fixed SLOs (the
      // generator late), while the paired comparison is not (both routes are late alike)
      for (const t of doc.targets) t.load.onInconclusive = 'deploy';
      for (const c of doc.local.clusters) c.services = c.services.filter((s) => s.name === 'checkout');
    },
    { allServices: true },
  );
  runner = await openRunner(env);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await runner?.close();
  expect(processesWithMarker(env.marker)).toEqual([]);
}, 60_000);

describe('the judge rolls back a version 25% slower than the running one', () => {
  let stored: Awaited<ReturnType<Runner['run']>>;
  beforeAll(async () => {
    const digest = await runner.cloud.registry.pushImage('checkout', 'v2-slower');
    stored = await runner.run(pushEvent(runner, 'checkout', 'v2-slower', digest));
  }, 90_000);

  it('rolls back on the paired comparison under the fixed SLOs, and the audit record keeps the verdict', async () => {
    expect(stored.summary.outcome).toBe('ROLLED_BACK');
    expect(stored.summary.reason).toMatch(
      /^judge failed the new version: judge Fail: p50 \+\d+% \(HL \+\d+\.\d ms, 98% CI \+\d+\.\d\.\.\+\d+\.\d ms\), error rate 0\.0% vs 0\.0%; critical latency High \(candidate vs baseline, paired with production under the same schedule\) \((SLOs met|SLO gate inconclusive, load\.onInconclusive deploy): p95 /,
    );
    const record = await runner.readAudit(stored.summary.startedAt, stored.summary.executionName);
    expect(record?.error).toBe('JudgeFailed');
    expect(record?.judge).toMatchObject({ verdict: 'Fail', comparison: 'paired' });
    expect(record?.judge?.score).toBe(50);
    const report = JSON.parse(
      readFileSync(stored.summary.reportFile?.replace(/\.html$/, '.json') ?? '', 'utf8'),
    ) as LoadReport;
    // far under the fixed SLOs: none violated (the verdict is pass, or inconclusive on a starved machine)
    expect(report.slo.violations).toEqual([]);
    expect(['pass', 'inconclusive']).toContain(report.slo.verdict);
    expect(report.baseline?.requests.total).toBe(report.requests.total);
    expect(report.judge?.metrics[0]).toMatchObject({ metric: 'latency', class: 'High', passed: false });
    // v1 answers in ~40 ms plus the proxy; v2-slower ~50 ms: the shift's interval excludes 0 and sits near +10 ms
    expect(report.judge?.metrics[0]?.shift?.low).toBeGreaterThan(0);
  });

  it("opens the report in Chromium with both versions' percentile curves drawn and the metric table", {
    timeout: 60_000,
  }, async () => {
    // started after the deploy: a browser starting up would take the CPU the load test's generator needs
    browser = await launchChromium();
    const page = await browser.newPage();
    try {
      await page.goto(pathToFileURL(stored.summary.reportFile ?? '').href);
      const curves = await page.$$eval('#judge ~ section svg path[data-version]', (paths) =>
        paths.map((p) => {
          // in the page: an SVGPathElement (tsconfig has no DOM types)
          const path = p as unknown as {
            dataset: { version?: string };
            getTotalLength(): number;
            getBoundingClientRect(): { width: number; height: number };
            getAttribute(name: string): string | null;
          };
          const style = (
            globalThis as unknown as {
              getComputedStyle(e: unknown): { stroke: string; visibility: string; display: string };
            }
          ).getComputedStyle(p);
          const box = path.getBoundingClientRect();
          return {
            version: path.dataset.version,
            length: path.getTotalLength(),
            points: (path.getAttribute('d') ?? '').split('L').length,
            width: box.width,
            height: box.height,
            stroke: style.stroke,
            visible: style.visibility === 'visible' && style.display !== 'none',
          };
        }),
      );
      expect(curves.map((c) => c.version)).toEqual(['baseline', 'candidate']);
      for (const c of curves) {
        expect(c.visible).toBe(true);
        expect(c.points).toBeGreaterThan(10);
        expect(c.length).toBeGreaterThan(200);
        expect(c.width).toBeGreaterThan(200);
        expect(c.height).toBeGreaterThan(5);
        expect(c.stroke).not.toBe('none');
      }
      expect(curves[0]?.stroke).not.toBe(curves[1]?.stroke);
      await expect(page.locator('#judge .badge').textContent()).resolves.toBe('JUDGE FAIL');
      const row = await page.locator('#judge-metrics tr[data-metric="latency"] td').allTextContents();
      expect(row[1]).toBe('High');
      expect(row[5]).toMatch(/^HL \+\d+\.\d+ ms \[\+\d+\.\d+, \+\d+\.\d+\]$/);
    } finally {
      await page.close();
    }
  });
});
