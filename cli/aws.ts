/**
 * The CLI commands that read or drive rollgate on AWS (`start`, `redrive`, `history --aws`) and `metrics` (local
 * history or, with `--aws`, the audit records in S3). Clients use the SDK's default chain for credentials and region
 * (AWS_PROFILE, AWS_REGION, ...). Every command returns its exit code and prints one clear message on failure.
 */

import path from 'node:path';
import { parseArgs } from 'node:util';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { ListExecutionsCommand, RedriveExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { listExecutions, type RunSummary } from '../local/runner.ts';
import { InvalidInputError } from '../src/core/errors.ts';
import { computeMetrics, type MetricsRecord, renderMetrics } from '../src/core/metrics.ts';
import { auditKey, executionName } from '../src/core/naming.ts';
import { parseInput } from '../src/core/normalize.ts';
import type { AuditRecord, Outcome } from '../src/core/record.ts';
import { duration, outcomeColour, table } from './output.ts';

/** The exit codes these commands use (the same values as EXIT in commands.ts). */
const EXIT = { ok: 0, error: 1, usage: 2 } as const;

const DAY_MS = 86_400_000;
/** Reading S3 day by day costs one ListObjectsV2 per day: longer windows belong in Athena (docs/audit.md). */
const MAX_AWS_WINDOW_DAYS = 366;
/** Parallel S3 requests: enough to hide latency, few enough not to trip S3's per-prefix request rates. */
const S3_CONCURRENCY = 8;

/** What the commands print to and read from; tests pass their own. */
export interface CliDeps {
  readonly sfn?: SFNClient;
  readonly s3?: S3Client;
  readonly now?: () => Date;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly stdout?: (text: string) => void;
  readonly stderr?: (text: string) => void;
}

/** Bad arguments: printed as one message, exit 2. */
export class ArgumentError extends Error {
  override name = 'ArgumentError';
}

/** An AWS error already turned into an explanation (it knew the bucket): printed as is, exit 1. */
class ExplainedError extends Error {
  override name = 'ExplainedError';
}

interface Io {
  readonly now: () => Date;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

function io(deps: CliDeps): Io {
  return {
    now: deps.now ?? (() => new Date()),
    env: deps.env ?? process.env,
    out: deps.stdout ?? ((t) => void process.stdout.write(t)),
    err: deps.stderr ?? ((t) => void process.stderr.write(t)),
  };
}

/** Runs a command body: argument errors exit 2, AWS errors exit 1 with an explanation, never a stack trace. */
async function guarded(command: string, x: Io, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ArgumentError) {
      x.err(`rollgate ${command}: ${err.message}\n`);
      return EXIT.usage;
    }
    x.err(`rollgate ${command}: ${err instanceof ExplainedError ? err.message : explainAwsError(err)}\n`);
    if (x.env.ROLLGATE_DEBUG) x.err(`${(err as Error).stack}\n`);
    return EXIT.error;
  }
}

/** Node's parseArgs, its errors (unknown option, missing value) turned into argument errors. */
function args<T>(fn: () => T, usage: string): T {
  try {
    return fn();
  } catch (err) {
    throw new ArgumentError(`${(err as Error).message}\nusage: ${usage}`);
  }
}

function errorName(err: unknown): string {
  return (err as { name?: string } | undefined)?.name ?? '';
}

function errorMessage(err: unknown): string {
  return (err as { message?: string } | undefined)?.message ?? String(err);
}

/**
 * One line (or a few) a person can act on, for the errors the AWS commands meet: no credentials, no region, a missing
 * bucket, access denied, a refused redrive.
 */
