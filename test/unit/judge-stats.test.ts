import { describe, expect, it } from 'vitest';
import { defaultJudge } from '../../src/config/judge.ts';
import { binsOf, fisherExact, hodgesLehmann, judge, mannWhitney, median } from '../../src/core/judge/index.ts';
import { normalCdf, normalQuantile } from '../../src/core/judge/normal.ts';

/** R's ?wilcox.test example (x > y one-sided: W = 35, p = 0.1272), values x100 to integers. */
const rx = [0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46].map((v) => Math.round(v * 100));
const ry = [1.15, 0.88, 0.9, 0.74, 1.21].map((v) => Math.round(v * 100));

/** Midranks of a plain sample list, the textbook way: sort, give tied values the mean of their positions. */
function textbookZ(x: number[], y: number[]): number {
  const all = [...x.map((v) => ({ v, g: 0 })), ...y.map((v) => ({ v, g: 1 }))].sort((a, b) => a.v - b.v);
  const n = all.length;
  let ry = 0;
  let ties = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j < n && all[j]?.v === all[i]?.v) j++;
    const rank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (all[k]?.g === 1) ry += rank;
    const t = j - i;
    ties += t ** 3 - t;
    i = j;
  }
  const u = ry - (y.length * (y.length + 1)) / 2;
  const mean = (x.length * y.length) / 2;
  const sd = Math.sqrt(((x.length * y.length) / 12) * (n + 1 - ties / (n * (n - 1))));
  return (u - mean - Math.sign(u - mean) * 0.5) / sd;
}

describe('normal distribution', () => {
  it('matches the table: Phi(1.96) = 0.975, z(0.99) = 2.326', () => {
    expect(normalCdf(1.96)).toBeCloseTo(0.975, 4);
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalQuantile(0.99)).toBeCloseTo(2.326348, 5);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.326348, 5);
    expect(() => normalQuantile(1)).toThrow(/0 < p < 1/);
  });
});

describe('Mann-Whitney U from histograms', () => {
  it("gives R's textbook example: W = 35, exact two-sided p = 0.2544 (one-sided 0.1272)", () => {
    const r = mannWhitney(binsOf(ry), binsOf(rx));
    expect(r.method).toBe('exact');
    expect(r.u).toBe(35);
    expect(r.p).toBeCloseTo(0.2544, 4);
  });

  it("gives SciPy's example: U = 17, exact p = 1/9; asymptotic p = 0.11135", () => {
    const female = binsOf([20, 11, 17, 12]);
    const male = binsOf([19, 22, 16, 29, 24]);
    expect(mannWhitney(female, male).u).toBe(17);
    expect(mannWhitney(female, male).p).toBeCloseTo(1 / 9, 10);
    const normal = mannWhitney(female, male, 0);
    expect(normal.method).toBe('normal');
    expect(normal.p).toBeCloseTo(0.1113469, 5);
  });

  it('gives the critical values of the U table: n1 = n2 = 5, U = 2 significant at 5% two-sided, U = 3 not', () => {
    // U = 2: candidate beats the baseline in 2 of 25 pairs
    expect(mannWhitney(binsOf([3, 6, 7, 8, 9]), binsOf([1, 2, 4, 5, 10])).u).toBe(7);
    const u2 = mannWhitney(binsOf([5, 6, 7, 8, 9]), binsOf([1, 2, 3, 4, 6.5]));
    expect(u2.u).toBe(2);
    expect(u2.p).toBeCloseTo(8 / 252, 10);
    expect(u2.p).toBeLessThan(0.05);
    const u3 = mannWhitney(binsOf([5, 6, 7, 8, 9]), binsOf([1, 2, 3, 4, 7.5]));
    expect(u3.u).toBe(3);
    expect(u3.p).toBeCloseTo(14 / 252, 10);
    expect(u3.p).toBeGreaterThan(0.05);
  });

  it('with ties, the exact p is the permutation distribution given the ties', () => {
    // every value tied: no information, p = 1
    expect(mannWhitney(binsOf([5, 5, 5]), binsOf([5, 5])).p).toBe(1);
    // x = {1, 2, 2}, y = {2, 3}: enumerate the C(5,2) = 10 placements of y among midranks 1, 3, 3, 3, 5
    // y rank sums: {1,3}x3=4, {3,3}x3=6, {1,5}=6, {3,5}x3=8; observed 8 = mean 6 + 2: |s-6| >= 2 in 3 + 3 of 10
    const r = mannWhitney(binsOf([1, 2, 2]), binsOf([2, 3]));
    expect(r.u).toBe(5);
    expect(r.p).toBeCloseTo(6 / 10, 10);
  });

  it('uses the normal approximation with the tie correction for large samples', () => {
    // two heavily tied samples, 80 + 90 values on 6 levels
    const x = [...Array(20).fill(1), ...Array(30).fill(2), ...Array(20).fill(3), ...Array(10).fill(4)];
    const y = [...Array(10).fill(2), ...Array(30).fill(3), ...Array(30).fill(4), ...Array(20).fill(6)];
    const r = mannWhitney(binsOf(x), binsOf(y));
    expect(r.method).toBe('normal');
    expect(r.z).toBeCloseTo(textbookZ(x, y), 10);
    expect(r.p).toBeCloseTo(2 * (1 - normalCdf(Math.abs(textbookZ(x, y)))), 6);
    // the tie correction matters here: it shrinks the variance
    expect(r.tieTerm).toBeGreaterThan(0);
    const untied = Math.sqrt((80 * 90 * 171) / 12);
    expect(r.sd).toBeLessThan(untied);
  });

  it('rejects empty samples and bins out of order', () => {
    expect(() => mannWhitney([], binsOf([1]))).toThrow(/non-empty/);
    expect(() =>
      mannWhitney(
        [
          { value: 2, count: 1 },
          { value: 1, count: 1 },
        ],
        binsOf([1]),
      ),
    ).toThrow(/strictly ascending/);
    expect(() => mannWhitney([{ value: Number.NaN, count: 1 }], binsOf([1]))).toThrow(/finite/);
  });
});

