/**
 * `rollgate loadtest`'s runner: the pipeline's load test on one machine. Shards the load like the Map state does, runs
 * each shard in a worker thread (so N workers use N cores), merges the results with the same `aggregate`, and writes
 * the report files when `outDir` is given.
 */
import { Worker } from 'node:worker_threads';
import { aggregate } from './aggregate.ts';
import { runWorker } from './engine.ts';
import { LoadInputError } from './errors.ts';
import { splitShards } from './plan.ts';
import { type ReportPaths, writeReportFiles } from './report.ts';
import type { LoadReport, ProgressSnapshot, SloSpec, WorkerResult, WorkerShard } from './types.ts';
import { resolveShard } from './validate.ts';
import type { FromWorker, ToWorker } from './worker-thread.ts';

export interface LoadTestOptions {
  url: string;
  /** Total target rate, req/s, split evenly over the workers. */
  rate: number;
  durationSec: number;
  /** Connections opened up front, split over the workers. Default 10. */
  connections?: number;
  /**
   * Most connections in all, split over the workers: more open on demand when a request is due and every one is busy.
   * Default: each worker's `defaultMaxConnections` (the rate at 4 s of latency).
   */
  maxConnections?: number;
  /** Worker threads. Default 1. */
  workers?: number;
  timeoutMs?: number;
  warmupSec?: number;
  method?: string;
  headers?: Record<string, string>;
  slo?: SloSpec;
  /** Where report.json, report.html and summary.md go; nothing is written when absent. */
  outDir?: string;
  /** Called about once a second with the workers' snapshots merged. */
  onProgress?: (progress: LoadProgress) => void;
  /** Aborting stops every worker; the report then covers what was measured (`aborted: true`). */
  signal?: AbortSignal;
  /** Run the shards in this thread instead of worker threads (tests, debugging). Default false. */
  inProcess?: boolean;
}

/** The merged progress of all workers: their snapshots summed, and the highest p99. */
export interface LoadProgress extends Omit<ProgressSnapshot, 'workerIndex'> {
  /** Requests sent per second so far. */
  achievedRate: number;
}

export interface LoadTestResult {
  report: LoadReport;
  /** Present when `outDir` was given. */
  paths?: ReportPaths;
}

const BOOTSTRAP = new URL('./worker-bootstrap.mjs', import.meta.url);

function runInThread(shard: WorkerShard, onProgress: (p: ProgressSnapshot) => void, signal?: AbortSignal) {
  return new Promise<WorkerResult>((resolve, reject) => {
    // execArgv []: the bootstrap registers tsx itself, whatever loader (tsx CLI, vitest) started this process.
    const worker = new Worker(BOOTSTRAP, { workerData: shard, execArgv: [] });
    let settled = false;
    const onAbort = () => worker.postMessage({ type: 'abort' } satisfies ToWorker);
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'progress') onProgress(message.progress);
      else if (message.type === 'result') done(() => resolve(message.result));
      else {
        const err =
          message.name === 'LoadInputError' ? new LoadInputError(message.message) : new Error(message.message);
        done(() => reject(err));
      }
    });
    worker.on('error', (err) => done(() => reject(err)));
    worker.on('exit', (code) =>
      done(() => reject(new Error(`load worker ${shard.workerIndex ?? 0} exited with code ${code} before its result`))),
    );
  });
}

/**
 * Runs a load test locally and returns the merged `rollgate.loadtest.v1` report.
 *
 * @throws LoadInputError when an option is invalid (the message names it).
 */
export async function runLoadTest(opts: LoadTestOptions): Promise<LoadTestResult> {
  const workers = opts.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
    throw new LoadInputError(`workers must be an integer from 1 to 64, got ${JSON.stringify(opts.workers)}`);
  }
  const connections = opts.connections ?? 10;
  const plan = {
    url: opts.url,
    rate: opts.rate,
    durationSec: opts.durationSec,
    connections,
    ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}),
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.warmupSec !== undefined ? { warmupSec: opts.warmupSec } : {}),
    ...(opts.method !== undefined ? { method: opts.method } : {}),
    ...(opts.headers !== undefined ? { headers: opts.headers } : {}),
  };
  resolveShard(plan); // the whole test's options, so messages name the user's values
  const shards = splitShards(plan, workers);

  // Each worker reports once a second of its measured window. A second is shown once every worker has reported it (or
  // one worker is already a second past it, so a lagging worker cannot stall the display), with every worker's latest
  // figures merged. Driven by the workers' reports rather than a timer of ours, so a run that ends just before a whole
  // second still shows the seconds it ran.
  const latest = new Map<number, ProgressSnapshot>();
  let shownSecond = 0;
  const onSnapshot = (p: ProgressSnapshot) => {
    latest.set(p.workerIndex, p);
    if (!opts.onProgress) return;
    const all = [...latest.values()];
    const seconds = all.map((q) => Math.round(q.elapsedSec));
    const reportedByAll = latest.size === shards.length ? Math.min(...seconds) : 0;
    const second = Math.max(reportedByAll, Math.max(...seconds) - 1);
    if (second <= shownSecond) return;
    shownSecond = second;
    const elapsedSec = Math.max(...all.map((q) => q.elapsedSec));
    const sum = (k: 'sent' | 'completed' | 'errors' | 'dropped' | 'inFlight' | 'connections') =>
      all.reduce((a, q) => a + q[k], 0);
    opts.onProgress({
      elapsedSec,
      durationSec: opts.durationSec,
      sent: sum('sent'),
      completed: sum('completed'),
      errors: sum('errors'),
      dropped: sum('dropped'),
      inFlight: sum('inFlight'),
      connections: sum('connections'),
      achievedRate: elapsedSec > 0 ? Math.round(sum('sent') / Math.min(elapsedSec, opts.durationSec)) : 0,
      p99Ms: Math.max(...all.map((q) => q.p99Ms)),
    });
  };

  const results = await Promise.all(
    shards.map((shard) =>
      opts.inProcess
        ? runWorker({ ...shard, onProgress: onSnapshot, ...(opts.signal ? { signal: opts.signal } : {}) })
        : runInThread(shard, onSnapshot, opts.signal),
    ),
  );
  const report = aggregate(results, { ...(opts.slo ? { slo: opts.slo } : {}), url: opts.url });
  if (opts.outDir === undefined) return { report };
  return { report, paths: await writeReportFiles(opts.outDir, report) };
}
