import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { aggregate, type MergeInput } from '../../loadgen/aggregate.ts';
import { generate } from '../../loadgen/generate.ts';
import { planShards, workerGroups } from '../../loadgen/plan.ts';
import { renderReportHtml, renderSummaryMd } from '../../loadgen/report.ts';
import type { BaselineRoute, LoadReport, SloSpec, WorkerShard } from '../../loadgen/types.ts';
import type { LoadSpec } from '../config/schema.ts';
import type { JudgeSummary } from './audit.ts';
import { LoadResultError } from './errors.ts';
import { type GateRoute, routedUrl } from './gate-route.ts';
import { GATES_DIR, judgeLoad } from './load-judge.ts';
import { loadResultPrefix, reportPrefix } from './naming.ts';

/**
 * PlanLoad's output (`$.loadPlan`). The GenerateLoad Map state iterates `groups` (at most 40 worker indices each),
 * and each group's inner Map runs one GenerateLoad Lambda per index with `shard` and its `workerIndex`: every worker's
 * shard is the same but for its index, so the plan stays a few KB for 1000 workers.
 */
export interface LoadPlan {
  /** The shard every worker runs (`workerIndex` added by the inner Map). */
  readonly shard: WorkerShard;
  /** Worker indices 0..workers-1 in groups of at most 40 (loadgen/plan.ts `workerGroups`). */
  readonly groups: number[][];
  readonly workers: number;
  /** Where the workers write their results: `<resultPrefix><workerIndex>.json`. */
  readonly resultPrefix: string;
  readonly reportPrefix: string;
}

/** Splits the target's load into shards within Lambda's and Step Functions' limits (loadgen/plan.ts). Pure. */
export function planLoad(params: {
  readonly load: LoadSpec;
  readonly cluster: string;
  readonly service: string;
  readonly executionName: string;
  /** A gate's route (src/core/gates.ts): another origin for `load.url`, extra request headers. */
  readonly route?: GateRoute | undefined;
  /** The gate's stage: at the test stage, production is all the old version, the baseline a paired judge needs. */
  readonly stage?: 'test' | 'production' | undefined;
  /** The gate's id: its report goes under `gates/<id>/` of the execution's, so a later load test keeps it. */
  readonly gateId?: string | undefined;
}): LoadPlan {
  const { load, route } = params;
  const baseline = pairedBaseline(load, route, params.stage);
  const shards = planShards({
    url: routedUrl(load.url, route),
    ...(route?.headers ? { headers: { ...route.headers } } : {}),
    rate: load.rate,
    durationSec: load.durationSeconds,
    workers: load.workers,
    connections: load.connections,
    ...(load.maxConnections !== undefined ? { maxConnections: load.maxConnections } : {}),
    timeoutMs: load.timeoutMs,
  });
  const { workerIndex: _, ...shard } = shards[0] as WorkerShard;
  return {
    shard: baseline ? { ...shard, baseline } : shard,
    groups: workerGroups(shards.length),
    workers: shards.length,
    resultPrefix: loadResultPrefix(params.executionName),
    reportPrefix: `${reportPrefix(params.cluster, params.service, params.executionName)}${params.gateId ? `${GATES_DIR}${params.gateId}/` : ''}`,
  };
}

/**
 * The baseline route of a paired load test, when the target has a judge that may pair and the load runs on a second
 * route: the test listener (its own origin), or, at the test stage, the test header on the production listener. The
 * baseline is production (`load.url`, no extra headers), which at the test stage is all the old version. A production
 * step has no clean second route (production then mixes both versions), so it is not paired.
 */
export function pairedBaseline(
  load: LoadSpec,
  route: GateRoute | undefined,
  stage: 'test' | 'production' | undefined,
): BaselineRoute | undefined {
  if (!load.judge || load.judge.baseline === 'previous' || !route) return undefined;
  if (route.origin || (stage === 'test' && route.headers)) return { url: load.url };
  return undefined;
}

/**
 * GenerateLoad: runs one worker's shard (loadgen/generate.ts `generate`, which keeps the run inside the Lambda's time)
 * and writes its result to S3 as `<resultPrefix><workerIndex>.json`.
 *
 * @returns the result's key: all the Map state holds of a worker (its result is 10-40 KB, 1000 of them would not fit
 *   the 256 KB state payload).
 */