export function explainAwsError(err: unknown, context: { readonly bucket?: string } = {}): string {
  const name = errorName(err);
  const msg = errorMessage(err);
  if (name === 'CredentialsProviderError' || /could not load credentials/i.test(msg)) {
    return 'no AWS credentials found: set AWS_PROFILE (after `aws sso login` or `aws configure`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY';
  }
  if (/region is missing/i.test(msg)) return 'no AWS region: set AWS_REGION (or a region in your AWS_PROFILE)';
  switch (name) {
    case 'ExpiredToken':
    case 'ExpiredTokenException':
      return `your AWS credentials have expired (${msg}): refresh them (e.g. \`aws sso login\`) and try again`;
    case 'InvalidAccessKeyId':
    case 'SignatureDoesNotMatch':
    case 'UnrecognizedClientException':
    case 'InvalidClientTokenId':
      return `AWS rejected the credentials (${name}): check AWS_PROFILE / AWS_ACCESS_KEY_ID`;
    case 'NoSuchBucket':
      return `bucket ${context.bucket ? `"${context.bucket}" ` : ''}does not exist: check --bucket / ROLLGATE_BUCKET (the artifacts bucket of the rollgate stack) and AWS_REGION`;
    case 'AccessDenied':
    case 'AccessDeniedException':
      return `access denied: ${msg}`;
    case 'StateMachineDoesNotExist':
      return `no such state machine: ${msg} (check --state-machine-arn and that its region is the one in the ARN)`;
    case 'ExecutionDoesNotExist':
      return `no such execution: ${msg} (check the ARN)`;
    case 'InvalidArn':
      return `AWS rejected the ARN: ${msg}`;
    case 'ExecutionAlreadyExists':
      return `an execution with this name already exists: ${msg}; run the command again (names carry a random suffix)`;
    case 'ExecutionLimitExceeded':
      return `too many running executions on this account: ${msg}; wait for some to finish`;
    case 'InvalidExecutionInput':
      return `Step Functions rejected the input: ${msg}`;
    case 'ExecutionNotRedrivable':
      return [
        `AWS refused to redrive this execution (ExecutionNotRedrivable): ${msg}`,
        'Redrive resumes an unsuccessful Standard execution from the step that failed, with the same input and the same',
        'state machine definition. It is refused when the execution SUCCEEDED or is still RUNNING, ended more than 14',
        'days ago, started before redrive existed (15 Nov 2023), was redriven too often, or its history is too long.',
        'Redrive suits runs stopped by an infrastructure error (timeout, throttling, an abort); a deploy that rollgate',
        'rolled back, or a definition that has changed since, needs a new execution instead:',
        '  rollgate start --repository R --tag T --state-machine-arn ARN',
      ].join('\n');
    default:
      return `${name ? `${name}: ` : ''}${msg}`;
  }
}

const STATE_MACHINE_ARN =
  /^arn:aws[a-z-]*:states:([a-z0-9-]+):\d{12}:stateMachine:[A-Za-z0-9_.-]{1,80}(:[A-Za-z0-9_.-]+)?$/;
const EXECUTION_ARN = /^arn:aws[a-z-]*:states:([a-z0-9-]+):\d{12}:execution:[A-Za-z0-9_.-]{1,80}:[A-Za-z0-9_.-]{1,80}$/;

/** The region in an ARN (`arn:aws:states:<region>:...`). */
function regionOf(arn: string): string {
  return arn.split(':')[3] ?? '';
}

/** The Step Functions console page of an execution. */
export function consoleUrl(executionArn: string): string {
  const region = regionOf(executionArn);
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Time windows

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
  throw new ArgumentError(
    `${flag}: got "${value}", expected an ISO date (2026-11-01), an ISO date-time (2026-11-01T12:00:00Z) or a time ago like 30d, 12h or 45m`,
  );
}

/** The `--since`/`--until` window; default the last 30 days up to now. */
export function parseWindow(
  since: string | undefined,
  until: string | undefined,
  now: Date,
): { readonly since: Date; readonly until: Date } {
  const to = until === undefined ? now : parseTime(until, '--until', now, 'end');
  const from = since === undefined ? new Date(to.getTime() - 30 * DAY_MS) : parseTime(since, '--since', now, 'start');
  if (from.getTime() >= to.getTime()) {
    throw new ArgumentError(`--since (${from.toISOString()}) must be before --until (${to.toISOString()})`);
  }
  return { since: from, until: to };
}

