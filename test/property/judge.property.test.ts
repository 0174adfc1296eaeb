import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { binsOf, hodgesLehmann, mannWhitney } from '../../src/core/judge/index.ts';

/** Small integer samples with plenty of ties. */
const sample = (max: number) => fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: max });

/** The U of y over x by counting pairs: the definition, no ranks. */
function pairU(x: number[], y: number[]): number {
  let u = 0;
  for (const a of x) for (const b of y) u += b > a ? 1 : b === a ? 0.5 : 0;
  return u;
}

/** Every way to split the pooled values into |x| and |y| (by position), the U of each split. */
function allSplitUs(x: number[], y: number[]): number[] {
  const pooled = [...x, ...y];
  const out: number[] = [];
  const pick = (start: number, chosen: number[]) => {
    if (chosen.length === y.length) {
      const ys = chosen.map((i) => pooled[i] as number);
      const xs = pooled.filter((_, i) => !chosen.includes(i));
      out.push(pairU(xs, ys));
      return;
    }
    for (let i = start; i < pooled.length; i++) pick(i + 1, [...chosen, i]);
  };
  pick(0, []);
  return out;
}

describe('judge statistics (properties)', () => {
  it('U from the histograms equals the pair count, and U_x + U_y = nx * ny', () => {
    fc.assert(
      fc.property(sample(40), sample(40), (x, y) => {
        const r = mannWhitney(binsOf(x), binsOf(y));
        expect(r.u).toBe(pairU(x, y));
        expect(mannWhitney(binsOf(y), binsOf(x)).u).toBe(x.length * y.length - r.u);
      }),
    );
  });

  it('the exact p equals the share of all splits at least as extreme (brute force, ties included)', () => {
    fc.assert(
      fc.property(sample(7), sample(5), (x, y) => {
        const r = mannWhitney(binsOf(x), binsOf(y));
        const mean = (x.length * y.length) / 2;
        const us = allSplitUs(x, y);
        const extreme = us.filter((u) => Math.abs(u - mean) >= Math.abs(r.u - mean) - 1e-9).length;
        expect(r.method).toBe('exact');
        expect(r.p).toBeCloseTo(extreme / us.length, 9);
      }),
      { numRuns: 60 },
    );
  });

  it('the p-value is symmetric in the samples and in [0, 1]', () => {
    fc.assert(
      fc.property(sample(60), sample(60), (x, y) => {
        const a = mannWhitney(binsOf(x), binsOf(y)).p;
        const b = mannWhitney(binsOf(y), binsOf(x)).p;
        expect(a).toBeCloseTo(b, 9);
        expect(a).toBeGreaterThanOrEqual(0);
        expect(a).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('the HL estimate is the median of every pairwise difference, inside its interval; a shift moves it by as much', () => {
    fc.assert(
      fc.property(sample(30), sample(30), fc.integer({ min: -50, max: 50 }), (x, y, d) => {
        const diffs = x.flatMap((a) => y.map((b) => b - a)).sort((p, q) => p - q);
        const m = diffs.length;
        const med =
          m % 2 ? (diffs[(m - 1) / 2] as number) : ((diffs[m / 2 - 1] as number) + (diffs[m / 2] as number)) / 2;
        const hl = hodgesLehmann(binsOf(x), binsOf(y), 0.98);
        expect(hl.estimate).toBe(med);
        expect(hl.low).toBeLessThanOrEqual(hl.estimate);
        expect(hl.high).toBeGreaterThanOrEqual(hl.estimate);
        expect(diffs).toContain(hl.low);
        expect(diffs).toContain(hl.high);
        const shifted = hodgesLehmann(binsOf(x), binsOf(y.map((v) => v + d)), 0.98);
        expect(shifted.estimate).toBe(med + d);
      }),
    );
  });
});
