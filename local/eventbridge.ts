/**
 * rollgate's local EventBridge: an HTTP endpoint on 127.0.0.1 speaking the AWS JSON 1.1 protocol
 * (`X-Amz-Target: AWSEvents.PutEvents`), so `@aws-sdk/client-eventbridge` pointed at it (or
 * `AWS_ENDPOINT_URL_EVENTBRIDGE`) works unchanged. It implements PutEvents only, validating like EventBridge, and
 * appends each accepted event, shaped as EventBridge delivers it to a rule's target, as one JSON line to a file
 * (`.rollgate/events.jsonl`): the local stand-in for the chat or paging a rule would route it to.
 */
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { shortImage } from '../src/core/naming.ts';
import type { RollbackEventDetail } from '../src/core/notify.ts';
import { AwsError, startAwsJsonEndpoint } from './aws-json.ts';

const TARGET_PREFIX = 'AWSEvents.';
/** EventBridge quotas: 10 entries per PutEvents, 256 KB per request (entry sizes as AWS computes them). */
const MAX_ENTRIES = 10;
const MAX_REQUEST_BYTES = 256 * 1024;
/** DetailType: "free-form string, with a maximum of 128 characters" (PutEventsRequestEntry). */
const MAX_DETAIL_TYPE_CHARS = 128;
/** Bodies beyond this are not buffered: 256 KB of entries JSON-escaped fits well inside. */
const MAX_BODY = 2 * 1024 * 1024;

/** One event as EventBridge delivers it to a rule's target: one line of the events file. */
export interface LocalEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  /** ISO 8601, second precision, UTC (`2026-11-22T10:00:03Z`). */
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  /** The entry's Detail, parsed: always a JSON object. */
  readonly detail: Record<string, unknown>;
}

export interface StartEventBridgeOptions {
  /** The JSON Lines file accepted events are appended to; its directory is created. Never rewritten. */
  readonly file: string;
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  readonly port?: number;
  /** The events' `region`. Default: the region of the request's SigV4 credential scope, else us-east-1. */
  readonly region?: string;
  /** The events' `account`. Default: the account of an EventBusName ARN, else 000000000000. */
  readonly account?: string;
  readonly log?: (line: string) => void;
}

export interface LocalEventBridge {
  /** `http://127.0.0.1:<port>`: the value for `AWS_ENDPOINT_URL_EVENTBRIDGE` or a client's `endpoint`. */
  readonly endpoint: string;
  readonly file: string;
  /** Stops the endpoint after the pending appends are written. Idempotent. */
  close(): Promise<void>;
}

/** Starts the local EventBridge endpoint. */
export async function startEventBridge(options: StartEventBridgeOptions): Promise<LocalEventBridge> {
  const log = options.log ?? (() => undefined);
  const file = path.resolve(options.file);
  await mkdir(path.dirname(file), { recursive: true });
  // Appends are chained so concurrent requests never interleave their lines.
  // A line torn by a crash (no newline at the end) would swallow the next event: start on a fresh line.
  let writing: Promise<void> = endsTorn(file).then((torn) => (torn ? appendFile(file, '\n', 'utf8') : undefined));
  const append = (lines: string): Promise<void> => {
    const done = writing.then(async () => {
      await mkdir(path.dirname(file), { recursive: true });
      await appendFile(file, lines, 'utf8');
    });
    writing = done.catch(() => undefined);
    return done;
  };

  const context: Context = { options, append };
  const server = await startAwsJsonEndpoint(
    {
      service: 'EventBridge',
      targetPrefix: TARGET_PREFIX,
      operations: {
        PutEvents: (input, req) =>
          putEvents(input, {
            ...context,
            region: options.region ?? credentialRegion(req.headers.authorization) ?? 'us-east-1',
          }),
      },
      maxBodyBytes: MAX_BODY,
      tooLarge: () => new AwsError('ValidationException', TOTAL_SIZE_MESSAGE),
      internalError: 'InternalException',
    },
    { port: options.port ?? 0, log },
  );
  log(`eventbridge: endpoint ${server.endpoint}, events in ${file}`);

  let closing: Promise<void> | undefined;
  return {
    endpoint: server.endpoint,
    file,
    close: () => {
      closing ??= (async () => {
        await server.close(false);
        await writing;
      })();
      return closing;
    },
  };
}