/** The `audit/dt=YYYY-MM-DD/` prefixes of the UTC days a window touches, oldest first. */
export function auditDayPrefixes(since: Date, until: Date): string[] {
  const prefixes: string[] = [];
  const last = until.toISOString().slice(0, 10);
  for (let t = Date.parse(`${since.toISOString().slice(0, 10)}T00:00:00.000Z`); ; t += DAY_MS) {
    const day = new Date(t).toISOString();
    const key = auditKey(day, 'x'); // the one place the layout is defined: naming.ts
    prefixes.push(key.slice(0, key.lastIndexOf('/') + 1));
    if (day.slice(0, 10) >= last) break;
  }
  return prefixes;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading the audit trail

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export interface ReadAuditParams {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly since: Date;
  readonly until: Date;
}

/**
 * The audit records of executions started in [since, until], newest first: one ListObjectsV2 per UTC day of the
 * window (`audit/dt=<day>/`, paginated), one GetObject per record. Objects that are not rollgate.audit.v1 are skipped.
 */
export async function readAuditRecords({ s3, bucket, since, until }: ReadAuditParams): Promise<AuditRecord[]> {
  const prefixes = auditDayPrefixes(since, until);
  const keyLists = await mapLimit(prefixes, S3_CONCURRENCY, async (prefix) => {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }),
      );
      for (const o of page.Contents ?? []) if (o.Key?.endsWith('.json')) keys.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  });
  const records = await mapLimit(keyLists.flat(), S3_CONCURRENCY, async (key) => {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    try {
      const rec = JSON.parse((await out.Body?.transformToString()) ?? '') as AuditRecord;
      return rec?.schema === 'rollgate.audit.v1' ? rec : undefined;
    } catch {
      return undefined;
    }
  });
  const from = since.getTime();
  const to = until.getTime();
  return records
    .filter((r): r is AuditRecord => {
      const t = r ? Date.parse(r.startedAt) : Number.NaN;
      return t >= from && t <= to;
    })
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}

function bucketFrom(flag: string | undefined, x: Io): string {
  const bucket = flag ?? x.env.ROLLGATE_BUCKET;
  if (!bucket) {
    throw new ArgumentError(
      '--aws needs --bucket B (or ROLLGATE_BUCKET): the rollgate artifacts bucket, the one holding audit/dt=YYYY-MM-DD/',
    );
  }
  return bucket;
}

function checkAwsWindow(since: Date, until: Date): void {
  const days = (until.getTime() - since.getTime()) / DAY_MS;
  if (days > MAX_AWS_WINDOW_DAYS) {
    throw new ArgumentError(
      `--since/--until: the window is ${Math.ceil(days)} days, expected at most ${MAX_AWS_WINDOW_DAYS} with --aws (query longer spans with Athena: docs/audit.md)`,
    );
  }
}

/** Whether a `cluster/service` matches `--service` given as `cluster/service` or just `service`. */
function serviceMatches(actual: string | undefined, wanted: string | undefined): boolean {
  return !wanted || actual === wanted || (actual?.endsWith(`/${wanted}`) ?? false);
}

// ---------------------------------------------------------------------------------------------------------------
// rollgate metrics

/** A local run summary, with the push time the runner may record (`pushedAt`, ISO). */
export type LocalSummary = RunSummary & { readonly pushedAt?: string };

/**
 * What the metrics need, from a local run summary. `service` there is `cluster/service`. The summary has no
 * `newTaskDefinitionArn`, so a FAILED counts as a failed change only when its error is RollbackFailed: the state
 * machine's only FAILED path after the service changed.
 */
export function fromRunSummary(s: LocalSummary): MetricsRecord {
  const slash = s.service?.indexOf('/') ?? -1;
  const cluster = s.service && slash > 0 ? s.service.slice(0, slash) : undefined;
  const service = s.service && slash > 0 ? s.service.slice(slash + 1) : s.service;
  return {
    executionName: s.executionName,
    outcome: s.outcome,
    error: s.error,
    cluster,
    service,
    trigger: { type: s.trigger, eventTime: s.pushedAt },
    backupKey: s.backupKey,
    startedAt: s.startedAt,
    endedAt: s.endedAt,
  };
}

const METRICS_USAGE =
  'rollgate metrics [--service S] [--since D] [--until D] [--json] [--aws --bucket B] [--state-dir DIR]';

