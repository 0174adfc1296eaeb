/**
 * rollgate's load generator against autocannon, in one run against the same local target (`npm run bench:loadgen`).
 *
 * The target (bench/target-server.mjs) and each generator run in their own process; each generator reports its own
 * CPU (process.cpuUsage around the run). Two loads, same connection count:
 *   - saturation: as fast as the target answers (autocannon's default; rollgate with maxInFlight = connections);
 *   - a fixed 1000 req/s (autocannon's overallRate; rollgate's open-model schedule).
 * Each child first runs a 1 s warm-up of the same load (JIT, lazy module loading, connections), then measures
 * steady state. Runs are ordered A B B A per load so drift on this shared, noisy machine hits both tools alike, and
 * the figures compared are sums over both runs. Ratios measured in one run are what to compare, not absolute numbers.
 * Throughput is responses over how long each tool says its load ran: at saturation autocannon's 10 s runs load the
 * target for 11 s (see autocannon-child.mjs), and counting them over 10 s overstated its throughput by 10%.
 *
 * rollgate's child runs as an esbuild bundle, the way the Generate Lambda ships (serverless-esbuild), not through tsx:
 * tsx's loader hooks run in a thread with an isolate of its own, whose start-up garbage V8's memory reducer collects a
 * few seconds later, inside the measured window (~15% of rollgate's CPU at 1000 req/s here, none of it the generator's).
 *
 * The fixed-rate runs measure 30 s: 10 s at 1000 req/s is only 10k requests and ~0.2 CPU-s, of which start-up
 * (JIT tier-up, V8's memory reducer collecting start-up garbage ~8 s after launch) is a large share for either tool.
 *
 * Env: BENCH_DURATION (s per saturation run, default 10), BENCH_FIXED_DURATION (s per fixed-rate run, default 30),
 * BENCH_CONNECTIONS (default 10), BENCH_RATE (default 1000), BENCH_ROUNDS (A B B A rounds per load, default 2).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

interface RunFigures {
  tool: 'rollgate' | 'autocannon';
  requests: number;
  errors: number;
  cpuSec: number;
  wallSec: number;
  /** How long the load ran, by the tool's own account (autocannon's can run a second past its duration). */
  loadSec: number;
  achieved: number;
  p50Ms: number;
  p99Ms: number;
}

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));
const saturationSec = Number(process.env.BENCH_DURATION ?? 10);
const fixedSec = Number(process.env.BENCH_FIXED_DURATION ?? 30);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const fixedRate = Number(process.env.BENCH_RATE ?? 1000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const bundleDir = mkdtempSync(join(tmpdir(), 'rollgate-bench-'));
const rollgateChild = join(bundleDir, 'rollgate-child.mjs');

/** Bundles bench/rollgate-child.ts (and the engine it imports) the way serverless-esbuild bundles the Lambda. */
async function bundleRollgateChild(): Promise<void> {
  await build({
    entryPoints: [here('./rollgate-child.ts')],
    outfile: rollgateChild,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
  });
}

async function startTarget(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [here('./target-server.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout ?? child, 'data')) as [Buffer];
  const { port } = JSON.parse(line.toString()) as { port: number };
  return { child, url: `http://127.0.0.1:${port}/` };
}

async function runChild(tool: RunFigures['tool'], args: Record<string, unknown>): Promise<RunFigures> {
  const argv = [tool === 'rollgate' ? rollgateChild : here('./autocannon-child.mjs'), JSON.stringify(args)];
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${tool} child exited with ${code}`);
  const last = out.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last) as RunFigures;
}

function sum(runs: RunFigures[]): { requests: number; cpuSec: number; achieved: number; p99Ms: number } {
  const requests = runs.reduce((a, r) => a + r.requests, 0);
  const cpuSec = runs.reduce((a, r) => a + r.cpuSec, 0);
  const loadSec = runs.reduce((a, r) => a + r.loadSec, 0);
  return {
    requests,
    cpuSec,
    achieved: requests / loadSec,
    p99Ms: Math.max(...runs.map((r) => r.p99Ms)),
  };
}

const per100k = (cpuSec: number, requests: number): number => (requests > 0 ? (cpuSec * 100_000) / requests : 0);
const f = (n: number, digits = 2): string => n.toFixed(digits);

async function compare(label: string, rate: number | undefined, durationSec: number, url: string) {
  const base = { url, connections, durationSec, ...(rate ? { rate } : {}) };
  const order: RunFigures['tool'][] = [];
  for (let i = 0; i < rounds; i++) order.push('autocannon', 'rollgate', 'rollgate', 'autocannon');
  const runs: RunFigures[] = [];
  for (const tool of order) {
    const r = await runChild(tool, base);
    process.stderr.write(
      `  ${label.padEnd(11)} ${tool.padEnd(10)} ${String(r.requests).padStart(7)} req in ${f(r.loadSec).padStart(5)} s  ` +
        `${f(r.achieved, 0).padStart(6)} req/s  ` +
        `${f(r.cpuSec)} CPU-s  ${f(per100k(r.cpuSec, r.requests))} CPU-s/100k  p99 ${f(r.p99Ms)} ms  errors ${r.errors}\n`,
    );
    runs.push(r);
  }
  const of = (tool: RunFigures['tool']) => sum(runs.filter((r) => r.tool === tool));
  const rg = of('rollgate');
  const ac = of('autocannon');
  return { label, rg, ac, rgPer100k: per100k(rg.cpuSec, rg.requests), acPer100k: per100k(ac.cpuSec, ac.requests) };
}

await bundleRollgateChild();
const target = await startTarget();
try {
  process.stderr.write(
    `target ${target.url}, ${connections} connections, ${rounds * 2} runs per tool and load ` +
      `(saturation ${saturationSec} s, ${fixedRate} req/s ${fixedSec} s each)\n`,
  );
  const saturation = await compare('saturation', undefined, saturationSec, target.url);
  const fixed = await compare(`${fixedRate} req/s`, fixedRate, fixedSec, target.url);

  const throughputRatio = saturation.rg.achieved / saturation.ac.achieved;
  const lines = [
    '',
    `| load | tool | achieved req/s | CPU-s per 100k req |`,
    '|---|---|---:|---:|',
    `| saturation | autocannon | ${f(saturation.ac.achieved, 0)} | ${f(saturation.acPer100k)} |`,
    `| saturation | rollgate | ${f(saturation.rg.achieved, 0)} | ${f(saturation.rgPer100k)} |`,
    `| ${fixedRate} req/s | autocannon | ${f(fixed.ac.achieved, 0)} | ${f(fixed.acPer100k)} |`,
    `| ${fixedRate} req/s | rollgate | ${f(fixed.rg.achieved, 0)} | ${f(fixed.rgPer100k)} |`,
    '',
    `throughput at saturation, rollgate / autocannon: ${f(throughputRatio, 3)}x (target >= 0.95x)`,
    `CPU per request at saturation, rollgate / autocannon: ${f(saturation.rgPer100k / saturation.acPer100k, 3)}x (target <= 1.0x)`,
    `CPU per request at ${fixedRate} req/s, rollgate / autocannon: ${f(fixed.rgPer100k / fixed.acPer100k, 3)}x (target <= 1.0x)`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  target.child.kill('SIGTERM');
  rmSync(bundleDir, { recursive: true, force: true });
}
