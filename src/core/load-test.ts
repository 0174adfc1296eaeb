import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { aggregate } from '../../loadgen/aggregate.ts';
import { planShards } from '../../loadgen/plan.ts';
import { renderReportHtml, renderSummaryMd } from '../../loadgen/report.ts';
import type { SloSpec, WorkerResult, WorkerShard } from '../../loadgen/types.ts';
import type { LoadSpec } from '../config/schema.ts';
import { reportPrefix } from './naming.ts';

/** PlanLoad's output (`$.loadPlan`): the Map state iterates `shards`, one GenerateLoad Lambda each. */
export interface LoadPlan {
  readonly shards: WorkerShard[];
  readonly reportPrefix: string;
}

/** Splits the target's load into shards within Lambda's and Step Functions' limits (loadgen/plan.ts). Pure. */
export function planLoad(params: {
  readonly load: LoadSpec;
  readonly cluster: string;
  readonly service: string;
  readonly executionName: string;
}): LoadPlan {
  const { load } = params;
  const shards = planShards({
    url: load.url,
    rate: load.rate,
    durationSec: load.durationSeconds,
    workers: load.workers,
    connections: load.connections,
    ...(load.maxConnections !== undefined ? { maxConnections: load.maxConnections } : {}),
    timeoutMs: load.timeoutMs,
  });
  return { shards, reportPrefix: reportPrefix(params.cluster, params.service, params.executionName) };
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
}

/**
 * Merges the workers' histograms (exactly: loadgen/aggregate.ts), judges the SLOs, and writes report.json,
 * report.html and summary.md under the report prefix.
 */
export async function aggregateLoad(params: {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly results: readonly WorkerResult[];
  readonly load: LoadSpec;
  readonly reportPrefix: string;
}): Promise<LoadOutcome> {
  const { s3, bucket, load, reportPrefix: prefix } = params;
  // zod gives absent SLOs as undefined properties; the evaluator takes only the ones set
  const slo = Object.fromEntries(Object.entries(load.slo).filter(([, v]) => v !== undefined)) as SloSpec;
  const report = aggregate(params.results, { slo, url: load.url });
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
  return {
    passed: verdict === 'pass' || (verdict === 'inconclusive' && load.onInconclusive === 'deploy'),
    verdict,
    reason,
    ...keys,
    violations,
    latencyMs: { p50: report.latencyMs.p50, p95: report.latencyMs.p95, p99: report.latencyMs.p99 },
    errorRate: report.errorRate,
    rate: report.rate,
    requests: { total: report.requests.total, errors: report.requests.errors, dropped: report.requests.dropped },
  };
}