export async function generateLoad(params: {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly shard: WorkerShard;
  readonly workerIndex: number;
  readonly resultPrefix: string;
  readonly context?: Partial<Pick<Context, 'getRemainingTimeInMillis'>>;
}): Promise<string> {
  const { s3, bucket, workerIndex } = params;
  const result = await generate({ ...params.shard, workerIndex }, params.context);
  const key = `${params.resultPrefix}${workerIndex}.json`;
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(result), ContentType: 'application/json' }),
  );
  return key;
}

/** Reads at most this many results from S3 at once (the SDK's default HTTP agent keeps 50 sockets). */
const READ_CONCURRENCY = 50;

/** Reads the workers' results from S3, `keys` in order, READ_CONCURRENCY at a time. */
export async function readResults(s3: S3Client, bucket: string, keys: readonly string[]): Promise<MergeInput[]> {
  const results: MergeInput[] = new Array(keys.length);
  let next = 0;
  const reader = async (): Promise<void> => {
    while (next < keys.length) {
      const i = next++;
      const key = keys[i] as string;
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const text = await out.Body?.transformToString();
      try {
        results[i] = JSON.parse(text ?? '') as MergeInput;
      } catch (err) {
        throw new LoadResultError(`load result s3://${bucket}/${key} is not JSON`, { cause: err });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, keys.length) }, reader));
  return results;
}

/** `keys`, once each is known to be under `prefix` (this execution's results, never another's). */
function checkedKeys(keys: readonly string[], prefix: string): readonly string[] {
  const stray = keys.find((k) => !k.startsWith(prefix));
  if (stray !== undefined) throw new LoadResultError(`load result key ${JSON.stringify(stray)} is not under ${prefix}`);
  return keys;
}

/**
 * MergeGroup: merges one group's worker results (at most 40, read from S3) into one report and writes it under the
 * result prefix (`group-<first>-<last>.json`, by worker index); its key is what the group hands on. The groups merge
 * in parallel, so AggregateLoad reads and merges ~25 objects rather than 1000 (bench/aggregate-load.ts), and the
 * report it makes is the same (loadgen/aggregate.ts merges groups' reports exactly). Idempotent: a retry writes the
 * same object.
 */
export async function mergeLoadGroup(params: {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly resultKeys: readonly string[];
  readonly resultPrefix: string;
}): Promise<string> {
  const { s3, bucket, resultPrefix } = params;
  const merged = aggregate(await readResults(s3, bucket, checkedKeys(params.resultKeys, resultPrefix)));
  const key = `${resultPrefix}group-${merged.perWorker[0]?.workerIndex}-${merged.perWorker.at(-1)?.workerIndex}.json`;
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(merged), ContentType: 'application/json' }),
  );
  return key;
}

/**
 * AggregateLoad's output (`$.load`): the verdict the LoadPassed Choice state reads (`passed`), the reason a Fail
 * carries, and where the report is. Small on purpose: it replaces the workers' results in the state.
 */
export interface LoadOutcome {
  /**
   * Whether the deploy goes on: the verdict is `pass`, or `inconclusive` with the target's `load.onInconclusive`
   * `deploy`. The LoadPassed Choice state reads it, then `verdict` (inconclusive -> LoadInconclusive, else SloViolated).
   */
  readonly passed: boolean;
  /** The gate's verdict (loadgen/slo.ts): `inconclusive` when the generator could not keep its schedule. */
  readonly verdict: 'pass' | 'fail' | 'inconclusive';
  /** One line: the SLO violations, or why the run is inconclusive, or the figures that met the SLOs. */
  readonly reason: string;
  readonly reportKey: string;
  readonly htmlKey: string;
  readonly summaryKey: string;
  readonly violations: string[];
  readonly latencyMs: { readonly p50: number; readonly p95: number; readonly p99: number };
  readonly errorRate: number;
  readonly rate: { readonly target: number; readonly achieved: number };
  readonly requests: { readonly total: number; readonly errors: number; readonly dropped: number };
  /**
   * With `load.judge`: the judge's verdict (src/core/load-judge.ts). `failedBy` says which gate stopped the deploy
   * (`judge`: the SLOs held, the comparison did not; LoadPassed then goes to JudgeFailed).
   */
  readonly judge?: JudgeSummary;
  readonly failedBy?: 'slo' | 'judge';
}

/**
 * Reads the workers' results from S3 (the keys the GenerateLoad Map state collected, one array per group), merges
 * their histograms (exactly: loadgen/aggregate.ts), judges the SLOs, and writes report.json, report.html and
 * summary.md under the report prefix.
 *
 * @throws LoadResultError when a key is outside the plan's result prefix or a result is not JSON.
 */
