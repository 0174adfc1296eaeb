/**
 * Shapes shared by the load generator, the Generate Lambda, the aggregator and the reports.
 *
 * Everything here that crosses a process boundary (a shard going into the Map state, a worker result coming out of it)
 * is plain JSON: no Dates, no Maps, no functions.
 */

/**
 * One load generator's job: what the Map state passes to each Generate Lambda, and what `planShards` returns.
 * Plain JSON.
 */
export interface WorkerShard {
  /** Absolute http:// or https:// URL requested by every request. */
  url: string;
  /** Target arrival rate of this worker, requests per second (may be fractional). */
  rate: number;
  /** Measured duration, seconds. The warm-up comes on top. */
  durationSec: number;
  /** Keep-alive connections opened before the run (no pipelining: one request in flight on each). */
  connections: number;
  /**
   * Most connections the worker may have open: when a request is due and every open connection is busy, another is
   * opened, up to this many. At least `connections`. Default: enough for the rate at 4 s of latency (or the timeout,
   * if longer), at most 900 (a Lambda allows 1024 open files); see `defaultMaxConnections`.
   */
  maxConnections?: number;
  /** Per-request timeout, milliseconds. Default 2000. */
  timeoutMs?: number;
  /**
   * Most requests outstanding at once: on the wire plus waiting for a free connection. A request that falls due while
   * this many are outstanding is counted as dropped. Default: `maxConnections + ceil(rate * timeoutMs / 1000)`, the most
   * a target answering within the timeout can ever hold, so by default only a target slower than the timeout drops.
   */
  maxInFlight?: number;
  /** Unrecorded warm-up at the target rate after every connection is open, seconds. Default 1. */
  warmupSec?: number;
  /**
   * Scheduler tick, ms: one timer wake-up at the start of each tick releases every request scheduled within it, so the
   * generator wakes once per tick rather than once per request. A released request goes out as soon as a connection is
   * free, at most one tick ahead of its schedule; its latency counts from `min(sent, scheduled)`, so the batching never
   * adds to a latency and a late request (every connection busy, a stalled target) still counts its wait.
   * Default: the time of 250 requests (of 100 with more than 100 connections, so that a tick starts about 100 requests
   * at once at most), clamped to 1-250 ms (1000 req/s over 10 connections: 250 ms; 10,000 req/s: 25 ms; 20 req/s:
   * 250 ms). At most 1000.
   */
  tickMs?: number;
  /** HTTP method. Default GET. */
  method?: string;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Index of this worker in the plan (0-based); carried into the result for the report. Default 0. */
  workerIndex?: number;
  /**
   * Paired load (the judge): the same schedule is also sent to this route, the baseline, at the same moments from
   * the same worker; `url` and `headers` above are then the candidate's. The result carries the baseline's own
   * figures in `baseline`.
   */
  baseline?: BaselineRoute;
}

/** The baseline's route of a paired load test: its URL and its own request headers (none by default). */
export interface BaselineRoute {
  url: string;
  headers?: Record<string, string>;
}

/** A snapshot passed to `onProgress` about once a second while a worker measures. */
export interface ProgressSnapshot {
  workerIndex: number;
  /** Seconds since the measured window started. */
  elapsedSec: number;
  durationSec: number;
  /** Cumulative counts since the measured window started. */
  sent: number;
  completed: number;
  errors: number;
  dropped: number;
  /** Outstanding requests right now (on the wire plus queued for a connection). */
  inFlight: number;
  /** Connections opened so far (they stay open). */
  connections: number;
  /** p99 latency of the requests that completed in the last full second, ms (0 when none completed). */
  p99Ms: number;
}

/** Options of `runWorker`: a shard plus in-process controls that never cross a process boundary. */
export interface WorkerOptions extends WorkerShard {
  /** Called about once a second during the measured window. */
  onProgress?: (snapshot: ProgressSnapshot) => void;
  /** Aborting stops scheduling, closes the connections and resolves with what was measured (`aborted: true`). */
  signal?: AbortSignal;
}

/**
 * Request counters. Invariant once a run has ended: `scheduled = total + dropped`, `total = ok + errors`.
 */
export interface RequestCounts {
  /** Requests that fell due in the measured window. */
  scheduled: number;
  /** Requests that ended (a response of any status, or a failure). */
  total: number;
  /** Responses with status 100-399. */
  ok: number;
  /** Failures plus responses with status >= 400 (see `errorKinds`). */
  errors: number;
  /**
   * Requests never sent: `maxInFlight` requests were outstanding when they fell due, or every allowed connection stayed
   * busy for longer than the timeout after they fell due. The generator's loss, never counted as the target's error.
   */
  dropped: number;
  /**
   * Requests that waited for a connection past their scheduled time while fewer than `maxConnections` were open (a
   * new one was opened at the next completion or due-timer wake-up; that short wait is part of their latency).
   * Requests released early in their tick that are sent by their scheduled time are not counted.
   */
  queued: number;
  /**
   * Requests that waited for a connection past their scheduled time with `maxConnections` open and busy: the generator
   * could not keep the schedule. That wait is in `histograms.connectionWaitUs`, not in their latency (which counts
   * from when they were sent); the report calls the run generator-limited when these and `dropped` add up.
   */
  waited: number;
}

