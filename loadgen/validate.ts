/**
 * Validation of a shard (the Generate Lambda's input, `runWorker`'s options): every problem names the field, the value
 * and what was expected, and throws `LoadInputError`.
 */
import { LoadInputError } from './errors.ts';

/** Shard fields after defaults: what the engine runs. */
export interface ResolvedShard {
  url: URL;
  rate: number;
  durationSec: number;
  connections: number;
  maxConnections: number;
  timeoutMs: number;
  maxInFlight: number;
  warmupSec: number;
  tickMs: number;
  method: string;
  headers: Record<string, string>;
  workerIndex: number;
}

export const DEFAULT_TIMEOUT_MS = 2000;
export const DEFAULT_WARMUP_SEC = 1;
/** Upper bound of the default scheduler tick, ms: no request is released more than this ahead of its schedule. */
export const MAX_DEFAULT_TICK_MS = 250;
/** Requests per tick the default tick aims for, so one wake-up's cost is shared by this many requests. */
export const TICK_BATCH = 250;
/**
 * With more connections than this, the default tick holds about this many requests instead of TICK_BATCH: a tick's
 * requests all start together when there are connections for all of them, so no default tick longer than the 1 ms
 * minimum starts many more than this at once.
 */
export const MAX_TICK_BURST = 100;
/** A Lambda runs at most 900 s; warm-up, drain and the report need the rest. */
export const MAX_LAMBDA_SHARD_SEC = 840;
/** Longest explicit `tickMs`: a request is never released more than this ahead of its schedule. */
export const MAX_TICK_MS = 1000;
/** Longest run the engine accepts (a local run; Lambda shards are capped by the plan). */
const MAX_DURATION_SEC = 86_400;
const MAX_RATE = 1_000_000;
const MAX_CONNECTIONS = 10_000;
/**
 * The default `maxConnections` carries the rate at this many seconds of latency (Little's law: connections = rate x
 * latency), and at least the timeout, so that a target slower than the generator can measure is what it takes to run
 * out of connections: a few seconds is far beyond any latency SLO.
 */
export const DEFAULT_LATENCY_HEADROOM_SEC = 4;
/**
 * Highest default `maxConnections` per worker: a Lambda allows 1024 open file descriptors, each connection is one.
 * An explicit `maxConnections` may go higher (up to 10,000) where the machine allows it.
 */
export const MAX_DEFAULT_CONNECTIONS = 900;