describe('Hodges-Lehmann shift', () => {
  it("gives R's example: difference in location 0.305", () => {
    const hl = hodgesLehmann(binsOf(ry), binsOf(rx), 0.95);
    expect(hl.estimate).toBe(30.5);
    expect(hl.low).toBeLessThanOrEqual(hl.estimate);
    expect(hl.high).toBeGreaterThanOrEqual(hl.estimate);
  });

  it('finds a pure shift exactly, with an interval around it', () => {
    const x = Array.from({ length: 200 }, (_, i) => 1000 + ((i * 37) % 101) * 3);
    const y = x.map((v) => v + 42);
    const hl = hodgesLehmann(binsOf(x), binsOf(y), 0.98);
    expect(hl.estimate).toBe(42);
    expect(hl.low).toBeLessThan(42);
    expect(hl.high).toBeGreaterThan(42);
    expect(hl.high - hl.low).toBeLessThan(60);
    // the same sample against itself: 0, interval symmetric about it
    const aa = hodgesLehmann(binsOf(x), binsOf(x), 0.98);
    expect(aa.estimate).toBe(0);
    expect(aa.low).toBe(-aa.high);
  });

  it('rejects non-integer values (the histograms hold whole microseconds)', () => {
    expect(() => hodgesLehmann(binsOf([1.5]), binsOf([2]), 0.98)).toThrow(/integers/);
  });
});

describe("Fisher's exact test of two error rates", () => {
  it('gives the textbook value: 1/10 vs 9/10, p = 0.001093', () => {
    expect(fisherExact(1, 10, 9, 10).p).toBeCloseTo(0.0010933, 6);
  });
  it('gives p = 1 for equal rates, and names bad counts', () => {
    expect(fisherExact(0, 500, 0, 500).p).toBe(1);
    expect(fisherExact(3, 100, 3, 100).p).toBeCloseTo(1, 10);
    expect(() => fisherExact(1, 0, 0, 5)).toThrow(/needs requests|each side/);
    expect(() => fisherExact(6, 5, 0, 5)).toThrow(/exceed/);
  });
});

