import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allFaults } from './cases.ts';

describe('docs/faults.md', () => {
  it('has one row per fault of the suite, and no other', () => {
    const rows = readFileSync('docs/faults.md', 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('| Fault ') && !l.startsWith('| ---'))
      .map((l) => l.split('|')[1]?.trim());
    expect(rows.sort()).toEqual(allFaults().sort());
    expect(new Set(rows).size).toBe(rows.length);
  });
});