/** `rollgate metrics`: DORA figures from the local history, or with `--aws` from the audit records in S3. */
export async function metricsCommand(argv: string[], deps: CliDeps = {}): Promise<number> {
  const x = io(deps);
  return guarded('metrics', x, async () => {
    const { values } = args(
      () =>
        parseArgs({
          args: argv,
          options: {
            service: { type: 'string' },
            since: { type: 'string' },
            until: { type: 'string' },
            json: { type: 'boolean', default: false },
            aws: { type: 'boolean', default: false },
            bucket: { type: 'string' },
            'state-dir': { type: 'string' },
            config: { type: 'string' },
            help: { type: 'boolean', short: 'h', default: false },
          },
          strict: true,
        }),
      METRICS_USAGE,
    );
    if (values.help) {
      x.out(
        `${METRICS_USAGE}\n  --since/--until: ISO date or date-time, or a time ago (30d, 12h); default the last 30 days\n`,
      );
      return EXIT.ok;
    }
    const window = parseWindow(values.since, values.until, x.now());
    let records: MetricsRecord[];
    if (values.aws) {
      const bucket = bucketFrom(values.bucket, x);
      checkAwsWindow(window.since, window.until);
      const s3 = deps.s3 ?? new S3Client({});
      try {
        records = await readAuditRecords({ s3, bucket, ...window }).catch((err: unknown) => {
          throw new ExplainedError(explainAwsError(err, { bucket }), { cause: err });
        });
      } finally {
        if (!deps.s3) s3.destroy();
      }
    } else {
      const stateDir = path.resolve(values['state-dir'] ?? x.env.ROLLGATE_STATE_DIR ?? '.rollgate');
      records = listExecutions(stateDir).map((e) => fromRunSummary(e.summary));
    }
    const wanted = values.service;
    const report = computeMetrics({
      records: records.filter((r) => serviceMatches(r.cluster ? `${r.cluster}/${r.service}` : r.service, wanted)),
      ...window,
    });
    x.out(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderMetrics(report)}\n`);
    return EXIT.ok;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// rollgate history --aws

/** One row of `rollgate history --aws`: an audit record, or an execution still running (no record yet). */
export interface AwsHistoryRow {
  readonly executionName: string;
  readonly outcome: Outcome | 'RUNNING';
  readonly startedAt: string;
  readonly endedAt?: string;
  readonly durationMs?: number;
  readonly trigger: string;
  readonly service?: string;
  readonly image?: string;
  readonly reason: string;
  readonly error?: string;
  readonly executionArn?: string;
  readonly auditKey?: string;
}

const HISTORY_USAGE =
  'rollgate history --aws --bucket B [--state-machine-arn ARN] [--service S] [--since D] [--until D] [--limit N] [--json]';

function rowOf(r: AuditRecord): AwsHistoryRow {
  return {
    executionName: r.executionName,
    outcome: r.outcome,
    startedAt: r.startedAt,
    endedAt: r.endedAt,
    durationMs: r.durationMs,
    trigger: r.trigger.type,
    ...(r.service ? { service: r.cluster ? `${r.cluster}/${r.service}` : r.service } : {}),
    ...(r.image ? { image: r.image.display } : {}),
    reason: r.reason,
    ...(r.error ? { error: r.error } : {}),
    executionArn: r.executionId,
    auditKey: auditKey(r.startedAt, r.executionName),
  };
}

/**
 * `rollgate history --aws`: the audit records in S3 for the window (default the last 30 days), newest first, with the
 * state machine's RUNNING executions (from ListExecutions) on top of them when `--state-machine-arn` (or
 * ROLLGATE_STATE_MACHINE_ARN) is given. A running execution names no service yet, so `--service` leaves them out.
 */
export async function historyAwsCommand(argv: string[], deps: CliDeps = {}): Promise<number> {
  const x = io(deps);
  return guarded('history', x, async () => {
    const { values } = args(
      () =>
        parseArgs({
          args: argv,
          options: {
            aws: { type: 'boolean', default: false },
            bucket: { type: 'string' },
            'state-machine-arn': { type: 'string' },
            service: { type: 'string' },
            since: { type: 'string' },
            until: { type: 'string' },
            limit: { type: 'string' },
            json: { type: 'boolean', default: false },
            help: { type: 'boolean', short: 'h', default: false },
          },
          strict: true,
        }),
      HISTORY_USAGE,
    );
    if (values.help) {
      x.out(`${HISTORY_USAGE}\n`);
      return EXIT.ok;
    }
    const limit = values.limit === undefined ? 50 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1) {
      throw new ArgumentError(`--limit: got "${values.limit}", expected a whole number >= 1`);
    }
    const bucket = bucketFrom(values.bucket, x);
    const stateMachineArn = values['state-machine-arn'] ?? x.env.ROLLGATE_STATE_MACHINE_ARN;
    if (stateMachineArn !== undefined && !STATE_MACHINE_ARN.test(stateMachineArn)) {
      throw new ArgumentError(
        `--state-machine-arn: got "${stateMachineArn}", expected arn:aws:states:<region>:<account>:stateMachine:<name>`,
      );
    }
    const window = parseWindow(values.since, values.until, x.now());
    checkAwsWindow(window.since, window.until);
    const wanted = values.service;

    const s3 = deps.s3 ?? new S3Client({});
    const sfn = stateMachineArn ? (deps.sfn ?? new SFNClient({})) : undefined;
    let records: AuditRecord[];
    const running: AwsHistoryRow[] = [];
    try {
      records = await readAuditRecords({ s3, bucket, ...window }).catch((err: unknown) => {
        throw new ExplainedError(explainAwsError(err, { bucket }), { cause: err });
      });
      if (sfn && stateMachineArn && !wanted) {
        let nextToken: string | undefined;
        do {
          const page = await sfn.send(
            new ListExecutionsCommand({
              stateMachineArn,
              statusFilter: 'RUNNING',
              maxResults: 100,
              ...(nextToken ? { nextToken } : {}),
            }),
          );
          for (const e of page.executions ?? []) {
            const startedAt = e.startDate?.toISOString() ?? '';
            if (!e.name || Date.parse(startedAt) > window.until.getTime()) continue;
            running.push({
              executionName: e.name,
              outcome: 'RUNNING',
              startedAt,
              trigger: '?',
              reason: 'running',
              ...(e.executionArn ? { executionArn: e.executionArn } : {}),
            });
          }
          nextToken = page.nextToken;
        } while (nextToken);
      }
    } finally {
      if (!deps.s3) s3.destroy();
      if (sfn && !deps.sfn) sfn.destroy();
    }
    // A redriven execution can be RUNNING again with the record of its first attempt: the live state wins.
    const runningNames = new Set(running.map((r) => r.executionName));
    const rows = [
      ...running,
      ...records.map(rowOf).filter((r) => !runningNames.has(r.executionName) && serviceMatches(r.service, wanted)),
    ]
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt))
      .slice(0, limit);

    if (values.json) {
      x.out(`${JSON.stringify(rows, null, 2)}\n`);
      return EXIT.ok;
    }
    if (rows.length === 0) {
      x.out(
        `no executions in s3://${bucket}/audit/ from ${window.since.toISOString()} to ${window.until.toISOString()}${wanted ? ` for ${wanted}` : ''}\n`,
      );
      return EXIT.ok;
    }
    x.out(
      `${table(
        ['started', 'trigger', 'service', 'image', 'outcome', 'reason', 'duration'],
        rows.map((r) => [
          r.startedAt.replace('T', ' ').slice(0, 19),
          r.trigger,
          r.service ?? '',
          r.image ?? r.executionName,
          outcomeColour(r.outcome),
          r.reason,
          r.durationMs === undefined ? '' : duration(r.durationMs),
        ]),
      )}\n`,
    );
    return EXIT.ok;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// rollgate start / redrive

const START_USAGE =
  'rollgate start --repository R (--tag T | --digest sha256:...) [--reason TEXT] [--force] [--started-by NAME] --state-machine-arn ARN [--json]';

/** The manual input StartExecution sends (the state machine's Normalize reads it). */
export interface StartInput {
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
  readonly reason?: string;
  readonly force?: true;
  /** Who started it: `--started-by`, else the login name (USER, LOGNAME, USERNAME). */
  readonly startedBy?: string;
}

/** Re-labels Normalize's field errors (`tag: got "x", expected ...`) with the flag that set the field. */
function asFlagErrors(err: InvalidInputError): ArgumentError {
  const lines = err.message.split('\n').slice(1);
  const flagged = lines.map((l) =>
    l.replace(/^(repository|tag|digest|reason|force)\b/, '--$1').replace(/^startedBy\b/, '--started-by'),
  );
  return new ArgumentError(flagged.length ? flagged.join('\n') : err.message);
}

/**
 * `rollgate start`: starts a deployment on AWS (StartExecution) with the manual input, named by `executionName()`
 * (`<repository>-<tag>-<digest8>-<time>-<rand>`), and prints the execution ARN and its console URL.
 */
export async function startCommand(argv: string[], deps: CliDeps = {}): Promise<number> {
  const x = io(deps);
  return guarded('start', x, async () => {
    const { values } = args(
      () =>
        parseArgs({
          args: argv,
          options: {
            repository: { type: 'string' },
            tag: { type: 'string' },
            digest: { type: 'string' },
            reason: { type: 'string' },
            force: { type: 'boolean', default: false },
            'started-by': { type: 'string' },
            'state-machine-arn': { type: 'string' },
            json: { type: 'boolean', default: false },
            help: { type: 'boolean', short: 'h', default: false },
          },
          strict: true,
        }),
      START_USAGE,
    );
    if (values.help) {
      x.out(`${START_USAGE}\n`);
      return EXIT.ok;
    }
    if (!values.repository) {
      throw new ArgumentError(
        `--repository is required: the ECR repository name, as in rollgate.config.yml\nusage: ${START_USAGE}`,
      );
    }
    if (values.tag === undefined && values.digest === undefined) {
      throw new ArgumentError(
        `give --tag T or --digest sha256:<hex> (or both): which image of ${values.repository} to deploy`,
      );
    }
    const stateMachineArn = values['state-machine-arn'] ?? x.env.ROLLGATE_STATE_MACHINE_ARN;
    if (!stateMachineArn) {
      throw new ArgumentError(
        '--state-machine-arn is required (or ROLLGATE_STATE_MACHINE_ARN): arn:aws:states:<region>:<account>:stateMachine:rollgate-deploy-<stage>',
      );
    }
    if (!STATE_MACHINE_ARN.test(stateMachineArn)) {
      throw new ArgumentError(
        `--state-machine-arn: got "${stateMachineArn}", expected arn:aws:states:<region>:<account>:stateMachine:<name>`,
      );
    }
    const startedBy = values['started-by'] ?? x.env.USER ?? x.env.LOGNAME ?? x.env.USERNAME;
    if (values['started-by'] !== undefined && !values['started-by'].trim()) {
      throw new ArgumentError('--started-by: got "", expected a name');
    }
    const image = {
      repository: values.repository,
      ...(values.tag !== undefined ? { tag: values.tag } : {}),
      ...(values.digest !== undefined ? { digest: values.digest } : {}),
    };
    const input: StartInput = {
      ...image,
      ...(values.reason !== undefined ? { reason: values.reason } : {}),
      ...(values.force ? { force: true as const } : {}),
      ...(startedBy ? { startedBy } : {}),
    };
    // Checked here as Normalize will check it, so a typo fails now with exit 2 rather than as a FAILED execution.
    try {
      parseInput(input);
    } catch (err) {
      if (err instanceof InvalidInputError) throw asFlagErrors(err);
      throw err;
    }
    const name = executionName(image, x.now());
    const sfn = deps.sfn ?? new SFNClient({ region: regionOf(stateMachineArn) });
    try {
      const out = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
      const arn = out.executionArn ?? '';
      const url = consoleUrl(arn);
      if (values.json) {
        x.out(
          `${JSON.stringify({ executionName: name, executionArn: arn, startDate: out.startDate?.toISOString(), consoleUrl: url, input }, null, 2)}\n`,
        );
      } else {
        x.out(`started ${name}\n  execution ${arn}\n  console   ${url}\n`);
      }
      return EXIT.ok;
    } finally {
      if (!deps.sfn) sfn.destroy();
    }
  });
}

const REDRIVE_USAGE = 'rollgate redrive <execution-arn> [--json]';

/** `rollgate redrive <execution-arn>`: RedriveExecution; when AWS refuses, says why and what to do instead. */
export async function redriveCommand(argv: string[], deps: CliDeps = {}): Promise<number> {
  const x = io(deps);
  return guarded('redrive', x, async () => {
    const { values, positionals } = args(
      () =>
        parseArgs({
          args: argv,
          options: {
            json: { type: 'boolean', default: false },
            help: { type: 'boolean', short: 'h', default: false },
          },
          allowPositionals: true,
          strict: true,
        }),
      REDRIVE_USAGE,
    );
    if (values.help) {
      x.out(`${REDRIVE_USAGE}\n`);
      return EXIT.ok;
    }
    const [executionArn, ...extra] = positionals;
    if (!executionArn || extra.length > 0) {
      throw new ArgumentError(`expected exactly one execution ARN, got ${positionals.length}\nusage: ${REDRIVE_USAGE}`);
    }
    if (!EXECUTION_ARN.test(executionArn)) {
      throw new ArgumentError(
        `<execution-arn>: got "${executionArn}", expected arn:aws:states:<region>:<account>:execution:<state machine>:<name>`,
      );
    }
    const sfn = deps.sfn ?? new SFNClient({ region: regionOf(executionArn) });
    try {
      const out = await sfn.send(new RedriveExecutionCommand({ executionArn }));
      const url = consoleUrl(executionArn);
      if (values.json) {
        x.out(
          `${JSON.stringify({ executionArn, redriveDate: out.redriveDate?.toISOString(), consoleUrl: url }, null, 2)}\n`,
        );
      } else {
        x.out(
          `redriven ${executionArn}${out.redriveDate ? ` at ${out.redriveDate.toISOString()}` : ''}\n  console   ${url}\n`,
        );
      }
      return EXIT.ok;
    } finally {
      if (!deps.sfn) sfn.destroy();
    }
  });
}
