/**
 * `rollgate loadtest`: a standalone load test with the pipeline's engine and report.
 *
 *   rollgate loadtest --url URL --rate RPS --duration S [--connections N] [--max-connections N] [--workers N] [--timeout MS]
 *                     [--warmup S] [--p95 MS] [--p99 MS] [--max-error-rate F] [--min-achieved-rate F]
 *                     [--json] [--out DIR]
 *
 * Exit codes: 0 the gate passed, 2 invalid flags, 3 the gate failed or was inconclusive, 1 the run failed.
 */
import { parseArgs } from 'node:util';
import { LoadInputError } from './errors.ts';
import { verdictLine } from './report.ts';
import { type LoadProgress, runLoadTest } from './run-local.ts';
import type { LoadReport, SloSpec } from './types.ts';

export const LOADTEST_USAGE = `Usage: rollgate loadtest --url URL --rate RPS --duration S [options]

Open-model load test: RPS requests per second at a constant arrival rate, latency measured from each request's
intended send time. Writes report.json, report.html and summary.md.

  --url URL               http:// or https:// URL to request (GET)
  --rate RPS              target requests per second (> 0)
  --duration S            measured seconds (> 0)
  --connections N         connections opened up front, in all (default 10)
  --max-connections N     most connections in all: more open when a request is due and all are busy
                          (default: enough for the rate at 4 s of latency, at most 900 per worker)
  --workers N             worker threads (default 1)
  --timeout MS            per-request timeout in ms (default 2000)
  --warmup S              unrecorded warm-up seconds (default 1)
  --p95 MS, --p99 MS      SLO: highest acceptable p95 / p99 latency, ms
  --max-error-rate F      SLO: highest acceptable error rate, a fraction (default 0.01 = 1%)
  --min-achieved-rate F   SLO: lowest acceptable achieved / target rate, a fraction (0.9)
  --json                  print the report JSON on stdout instead of a summary
  --out DIR               report directory (default reports/loadtest-<timestamp>/)

Latency percentiles are of answered requests. A run in which no request was answered, or most failed, fails
whatever the SLOs; a run the generator could not keep on schedule is inconclusive.

Exit codes: 0 passed, 2 invalid flags, 3 failed or inconclusive, 1 the run failed.`;

const OPTIONS = {
  url: { type: 'string' },
  rate: { type: 'string' },
  duration: { type: 'string' },
  connections: { type: 'string' },
  'max-connections': { type: 'string' },
  workers: { type: 'string' },
  timeout: { type: 'string' },
  warmup: { type: 'string' },
  p95: { type: 'string' },
  p99: { type: 'string' },
  'max-error-rate': { type: 'string' },
  'min-achieved-rate': { type: 'string' },
  json: { type: 'boolean', default: false },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/**
 * Where `rollgate loadtest` writes: the part of the CLI's `Io` (cli/io.ts, which extends this) it uses. The CLI
 * passes its own; tests pass theirs.
 */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** True when stderr is a terminal: progress then rewrites one line. */
  readonly isTty: boolean;
}

interface NumberRule {
  integer?: boolean;
  min: number;
  /** min is exclusive (> rather than >=). */
  above?: boolean;
  max?: number;
  what: string;
}

function parseNumber(flag: string, raw: string | undefined, rule: NumberRule): number | undefined {
  if (raw === undefined) return undefined;
  const value = raw.trim() === '' ? Number.NaN : Number(raw);
  const ok =
    Number.isFinite(value) &&
    (!rule.integer || Number.isInteger(value)) &&
    (rule.above ? value > rule.min : value >= rule.min) &&
    (rule.max === undefined || value <= rule.max);
  if (!ok) throw new LoadInputError(`--${flag} must be ${rule.what}, got ${JSON.stringify(raw)}`);
  return value;
}

