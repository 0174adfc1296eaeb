/**
 * The judge in the load stage: compares a load test's report with its baseline and says what that means for the
 * deploy. The baseline is the paired run's (the same schedule sent to production at the same moments: the report's
 * `baseline`), or, without a second route, the report of the target's last DEPLOYED execution with the same load
 * settings (read from S3 through the audit trail): a comparison across time, and the verdict says so.
 */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { decodeHistogram, histogramBins } from '../../loadgen/histograms.ts';
import type { JudgeReport, LoadReport } from '../../loadgen/types.ts';
import type { JudgeSpec } from '../config/judge.ts';
import { type AuditRecord, readAuditRecords, serviceOf } from './audit.ts';
import { type JudgeSample, judge } from './judge/index.ts';

/** How far back the comparison across time looks for a DEPLOYED execution. */
export const PREVIOUS_WINDOW_DAYS = 14;

/** What the deploy does with a judge's report: go on, or roll back with this reason. */
export interface JudgeDecision {
  readonly report: JudgeReport;
  readonly passed: boolean;
}

function sampleOf(report: LoadReport): JudgeSample {
  return {
    latencyUs: histogramBins(decodeHistogram(report.histograms.latencyUs)),
    requests: report.requests.total,
    errors: report.requests.errors,
  };
}

/** The load settings two reports must share to be compared across time. */
export function loadSettings(r: LoadReport): string {
  return JSON.stringify([r.url, r.method, r.rate.target, r.durationSec, r.workers, r.timeoutMs]);
}

/** What a verdict does to the deploy, as a phrase and a boolean. */
function decide(verdict: JudgeReport['verdict'], spec: JudgeSpec): { passed: boolean; effect: string } {
  switch (verdict) {
    case 'Pass':
    case 'Skipped':
      return { passed: true, effect: '' };
    case 'Fail':
      return { passed: false, effect: '' };
    case 'Marginal':
      return { passed: spec.onMarginal === 'deploy', effect: ` (Marginal: judge.onMarginal is ${spec.onMarginal})` };
    case 'NoData':
      return { passed: spec.onNoData === 'deploy', effect: ` (NoData: judge.onNoData is ${spec.onNoData})` };
  }
}

/** Judges `report` against `baseline` (both load reports) and words the verdict. Pure. */
export function judgeReports(
  report: LoadReport,
  baseline: LoadReport,
  spec: JudgeSpec,
  from: { comparison: 'paired' | 'across-time'; baseline: JudgeReport['baseline'] },
): JudgeDecision {
  const j = judge(sampleOf(baseline), sampleOf(report), spec);
  const { passed, effect } = decide(j.verdict, spec);
  const against =
    from.comparison === 'paired'
      ? 'paired with production under the same schedule'
      : `across time: against the last DEPLOYED execution ${from.baseline.execution ?? '?'} (${from.baseline.startedAt ?? '?'}), not the same moment`;
  return {
    passed,
    report: {
      verdict: j.verdict,
      comparison: from.comparison,
      reason: `judge ${j.verdict}${effect}: ${j.evidence} (candidate vs baseline, ${against})`,
      score: j.score,
      confidence: j.confidence,
      baseline: from.baseline,
      metrics: j.metrics.map((m) => ({ ...m, samples: { ...m.samples }, shift: m.shift ? { ...m.shift } : null })),
    },
  };
}

function skipped(spec: JudgeSpec, why: string): JudgeDecision {
  return {
    passed: true,
    report: {
      verdict: 'Skipped',
      comparison: 'none',
      reason: `judge skipped: ${why}`,
      score: null,
      confidence: spec.confidence,
      baseline: {},
      metrics: [],
    },
  };
}

/**
 * The judge's decision on a report: paired when the report has a baseline (and the target's `judge.baseline` is not
 * `previous`), else across time when allowed (`auto`, `previous`), else Skipped with why.
 */
