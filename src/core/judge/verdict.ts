/**
 * The judge: classifies each metric of a candidate against its baseline (High / Low / Pass / NoData), scores them and
 * gives one verdict, with the evidence in one line. Pure: histograms and counts in, a plain-JSON verdict out. Missing
 * figures are `null`, never 0 or NaN, and a metric without enough samples is NoData, which never counts as passing.
 */
import type { JudgeMetricSpec, JudgeSpec } from '../../config/judge.ts';
import { type Bin, checkedBins, median, total } from './bins.ts';
import { mannWhitney } from './mann-whitney.ts';
import { fisherExact } from './proportions.ts';
import { hodgesLehmann } from './shift.ts';

export type MetricClass = 'High' | 'Low' | 'Pass' | 'NoData';
export type JudgeOutcome = 'Pass' | 'Marginal' | 'Fail' | 'NoData';

/** One side of the comparison: the latency histogram (integer microseconds) and the request counts. */
export interface JudgeSample {
  readonly latencyUs: readonly Bin[];
  /** Requests that ended (answered or failed) and, of those, errors. */
  readonly requests: number;
  readonly errors: number;
}

export interface MetricResult {
  readonly metric: 'latency' | 'errorRate';
  readonly class: MetricClass;
  /** Whether the class is acceptable given the metric's direction (NoData never is). */
  readonly passed: boolean;
  readonly critical: boolean;
  readonly direction: JudgeMetricSpec['direction'];
  readonly tolerance: number;
  readonly samples: { readonly baseline: number; readonly candidate: number };
  /** Latency: the medians, ms; error rate: the rates (fractions). Null without data. */
  readonly baseline: number | null;
  readonly candidate: number | null;
  /** Latency: (candidate - baseline) / baseline of the medians; error rate: the difference of the rates. */
  readonly change: number | null;
  readonly p: number | null;
  /** Latency: the Hodges-Lehmann shift and its interval, ms. */
  readonly shift: { readonly estimate: number; readonly low: number; readonly high: number } | null;
  /** One phrase: "p50 +31% (HL +4.2 ms, 98% CI +3.9..+4.6 ms)", "error rate 0.0% vs 0.0%". */
  readonly evidence: string;
}

export interface Judgement {
  readonly verdict: JudgeOutcome;
  /** Percent of the metrics that passed (NoData counts as not passing); null when every metric is NoData. */
  readonly score: number | null;
  readonly confidence: number;
  readonly metrics: MetricResult[];
  /** The metrics' evidence joined, and why the verdict is what it is. */
  readonly evidence: string;
}

const signed = (n: number, digits: number): string => `${n >= 0 ? '+' : ''}${n.toFixed(digits)}`;
const pct = (n: number): string => `${(n * 100).toFixed(1)}%`;

function classify(significant: boolean, change: number, tolerance: number): MetricClass {
  if (!significant) return 'Pass';
  if (change > tolerance) return 'High';
  if (change < -tolerance) return 'Low';
  return 'Pass';
}

function acceptable(cls: MetricClass, direction: JudgeMetricSpec['direction']): boolean {
  if (cls === 'NoData') return false;
  if (cls === 'Pass') return true;
  if (direction === 'either') return false;
  return direction === 'increase' ? cls === 'Low' : cls === 'High';
}

