/**
 * The Hodges-Lehmann estimate of the shift between two samples (the median of every difference candidate - baseline)
 * and its confidence interval (Moses: from the c-th smallest to the c-th largest difference, c from the U
 * distribution), computed from two histograms without listing the differences: the k-th smallest difference is found
 * by bisection on integer values, counting the pairs below a candidate difference with one merge-like pass.
 * Values must be integers (the load reports' histograms hold whole microseconds).
 */
import { type Bin, checkedBins, total } from './bins.ts';
import { criticalCount, EXACT_MAX_N, mannWhitney } from './mann-whitney.ts';

export interface Shift {
  /** The Hodges-Lehmann estimate of candidate - baseline. */
  readonly estimate: number;
  /** The confidence interval's ends. */
  readonly low: number;
  readonly high: number;
  readonly confidence: number;
}

/** Pairs (x, y) with y - x <= d. */
function countAtMost(x: readonly Bin[], y: readonly Bin[], d: number): number {
  // for each y ascending, the x values >= y - d form a suffix that only shrinks as y grows
  let count = 0;
  let i = 0;
  let suffix = total(x);
  for (const b of y) {
    while (i < x.length && (x[i] as Bin).value < b.value - d) suffix -= (x[i++] as Bin).count;
    count += b.count * suffix;
  }
  return count;
}

/** The k-th smallest of the differences y - x (1-based, 1 <= k <= |x| |y|). */
export function kthDifference(x: readonly Bin[], y: readonly Bin[], k: number): number {
  let lo = (y[0] as Bin).value - (x.at(-1) as Bin).value;
  let hi = (y.at(-1) as Bin).value - (x[0] as Bin).value;
  // smallest integer d with countAtMost(d) >= k
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (countAtMost(x, y, mid) >= k) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * @param x the baseline's histogram, @param y the candidate's: integer values.
 * @throws RangeError when a sample is empty or a value is not an integer.
 */
export function hodgesLehmann(
  x: readonly Bin[],
  y: readonly Bin[],
  confidence: number,
  exactMaxN = EXACT_MAX_N,
): Shift {
  const bx = checkedBins(x, 'baseline');
  const by = checkedBins(y, 'candidate');
  for (const [name, bins] of [['baseline', bx] as const, ['candidate', by] as const]) {
    const bad = bins.find((b) => !Number.isInteger(b.value));
    if (bad !== undefined) throw new RangeError(`${name} values must be integers, got ${bad.value}`);
  }
  const m = total(bx) * total(by);
  if (m === 0) throw new RangeError('Hodges-Lehmann needs two non-empty samples');
  const estimate =
    m % 2 === 1
      ? kthDifference(bx, by, (m + 1) / 2)
      : (kthDifference(bx, by, m / 2) + kthDifference(bx, by, m / 2 + 1)) / 2;
  const { nx, ny, sd } = mannWhitney(bx, by, 0);
  const c = criticalCount(nx, ny, confidence, sd, exactMaxN);
  return { estimate, low: kthDifference(bx, by, c), high: kthDifference(bx, by, m + 1 - c), confidence };
}
