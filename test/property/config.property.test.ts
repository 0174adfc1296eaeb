import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfigFile, parseConfig } from '../../src/config/load.ts';
import type { RollgateConfig } from '../../src/config/schema.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { expectSafeRefusal, mutated, nastyString } from './arbitraries.ts';

/**
 * The config loader fed mutated configs and random files (fast-check): never an exception other than ConfigError,
 * never a message with a raw control character or a megabyte of echo, and whatever it accepts is within the bounds
 * AWS sets (URL length, header names).
 */

const RUNS = { mutatedConfigs: 1500, randomFiles: 300 } as const;

const base = parseYaml(readFileSync('rollgate.config.yml', 'utf8')) as Record<string, unknown>;
const dir = mkdtempSync(path.join(tmpdir(), 'rollgate-config-prop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let calls = 0;
function checked(load: () => RollgateConfig): RollgateConfig | undefined {
  calls++;
  try {
    const config = load();
    for (const t of config.targets) {
      for (const url of [t.health.url, ...(t.load ? [t.load.url] : [])]) {
        expect(url.length).toBeLessThanOrEqual(2048);
        expect(url).toMatch(/^https?:\/\//);
      }
      if (t.health.versionHeader !== undefined)
        expect(t.health.versionHeader).toMatch(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,40}$/);
    }
    return config;
  } catch (err) {
    expectSafeRefusal(err, ConfigError, 10_000);
    return undefined;
  }
}

describe('the config loader under mutated and random input (fast-check)', () => {
  it(`keeps its invariants for ${RUNS.mutatedConfigs} mutated configs`, () => {
    const before = calls;
    let accepted = 0;
    fc.assert(
      fc.property(mutated(base), (doc) => {
        if (checked(() => parseConfig(doc))) accepted++;
      }),
      { numRuns: RUNS.mutatedConfigs },
    );
    expect(calls - before).toBeGreaterThanOrEqual(RUNS.mutatedConfigs);
    expect(accepted).toBeGreaterThan(0);
  });

  it(`keeps its invariants for ${RUNS.randomFiles} random config files (YAML or not)`, () => {
    const before = calls;
    const file = path.join(dir, 'rollgate.config.yml');
    const text = fc.oneof(
      nastyString,
      fc.jsonValue().map((v) => JSON.stringify(v)),
      mutated(base).map((doc) => JSON.stringify(doc)),
      fc.constantFrom('\ufeffversion: 1\n', 'version: 1\ntargets: [', 'a: &a [*a]\n', '- - - -', '{{{', '\u0000\u0001'),
    );
    fc.assert(
      fc.property(text, (content) => {
        writeFileSync(file, content);
        checked(() => loadConfigFile(file));
      }),
      { numRuns: RUNS.randomFiles },
    );
    expect(calls - before).toBeGreaterThanOrEqual(RUNS.randomFiles);
  });
});
