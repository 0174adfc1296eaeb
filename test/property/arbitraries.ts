import fc from 'fast-check';
import { expect } from 'vitest';

/**
 * Inputs a careless or hostile user sends: random JSON, and valid inputs with one field replaced by something
 * nasty (control characters, path climbing, uppercase, huge strings, wrong types) or deleted, or an extra field.
 */

/** Strings that break naive code: control characters, ANSI escapes, bidi overrides, BOM, path climbing, case. */
export const nastyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'binary-ascii', maxLength: 300 }),
  fc.constantFrom(
    '',
    ' ',
    '../../etc',
    'v 2',
    'Demo-App',
    'demo-app',
    'team//web',
    '\u001b[2J\u001b[H',
    '\u202ev2',
    '\ufeffv2',
    'v2\u0000',
    'v2\n',
    'sha256:deadbeef',
    `sha256:${'a'.repeat(60)}`,
    `sha256:${'A'.repeat(64)}`,
    `sha256:${'deadbeef'.repeat(8)}`,
    'http://169.254.169.254/latest/meta-data/',
    'https://evil.example.com/health',
    'x'.repeat(129),
    'x'.repeat(10_000),
  ),
  fc.stringMatching(/^[A-Za-z0-9_.\-/:@]{0,140}$/),
);

/** Any value JSON can carry, nasty strings included. */
export const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  nastyString,
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(null, true, 0, -1, 1e308, [], {}),
);

type Json = Record<string, unknown>;

/** Sets (or deletes, for `undefined`) the value at a path of a deep copy. */
function withValueAt(base: Json, path: readonly string[], value: unknown): Json {
  const copy = structuredClone(base);
  let cur: Json = copy;
  for (const key of path.slice(0, -1)) {
    const next = cur[key];
    if (next === null || typeof next !== 'object') return copy;
    cur = next as Json;
  }
  const last = path.at(-1);
  if (last === undefined) return copy;
  if (value === undefined) delete cur[last];
  else cur[last] = value;
  return copy;
}

/** Every path to a leaf or object of a JSON object. */
function paths(value: unknown, prefix: string[] = []): string[][] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix];
  return [prefix, ...Object.entries(value).flatMap(([k, v]) => paths(v, [...prefix, k]))].filter((p) => p.length > 0);
}

/** `base` with one to three fields replaced by nasty values, deleted, or joined by an unknown field. */
export function mutated(base: Json): fc.Arbitrary<Json> {
  const all = paths(base);
  const one = fc.oneof(
    fc.tuple(fc.constantFrom(...all), nastyValue).map(
      ([path, value]) =>
        (b: Json) =>
          withValueAt(b, path, value),
    ),
    fc.constantFrom(...all).map((path) => (b: Json) => withValueAt(b, path, undefined)),
    fc.tuple(nastyString, nastyValue).map(([key, value]) => (b: Json) => ({ ...b, [key]: value })),
  );
  return fc.array(one, { minLength: 1, maxLength: 3 }).map((edits) => edits.reduce((b, edit) => edit(b), base));
}

/** Characters that must never reach a terminal raw (see src/core/text.ts). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence
export const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\ufeff]/;

/** A refusal a user may see: of the expected class, no raw control character, at most `maxLength` characters. */
export function expectSafeRefusal(err: unknown, type: new (...args: never[]) => Error, maxLength: number): void {
  expect(err).toBeInstanceOf(type);
  const message = (err as Error).message;
  expect(message).not.toMatch(RAW_CONTROL);
  expect(message.length).toBeLessThan(maxLength);
}
