/**
 * Merges the workers' results into one load report, as the pipeline's Aggregate state and `rollgate loadtest` do.
 * Pure: the same input gives the same report (no clock, no randomness, no I/O).
 */
import { LoadInputError } from './errors.ts';
import { encodeHistogram, mergeEncoded, percentilesMs } from './histograms.ts';
import { evaluateSlo } from './slo.ts';
import type { LoadReport, RequestCounts, SloSpec, TimelinePoint, WorkerResult } from './types.ts';

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

/**
 * Merges worker results: histograms are decoded and added bucket by bucket (exact, never averaged percentiles),
 * counters summed, timelines summed second by second (each worker's second 0 is its own measured start; Map state
 * workers start within a second or so of each other). A second's merged p99 is the highest of the workers' p99.
 *
 * @throws LoadInputError when `results` is empty or a result is not a `rollgate.loadtest.worker.v1`.
 */
export function aggregate(results: readonly WorkerResult[], meta: AggregateMeta = {}): LoadReport {
  const first = results[0];
  if (first === undefined) throw new LoadInputError('results must hold at least one worker result, got none');
  results.forEach((r, i) => {
    if (r?.schema !== 'rollgate.loadtest.worker.v1') {
      throw new LoadInputError(
        `results[${i}].schema must be "rollgate.loadtest.worker.v1", got ${JSON.stringify(r?.schema)}`,
      );
    }
  });
  const ordered = [...results].sort((a, b) => a.workerIndex - b.workerIndex);

  const requests: RequestCounts = { scheduled: 0, total: 0, ok: 0, errors: 0, dropped: 0, queued: 0 };
  const statusCodes: Record<string, number> = {};
  const errorKinds: Record<string, number> = {};
  let bytesReceived = 0;
  let target = 0;
  let connections = 0;
  let sent = 0;
  const timeline: TimelinePoint[] = [];
  for (const r of ordered) {
    for (const key of Object.keys(requests) as Array<keyof RequestCounts>) requests[key] += r.requests[key];
    addCounts(statusCodes, r.statusCodes);
    addCounts(errorKinds, r.errorKinds);
    bytesReceived += r.bytesReceived;
    target += r.rate.target;
    connections += r.connections;
    sent += r.timeline.sent.reduce((a, n) => a + n, 0);
    const t = r.timeline;
    for (let s = 0; s < t.completed.length; s++) {
      while (timeline.length <= s) {
        timeline.push({ second: timeline.length, sent: 0, completed: 0, errors: 0, dropped: 0, p99Ms: 0 });
      }
      const point = timeline[s] as TimelinePoint;
      point.sent += t.sent[s] ?? 0;
      point.completed += t.completed[s] ?? 0;
      point.errors += t.errors[s] ?? 0;
      point.dropped += t.dropped[s] ?? 0;
      point.p99Ms = Math.max(point.p99Ms, (t.p99Us[s] ?? 0) / 1000);
    }
  }

  const latency = mergeEncoded(ordered.map((r) => r.histograms.latencyUs));
  const lateness = mergeEncoded(ordered.map((r) => r.histograms.latenessUs));
  const durationSec = Math.max(...ordered.map((r) => r.durationSec));
  const startedAt = ordered.map((r) => r.startedAt).sort()[0] ?? first.startedAt;

  const partial = {
    latencyMs: percentilesMs(latency),
    errorRate: requests.total > 0 ? requests.errors / requests.total : 0,
    rate: { target: round2(target), achieved: round2(sent / durationSec) },
  };
  const slo = meta.slo ?? {};

  return {
    schema: 'rollgate.loadtest.v1',
    startedAt,
    url: meta.url ?? first.url,
    method: first.method,
    durationSec,
    workers: ordered.length,
    connections,
    timeoutMs: first.timeoutMs,
    rate: partial.rate,
    requests,
    errorRate: Math.round(partial.errorRate * 1e6) / 1e6,
    statusCodes: sortedRecord(statusCodes),
    errorKinds: sortedRecord(errorKinds),
    bytesReceived,
    latencyMs: partial.latencyMs,
    latenessMs: percentilesMs(lateness),
    slo: { spec: { ...slo }, ...evaluateSlo(partial, slo) },
    histograms: { latencyUs: encodeHistogram(latency), latenessUs: encodeHistogram(lateness) },
    timeline,
    perWorker: ordered.map((r) => {
      const p = percentilesMs(mergeEncoded([r.histograms.latencyUs]));
      const l = percentilesMs(mergeEncoded([r.histograms.latenessUs]));
      return {
        workerIndex: r.workerIndex,
        rate: r.rate,
        requests: r.requests,
        p99Ms: p.p99,
        latenessP99Ms: l.p99,
        aborted: r.aborted,
      };
    }),
    aborted: ordered.some((r) => r.aborted),
  };
}
