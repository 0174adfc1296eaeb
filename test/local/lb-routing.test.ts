import { describe, expect, it } from 'vitest';
import {
  headerMatches,
  type ListenerRule,
  matchRule,
  validateForward,
  WeightedChooser,
} from '../../local/lb/routing.ts';

const picks = (chooser: WeightedChooser, n: number) => Array.from({ length: n }, () => chooser.next());
const count = (list: unknown[], value: unknown) => list.filter((x) => x === value).length;

describe('WeightedChooser', () => {
  it.each([
    { blue: 100, green: 0, n: 50, green_: 0 },
    { blue: 90, green: 10, n: 300, green_: 30 },
    { blue: 1, green: 1, n: 10, green_: 5 },
    { blue: 0, green: 100, n: 20, green_: 20 },
    { blue: 999, green: 1, n: 1000, green_: 1 },
    { blue: 75, green: 25, n: 400, green_: 100 },
  ])(
    'gives green exactly its share: blue $blue / green $green over $n picks -> $green_',
    ({ blue, green, n, green_ }) => {
      const chooser = new WeightedChooser([
        { targetGroup: 'blue', weight: blue },
        { targetGroup: 'green', weight: green },
      ]);
      const got = picks(chooser, n);
      expect(count(got, 'green')).toBe(green_);
      expect(count(got, 'blue')).toBe(n - green_);
    },
  );

  it('spreads the minority out instead of sending it in a burst', () => {
    const chooser = new WeightedChooser([
      { targetGroup: 'blue', weight: 90 },
      { targetGroup: 'green', weight: 10 },
    ]);
    const got = picks(chooser, 100);
    // Every window of 10 consecutive picks holds exactly one green.
    for (let i = 0; i + 10 <= got.length; i += 10) expect(count(got.slice(i, i + 10), 'green')).toBe(1);
  });

  it('answers undefined when every weight is 0, and starts a new cycle on reset', () => {
    const chooser = new WeightedChooser([{ targetGroup: 'blue', weight: 0 }]);
    expect(chooser.next()).toBeUndefined();
    chooser.reset([{ targetGroup: 'green', weight: 5 }]);
    expect(picks(chooser, 3)).toEqual(['green', 'green', 'green']);
  });
});

describe('headerMatches', () => {
  it.each([
    { headers: { 'x-canary': '1' }, values: ['1'], matches: true },
    { headers: { 'x-canary': 'TRUE' }, values: ['true'], matches: true },
    { headers: { 'x-canary': '0' }, values: ['1'], matches: false },
    { headers: {}, values: ['1'], matches: false },
    { headers: { 'x-canary': 'user-42' }, values: ['user-*'], matches: true },
    { headers: { 'x-canary': 'ab' }, values: ['a?'], matches: true },
    { headers: { 'x-canary': 'abc' }, values: ['a?'], matches: false },
    { headers: { 'x-canary': 'a.c' }, values: ['a.c'], matches: true },
    { headers: { 'x-canary': 'abc' }, values: ['a.c'], matches: false },
    { headers: { 'x-canary': ['no', 'yes'] }, values: ['yes'], matches: true },
    { headers: { 'x-canary': 'b' }, values: ['a', 'b'], matches: true },
  ])('$headers against $values -> $matches', ({ headers, values, matches }) => {
    expect(headerMatches({ httpHeaderName: 'X-Canary', values }, headers)).toBe(matches);
  });
});

describe('matchRule', () => {
  const rule = (arn: string, priority: number | 'default', header?: [string, string]): ListenerRule => ({
    arn,
    priority,
    conditions: header === undefined ? [] : [{ httpHeaderName: header[0], values: [header[1]] }],
    forward: [{ targetGroup: 'blue', weight: 1 }],
  });
  const rules = [rule('default', 'default'), rule('p20', 20, ['x-canary', '*']), rule('p10', 10, ['x-canary', '1'])];

  it.each([
    { headers: {}, arn: 'default' },
    { headers: { 'x-canary': '1' }, arn: 'p10' },
    { headers: { 'x-canary': '2' }, arn: 'p20' },
  ])('$headers takes rule $arn', ({ headers, arn }) => {
    expect(matchRule(rules, headers)?.arn).toBe(arn);
  });
});

describe('validateForward', () => {
  const known = new Set(['blue', 'green']);
  it.each([
    { forward: [], message: 'at least one target group' },
    { forward: [{ targetGroup: 'red', weight: 1 }], message: 'unknown target group red: expected one of blue, green' },
    { forward: [{ targetGroup: 'blue', weight: 1000 }], message: 'integer from 0 to 999, got 1000' },
    { forward: [{ targetGroup: 'blue', weight: -1 }], message: 'got -1' },
    { forward: [{ targetGroup: 'blue', weight: 1.5 }], message: 'got 1.5' },
    {
      forward: [
        { targetGroup: 'blue', weight: 1 },
        { targetGroup: 'blue', weight: 2 },
      ],
      message: 'appears twice',
    },
  ])('rejects $forward naming what is wrong', ({ forward, message }) => {
    expect(() => validateForward(forward, known)).toThrow(message);
  });
});
