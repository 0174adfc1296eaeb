import { z } from 'zod';

/**
 * The judge (a load test's `judge` section): compares the candidate with a baseline by statistics, on top of the fixed
 * SLOs. Paired where the load test has two routes (a test listener, or a test header, with production as the
 * baseline); else with the report of the target's last DEPLOYED execution under the same load settings (a
 * comparison across time). Every field has a default: `judge: {}` turns it on.
 */

const metricSchema = (tolerance: number, max: number) =>
  z
    .object({
      /**
       * The smallest change that counts, even when significant: latency, the Hodges-Lehmann shift as a fraction of the
       * baseline's median (0.05 = 5%); error rate, the difference of the rates (0.005 = half a percentage point).
       */
      tolerance: z.number().min(0).max(max).default(tolerance),
      /** Which way is bad: `increase` (default), `decrease`, or `either`. */
      direction: z.enum(['increase', 'decrease', 'either']).default('increase'),
      /** A critical metric that fails fails the whole verdict, whatever the score. */
      critical: z.boolean().default(true),
    })
    .strict();

export const judgeSchema = z
  .object({
    /**
     * `auto` (default): paired where the load test has two routes, else the last DEPLOYED report; `paired`: judge only
     * paired runs (a run without two routes is not judged); `previous`: always the last DEPLOYED report.
     */
    baseline: z.enum(['auto', 'paired', 'previous']).default('auto'),
    /** Confidence of the tests and intervals (Kayenta's default: 98%). */
    confidence: z.number().min(0.5).max(0.9999).default(0.98),
    /** Fewer samples than this on either side (answered requests, or requests for the error rate) is NoData. */
    minSamples: z.number().int().min(5).max(1_000_000).default(30),
    latency: metricSchema(0.05, 10).default({ tolerance: 0.05, direction: 'increase', critical: true }),
    errorRate: metricSchema(0.005, 1).default({ tolerance: 0.005, direction: 'increase', critical: true }),
    /** Score (percent of metrics that pass) at or above `pass` passes; at or above `marginal` is Marginal. */
    scoreThresholds: z
      .object({ pass: z.number().min(0).max(100).default(95), marginal: z.number().min(0).max(100).default(75) })
      .strict()
      .refine((t) => t.marginal <= t.pass, { message: 'marginal must be <= pass', path: ['marginal'] })
      .default({ pass: 95, marginal: 75 }),
    /** What a Marginal verdict does: `rollback` (default) or `deploy`. */
    onMarginal: z.enum(['rollback', 'deploy']).default('rollback'),
    /** What a NoData verdict (too few samples to judge) does: `rollback` (default: no data never passes) or `deploy`. */
    onNoData: z.enum(['rollback', 'deploy']).default('rollback'),
  })
  .strict();

export type JudgeSpec = z.output<typeof judgeSchema>;
export type JudgeMetricSpec = JudgeSpec['latency'];

/** The defaults, as `judge: {}` gives them. */
export const defaultJudge = (): JudgeSpec => judgeSchema.parse({});

/**
 * What a target's judge cannot work with: a load test too short for `minSamples` answers on each side (every verdict
 * would be NoData, which rolls back by default).
 */
export function judgeIssues(
  load: { readonly rate: number; readonly durationSeconds: number; readonly judge?: JudgeSpec } | undefined,
): Array<{ path: Array<string | number>; message: string }> {
  if (!load?.judge) return [];
  const planned = Math.floor(load.rate * load.durationSeconds);
  if (planned >= load.judge.minSamples) return [];
  return [
    {
      path: ['load', 'judge', 'minSamples'],
      message: `at most ${planned} (rate x durationSeconds: the requests each side gets), or a faster or longer load test: with fewer than ${load.judge.minSamples} answers on a side every verdict is NoData (a rollback by default)`,
    },
  ];
}
