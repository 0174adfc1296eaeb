/**
 * The Mann-Whitney U test (Wilcoxon rank-sum), two-sided, computed from two histograms. Ties get midranks. Small
 * samples get the exact p-value of the permutation distribution (with ties: conditional on the tie pattern, by
 * dynamic programming over the tie groups); large ones the normal approximation with the tie-corrected variance and a
 * continuity correction, as R's wilcox.test and SciPy's mannwhitneyu do.
 */
import { type Bin, checkedBins, merged, total } from './bins.ts';
import { normalCdf, normalQuantile, twoSidedP } from './normal.ts';

/** Up to this many values in both samples together, the p-value is exact. */
export const EXACT_MAX_N = 60;

export interface MannWhitney {
  /** Size of the baseline (x) and candidate (y) samples. */
  readonly nx: number;
  readonly ny: number;
  /** U of the candidate: pairs (x, y) with y > x, plus half the pairs with y = x. `nx * ny - u` is the baseline's. */
  readonly u: number;
  /** `sum(t^3 - t)` over the tie groups (0 without ties). */
  readonly tieTerm: number;
  /** Standard deviation of U under the null hypothesis, tie-corrected. */
  readonly sd: number;
  /** The z statistic (continuity-corrected); 0 when every value is tied. */
  readonly z: number;
  /** Two-sided p-value. */
  readonly p: number;
  readonly method: 'exact' | 'normal';
}

/**
 * @param x the baseline's histogram, @param y the candidate's.
 * @throws RangeError when a sample is empty or its bins are malformed.
 */
export function mannWhitney(x: readonly Bin[], y: readonly Bin[], exactMaxN = EXACT_MAX_N): MannWhitney {
  const bx = checkedBins(x, 'baseline');
  const by = checkedBins(y, 'candidate');
  const nx = total(bx);
  const ny = total(by);
  if (nx === 0 || ny === 0) throw new RangeError(`Mann-Whitney needs two non-empty samples, got ${nx} and ${ny}`);
  const n = nx + ny;
  const groups = merged(bx, by);
  let below = 0;
  let rankSumY = 0;
  let tieTerm = 0;
  for (const g of groups) {
    const t = g.x + g.y;
    rankSumY += g.y * (below + (t + 1) / 2);
    tieTerm += t * t * t - t;
    below += t;
  }
  const u = rankSumY - (ny * (ny + 1)) / 2;
  const mean = (nx * ny) / 2;
  const variance = ((nx * ny) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  const sd = Math.sqrt(Math.max(0, variance));
  const diff = u - mean;
  const z = sd > 0 ? (diff - Math.sign(diff) * Math.min(0.5, Math.abs(diff))) / sd : 0;
  if (n <= exactMaxN) {
    return { nx, ny, u, tieTerm, sd, z, p: exactP(groups, ny, rankSumY), method: 'exact' };
  }
  return { nx, ny, u, tieTerm, sd, z, p: sd > 0 ? twoSidedP(z) : 1, method: 'normal' };
}

/**
 * Exact two-sided p of the candidate's rank sum: the share of all C(n, ny) ways to pick the candidate's positions
 * (values tied within a group being interchangeable) whose rank sum lies at least as far from its mean as observed.
 * Ranks are doubled so midranks are integers.
 */
function exactP(groups: ReadonlyArray<{ x: number; y: number }>, ny: number, rankSumY: number): number {
  const n = groups.reduce((s, g) => s + g.x + g.y, 0);
  const maxSum = n * (n + 1);
  // ways[k][s]: weighted ways to choose k candidates with doubled rank sum s
  let ways: Float64Array[] = Array.from({ length: ny + 1 }, () => new Float64Array(maxSum + 1));
  (ways[0] as Float64Array)[0] = 1;
  let below = 0;
  for (const g of groups) {
    const t = g.x + g.y;
    const rank2 = 2 * below + t + 1;
    const next: Float64Array[] = Array.from({ length: ny + 1 }, () => new Float64Array(maxSum + 1));
    for (let k = 0; k <= ny; k++) {
      const from = ways[k] as Float64Array;
      let choose = 1;
      for (let j = 0; j <= t && k + j <= ny; j++) {
        if (j > 0) choose = (choose * (t - j + 1)) / j;
        const to = next[k + j] as Float64Array;
        const add = j * rank2;
        for (let s = 0; s + add <= maxSum; s++) {
          const w = from[s] as number;
          if (w !== 0) to[s + add] = (to[s + add] as number) + w * choose;
        }
      }
    }
    ways = next;
    below += t;
  }
  const dist = ways[ny] as Float64Array;
  const mean2 = ny * (n + 1);
  const observed = Math.abs(2 * rankSumY - mean2);
  let all = 0;
  let extreme = 0;
  for (let s = 0; s <= maxSum; s++) {
    const w = dist[s] as number;
    all += w;
    if (Math.abs(s - mean2) >= observed - 1e-9) extreme += w;
  }
  return Math.min(1, extreme / all);
}

/**
 * The lower critical count of U at confidence `confidence` (two-sided): the largest c with P(U <= c - 1) <= alpha/2,
 * at least 1. The Hodges-Lehmann interval runs from the c-th smallest pairwise difference to the c-th largest. Exact
 * (no ties) up to EXACT_MAX_N values, else from the normal approximation with the given standard deviation.
 */
export function criticalCount(nx: number, ny: number, confidence: number, sd: number, exactMaxN = EXACT_MAX_N): number {
  const alpha = 1 - confidence;
  const m = nx * ny;
  if (nx + ny <= exactMaxN) {
    const dist = exactUDistribution(nx, ny);
    let cumulative = 0;
    let c = 0;
    while (c < m && cumulative + (dist[c] as number) <= alpha / 2) cumulative += dist[c++] as number;
    return Math.max(1, c);
  }
  // P(U <= c - 1) ~ Phi((c - 1 + 0.5 - m/2) / sd) <= alpha/2
  let c = Math.floor(m / 2 + 0.5 + sd * normalQuantile(alpha / 2));
  while (c > 1 && normalCdf((c - 0.5 - m / 2) / sd) > alpha / 2) c--;
  return Math.min(Math.max(1, c), Math.ceil(m / 2));
}

/** P(U = u), u = 0..nx*ny, without ties (the classic recursion on counts of arrangements). */
function exactUDistribution(nx: number, ny: number): number[] {
  // f[j][u] over candidates placed so far: number of sequences; built by adding one value at a time.
  let f: number[][] = [[1]];
  for (let i = 1; i <= nx + ny; i++) {
    const next: number[][] = [];
    for (let k = 0; k <= Math.min(i, ny); k++) {
      const xs = i - k;
      if (xs > nx) continue;
      const row: number[] = new Array(xs * k + 1).fill(0);
      // the i-th smallest value is a candidate (it beats every baseline value so far: + xs) or a baseline value
      const asY = k > 0 ? f[k - 1] : undefined;
      if (asY !== undefined)
        for (let u = 0; u < asY.length; u++) row[u + xs] = (row[u + xs] as number) + (asY[u] as number);
      const asX = xs > 0 ? f[k] : undefined;
      if (asX !== undefined) for (let u = 0; u < asX.length; u++) row[u] = (row[u] as number) + (asX[u] as number);
      next[k] = row;
    }
    f = next;
  }
  const counts = f[ny] as number[];
  const sum = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => c / sum);
}