describe('the verdict', () => {
  const spec = defaultJudge();
  const sample = (values: number[], requests = values.length, errors = 0) => ({
    latencyUs: binsOf(values),
    requests,
    errors,
  });
  const spread = (n: number, base: number, jitter: number) =>
    Array.from({ length: n }, (_, i) => base + ((i * 7919) % 97) * jitter);

  it('fails a candidate 31% slower, with the evidence in one line', () => {
    const base = spread(300, 13_000, 20);
    const cand = base.map((v) => Math.round(v * 1.31));
    const j = judge(sample(base), sample(cand), spec);
    expect(j.verdict).toBe('Fail');
    const latency = j.metrics[0];
    expect(latency?.class).toBe('High');
    expect(latency?.change).toBeCloseTo(0.31, 2);
    expect(j.evidence).toMatch(
      /^p50 \+31% \(HL \+\d+\.\d ms, 98% CI \+\d+\.\d\.\.\+\d+\.\d ms\), error rate 0\.0% vs 0\.0%/,
    );
    expect(j.score).toBe(50);
  });

  it('passes the same version against itself and a change within the tolerance', () => {
    const base = spread(300, 13_000, 20);
    expect(judge(sample(base), sample(base), spec).verdict).toBe('Pass');
    const within = base.map((v) => Math.round(v * 1.03));
    const j = judge(sample(base), sample(within), spec);
    expect(j.metrics[0]?.p).toBeLessThan(0.02);
    expect(j.metrics[0]?.class).toBe('Pass');
    expect(j.verdict).toBe('Pass');
    expect(j.score).toBe(100);
  });

  it('a faster candidate is Low, which passes when the bad direction is increase, fails with either', () => {
    const base = spread(300, 13_000, 20);
    const faster = base.map((v) => Math.round(v * 0.6));
    const j = judge(sample(base), sample(faster), spec);
    expect(j.metrics[0]?.class).toBe('Low');
    expect(j.verdict).toBe('Pass');
    const either = { ...spec, latency: { ...spec.latency, direction: 'either' as const } };
    expect(judge(sample(base), sample(faster), either).verdict).toBe('Fail');
  });

  it('too few samples is NoData, never Pass, and no figure reads as zero', () => {
    const j = judge(sample([1000, 1100]), sample([1000, 1100]), spec);
    expect(j.verdict).toBe('NoData');
    expect(j.score).toBeNull();
    expect(j.metrics.map((m) => m.class)).toEqual(['NoData', 'NoData']);
    expect(j.metrics.every((m) => !m.passed && m.p === null && m.change === null)).toBe(true);
    const empty = judge(sample([]), sample([]), spec);
    expect(empty.verdict).toBe('NoData');
    expect(empty.metrics[0]?.baseline).toBeNull();
    expect(JSON.stringify(empty)).not.toMatch(/NaN/);
  });

  it('a non-critical metric that fails lowers the score: Marginal or Fail by the thresholds', () => {
    const base = spread(300, 13_000, 20);
    const soft = { ...spec, errorRate: { ...spec.errorRate, critical: false } };
    const j = judge(sample(base, 1000, 0), sample(base, 1000, 80), soft);
    expect(j.metrics[1]?.class).toBe('High');
    expect(j.score).toBe(50);
    expect(j.verdict).toBe('Fail');
    const lenient = { ...soft, scoreThresholds: { pass: 95, marginal: 50 } };
    expect(judge(sample(base, 1000, 0), sample(base, 1000, 80), lenient).verdict).toBe('Marginal');
    // critical: fails whatever the score
    expect(
      judge(sample(base, 1000, 0), sample(base, 1000, 80), { ...lenient, errorRate: spec.errorRate }).verdict,
    ).toBe('Fail');
  });

  it('median reads the middle of a histogram', () => {
    expect(median(binsOf([1, 2, 3, 4]))).toBe(2.5);
    expect(Number.isNaN(median([]))).toBe(true);
  });
});
