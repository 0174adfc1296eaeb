/** SLO evaluation of a load report: pure, one human sentence per violation. */
import type { LoadReport, SloResult, SloSpec, SloViolation } from './types.ts';

const ms = (n: number): string => `${Number(n.toFixed(1))} ms`;
const pct = (n: number): string => `${Number((n * 100).toFixed(2))}%`;

/** The report fields an SLO reads: `latencyMs.p95/p99`, `errorRate`, `rate.target/achieved`. */
export type SloInput = Pick<LoadReport, 'latencyMs' | 'errorRate' | 'rate'>;

/**
 * Judges a report against `slo`. Thresholds are inclusive: p95 equal to `p95Ms` passes. An absent SLO is not checked.
 *
 * Messages read "p95 latency 412.3 ms exceeds 250 ms", "error rate 2.5% exceeds 1%",
 * "achieved rate 812.4 req/s is 81.24% of the 1000 req/s target, below 90%".
 */
export function evaluateSlo(report: SloInput, slo: SloSpec): SloResult {
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

  return { passed: violations.length === 0, violations };
}