/**
 * Per-second timeline, columnar so a 600 s shard stays small. Index i covers [i, i+1) seconds after the measured
 * window started; completions that land after the window (draining) extend the arrays.
 */
export interface WorkerTimeline {
  /** Requests sent (written to a connection) in that second. */
  sent: number[];
  /** Requests that ended in that second. */
  completed: number[];
  /** Of those, errors. */
  errors: number[];
  /** Requests dropped in that second. */
  dropped: number[];
  /** p99 latency of the requests that ended in that second, microseconds (0 when none ended). */
  p99Us: number[];
}

/**
 * What one worker (one Generate Lambda, one worker thread) returns. Plain JSON; a 600 s shard is ~10-20 KB, so the
 * Map state's 256 KB result limit allows about a dozen workers (see `planShards`).
 */
export interface WorkerResult {
  schema: 'rollgate.loadtest.worker.v1';
  workerIndex: number;
  url: string;
  method: string;
  /** Wall-clock start of the measured window, ISO 8601. */
  startedAt: string;
  /** Configured measured duration, seconds. */
  durationSec: number;
  /** Measured window plus drain, seconds. */
  elapsedSec: number;
  /** Connections opened (up front and on demand). */
  connections: number;
  maxConnections: number;
  maxInFlight: number;
  timeoutMs: number;
  /** Requests per second: `target` as configured, `achieved` = requests sent / durationSec. */
  rate: { target: number; achieved: number };
  requests: RequestCounts;
  /** Response counts by HTTP status code ("200": 9812). */
  statusCodes: Record<string, number>;
  /** Error counts by kind: timeout, connection_refused, connection_reset, dns, tls, http_4xx, http_5xx, other. */
  errorKinds: Record<string, number>;
  /** Response body bytes received. */
  bytesReceived: number;
  /**
   * HdrHistograms (V2 compressed, base64, as `encodeIntoCompressedBase64` writes them), values in MICROSECONDS.
   * `latencyUs`: of answered requests (a response of any status), from each request's intended send time (or when it
   * was sent, if earlier, or if it waited with every allowed connection busy) to its response; coordinated-omission
   * correct. Failures (timeouts, refused connections) have no latency.
   * `latenessUs`: how late the scheduler released each request after the start of its tick, one value per scheduled
   * request; generator health, not the target's.
   * `connectionWaitUs`: how long each `waited` request waited for a connection past its schedule.
   */
  histograms: { latencyUs: string; latenessUs: string; connectionWaitUs: string };
  timeline: WorkerTimeline;
  /** True when the run was cut short by its AbortSignal. */
  aborted: boolean;
  /** A paired run's baseline: the same schedule sent to the baseline route (`WorkerShard.baseline`). */
  baseline?: WorkerResult;
}