interface Context {
  readonly options: StartEventBridgeOptions;
  readonly append: (lines: string) => Promise<void>;
}

const TOTAL_SIZE_MESSAGE = 'Total size of the entries in the request is over the limit.';

/** `Credential=AKID/20261122/eu-west-1/events/aws4_request` -> `eu-west-1`. */
function credentialRegion(authorization: string | undefined): string | undefined {
  return authorization?.match(/Credential=[^/,\s]+\/\d{8}\/([^/]+)\//)?.[1];
}

/** The account in an event bus ARN (`arn:aws:events:<region>:<account>:event-bus/<name>`). */
function busAccount(bus: unknown): string | undefined {
  return typeof bus === 'string' ? bus.match(/^arn:[^:]+:events:[^:]*:(\d{12}):event-bus\//)?.[1] : undefined;
}

function utf8(value: unknown): number {
  return typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : 0;
}

/** The entry size as EventBridge computes it ("Calculating PutEvents event entry size"). */
function entrySize(entry: Record<string, unknown>): number {
  const resources = Array.isArray(entry.Resources) ? entry.Resources : [];
  return (
    (entry.Time === undefined ? 0 : 14) +
    utf8(entry.Source) +
    utf8(entry.DetailType) +
    utf8(entry.Detail) +
    resources.reduce((sum: number, r) => sum + utf8(r), 0)
  );
}

/** The SDK sends `Time` as epoch seconds (fractional); other clients may send an ISO string. */
function eventTime(time: unknown, now: Date): string | undefined {
  let date = now;
  if (typeof time === 'number') date = new Date(time * 1000);
  else if (typeof time === 'string') date = new Date(/^\d+(\.\d+)?$/.test(time) ? Number(time) * 1000 : time);
  else if (time !== undefined && time !== null) return undefined;
  if (Number.isNaN(date.getTime())) return undefined;
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

type EntryResult = { EventId: string } | { ErrorCode: string; ErrorMessage: string };

function invalid(parameter: string, reason: string): EntryResult {
  return { ErrorCode: 'InvalidArgument', ErrorMessage: `Parameter ${parameter} is not valid. Reason: ${reason}` };
}

function required(entry: Record<string, unknown>, name: string): EntryResult | undefined {
  const value = entry[name];
  if (typeof value !== 'string' || value === '') return invalid(name, `${name} is a required argument.`);
  return undefined;
}

/** Validates one entry like EventBridge; the event to deliver, or the entry's error. */
function toEvent(
  entry: Record<string, unknown>,
  context: { region: string; account: string | undefined; now: Date },
): LocalEvent | EntryResult {
  const missing = required(entry, 'Source') ?? required(entry, 'DetailType') ?? required(entry, 'Detail');
  if (missing) return missing;
  const detailType = entry.DetailType as string;
  if (detailType.length > MAX_DETAIL_TYPE_CHARS) {
    return invalid('DetailType', `DetailType is longer than ${MAX_DETAIL_TYPE_CHARS} characters.`);
  }
  let detail: unknown;
  try {
    detail = JSON.parse(entry.Detail as string);
  } catch {
    detail = undefined;
  }
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
    return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
  }
  const resources = entry.Resources ?? [];
  if (!Array.isArray(resources) || resources.some((r) => typeof r !== 'string')) {
    return invalid('Resources', 'Resources must be a list of strings.');
  }
  const time = eventTime(entry.Time, context.now);
  if (time === undefined) return invalid('Time', 'Time is not a valid timestamp.');
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': detailType,
    source: entry.Source as string,
    account: context.account ?? busAccount(entry.EventBusName) ?? '000000000000',
    time,
    region: context.region,
    resources: resources as string[],
    detail: detail as Record<string, unknown>,
  };
}

async function putEvents(
  input: Record<string, unknown>,
  ctx: Context & { region: string },
): Promise<{ FailedEntryCount: number; Entries: EntryResult[] }> {
  const entries = input.Entries;
  if (!Array.isArray(entries)) {
    throw new AwsError(
      'ValidationException',
      "1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null",
    );
  }
  if (entries.length < 1 || entries.length > MAX_ENTRIES) {
    const bound = entries.length < 1 ? 'greater than or equal to 1' : `less than or equal to ${MAX_ENTRIES}`;
    throw new AwsError(
      'ValidationException',
      `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length ${bound}`,
    );
  }
  const objects = entries.map(
    (e): Record<string, unknown> =>
      typeof e === 'object' && e !== null && !Array.isArray(e) ? (e as Record<string, unknown>) : {},
  );
  if (objects.reduce((sum, e) => sum + entrySize(e), 0) > MAX_REQUEST_BYTES) {
    throw new AwsError('ValidationException', TOTAL_SIZE_MESSAGE);
  }
  const now = new Date();
  const results = objects.map((entry) => toEvent(entry, { region: ctx.region, account: ctx.options.account, now }));
  const accepted = results.filter((r): r is LocalEvent => 'version' in r);
  if (accepted.length > 0) await ctx.append(accepted.map((e) => `${JSON.stringify(e)}\n`).join(''));
  const answers = results.map((r): EntryResult => ('version' in r ? { EventId: r.id } : r));
  return { FailedEntryCount: answers.filter((a) => 'ErrorCode' in a).length, Entries: answers };
}

/** The events in a file written by the local EventBridge, oldest first; none when it does not exist yet. */
export async function readEvents(file: string, onSkipped?: (problem: string) => void): Promise<LocalEvent[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const events: LocalEvent[] = [];
  const bad: number[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    try {
      const event = JSON.parse(line) as LocalEvent | null;
      if (event === null || typeof event !== 'object') throw new Error('not an object');
      events.push(event);
    } catch {
      bad.push(index + 1);
    }
  }
  // one torn line (a write cut short) must not hide every event published before or after it
  if (bad.length > 0) {
    onSkipped?.(
      `${file}: ${bad.length} unreadable line(s) skipped (line ${bad.slice(0, 5).join(', ')}${bad.length > 5 ? ', ...' : ''}); remove the file, or rollgate reset clears it`,
    );
  }
  return events;
}

/** True when the file exists, is not empty and does not end with a newline. */
async function endsTorn(file: string): Promise<boolean> {
  try {
    const text = await readFile(file);
    return text.length > 0 && text[text.length - 1] !== 0x0a;
  } catch {
    return false;
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * One line for the CLI, time in UTC:
 * `2026-11-22 10:00:03  Deployment Rolled Back  demo/demo-app  demo-app:v3-unhealthy -> demo-app:v2  health check failed: ...`.
 * Events from other sources: time, detail-type, source and the detail as JSON (clipped).
 */
export function formatEvent(event: LocalEvent): string {
  const time = event.time.replace('T', ' ').replace(/(\.\d+)?Z$/, '');
  if (event.source !== 'rollgate') {
    const detail = JSON.stringify(event.detail);
    return [time, event['detail-type'], event.source, detail.length > 200 ? `${detail.slice(0, 199)}…` : detail].join(
      '  ',
    );
  }
  const d = event.detail as Partial<RollbackEventDetail>;
  const images =
    d.failedImage || d.previousImage
      ? `${d.failedImage ? shortImage(d.failedImage) : '?'} -> ${d.previousImage ? shortImage(d.previousImage) : '?'}`
      : undefined;
  return [time, event['detail-type'], d.service ?? d.target ?? d.executionName, images, oneLine(d.reason ?? '')]
    .filter((part): part is string => Boolean(part))
    .join('  ');
}
