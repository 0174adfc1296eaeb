/**
 * A sample given as a histogram: distinct values, ascending, each with how often it occurred. Everything the judge
 * computes (ranks, U, the Hodges-Lehmann shift) works on these bucket counts: no list of samples is ever built, so a
 * million requests cost what their few thousand distinct latency buckets cost.
 */
export interface Bin {
  readonly value: number;
  readonly count: number;
}

/** Bins in the judge's form: values finite and strictly ascending, counts positive integers (zero counts dropped). */
export function checkedBins(bins: readonly Bin[], name: string): Bin[] {
  const out: Bin[] = [];
  for (const [i, b] of bins.entries()) {
    if (!Number.isFinite(b.value)) throw new RangeError(`${name}[${i}].value must be a finite number, got ${b.value}`);
    if (!(Number.isInteger(b.count) && b.count >= 0)) {
      throw new RangeError(`${name}[${i}].count must be an integer >= 0, got ${b.count}`);
    }
    const last = out.at(-1);
    if (last !== undefined && !(b.value > last.value)) {
      throw new RangeError(
        `${name} values must be strictly ascending: ${name}[${i}].value ${b.value} after ${last.value}`,
      );
    }
    if (b.count > 0) out.push({ value: b.value, count: b.count });
  }
  return out;
}

/** Bins of a plain list of values (tests, small samples). */
export function binsOf(values: readonly number[]): Bin[] {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort(([a], [b]) => a - b).map(([value, count]) => ({ value, count }));
}

export function total(bins: readonly Bin[]): number {
  return bins.reduce((n, b) => n + b.count, 0);
}

/** The median of a sample (the mean of the two middle values for an even count); NaN when empty. */
export function median(bins: readonly Bin[]): number {
  const n = total(bins);
  if (n === 0) return Number.NaN;
  return (kth(bins, Math.floor((n + 1) / 2)) + kth(bins, Math.floor(n / 2) + 1)) / 2;
}

/** The k-th smallest value (1-based). */
function kth(bins: readonly Bin[], k: number): number {
  let seen = 0;
  for (const b of bins) {
    seen += b.count;
    if (seen >= k) return b.value;
  }
  return Number.NaN;
}

/**
 * The two samples merged by value: each distinct value with how many of it each sample holds, ascending. The ranks,
 * the tie groups and the differences are all read from this.
 */
export function merged(x: readonly Bin[], y: readonly Bin[]): Array<{ value: number; x: number; y: number }> {
  const out: Array<{ value: number; x: number; y: number }> = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    const a = x[i];
    const b = y[j];
    if (b === undefined || (a !== undefined && a.value < b.value)) {
      out.push({ value: (a as Bin).value, x: (a as Bin).count, y: 0 });
      i++;
    } else if (a === undefined || b.value < a.value) {
      out.push({ value: b.value, x: 0, y: b.count });
      j++;
    } else {
      out.push({ value: a.value, x: a.count, y: b.count });
      i++;
      j++;
    }
  }
  return out;
}