function latencyMetric(base: JudgeSample, cand: JudgeSample, spec: JudgeSpec): MetricResult {
  const x = checkedBins(base.latencyUs, 'baseline latency');
  const y = checkedBins(cand.latencyUs, 'candidate latency');
  const samples = { baseline: total(x), candidate: total(y) };
  const common = { metric: 'latency' as const, critical: spec.latency.critical, direction: spec.latency.direction };
  const tolerance = spec.latency.tolerance;
  if (samples.baseline < spec.minSamples || samples.candidate < spec.minSamples) {
    return {
      ...common,
      tolerance,
      class: 'NoData',
      passed: false,
      samples,
      baseline: samples.baseline > 0 ? median(x) / 1000 : null,
      candidate: samples.candidate > 0 ? median(y) / 1000 : null,
      change: null,
      p: null,
      shift: null,
      evidence: `latency: no data (${samples.baseline} vs ${samples.candidate} answered, fewer than ${spec.minSamples})`,
    };
  }
  const test = mannWhitney(x, y);
  const hl = hodgesLehmann(x, y, spec.confidence);
  const mx = median(x);
  const my = median(y);
  // relative to the baseline's median; a zero median (sub-microsecond) leaves only the sign to go by
  const relativeShift = mx > 0 ? hl.estimate / mx : Math.sign(hl.estimate) * Number.POSITIVE_INFINITY;
  const cls = classify(test.p < 1 - spec.confidence, relativeShift, tolerance);
  const change = mx > 0 ? (my - mx) / mx : null;
  const ms = (us: number) => `${signed(us / 1000, 1)} ms`;
  const level = `${Number((spec.confidence * 100).toFixed(2))}%`;
  return {
    ...common,
    tolerance,
    class: cls,
    passed: acceptable(cls, spec.latency.direction),
    samples,
    baseline: mx / 1000,
    candidate: my / 1000,
    change,
    p: test.p,
    shift: { estimate: hl.estimate / 1000, low: hl.low / 1000, high: hl.high / 1000 },
    evidence:
      `p50 ${change === null ? 'n/a' : `${signed(change * 100, 0)}%`} ` +
      `(HL ${ms(hl.estimate)}, ${level} CI ${signed(hl.low / 1000, 1)}..${ms(hl.high)})`,
  };
}

function errorRateMetric(base: JudgeSample, cand: JudgeSample, spec: JudgeSpec): MetricResult {
  const samples = { baseline: base.requests, candidate: cand.requests };
  const { tolerance, critical, direction } = spec.errorRate;
  const common = { metric: 'errorRate' as const, critical, direction, tolerance, samples, shift: null };
  if (samples.baseline < spec.minSamples || samples.candidate < spec.minSamples) {
    return {
      ...common,
      class: 'NoData',
      passed: false,
      baseline: base.requests > 0 ? base.errors / base.requests : null,
      candidate: cand.requests > 0 ? cand.errors / cand.requests : null,
      change: null,
      p: null,
      evidence: `error rate: no data (${samples.baseline} vs ${samples.candidate} requests, fewer than ${spec.minSamples})`,
    };
  }
  const test = fisherExact(base.errors, base.requests, cand.errors, cand.requests);
  const change = test.candidateRate - test.baselineRate;
  const cls = classify(test.p < 1 - spec.confidence, change, tolerance);
  return {
    ...common,
    class: cls,
    passed: acceptable(cls, direction),
    baseline: test.baselineRate,
    candidate: test.candidateRate,
    change,
    p: test.p,
    evidence: `error rate ${pct(test.candidateRate)} vs ${pct(test.baselineRate)}`,
  };
}

/**
 * Judges the candidate against the baseline. The verdict: Fail when a critical metric fails; NoData when a critical
 * metric (or every metric) has no data; else by the score: Pass at `scoreThresholds.pass` or above, Marginal at
 * `marginal` or above, else Fail.
 */
export function judge(baseline: JudgeSample, candidate: JudgeSample, spec: JudgeSpec): Judgement {
  const metrics = [latencyMetric(baseline, candidate, spec), errorRateMetric(baseline, candidate, spec)];
  const withData = metrics.filter((m) => m.class !== 'NoData');
  const score = withData.length === 0 ? null : (100 * metrics.filter((m) => m.passed).length) / metrics.length;
  const failedCritical = metrics.filter((m) => m.critical && m.class !== 'NoData' && !m.passed);
  const noDataCritical = metrics.filter((m) => m.critical && m.class === 'NoData');
  let verdict: JudgeOutcome;
  let why: string;
  if (failedCritical.length > 0) {
    verdict = 'Fail';
    why = `critical ${failedCritical.map((m) => `${m.metric} ${m.class}`).join(', ')}`;
  } else if (score === null || noDataCritical.length > 0) {
    verdict = 'NoData';
    why = 'too few samples to judge';
  } else if (score >= spec.scoreThresholds.pass) {
    verdict = 'Pass';
    why = `score ${Math.round(score)}`;
  } else if (score >= spec.scoreThresholds.marginal) {
    verdict = 'Marginal';
    why = `score ${Math.round(score)} below ${spec.scoreThresholds.pass}`;
  } else {
    verdict = 'Fail';
    why = `score ${Math.round(score)} below ${spec.scoreThresholds.marginal}`;
  }
  return {
    verdict,
    score,
    confidence: spec.confidence,
    metrics,
    evidence: `${metrics.map((m) => m.evidence).join(', ')}; ${why}`,
  };
}