export async function aggregateLoad(params: {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly resultKeys: readonly (string | readonly string[])[];
  readonly resultPrefix: string;
  readonly load: LoadSpec;
  readonly reportPrefix: string;
  /** For the judge's comparison across time: whose earlier DEPLOYED reports to read (AggregateLoad passes them). */
  readonly cluster?: string;
  readonly service?: string;
  readonly executionName?: string;
}): Promise<LoadOutcome> {
  const { s3, bucket, load, reportPrefix: prefix } = params;
  const results = await readResults(s3, bucket, checkedKeys(params.resultKeys.flat(), params.resultPrefix));
  // zod gives absent SLOs as undefined properties; the evaluator takes only the ones set
  const slo = Object.fromEntries(Object.entries(load.slo).filter(([, v]) => v !== undefined)) as SloSpec;
  const measured = aggregate(results, { slo, url: load.url });
  const decision = load.judge
    ? await judgeLoad({
        s3,
        bucket,
        report: measured,
        spec: load.judge,
        service: `${params.cluster}/${params.service}`,
        executionName: params.executionName ?? '',
        gateReportsPrefix: `${prefix.replace(/gates\/[^/]+\/$/, '')}${GATES_DIR}`,
      })
    : undefined;
  const report: LoadReport = decision ? { ...measured, judge: decision.report } : measured;
  const keys = {
    reportKey: `${prefix}report.json`,
    htmlKey: `${prefix}report.html`,
    summaryKey: `${prefix}summary.md`,
  };
  const put = (Key: string, Body: string, ContentType: string) =>
    s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body, ContentType }));
  await Promise.all([
    put(keys.reportKey, `${JSON.stringify(report, null, 2)}\n`, 'application/json'),
    put(keys.htmlKey, renderReportHtml(report), 'text/html; charset=utf-8'),
    put(keys.summaryKey, renderSummaryMd(report), 'text/markdown; charset=utf-8'),
  ]);
  const violations = report.slo.violations.map((v) => v.message);
  const figures = `p95 ${report.latencyMs.p95.toFixed(1)} ms, p99 ${report.latencyMs.p99.toFixed(1)} ms of ${report.answered} answered, ${(report.errorRate * 100).toFixed(2)}% errors, ${report.rate.achieved.toFixed(1)}/${report.rate.target} req/s, ${report.connections} connections`;
  const { verdict } = report.slo;
  const inconclusive = `${report.slo.inconclusive ?? 'inconclusive'} (${figures})`;
  let reason = `${violations.join('; ')} (${figures})`;
  if (verdict === 'pass') reason = `load test met its SLOs (${figures})`;
  else if (verdict === 'inconclusive' && load.onInconclusive === 'deploy') {
    reason = `load test ${inconclusive}; deployed as the target's load.onInconclusive is deploy`;
  } else if (verdict === 'inconclusive') reason = inconclusive;
  const sloPassed = verdict === 'pass' || (verdict === 'inconclusive' && load.onInconclusive === 'deploy');
  const judged = decision
    ? {
        judge: {
          verdict: decision.report.verdict,
          comparison: decision.report.comparison,
          score: decision.report.score,
          reason: decision.report.reason,
        },
      }
    : {};
  if (sloPassed && decision && !decision.passed) {
    return {
      ...outcomeFigures(report, keys, violations),
      passed: false,
      verdict: 'fail',
      reason: `${decision.report.reason} (${verdict === 'pass' ? 'SLOs met' : 'SLO gate inconclusive, load.onInconclusive deploy'}: ${figures})`,
      ...judged,
      failedBy: 'judge',
    };
  }
  return {
    ...judged,
    ...(sloPassed ? {} : { failedBy: 'slo' as const }),
    passed: sloPassed,
    verdict,
    reason: decision && sloPassed ? `${reason}; ${decision.report.reason}` : reason,
    ...outcomeFigures(report, keys, violations),
  };
}

/** The figures every outcome carries. */
function outcomeFigures(
  report: LoadReport,
  keys: Pick<LoadOutcome, 'reportKey' | 'htmlKey' | 'summaryKey'>,
  violations: string[],
) {
  return {
    ...keys,
    violations,
    latencyMs: { p50: report.latencyMs.p50, p95: report.latencyMs.p95, p99: report.latencyMs.p99 },
    errorRate: report.errorRate,
    rate: report.rate,
    requests: { total: report.requests.total, errors: report.requests.errors, dropped: report.requests.dropped },
  };
}
