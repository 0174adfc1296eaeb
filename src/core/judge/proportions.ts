/**
 * Fisher's exact test for the difference of two error rates (errors out of requests, baseline and candidate), two-
 * sided: the summed probability of every table with the same margins no more likely than the observed one. Exact at
 * any size (the hypergeometric terms in logs), so no rule of thumb about small expected counts applies.
 */
import { logChoose } from './normal.ts';

export interface RateTest {
  readonly baselineRate: number;
  readonly candidateRate: number;
  /** Two-sided p-value. */
  readonly p: number;
}

/**
 * @throws RangeError when a count is not an integer, errors exceed requests, or a side has no requests.
 */
export function fisherExact(
  baselineErrors: number,
  baselineTotal: number,
  candidateErrors: number,
  candidateTotal: number,
): RateTest {
  const counts = { baselineErrors, baselineTotal, candidateErrors, candidateTotal };
  for (const [name, v] of Object.entries(counts)) {
    if (!(Number.isInteger(v) && v >= 0)) throw new RangeError(`${name} must be an integer >= 0, got ${v}`);
  }
  if (baselineTotal === 0 || candidateTotal === 0) {
    throw new RangeError(`each side needs requests, got ${baselineTotal} and ${candidateTotal}`);
  }
  if (baselineErrors > baselineTotal || candidateErrors > candidateTotal) {
    throw new RangeError('errors cannot exceed requests');
  }
  const errors = baselineErrors + candidateErrors;
  const n = baselineTotal + candidateTotal;
  // P(candidate has k of the errors), hypergeometric
  const logP = (k: number) =>
    logChoose(candidateTotal, k) + logChoose(baselineTotal, errors - k) - logChoose(n, errors);
  const observed = logP(candidateErrors);
  let p = 0;
  for (let k = Math.max(0, errors - baselineTotal); k <= Math.min(errors, candidateTotal); k++) {
    const lp = logP(k);
    if (lp <= observed + 1e-7) p += Math.exp(lp);
  }
  return {
    baselineRate: baselineErrors / baselineTotal,
    candidateRate: candidateErrors / candidateTotal,
    p: Math.min(1, p),
  };
}
