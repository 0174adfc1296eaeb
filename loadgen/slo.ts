/**
 * The load test's gate: the SLOs, the floor every run must clear whatever the SLOs say, and whether the generator kept
 * its schedule well enough for a verdict at all. Pure; one human sentence per violation.
 */
import type { GeneratorHealth, LoadReport, SloResult, SloSpec, SloViolation } from './types.ts';

const ms = (n: number): string => `${Number(n.toFixed(1))} ms`;
const pct = (n: number): string => `${Number((n * 100).toFixed(2))}%`;

/** The error-rate limit applied when the SLOs set none: latency SLOs alone never pass a service that fails requests. */
export const DEFAULT_MAX_ERROR_RATE = 0.01;
/** A run in which more than this fraction of requests failed fails the gate, whatever the SLOs (even maxErrorRate 1). */
export const MOST_FAILED = 0.5;

/** The report fields the gate reads. */
export type SloInput = Pick<LoadReport, 'latencyMs' | 'errorRate' | 'rate' | 'requests' | 'answered' | 'generator'>;

/** The SLOs as the gate applies them: `maxErrorRate` defaults to DEFAULT_MAX_ERROR_RATE. */
export function effectiveSlo(slo: SloSpec): SloSpec {
  return { ...slo, maxErrorRate: slo.maxErrorRate ?? DEFAULT_MAX_ERROR_RATE };
}

/**
 * Judges a report. In order:
 * 1. fail when requests ended and none was answered, or when most failed (MOST_FAILED), whatever the SLOs: latency
 *    percentiles are of answered requests, so they say nothing about a service that answers nothing;
 * 2. inconclusive when the generator could not keep its schedule (`generator.limited`): the figures are the
 *    generator's as much as the service's, so they neither pass nor blame it;
 * 3. fail on any violated SLO (thresholds inclusive: p95 equal to `p95Ms` passes; `maxErrorRate` defaults to 1%);
 * 4. pass.
 *
 * Messages read "p95 latency 412.3 ms exceeds 250 ms", "error rate 2.5% exceeds 1%",
 * "achieved rate 812.4 req/s is 81.24% of the 1000 req/s target, below 90%", "no request was answered (100 failed)".
 */
export function evaluateSlo(report: SloInput, given: SloSpec): SloResult {
  const slo = effectiveSlo(given);
  const { total, errors } = report.requests;
  if (total > 0 && report.answered === 0) {
    const message = `no request was answered (${total} failed)`;
    return { passed: false, verdict: 'fail', violations: [{ metric: 'answered', threshold: 1, actual: 0, message }] };
  }
  if (report.errorRate > MOST_FAILED) {
    const message = `most requests failed: error rate ${pct(report.errorRate)} (${errors} of ${total})`;
    const violation: SloViolation = { metric: 'errorRate', threshold: MOST_FAILED, actual: report.errorRate, message };
    return { passed: false, verdict: 'fail', violations: [violation] };
  }

  const violations: SloViolation[] = [];
  const latency = (metric: 'p95Ms' | 'p99Ms', label: string, actual: number, threshold: number | undefined) => {
    if (threshold !== undefined && actual > threshold) {
      violations.push({
        metric,
        threshold,
        actual,
        message: `${label} latency ${ms(actual)} exceeds ${ms(threshold)}`,
      });
    }
  };
  latency('p95Ms', 'p95', report.latencyMs.p95, slo.p95Ms);
  latency('p99Ms', 'p99', report.latencyMs.p99, slo.p99Ms);

  if (slo.maxErrorRate !== undefined && report.errorRate > slo.maxErrorRate) {
    violations.push({
      metric: 'errorRate',
      threshold: slo.maxErrorRate,
      actual: report.errorRate,
      message: `error rate ${pct(report.errorRate)} exceeds ${pct(slo.maxErrorRate)}`,
    });
  }

  if (slo.minAchievedRate !== undefined) {
    const fraction = report.rate.target > 0 ? report.rate.achieved / report.rate.target : 0;
    if (fraction < slo.minAchievedRate) {
      violations.push({
        metric: 'achievedRate',
        threshold: slo.minAchievedRate,
        actual: Math.round(fraction * 10_000) / 10_000,
        message:
          `achieved rate ${Number(report.rate.achieved.toFixed(1))} req/s is ${pct(fraction)} of the ` +
          `${Number(report.rate.target.toFixed(1))} req/s target, below ${pct(slo.minAchievedRate)}`,
      });
    }
  }

  if (report.generator.limited) {
    return { passed: false, verdict: 'inconclusive', violations, inconclusive: inconclusiveReason(report.generator) };
  }
  return { passed: violations.length === 0, verdict: violations.length === 0 ? 'pass' : 'fail', violations };
}

/** "inconclusive: the load generator could not keep up (<why>)": the one sentence every surface shows. */
export function inconclusiveReason(generator: GeneratorHealth): string {
  return `inconclusive: the load generator could not keep up (${generator.reasons.join('; ')})`;
}
