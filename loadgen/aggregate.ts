/**
 * Merges the workers' results into one load report, as the pipeline's Aggregate state and `rollgate loadtest` do.
 * Pure: the same input gives the same report (no clock, no randomness, no I/O).
 */

import type { Histogram } from 'hdr-histogram-js';
import { LoadInputError } from './errors.ts';
import { createHistogram, decodeHistogram, encodeHistogram, percentilesMs } from './histograms.ts';
import { effectiveSlo, evaluateSlo } from './slo.ts';
import type {
  GeneratorHealth,
  LoadReport,
  PercentilesMs,
  RequestCounts,
  SloSpec,
  TimelinePoint,
  WorkerResult,
} from './types.ts';

/**
 * More than this fraction of the scheduled requests waiting for a connection (every allowed one busy) or never sent
 * makes the run generator-limited: below it, a handful of requests in a brief burst does not void the run.
 */
export const LIMITED_FRACTION = 0.01;
/**
 * Scheduler lateness p99 above this makes the run generator-limited: the generator (its CPU or event loop) released
 * requests this late, so it did not offer the planned load. Well above a tick timer's usual lateness (~1-5 ms).
 */
export const LATE_LIMIT_MS = 100;

/** What the results do not say about the test as a whole. */
export interface AggregateMeta {
  /** The SLOs to judge by; `{}` or absent: nothing to violate. */
  slo?: SloSpec;
  /** Overrides the URL taken from the first result (e.g. to drop a query string with a token). */
  url?: string;
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [key, n] of Object.entries(from)) into[key] = (into[key] ?? 0) + n;
}