/** The default `maxConnections` of a worker at `rate` req/s with `connections` opened up front. */
export function defaultMaxConnections(rate: number, timeoutMs: number, connections: number): number {
  const headroomSec = Math.max(DEFAULT_LATENCY_HEADROOM_SEC, timeoutMs / 1000);
  return Math.max(connections, Math.min(MAX_DEFAULT_CONNECTIONS, Math.ceil(rate * headroomSec)));
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'nothing';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function fail(field: string, value: unknown, expected: string): never {
  throw new LoadInputError(`${field} must be ${expected}, got ${describe(value)}`);
}

function number(
  input: Record<string, unknown>,
  field: string,
  opts: { min: number; max: number; integer?: boolean; exclusiveMin?: boolean },
  fallback?: number,
): number {
  const value = input[field];
  if (value === undefined && fallback !== undefined) return fallback;
  const kind = opts.integer ? 'an integer' : 'a number';
  const lower = opts.exclusiveMin ? `> ${opts.min}` : `>= ${opts.min}`;
  const expected = `${kind} ${lower} and <= ${opts.max}`;
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(field, value, expected);
  if (opts.integer && !Number.isInteger(value)) fail(field, value, expected);
  if (opts.exclusiveMin ? value <= opts.min : value < opts.min) fail(field, value, expected);
  if (value > opts.max) fail(field, value, expected);
  return value;
}

/** Checks an untrusted shard (JSON from Step Functions, or options from code) and applies the defaults. */
export function resolveShard(input: unknown): ResolvedShard {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    fail('the load shard', input, 'an object with url, rate, durationSec and connections');
  }
  const o = input as Record<string, unknown>;

  if (typeof o.url !== 'string') fail('url', o.url, 'an http:// or https:// URL string');
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    fail('url', o.url, 'an absolute http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail('url', o.url, 'an http:// or https:// URL');

  const rate = number(o, 'rate', { min: 0, max: MAX_RATE, exclusiveMin: true });
  const durationSec = number(o, 'durationSec', { min: 0, max: MAX_DURATION_SEC, exclusiveMin: true });
  const connections = number(o, 'connections', { min: 1, max: MAX_CONNECTIONS, integer: true });
  const timeoutMs = number(o, 'timeoutMs', { min: 1, max: 600_000, integer: true }, DEFAULT_TIMEOUT_MS);
  const maxConnections = number(
    o,
    'maxConnections',
    { min: connections, max: MAX_CONNECTIONS, integer: true },
    defaultMaxConnections(rate, timeoutMs, connections),
  );
  const defaultInFlight = maxConnections + Math.ceil((rate * timeoutMs) / 1000);
  const maxInFlight = number(o, 'maxInFlight', { min: 1, max: 10_000_000, integer: true }, defaultInFlight);
  const warmupSec = number(o, 'warmupSec', { min: 0, max: 60 }, DEFAULT_WARMUP_SEC);
  // Default tick: about TICK_BATCH requests per tick (MAX_TICK_BURST with more connections than that), within
  // 1-250 ms. What a tick costs is mostly fixed: the timer wake-up (a bare 10 ms timer loop: ~60 us of CPU per wake-up
  // on these VMs), and the start and end of each burst, when the target's first responses come slowly after its idle
  // gap (~190 us here) and the last ones trickle in with nothing left to send, so the generator sleeps and wakes once
  // per response. Fitting CPU per request against the tick gives ~0.5 ms of CPU per tick. At 1000 req/s over 10
  // connections (CPU of all threads per request, against autocannon in the same sitting): one 20 s sitting, 100 ms
  // ticks 18.0 us (1.06x autocannon), 250 ms 15.1 us (0.89x), 1000 ms 13.1 us (0.77x); another, 30 s runs, 250 ms
  // 13.3 us (0.89x), 500 ms 11.9 us (0.79x).
  // Because requests released early in their tick count their latency from when they are sent, a longer tick adds
  // nothing to any latency. What the target sees barely changes either: once a tick holds more requests than there
  // are connections, it gets `connections` concurrent requests for the same share of the time whatever the tick; the
  // tick only sets how often that on/off cycle repeats, and bounds how far ahead of its schedule a request goes out.
  // With more connections than a tick holds requests, though, a tick's requests all start together, and the target
  // sees bursts of that many concurrent requests where an even schedule would give it rate x latency. So with many
  // connections a tick holds fewer requests (MAX_TICK_BURST): no default tick above 1 ms starts much more than 100 at
  // once, and the long ticks, whose gain is many rounds of requests per connection, stay for the few connections they
  // help.
  const batch = connections > MAX_TICK_BURST ? MAX_TICK_BURST : TICK_BATCH;
  const defaultTick = Math.min(MAX_DEFAULT_TICK_MS, Math.max(1, Math.round((batch * 1000) / rate)));
  const tickMs = number(o, 'tickMs', { min: 1, max: MAX_TICK_MS, integer: true }, defaultTick);
  const workerIndex = number(o, 'workerIndex', { min: 0, max: 100_000, integer: true }, 0);

  const method = o.method ?? 'GET';
  if (typeof method !== 'string' || !/^[A-Z]+$/.test(method)) fail('method', method, 'an upper-case HTTP method');

  const headers = o.headers ?? {};
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    fail('headers', headers, 'an object of header name to string value');
  }
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') fail(`headers.${name}`, value, 'a string');
  }

  return {
    url,
    rate,
    durationSec,
    connections,
    maxConnections,
    timeoutMs,
    maxInFlight,
    warmupSec,
    tickMs,
    method,
    headers: headers as Record<string, string>,
    workerIndex,
  };
}
