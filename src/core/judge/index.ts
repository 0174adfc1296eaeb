/** The judge: statistics that compare a candidate with its baseline (see verdict.ts). Pure. */
export { type Bin, binsOf, median } from './bins.ts';
export { EXACT_MAX_N, type MannWhitney, mannWhitney } from './mann-whitney.ts';
export { fisherExact, type RateTest } from './proportions.ts';
export { hodgesLehmann, type Shift } from './shift.ts';
export {
  type Judgement,
  type JudgeOutcome,
  type JudgeSample,
  judge,
  type MetricClass,
  type MetricResult,
} from './verdict.ts';
