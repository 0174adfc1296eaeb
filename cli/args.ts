/**
 * The one argument parser of the rollgate commands (node's parseArgs) and the one usage error: bad flags, bad values
 * and bad input are a `UsageError`, printed as one message with exit 2.
 */
import path from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { Io } from './io.ts';

/** A failure the user can fix by changing the command line: one message, exit 2, no stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
}

const HELP = { help: { type: 'boolean', short: 'h', default: false } } as const;

/** Flags most commands take: where the config and the local cloud's state are, output format, progress. */
export const LOCAL_OPTIONS = {
  config: { type: 'string' },
  'state-dir': { type: 'string' },
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', default: false },
} as const;

/**
 * Parses a command's flags; prints `usage` and returns undefined for `--help`. parseArgs' own errors (unknown option,
 * missing value) become usage errors that end with the usage line.
 */
export function parseFlags<const O extends NonNullable<ParseArgsConfig['options']>>(
  io: Io,
  argv: string[],
  usage: string,
  options: O,
  { positionals = false }: { readonly positionals?: boolean } = {},
) {
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; options: O & typeof HELP; strict: true; allowPositionals: true }>
  >;
  try {
    parsed = parseArgs({ args: argv, options: { ...options, ...HELP }, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nusage: ${usage}`);
  }
  if ((parsed.values as { help?: boolean }).help) {
    io.stdout(`usage: ${usage}\n`);
    return undefined;
  }
  if (!positionals && parsed.positionals.length > 0) {
    throw new UsageError(`unexpected argument "${parsed.positionals[0]}"\nusage: ${usage}`);
  }
  return parsed;
}

/** `--limit N`: a whole number >= 1 (default 50). */
export function parseLimit(value: string | undefined): number {
  const limit = value === undefined ? 50 : Number(value);
  if (!Number.isInteger(limit) || limit < 1)
    throw new UsageError(`--limit: got "${value}", expected a whole number >= 1`);
  return limit;
}

/** The local cloud's state directory: `--state-dir`, ROLLGATE_STATE_DIR, or `.rollgate`. */
export function stateDirOf(flag: string | undefined, io: Io): string {
  return path.resolve(flag ?? io.env.ROLLGATE_STATE_DIR ?? '.rollgate');
}

const DAY_MS = 86_400_000;

/**
 * A point in time from a flag: an ISO date (`2026-11-01`, UTC midnight; for `--until` the end of that day), an ISO
 * date-time (`2026-11-01T12:00:00Z`), or a time before now (`30d`, `12h`, `45m`).
 */
export function parseTime(value: string, flag: string, now: Date, edge: 'start' | 'end'): Date {
  const relative = /^(\d+)([dhm])$/.exec(value);
  if (relative) {
    const unit = { d: DAY_MS, h: 3_600_000, m: 60_000 }[relative[2] as 'd' | 'h' | 'm'];
    return new Date(now.getTime() - Number(relative[1]) * unit);
  }
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const t = Date.parse(`${value}T00:00:00.000Z`);
    if (Number.isFinite(t)) return new Date(edge === 'end' ? t + DAY_MS - 1 : t);
  } else if (/^\d{4}-\d{2}-\d{2}T/.test(value)) {
    const t = Date.parse(value);
    if (Number.isFinite(t)) return new Date(t);
  }
  throw new UsageError(
    `${flag}: got "${value}", expected an ISO date (2026-11-01), an ISO date-time (2026-11-01T12:00:00Z) or a time ago like 30d, 12h or 45m`,
  );
}

export interface Window {
  readonly since: Date;
  readonly until: Date;
}

/** The `--since`/`--until` window; default the last 30 days up to now. */
export function parseWindow(since: string | undefined, until: string | undefined, now: Date): Window {
  const to = until === undefined ? now : parseTime(until, '--until', now, 'end');
  const from = since === undefined ? new Date(to.getTime() - 30 * DAY_MS) : parseTime(since, '--since', now, 'start');
  if (from.getTime() >= to.getTime()) {
    throw new UsageError(`--since (${from.toISOString()}) must be before --until (${to.toISOString()})`);
  }
  return { since: from, until: to };
}

/** Reading S3 day by day costs one ListObjectsV2 per day: longer windows belong in Athena (docs/audit.md). */
const MAX_AWS_WINDOW_DAYS = 366;

/** A window `--aws` may read: at most a year. */
export function checkAwsWindow({ since, until }: Window): void {
  const days = (until.getTime() - since.getTime()) / DAY_MS;
  if (days > MAX_AWS_WINDOW_DAYS) {
    throw new UsageError(
      `--since/--until: the window is ${Math.ceil(days)} days, expected at most ${MAX_AWS_WINDOW_DAYS} with --aws (query longer spans with Athena: docs/audit.md)`,
    );
  }
}

/** The artifacts bucket for `--aws`: `--bucket` or ROLLGATE_BUCKET. */
export function bucketOf(flag: string | undefined, io: Io): string {
  const bucket = flag ?? io.env.ROLLGATE_BUCKET;
  if (!bucket) {
    throw new UsageError(
      '--aws needs --bucket B (or ROLLGATE_BUCKET): the rollgate artifacts bucket, the one holding audit/dt=YYYY-MM-DD/',
    );
  }
  return bucket;
}