function sortedRecord(record: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

const round2 = (n: number): number => Math.round(n * 100) / 100;
const int = (n: number): string => n.toLocaleString('en-US');
const ms = (n: number): string => `${Number(n.toFixed(1))} ms`;

/** Whether the workers kept their schedule; see LIMITED_FRACTION and LATE_LIMIT_MS. */
export function generatorHealth(
  requests: RequestCounts,
  maxConnections: number,
  connectionWaitMs: PercentilesMs,
  latenessMs: PercentilesMs,
): GeneratorHealth {
  const reasons: string[] = [];
  const late = requests.waited + requests.dropped;
  if (requests.scheduled > 0 && late > LIMITED_FRACTION * requests.scheduled) {
    const share = `${Number(((late / requests.scheduled) * 100).toFixed(1))}%`;
    const parts: string[] = [];
    if (requests.waited > 0) parts.push(`${int(requests.waited)} waited for one (p99 ${ms(connectionWaitMs.p99)})`);
    if (requests.dropped > 0) parts.push(`${int(requests.dropped)} were never sent`);
    reasons.push(
      `all ${int(maxConnections)} connections it may open were busy: of ${int(requests.scheduled)} requests, ` +
        `${parts.join(' and ')} (${share}); raise the connection maximum (maxConnections, --max-connections)`,
    );
  }
  if (latenessMs.p99 > LATE_LIMIT_MS) {
    reasons.push(`its scheduler ran ${ms(latenessMs.p99)} late at p99: short of CPU; add workers`);
  }
  return { limited: reasons.length > 0, reasons };
}

/** The encoding of an empty histogram: most workers' connectionWaitUs, skipped rather than decoded. */
let emptyEncoded: string | undefined;

/** Adds `encoded` into `into` and returns it decoded (absent in results of older workers, or empty: undefined). */
function addEncoded(into: Histogram, encoded: string | undefined): Histogram | undefined {
  emptyEncoded ??= encodeHistogram(createHistogram());
  if (!encoded || encoded === emptyEncoded) return undefined;
  const h = decodeHistogram(encoded);
  into.add(h);
  return h;
}

/**
 * p99 of one worker's histogram, ms (0 when empty). Only the p99: the full percentilesMs (mean, min) walks every
 * bucket several times, which was 80% of aggregating 1000 workers (bench/aggregate-load.ts).
 */
function p99Ms(h: Histogram | undefined): number {
  return h === undefined || h.totalCount === 0 ? 0 : Math.round(h.getValueAtPercentile(99)) / 1000;
}

/** What aggregate merges: a worker's result, or a report merged from a group of them (MergeGroup's partial). */
export type MergeInput = WorkerResult | LoadReport;

/** The lowest worker index an input covers: the order inputs are merged in. */
function firstWorker(r: MergeInput): number {
  return r.schema === 'rollgate.loadtest.worker.v1' ? r.workerIndex : (r.perWorker[0]?.workerIndex ?? 0);
}

/**
 * Merges worker results, or reports already merged from groups of them (the pipeline merges each group of at most 40
 * workers in parallel, then the groups: the same report as merging every worker at once). Histograms are decoded and
 * added bucket by bucket (exact, never averaged percentiles), counters summed, timelines summed second by second (each
 * worker's second 0 is its own measured start; Map state workers start within a second or so of each other). A
 * second's merged p99 is the highest of the workers' p99.
 *
 * @throws LoadInputError when `results` is empty or an input is neither a `rollgate.loadtest.worker.v1` nor a
 *   `rollgate.loadtest.v1`.
 */
export function aggregate(results: readonly MergeInput[], meta: AggregateMeta = {}): LoadReport {
  const first = results[0];
  if (first === undefined) throw new LoadInputError('results must hold at least one worker result, got none');
  results.forEach((r, i) => {
    const schema = (r as { schema?: unknown } | null)?.schema;
    if (schema !== 'rollgate.loadtest.worker.v1' && schema !== 'rollgate.loadtest.v1') {
      throw new LoadInputError(
        `results[${i}].schema must be "rollgate.loadtest.worker.v1" (a worker's) or "rollgate.loadtest.v1" (a ` +
          `group's merge), got ${JSON.stringify(schema)}`,
      );
    }
  });
  const ordered = [...results].sort((a, b) => firstWorker(a) - firstWorker(b));

  const requests: RequestCounts = { scheduled: 0, total: 0, ok: 0, errors: 0, dropped: 0, queued: 0, waited: 0 };
  const statusCodes: Record<string, number> = {};
  const errorKinds: Record<string, number> = {};
  let bytesReceived = 0;
  let target = 0;
  let connections = 0;
  let maxConnections = 0;
  let sent = 0;
  const latency = createHistogram();
  const lateness = createHistogram();
  const connectionWait = createHistogram();
  const perWorker: LoadReport['perWorker'] = [];
  const timeline: TimelinePoint[] = [];
  const addSecond = (s: number, add: Omit<TimelinePoint, 'second'>) => {
    while (timeline.length <= s) {
      timeline.push({ second: timeline.length, sent: 0, completed: 0, errors: 0, dropped: 0, p99Ms: 0 });
    }
    const point = timeline[s] as TimelinePoint;
    point.sent += add.sent;
    point.completed += add.completed;
    point.errors += add.errors;
    point.dropped += add.dropped;
    point.p99Ms = Math.max(point.p99Ms, add.p99Ms);
  };
  for (const r of ordered) {
    for (const key of Object.keys(requests) as Array<keyof RequestCounts>) requests[key] += r.requests[key] ?? 0;
    addCounts(statusCodes, r.statusCodes);
    addCounts(errorKinds, r.errorKinds);
    bytesReceived += r.bytesReceived;
    // a group's report rounds its rates: its workers' own, unrounded, add up to the same total as merging them did
    target += r.schema === 'rollgate.loadtest.v1' ? r.perWorker.reduce((a, w) => a + w.rate.target, 0) : r.rate.target;
    connections += r.connections;
    maxConnections += r.maxConnections ?? r.connections;
    // Each histogram decoded once: into the merged one, and for a worker's own line.
    const ownLatency = addEncoded(latency, r.histograms.latencyUs);
    const ownLateness = addEncoded(lateness, r.histograms.latenessUs);
    addEncoded(connectionWait, r.histograms.connectionWaitUs);
    if (r.schema === 'rollgate.loadtest.v1') {
      perWorker.push(...r.perWorker);
      for (const point of r.timeline) {
        sent += point.sent;
        addSecond(point.second, point);
      }
      continue;
    }
    perWorker.push({
      workerIndex: r.workerIndex,
      rate: r.rate,
      requests: r.requests,
      connections: r.connections,
      p99Ms: p99Ms(ownLatency),
      latenessP99Ms: p99Ms(ownLateness),
      aborted: r.aborted,
    });
    const t = r.timeline;
    sent += t.sent.reduce((a, n) => a + n, 0);
    for (let s = 0; s < t.completed.length; s++) {
      addSecond(s, {
        sent: t.sent[s] ?? 0,
        completed: t.completed[s] ?? 0,
        errors: t.errors[s] ?? 0,
        dropped: t.dropped[s] ?? 0,
        p99Ms: (t.p99Us[s] ?? 0) / 1000,
      });
    }
  }
  perWorker.sort((a, b) => a.workerIndex - b.workerIndex);

  const durationSec = Math.max(...ordered.map((r) => r.durationSec));
  const startedAt = ordered.map((r) => r.startedAt).sort()[0] ?? first.startedAt;

  const latenessMs = percentilesMs(lateness);
  const connectionWaitMs = percentilesMs(connectionWait);
  const answered = Object.values(statusCodes).reduce((a, n) => a + n, 0);
  const partial = {
    latencyMs: percentilesMs(latency),
    errorRate: requests.total > 0 ? requests.errors / requests.total : 0,
    rate: { target: round2(target), achieved: round2(sent / durationSec) },
    requests,
    answered,
    generator: generatorHealth(requests, maxConnections, connectionWaitMs, latenessMs),
  };
  const slo = meta.slo ?? {};

  return {
    schema: 'rollgate.loadtest.v1',
    startedAt,
    url: meta.url ?? first.url,
    method: first.method,
    durationSec,
    workers: perWorker.length,
    connections,
    maxConnections,
    timeoutMs: first.timeoutMs,
    rate: partial.rate,
    requests,
    errorRate: Math.round(partial.errorRate * 1e6) / 1e6,
    answered,
    statusCodes: sortedRecord(statusCodes),
    errorKinds: sortedRecord(errorKinds),
    bytesReceived,
    latencyMs: partial.latencyMs,
    latenessMs,
    connectionWaitMs,
    generator: partial.generator,
    slo: { spec: effectiveSlo(slo), ...evaluateSlo(partial, slo) },
    histograms: {
      latencyUs: encodeHistogram(latency),
      latenessUs: encodeHistogram(lateness),
      connectionWaitUs: encodeHistogram(connectionWait),
    },
    timeline,
    perWorker,
    aborted: ordered.some((r) => r.aborted),
    ...pairedBaseline(ordered, slo),
  };
}

/**
 * A paired run's baseline report: the workers' `baseline` results merged the same way (present only when every input
 * has one: a partial baseline would compare unlike loads).
 */
function pairedBaseline(ordered: readonly MergeInput[], slo: SloSpec): { baseline?: LoadReport } {
  const baselines = ordered.map((r) => r.baseline);
  if (!baselines.every((b): b is MergeInput => b !== undefined)) return {};
  return { baseline: aggregate(baselines, { slo }) };
}
