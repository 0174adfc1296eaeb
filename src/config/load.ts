import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../core/errors.ts';
import { oneLine, preview, printable } from '../core/text.ts';
import { configSchema, type RollgateConfig } from './schema.ts';

/** The default config file, relative to the working directory. */
export const DEFAULT_CONFIG_FILE = 'rollgate.config.yml';

/**
 * One line per problem: `targets[0].health.url: got "ftp://x", expected an http:// or https:// URL`. The value is
 * quoted safely (control characters escaped, long values cut: see text.ts's preview).
 */
export function formatIssues(issues: readonly z.core.$ZodIssue[], input: unknown): string {
  const lines = issues.slice(0, MAX_ISSUES).map((issue) => {
    const path = issue.path.reduce<string>(
      (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)),
      '',
    );
    const value = valueAt(input, issue.path);
    // a whole object says nothing a reader needs: name it by its path only
    const got =
      value === undefined
        ? 'missing'
        : typeof value === 'object' && value !== null
          ? 'invalid'
          : `got ${preview(value)}`;
    const where = oneLine(path, 120) || '(top level)';
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.slice(0, MAX_KEYS).map((k) => oneLine(k, 40));
      const more = issue.keys.length > MAX_KEYS ? ` and ${issue.keys.length - MAX_KEYS} more` : '';
      return `${where}: unknown field(s) ${keys.join(', ')}${more}`;
    }
    // zod says "Invalid input: expected string" or "Too small: expected number to be >=1": keep the expectation
    const at = issue.message.indexOf('expected ');
    const expected = at >= 0 ? issue.message.slice(at) : `expected ${issue.message}`;
    return `${where}: ${got}, ${expected}`;
  });
  if (issues.length > MAX_ISSUES) lines.push(`... and ${issues.length - MAX_ISSUES} more problem(s)`);
  return lines.join('\n');
}

/** A message lists at most this many problems, and this many unknown field names per object. */
const MAX_ISSUES = 20;
const MAX_KEYS = 10;

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

/** Validates a parsed config object; throws ConfigError listing every problem. */
export function parseConfig(input: unknown, source = 'config'): RollgateConfig {
  const result = configSchema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(`invalid ${source}:\n${formatIssues(result.error.issues, input)}`);
  }
  return result.data;
}

/** Reads and validates a YAML config file; throws ConfigError naming the file and each problem. */
export function loadConfigFile(file: string = DEFAULT_CONFIG_FILE): RollgateConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read config file ${oneLine(file)}: ${(err as NodeJS.ErrnoException).code ?? oneLine(String(err))}`,
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    // the parser quotes the offending line: escaped, as any text from the file
    throw new ConfigError(`${oneLine(file)} is not valid YAML: ${printable((err as Error).message).slice(0, 1000)}`);
  }
  return parseConfig(doc, oneLine(file));
}
