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
  env = await e2eEnv();
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
    expect(out.match(/event: .*Deployment Rolled Back/g)).toHaveLength(3);
    expect(out).toContain('the service now serves v2');
    expect(out).toContain('all 4 scenarios ended as expected');
    expect(processesWithMarker(env.marker)).toEqual([]);
  });

  it('leaves a history from which metrics computes the four DORA figures, as counted by hand', () => {
    const history = JSON.parse(rollgate(['history', '--json']).stdout) as {
      outcome: string;
      startedAt: string;
      endedAt: string;
      pushedAt?: string;
    }[];
    expect(history.map((h) => h.outcome)).toEqual(['ROLLED_BACK', 'ROLLED_BACK', 'ROLLED_BACK', 'DEPLOYED']);
    const { code, stdout } = rollgate(['metrics', '--json', '--since', '1d']);
    expect(code).toBe(0);
    const m = JSON.parse(stdout).overall;
    // by hand: one successful deploy (v2) and three failed changes (three rollbacks) in the window
    expect(m.deployments.count).toBe(1);
    expect(m.changeFailureRate).toEqual({ failed: 3, attempts: 4, rate: 0.75 });
    // lead time: the one deploy, from its push event's time to its end
    const deployed = history[3];
    expect(m.leadTime.count).toBe(1);
    expect(m.leadTime.medianMs).toBe(Date.parse(deployed?.endedAt ?? '') - Date.parse(deployed?.pushedAt ?? ''));
    // time to restore: each rollback ended healthy on the previous version; end minus start of each
    const restore = history.slice(0, 3).map((h) => Date.parse(h.endedAt) - Date.parse(h.startedAt));
    expect(m.timeToRestore.failures).toBe(3);
    expect(m.timeToRestore.restored).toBe(3);
    expect(m.timeToRestore.meanMs).toBeCloseTo(restore.reduce((a, b) => a + b, 0) / 3, 0);
    // mean time between failed deploys: (last failure start - first failure start) / 2
    const starts = history.slice(0, 3).map((h) => Date.parse(h.startedAt));
    expect(m.meanTimeBetweenFailuresMs).toBeCloseTo((Math.max(...starts) - Math.min(...starts)) / 2, 0);
  });
});