/** `--timeout -3` -> `--timeout=-3`, so a negative number reaches validation rather than parseArgs' "ambiguous". */
function joinNegativeValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const next = argv[i + 1];
    const name = arg.slice(2) as keyof typeof OPTIONS;
    if (arg.startsWith('--') && OPTIONS[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

export interface LoadtestArgs {
  url: string;
  rate: number;
  durationSec: number;
  connections: number;
  maxConnections?: number;
  workers: number;
  timeoutMs?: number;
  warmupSec?: number;
  slo?: SloSpec;
  json: boolean;
  outDir: string;
}

/** Parses and validates the flags; throws LoadInputError naming the flag, the value and what was expected. */
export function parseLoadtestArgs(argv: string[], now: Date = new Date()): LoadtestArgs | 'help' {
  let values: ReturnType<
    typeof parseArgs<{ options: typeof OPTIONS; strict: true; allowPositionals: false }>
  >['values'];
  try {
    ({ values } = parseArgs({
      args: joinNegativeValues(argv),
      options: OPTIONS,
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    // node:util's messages ("Unknown option '--rat'", "Option '--rate <value>' argument missing") name the flag.
    throw new LoadInputError(`${(err as Error).message.replace(/\. To specify.*$/s, '')} (see --help)`);
  }
  if (values.help) return 'help';

  const url = values.url;
  if (url === undefined) throw new LoadInputError('--url is required: the http:// or https:// URL to load');
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new LoadInputError(`--url must be an absolute http:// or https:// URL, got ${JSON.stringify(url)}`);
  }
  const required = (flag: string, v: number | undefined, what: string): number => {
    if (v === undefined) throw new LoadInputError(`--${flag} is required: ${what}`);
    return v;
  };
  const rate = required(
    'rate',
    parseNumber('rate', values.rate, {
      min: 0,
      above: true,
      max: 1_000_000,
      what: 'a number of requests per second > 0',
    }),
    'the target requests per second',
  );
  const durationSec = required(
    'duration',
    parseNumber('duration', values.duration, { min: 0, above: true, max: 86_400, what: 'a number of seconds > 0' }),
    'the measured duration in seconds',
  );
  const givenConnections = parseNumber('connections', values.connections, {
    integer: true,
    min: 1,
    max: 10_000,
    what: 'an integer from 1 to 10000',
  });
  const maxConnections = parseNumber('max-connections', values['max-connections'], {
    integer: true,
    min: 1,
    max: 640_000,
    what: 'an integer >= 1',
  });
  const workers =
    parseNumber('workers', values.workers, { integer: true, min: 1, max: 64, what: 'an integer from 1 to 64' }) ?? 1;
  // A --max-connections below the default 10 lowers the connections opened up front with it.
  const connections = givenConnections ?? Math.max(workers, Math.min(10, maxConnections ?? 10));
  const timeoutMs = parseNumber('timeout', values.timeout, {
    integer: true,
    min: 1,
    max: 600_000,
    what: 'an integer number of milliseconds >= 1',
  });
  const warmupSec = parseNumber('warmup', values.warmup, { min: 0, max: 60, what: 'a number of seconds from 0 to 60' });
  const slo: SloSpec = {};
  const p95 = parseNumber('p95', values.p95, { min: 0, above: true, what: 'a latency in ms > 0' });
  const p99 = parseNumber('p99', values.p99, { min: 0, above: true, what: 'a latency in ms > 0' });
  const maxErr = parseNumber('max-error-rate', values['max-error-rate'], {
    min: 0,
    max: 1,
    what: 'a fraction from 0 to 1 (0.01 = 1%)',
  });
  const minRate = parseNumber('min-achieved-rate', values['min-achieved-rate'], {
    min: 0,
    max: 1,
    what: 'a fraction from 0 to 1 (0.9 = 90% of --rate)',
  });
  if (p95 !== undefined) slo.p95Ms = p95;
  if (p99 !== undefined) slo.p99Ms = p99;
  if (maxErr !== undefined) slo.maxErrorRate = maxErr;
  if (minRate !== undefined) slo.minAchievedRate = minRate;
  if (connections < workers) {
    throw new LoadInputError(`--connections must be at least --workers (${workers}), got ${connections}`);
  }
  if (maxConnections !== undefined && maxConnections < connections) {
    throw new LoadInputError(
      `--max-connections must be at least --connections (${connections}), got ${maxConnections}`,
    );
  }

  const stamp = now
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
  const args: LoadtestArgs = {
    url,
    rate,
    durationSec,
    connections,
    workers,
    json: values.json,
    outDir: values.out ?? `reports/loadtest-${stamp}`,
  };
  if (maxConnections !== undefined) args.maxConnections = maxConnections;
  if (timeoutMs !== undefined) args.timeoutMs = timeoutMs;
  if (warmupSec !== undefined) args.warmupSec = warmupSec;
  if (Object.keys(slo).length > 0) args.slo = slo;
  return args;
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const num = (n: number): string => Number(n.toFixed(1)).toLocaleString('en-US');

export function formatProgress(p: LoadProgress): string {
  const elapsed = Math.min(p.elapsedSec, p.durationSec);
  return (
    `[${num(elapsed).padStart(String(p.durationSec).length + 2)}/${p.durationSec} s] sent ${int(p.sent)}  ` +
    `rate ${int(p.achievedRate)}/s  errors ${int(p.errors)}  dropped ${int(p.dropped)}  conns ${int(p.connections)}  ` +
    `p99 ${num(p.p99Ms)} ms`
  );
}

export function formatSummary(report: LoadReport, paths?: { json: string; html: string; markdown: string }): string {
  const r = report;
  const l = r.latencyMs;
  const lines = [
    `${r.method} ${r.url}: ${r.durationSec} s at ${num(r.rate.target)} req/s (${r.workers} worker${r.workers > 1 ? 's' : ''})`,
    '',
    `  rate       ${num(r.rate.achieved)} req/s achieved of ${num(r.rate.target)}`,
    `  requests   ${int(r.requests.total)}  errors ${int(r.requests.errors)} (${Number((r.errorRate * 100).toFixed(2))}%)  dropped ${int(r.requests.dropped)}`,
    `  latency    p50 ${num(l.p50)}  p90 ${num(l.p90)}  p95 ${num(l.p95)}  p99 ${num(l.p99)}  p99.9 ${num(l.p999)}  max ${num(l.max)} ms` +
      ` (of ${int(r.answered)} answered)`,
    `  conns      ${int(r.connections)} used of ${int(r.maxConnections)} allowed` +
      (r.requests.waited > 0
        ? `; ${int(r.requests.waited)} requests waited for one, all busy (p99 ${num(r.connectionWaitMs.p99)} ms, not in latency)`
        : ''),
    `  lateness   p99 ${num(r.latenessMs.p99)} ms (the generator's own delay)`,
    `  status     ${
      Object.entries(r.statusCodes)
        .map(([c, n]) => `${c} x ${int(n)}`)
        .join(', ') || 'no responses'
    }`,
  ];
  if (Object.keys(r.errorKinds).length > 0) {
    lines.push(
      `  errors     ${Object.entries(r.errorKinds)
        .map(([k, n]) => `${k} x ${int(n)}`)
        .join(', ')}`,
    );
  }
  lines.push('', verdictLine(r).replace(/\*\*/g, ''));
  if (r.slo.verdict === 'inconclusive' && r.slo.violations.length > 0) lines.push('  Also measured (not a verdict):');
  for (const v of r.slo.violations) lines.push(`  - ${v.message}`);
  if (r.aborted) lines.push('', 'Stopped early: the figures cover what was measured.');
  if (paths) lines.push('', `Report: ${paths.html}`, `        ${paths.json}`, `        ${paths.markdown}`);
  return `${lines.join('\n')}\n`;
}

/** Runs `rollgate loadtest`; returns the exit code. Never throws for bad flags (exit 2, message on stderr). */
export async function loadtestCommand(argv: string[], io: CliIo): Promise<number> {
  let args: LoadtestArgs | 'help';
  try {
    args = parseLoadtestArgs(argv);
  } catch (err) {
    if (err instanceof LoadInputError) {
      io.stderr(`rollgate loadtest: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (args === 'help') {
    io.stdout(`${LOADTEST_USAGE}\n`);
    return 0;
  }

  const controller = new AbortController();
  const onSigint = () => {
    io.stderr('\nStopping: finishing the report with what was measured (Ctrl-C again to quit now).\n');
    controller.abort();
  };
  process.once('SIGINT', onSigint);
  let lastLen = 0;
  try {
    const { report, paths } = await runLoadTest({
      url: args.url,
      rate: args.rate,
      durationSec: args.durationSec,
      connections: args.connections,
      ...(args.maxConnections !== undefined ? { maxConnections: args.maxConnections } : {}),
      workers: args.workers,
      ...(args.timeoutMs !== undefined ? { timeoutMs: args.timeoutMs } : {}),
      ...(args.warmupSec !== undefined ? { warmupSec: args.warmupSec } : {}),
      ...(args.slo ? { slo: args.slo } : {}),
      outDir: args.outDir,
      signal: controller.signal,
      onProgress: (p) => {
        const line = formatProgress(p);
        if (io.isTty) {
          io.stderr(`\r${line.padEnd(lastLen)}`);
          lastLen = line.length;
        } else {
          io.stderr(`${line}\n`);
        }
      },
    });
    if (io.isTty && lastLen > 0) io.stderr('\n');
    io.stdout(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatSummary(report, paths));
    if (args.json && paths) io.stderr(`Report: ${paths.html}\n`);
    return report.slo.passed ? 0 : 3;
  } catch (err) {
    if (io.isTty && lastLen > 0) io.stderr('\n');
    if (err instanceof LoadInputError) {
      io.stderr(`rollgate loadtest: ${err.message}\n`);
      return 2;
    }
    io.stderr(`rollgate loadtest: the load test failed: ${(err as Error).message}\n`);
    return 1;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