/** Latency percentiles in milliseconds. */
export interface PercentilesMs {
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * Service level objectives a load test is judged by. All optional; `maxErrorRate` defaults to 1% when absent, and a run
 * in which no request was answered or most failed never passes (loadgen/slo.ts). The config schema (src/config)
 * mirrors this type.
 */
export interface SloSpec {
  /** Highest acceptable p95 latency, ms. */
  p95Ms?: number;
  /** Highest acceptable p99 latency, ms. */
  p99Ms?: number;
  /** Highest acceptable `requests.errors / requests.total`, a fraction (0.01 = 1%). */
  maxErrorRate?: number;
  /** Lowest acceptable `rate.achieved / rate.target`, a fraction (0.9 = 90% of the target rate). */
  minAchievedRate?: number;
}

export type SloMetric = 'p95Ms' | 'p99Ms' | 'errorRate' | 'achievedRate' | 'answered';

export interface SloViolation {
  metric: SloMetric;
  /** The SLO's limit, in the metric's unit (ms, or a fraction). */
  threshold: number;
  /** What was measured, same unit. */
  actual: number;
  /** One human sentence: "p95 latency 412.3 ms exceeds 250 ms". */
  message: string;
}

export interface SloResult {
  /** True only when the verdict is `pass`. */
  passed: boolean;
  /**
   * `pass`: every SLO held; `fail`: an SLO was violated, or no request was answered, or most failed; `inconclusive`:
   * the generator could not keep its schedule (`generator.limited`), so the run says nothing about the service.
   */
  verdict: 'pass' | 'fail' | 'inconclusive';
  /** What was violated (also listed for an inconclusive run, for information). */
  violations: SloViolation[];
  /** With verdict `inconclusive`: "inconclusive: the load generator could not keep up (<why>)". */
  inconclusive?: string;
}

/** Whether the generator kept its schedule well enough for the run to judge the service. */
export interface GeneratorHealth {
  /** True when requests waited for a connection with every allowed one busy, or were dropped, or the scheduler ran late. */
  limited: boolean;
  /** Why, one phrase each: "all 20 connections were busy: 1,204 of 4,000 requests (30.1%) waited for one ...". */
  reasons: string[];
}

/** One second of the merged timeline. */
export interface TimelinePoint {
  /** Seconds since the measured window started. */
  second: number;
  sent: number;
  completed: number;
  errors: number;
  dropped: number;
  /** The highest of the workers' p99 for that second, ms: an upper bound (percentiles cannot be merged exactly). */
  p99Ms: number;
}

/**
 * The load test report (`rollgate.loadtest.v1`): written as report.json next to report.html and summary.md, and to S3
 * by the pipeline. Incompatible changes bump the schema suffix.
 */
export interface LoadReport {
  schema: 'rollgate.loadtest.v1';
  /** ISO 8601: start of the measured window (the earliest worker's). */
  startedAt: string;
  url: string;
  method: string;
  /** Configured measured duration, seconds. */
  durationSec: number;
  /** Number of workers merged. */
  workers: number;
  /** Connections opened across workers (up front and on demand). */
  connections: number;
  /** The most connections the workers were allowed in all. */
  maxConnections: number;
  timeoutMs: number;
  /** Requests per second: `target` is the sum of the workers' targets, `achieved` = requests sent / durationSec. */
  rate: { target: number; achieved: number };
  requests: RequestCounts;
  /** `requests.errors / requests.total` (0 when nothing ended). */
  errorRate: number;
  /** Requests answered (a response of any status): what `latencyMs` is of. */
  answered: number;
  statusCodes: Record<string, number>;
  errorKinds: Record<string, number>;
  bytesReceived: number;
  /**
   * Latency of the answered requests (`answered` of them), ms, from the merged histogram: from each request's intended
   * send time (or when it was sent, if earlier, or if it waited with every allowed connection busy) to its response.
   */
  latencyMs: PercentilesMs;
  /** Scheduler lateness, ms: high values mean the generator, not the target, was the bottleneck. */
  latenessMs: PercentilesMs;
  /** How long `requests.waited` requests waited for a connection with every allowed one busy, ms (not in latency). */
  connectionWaitMs: PercentilesMs;
  /** Whether the generator kept its schedule; when it did not, the gate's verdict is `inconclusive`. */
  generator: GeneratorHealth;
  /** The verdict; `spec` is the SLOs as applied (`maxErrorRate` filled in with its default). */
  slo: SloResult & { spec: SloSpec };
  /** Merged HdrHistograms, V2 compressed base64, values in microseconds. */
  histograms: { latencyUs: string; latenessUs: string; connectionWaitUs: string };
  timeline: TimelinePoint[];
  /** One line per worker, for spotting a sick generator. */
  perWorker: Array<{
    workerIndex: number;
    rate: { target: number; achieved: number };
    requests: RequestCounts;
    connections: number;
    p99Ms: number;
    latenessP99Ms: number;
    aborted: boolean;
  }>;
  /** True when any worker was cut short. */
  aborted: boolean;
  /** A paired run: the baseline's report, merged from the workers' `baseline` results (this report is the candidate's). */
  baseline?: LoadReport;
  /** The judge's comparison of this run with its baseline (src/core/judge), when the target has `load.judge`. */
  judge?: JudgeReport;
}

/** The judge's verdict as the report keeps it: plain JSON, missing figures null. */
export interface JudgeReport {
  /** `Skipped`: nothing to compare with (no second route, no earlier DEPLOYED report with the same load settings). */
  verdict: 'Pass' | 'Marginal' | 'Fail' | 'NoData' | 'Skipped';
  /** `paired`: both versions under the same schedule at the same moments; `across-time`: an earlier execution's report. */
  comparison: 'paired' | 'across-time' | 'none';
  /** One line: the metrics' evidence and what the verdict means for the deploy. */
  reason: string;
  /** Percent of the metrics that passed; null when none had data (or nothing was compared). */
  score: number | null;
  confidence: number;
  /** Where the baseline came from: the baseline route's URL, or the earlier report's key and execution. */
  baseline: {
    url?: string;
    reportKey?: string;
    execution?: string;
    startedAt?: string;
    /** Across time: the earlier report's latency histogram (for the overlaid curves); paired: in `LoadReport.baseline`. */
    latencyUs?: string;
  };
  metrics: Array<{
    metric: string;
    class: 'High' | 'Low' | 'Pass' | 'NoData';
    passed: boolean;
    critical: boolean;
    direction: string;
    tolerance: number;
    samples: { baseline: number; candidate: number };
    baseline: number | null;
    candidate: number | null;
    change: number | null;
    p: number | null;
    shift: { estimate: number; low: number; high: number } | null;
    evidence: string;
  }>;
}
