import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect } from 'vitest';
import { parse, stringify } from 'yaml';
import type { Answer } from '../../local/production-client.ts';
import type { LocalRunner } from '../../local/runner.ts';
import { freePort } from '../free-port.ts';

export { freePort };

/** Temp dirs this test file made; removed after its last hook (registered first, so it runs after the file's own). */
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * An isolated local cloud for one test file: a temp state dir, a config copied from rollgate.config.yml (or
 * `configFile`) with every
 * load balancer listener on a free port (the targets' URLs follow), and a marker in the environment every task
 * process inherits, so the file can check that none of its processes outlived it. Only the first target and its
 * service are kept (the rolling demo-app: fewer processes per test) unless `allServices` is set.
 */
export async function e2eEnv(
  mutate?: (config: Record<string, unknown>) => void,
  options: { readonly allServices?: boolean; readonly configFile?: string } = {},
) {
  const dir = mkdtempSync(path.join(tmpdir(), 'rollgate-e2e-'));
  dirs.push(dir);
  const doc = parse(readFileSync(options.configFile ?? 'rollgate.config.yml', 'utf8'));
  if (!options.allServices) {
    doc.targets = doc.targets.slice(0, 1);
    doc.local.clusters = doc.local.clusters.slice(0, 1);
    doc.local.clusters[0].services = doc.local.clusters[0].services.slice(0, 1);
  }
  // every fixed port of the config, to a free one; the targets' URLs on the old port follow it
  const ports = new Map<number, number>();
  for (const cluster of doc.local.clusters) {
    for (const svc of cluster.services) {
      for (const key of ['loadBalancerPort', 'testListenerPort']) {
        if (svc[key] === undefined) continue;
        const free = await freePort();
        ports.set(svc[key], free);
        svc[key] = free;
      }
    }
  }
  const text = stringify(doc.targets).replace(/127\.0\.0\.1:(\d+)/g, (all, p) => {
    const to = ports.get(Number(p));
    return to === undefined ? all : `127.0.0.1:${to}`;
  });
  doc.targets = parse(text);
  const port = doc.local.clusters[0].services[0].loadBalancerPort as number;
  mutate?.(doc);
  const configFile = path.join(dir, 'rollgate.config.yml');
  writeFileSync(configFile, stringify(doc));
  const marker = randomUUID();
  process.env.ROLLGATE_TEST_MARKER = marker;
  return { dir, stateDir: path.join(dir, 'state'), configFile, port, marker };
}

/** PIDs of live processes whose environment carries the marker (Linux /proc), this process excluded. */
export function processesWithMarker(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (environ.includes(`ROLLGATE_TEST_MARKER=${marker}`) && !/\) Z /.test(stat)) pids.push(pid);
    } catch {
      // the process ended while we looked, or is not ours to read
    }
  }
  return pids;
}

/** True when something accepts connections on the port. */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(true));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
  });
}

/** After a file's last test: none of its task processes outlived it, and the load balancer's port is free. */
export async function expectReleased(env: { readonly marker: string; readonly port: number }): Promise<void> {
  expect(processesWithMarker(env.marker)).toEqual([]);
  expect(await portInUse(env.port)).toBe(false);
}

/**
 * The local runner on an e2eEnv's config and state dir (imported here: the handlers read their environment at import,
 * which LocalRunner.open sets first).
 */
export async function openRunner(env: { readonly configFile: string; readonly stateDir: string }) {
  const { LocalRunner } = await import('../../local/runner.ts');
  const { loadConfigFile } = await import('../../src/config/load.ts');
  return LocalRunner.open({
    config: loadConfigFile(env.configFile),
    configSource: env.configFile,
    stateDir: env.stateDir,
  });
}

/** The service deployment's traffic split over time (the local ECS's record of what it set on the rules). */
export function watchSplit(runner: LocalRunner, cluster: string, service: string) {
  const changes: Array<{ at: number; production: number; status: string }> = [];
  const before = runner.cloud.ecs.serviceDeployments(cluster, service).at(-1)?.arn;
  let last = '';
  const timer = setInterval(() => {
    const d = runner.cloud.ecs.serviceDeployments(cluster, service).at(-1);
    if (d === undefined || d.arn === before) return;
    const key = `${d.productionPercent}/${d.status}`;
    if (key === last) return;
    last = key;
    changes.push({ at: performance.now(), production: d.productionPercent, status: d.status });
  }, 2);
  return { changes, stop: () => clearInterval(timer) };
}

/**
 * A version that failed its test gate: rolled back for a too slow p95, and no production request reached it (the
 * client sent plenty, every one answered 200; production never moved; the service deployment ended rolled back).
 */
export function expectStoppedAtTestGate(
  run: {
    readonly stored: { readonly summary: { readonly outcome: string; readonly reason: string } };
    readonly samples: readonly Answer[];
    readonly changes: ReadonlyArray<{ readonly production: number; readonly status: string }>;
  },
  version: string,
): void {
  expect(run.stored.summary.outcome).toBe('ROLLED_BACK');
  expect(run.stored.summary.reason).toMatch(/^SLO gate failed: p95 latency/);
  expect(run.samples.length).toBeGreaterThan(100);
  expect(run.samples.filter((s) => s.version === version)).toEqual([]);
  expect(run.samples.filter((s) => s.status !== 200)).toEqual([]);
  expect(Math.max(...run.changes.map((c) => c.production))).toBe(0);
  expect(run.changes.at(-1)?.status).toBe('ROLLBACK_SUCCESSFUL');
}

/** The versions that answer `n` requests in a row to `url` (after a deploy: all of production on one). */
export async function versionsServed(url: string, n = 20): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const res = await fetch(url);
    await res.arrayBuffer();
    seen.add(res.headers.get('x-app-version') ?? '?');
  }
  return seen;
}