export async function judgeLoad(params: {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly report: LoadReport;
  readonly spec: JudgeSpec;
  /** `cluster/service` and the execution being judged: the earlier report must be another execution's. */
  readonly service: string;
  readonly executionName: string;
  /** Where this execution's gates' reports are (`…/gates/`): a gate's paired Pass carries to a later one-route run. */
  readonly gateReportsPrefix?: string;
  readonly now?: Date;
}): Promise<JudgeDecision> {
  const { report, spec } = params;
  if (report.baseline && spec.baseline !== 'previous') {
    return judgeReports(report, report.baseline, spec, {
      comparison: 'paired',
      baseline: { url: report.baseline.url },
    });
  }
  if (spec.baseline === 'paired') {
    const gate = params.gateReportsPrefix
      ? await pairedGateReport(params.s3, params.bucket, params.gateReportsPrefix)
      : undefined;
    if (gate?.judge) {
      // the final load test after a progressive deploy's gates: the gate's paired verdict stands for the execution
      const { latencyUs: _, ...baseline } = gate.judge.baseline;
      const carried = '; judged at the gate, paired (this load test had one route)';
      const reason = gate.judge.reason.endsWith(carried) ? gate.judge.reason : `${gate.judge.reason}${carried}`;
      return { passed: true, report: { ...gate.judge, baseline, reason } };
    }
    return skipped(
      spec,
      'this load test had one route (no test listener or header to pair with production) and judge.baseline is paired',
    );
  }
  const previous = await previousReport(params);
  if (!previous) {
    return skipped(
      spec,
      `no DEPLOYED execution of ${params.service} in the last ${PREVIOUS_WINDOW_DAYS} days has a load report with the same load settings to compare with`,
    );
  }
  return judgeReports(report, previous.report, spec, {
    comparison: 'across-time',
    baseline: {
      latencyUs: previous.report.histograms.latencyUs,
      reportKey: previous.record.reportKey as string,
      execution: previous.record.executionName,
      startedAt: previous.record.startedAt,
    },
  });
}

/** The newest DEPLOYED execution of the service, other than this one, whose report has the same load settings. */
async function previousReport(params: {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly report: LoadReport;
  readonly service: string;
  readonly executionName: string;
  readonly now?: Date;
}): Promise<{ record: AuditRecord; report: LoadReport } | undefined> {
  const { s3, bucket } = params;
  const until = params.now ?? new Date();
  const since = new Date(until.getTime() - PREVIOUS_WINDOW_DAYS * 86_400_000);
  const records = await readAuditRecords({ s3, bucket, since, until });
  const wanted = loadSettings(params.report);
  for (const record of records) {
    if (record.outcome !== 'DEPLOYED' || !record.reportKey || record.executionName === params.executionName) continue;
    if (serviceOf(record) !== params.service) continue;
    const earlier = await readReport(s3, bucket, record.reportKey);
    if (earlier && loadSettings(earlier) === wanted) return { record, report: earlier };
  }
  return undefined;
}

/** The gate reports of an execution: `<report prefix>gates/<gate id>/report.json`. */
export const GATES_DIR = 'gates/';

/** A gate report of this execution with a paired Pass (any other paired verdict rolled the deploy back). */
async function pairedGateReport(s3: S3Client, bucket: string, prefix: string): Promise<LoadReport | undefined> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  const keys = (listed.Contents ?? []).map((o) => o.Key ?? '').filter((k) => k.endsWith('/report.json'));
  for (const key of keys.sort()) {
    const report = await readReport(s3, bucket, key);
    if (report?.judge?.comparison === 'paired' && report.judge.verdict === 'Pass') return report;
  }
  return undefined;
}

async function readReport(s3: S3Client, bucket: string, key: string): Promise<LoadReport | undefined> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const parsed = JSON.parse((await out.Body?.transformToString()) ?? '') as LoadReport | null;
    return parsed?.schema === 'rollgate.loadtest.v1' ? parsed : undefined;
  } catch {
    return undefined;
  }
}
