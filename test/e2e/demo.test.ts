import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { e2eEnv, processesWithMarker } from './env.ts';

/**
 * `rollgate demo` (what `npm start` runs) as a user runs it, then `rollgate metrics` on the history it produced,
 * checked against a hand count of that history.
 */

let env: Awaited<ReturnType<typeof e2eEnv>>;
let demo: { code: number | null; stdout: string; stderr: string };

function rollgate(args: string[]) {
  const res = spawnSync(
    process.execPath,
    ['bin/rollgate.js', ...args, '--config', env.configFile, '--state-dir', env.stateDir],
    {
      encoding: 'utf8',
      timeout: 170_000,
      env: { ...process.env, NO_COLOR: '1' },
    },
  );
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

beforeAll(async () => {
  env = await e2eEnv(undefined, { allServices: true });
  demo = rollgate(['demo']);
}, 180_000);

describe('rollgate demo', () => {
  it('exits 0 with every scenario as expected and prints the table, the report and the rollback events', () => {
    expect(demo.code).toBe(0);
    // progress goes to stderr: the states as they run, and nothing else (no warning, no stack trace)
    expect(demo.stderr).toMatch(/v2\s+\d+\.\d s {2}Backup/);
    expect(
      demo.stderr.split('\n').filter((l) => l.trim() && !/^\s+\S+\s+\d+\.\d s {2}\w+( retried)?$/.test(l)),
    ).toEqual([]);
    const out = demo.stdout;
    expect(out).toMatch(/scenario\s+image\s+outcome\s+reason\s+duration/);
    expect(out).toMatch(/good version\s+demo-app:v2\s+DEPLOYED/);
    expect(out).toMatch(/fails its health check\s+demo-app:v3-unhealthy\s+ROLLED_BACK\s+health check failed/);
    expect(out).toMatch(/crashes on start\s+demo-app:v3-crash\s+ROLLED_BACK\s+rollout failed/);
    expect(out).toMatch(/300 ms slower\s+demo-app:v4-slow\s+ROLLED_BACK\s+SLO gate failed/);
    expect(out).toMatch(/load test report: .*reports\/demo-app-v4-slow-.*\/report\.html/);
    // the progressive deploys, alongside: blue/green stopped at the test listener with not one production request on
    // the new version; the canary rolled back at its 10% step; the good canary through every step
    expect(out).toMatch(
      /blue\/green, slow on the test listener\s+checkout:v4-slow\s+ROLLED_BACK\s+SLO gate failed: p95/,
    );
    expect(out).toMatch(/canary, half its answers 500\s+catalog:v5-flaky\s+ROLLED_BACK\s+SLO gate failed: error rate/);
    expect(out).toMatch(/canary, good version\s+catalog:v2\s+DEPLOYED/);
    // the judge: 25% slower than v1, far under the 250 ms SLO, rolled back on the comparison; the good version passes
    expect(out).toMatch(
      /blue\/green, 25% slower than v1, judged\s+checkout:v5-slower\s+ROLLED_BACK\s+judge failed the new version/,
    );
    expect(out).toMatch(
      /judge failed the new version: judge Fail: p50 \+\d+% \(HL \+\d+\.\d ms, 98% CI \+\d+\.\d\.\.\+\d+\.\d ms\), error rate 0\.0% vs 0\.0%/,
    );
    expect(out).toMatch(
      /load test report: .*reports\/checkout\/checkout\/checkout-v5-slower-.*\/report\.html|load test report: .*checkout-v5-slower.*report\.html/,
    );
    expect(out).toMatch(/blue\/green, good version, judged\s+checkout:v6\s+DEPLOYED/);
    expect(out).toMatch(/checkout:v4-slow +post test traffic shift: test 100%, production 0% on v4-slow/);
    expect(out).toMatch(
      /production client \(a request every 10 ms\): \d+ requests, 0 answered by v4-slow, 0 failed; now serving v1 as expected/,
    );
    expect(out).toMatch(/catalog:v5-flaky +production traffic shift: test 100%, production 10% on v5-flaky/);
    expect(out).not.toMatch(/catalog:v5-flaky +production traffic shift: test 100%, production 100%/);
    expect(out).toMatch(/catalog:v2 +production traffic shift: test 100%, production 100% on v2/);
    expect(out).toMatch(/\d+ requests, \d+ answered by v2, 0 failed; now serving v2 as expected/);
    expect(out.match(/event: .*Deployment Rolled Back/g)).toHaveLength(6);
    expect(out).toContain('the service now serves v2');
    expect(out).toContain('all 9 scenarios ended as expected');
    expect(processesWithMarker(env.marker)).toEqual([]);
  });

  it('leaves a history from which metrics computes the four DORA figures, as counted by hand', () => {
    const history = JSON.parse(rollgate(['history', '--json']).stdout) as {
      outcome: string;
      startedAt: string;
      endedAt: string;
      pushedAt?: string;
    }[];
    const outcomes = history.map((h) => h.outcome);
    expect(outcomes.filter((o) => o === 'DEPLOYED')).toHaveLength(3);
    expect(outcomes.filter((o) => o === 'ROLLED_BACK')).toHaveLength(6);
    const { code, stdout } = rollgate(['metrics', '--json', '--since', '1d']);
    expect(code).toBe(0);
    const m = JSON.parse(stdout).overall;
    // by hand: three successful deploys (demo-app:v2, checkout:v6, catalog:v2) and six failed changes (six rollbacks)
    expect(m.deployments.count).toBe(3);
    expect(m.changeFailureRate).toEqual({ failed: 6, attempts: 9, rate: 6 / 9 });
    // lead time: each deploy, from its push event's time to its end
    const leads = history
      .filter((h) => h.outcome === 'DEPLOYED')
      .map((h) => Date.parse(h.endedAt) - Date.parse(h.pushedAt ?? ''));
    expect(m.leadTime.count).toBe(3);
    expect(m.leadTime.medianMs).toBeGreaterThanOrEqual(Math.min(...leads));
    expect(m.leadTime.medianMs).toBeLessThanOrEqual(Math.max(...leads));
    // time to restore: each rollback ended healthy on the previous version; end minus start of each
    const failures = history.filter((h) => h.outcome === 'ROLLED_BACK');
    const restore = failures.map((h) => Date.parse(h.endedAt) - Date.parse(h.startedAt));
    expect(m.timeToRestore.failures).toBe(6);
    expect(m.timeToRestore.restored).toBe(6);
    expect(m.timeToRestore.meanMs).toBeCloseTo(restore.reduce((a, b) => a + b, 0) / 6, 0);
    // mean time between failed deploys: (last failure start - first failure start) / 5
    const starts = failures.map((h) => Date.parse(h.startedAt));
    expect(m.meanTimeBetweenFailuresMs).toBeCloseTo((Math.max(...starts) - Math.min(...starts)) / 5, 0);
  });
});
