/**
 * DORA figures (deployment frequency, lead time for changes, change failure rate, time to restore) computed from the
 * audit trail. Pure: no I/O, no clock; the caller passes the records and the window.
 */
import { type AuditRecord, pushedAt, serviceOf } from './audit.ts';

const DAY_MS = 86_400_000;

/**
 * The part of an audit record the metrics read. Local history and `--aws` both pass the audit records themselves
 * (src/core/audit.ts), so an execution is classified the same way wherever it is read.
 */
export type MetricsRecord = Pick<
  AuditRecord,
  | 'executionName'
  | 'outcome'
  | 'error'
  | 'cluster'
  | 'service'
  | 'trigger'
  | 'newTaskDefinitionArn'
  | 'backupKey'
  | 'startedAt'
  | 'endedAt'
>;

/**
 * How an execution counts:
 * - `deployed`: outcome DEPLOYED: a successful deployment (the new revision runs and passed its gates).
 * - `failed-change`: a deployment that changed the service and failed: outcome ROLLED_BACK, or FAILED with error
 *   `RollbackFailed`, or FAILED after Register produced a new revision (`newTaskDefinitionArn`) — except
 *   `BackupFailedError`, which Deploy throws before it touches the service.
 * - `no-change`: FAILED before the service was changed (no backup, or Register failed, or Deploy refused because the
 *   backup was unreadable): not a deployment attempt.
 * - `ignored`: outcome IGNORED (filtered out, superseded, a duplicate) or ALREADY_DEPLOYED (the image already ran):
 *   nothing was deployed, not a deployment.
 * An outcome this version does not know (a record from a newer rollgate) counts as `no-change`.
 */
export type Classification = 'deployed' | 'failed-change' | 'no-change' | 'ignored';

/** Classifies one execution; see {@link Classification}. */
export function classify(r: MetricsRecord): Classification {
  switch (r.outcome) {
    case 'DEPLOYED':
      return 'deployed';
    case 'IGNORED':
    case 'ALREADY_DEPLOYED':
      return 'ignored';
    case 'ROLLED_BACK':
      return 'failed-change';
    case 'FAILED':
      if (r.error === 'RollbackFailed') return 'failed-change';
      // Deploy checks the backup before UpdateService: a BackupFailedError there means the service was not touched.
      if (r.newTaskDefinitionArn && r.error !== 'BackupFailedError') return 'failed-change';
      return 'no-change';
    default:
      return 'no-change';
  }
}

/** `cluster/service`, the key figures are grouped by; `(unknown)` when the record names no service. */
export function serviceKey(r: MetricsRecord): string {
  return serviceOf(r) ?? '(unknown)';
}

/** The DORA figures for one service, or for all of them. Durations in milliseconds; `null` when there is no sample. */
export interface DoraFigures {
  /**
   * Deployment frequency: successful deployments (DEPLOYED) started in the window; `perDay` = count / window length
   * in days (fractional).
   */
  readonly deployments: { readonly count: number; readonly perDay: number };
  /**
   * Lead time from push to healthy, over the window's DEPLOYED records: `endedAt` (the deploy proved healthy) minus
   * the push time, which is `trigger.eventTime` for ECR pushes and `startedAt` for manual runs (the operator's
   * request is the start). `fromPush` samples were timed from a push, `fromStart` from a manual start; `missing`
   * counts pushes without an event time (or with one after the deploy ended: a replayed event), left out.
   * Percentiles interpolate linearly between closest ranks (numpy's default; the median of an even count is the mean
   * of the two middle values).
   */
  readonly leadTime: {
    readonly count: number;
    readonly fromPush: number;
    readonly fromStart: number;
    readonly missing: number;
    readonly medianMs: number | null;
    readonly p90Ms: number | null;
  };
  /**
   * Change failure rate: failed changes / deployment attempts, where attempts = successful deployments + failed
   * changes (see {@link Classification}); `rate` in [0, 1], null with no attempt.
   */
  readonly changeFailureRate: { readonly failed: number; readonly attempts: number; readonly rate: number | null };
  /**
   * Time to restore, per failed change in the window: for ROLLED_BACK, the record's `endedAt` minus its `startedAt`
   * (the bad deploy started; the rollback ended healthy); for RollbackFailed, the `endedAt` of the service's next
   * DEPLOYED record (started after the failure, looked up in every record given, not only the window) minus the
   * failure's `startedAt`, or `open` when there is none yet. Mean (MTTR) and median over the restored ones;
   * `openExecutions` names the failures still open.
   */
  readonly timeToRestore: {
    readonly failures: number;
    readonly restored: number;
    readonly open: number;
    readonly meanMs: number | null;
    readonly medianMs: number | null;
    readonly openExecutions: readonly string[];
  };
  /**
   * Mean time between failed deploys: the mean gap between the `startedAt` of consecutive failed changes in the
   * window (= (last - first) / (n - 1)); null with fewer than two.
   */
  readonly meanTimeBetweenFailuresMs: number | null;
  /**
   * Executions in the window that are not deployment attempts: `ignored` (IGNORED or ALREADY_DEPLOYED) and
   * `failedWithoutChange` (FAILED before the service changed).
   */
  readonly notCounted: { readonly ignored: number; readonly failedWithoutChange: number };
}

/** {@link computeMetrics}'s result: the window, the figures over every service, and per `cluster/service`. */
export interface MetricsReport {
  readonly since: string;
  readonly until: string;
  /** The window's length in days (fractional). */
  readonly days: number;
  readonly overall: DoraFigures;
  /** Per `cluster/service`, in key order; only services with an execution in the window that names them. */
  readonly services: Readonly<Record<string, DoraFigures>>;
}

export interface MetricsParams {
  /** Audit records, in any order; may include records outside the window (used only to find restorations). */
  readonly records: readonly MetricsRecord[];
  /** Window start, inclusive: a record is in the window when its `startedAt` is in [since, until]. */
  readonly since: Date;
  /** Window end, inclusive. */
  readonly until: Date;
}

/** Computes the DORA figures over a window; see {@link DoraFigures} for each definition. */
export function computeMetrics({ records, since, until }: MetricsParams): MetricsReport {
  const from = since.getTime();
  const to = until.getTime();
  if (!(to > from))
    throw new RangeError(`the window must end after it starts (${since.toISOString()} .. ${until.toISOString()})`);
  const all = dedupe(records).sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
  const inWindow = all.filter((r) => {
    const t = Date.parse(r.startedAt);
    return t >= from && t <= to;
  });
  const days = (to - from) / DAY_MS;
  const keys = [...new Set(inWindow.filter((r) => r.service !== undefined).map(serviceKey))].sort();
  const services: Record<string, DoraFigures> = {};
  for (const key of keys) {
    services[key] = figures(
      inWindow.filter((r) => serviceKey(r) === key),
      all,
      days,
    );
  }
  return {
    since: since.toISOString(),
    until: until.toISOString(),
    days,
    overall: figures(inWindow, all, days),
    services,
  };
}

/** One record per execution: a redriven execution rewrites its record; keep the one that ended last. */
function dedupe(records: readonly MetricsRecord[]): MetricsRecord[] {
  const byName = new Map<string, MetricsRecord>();
  for (const r of records) {
    const seen = byName.get(r.executionName);
    if (!seen || Date.parse(r.endedAt) > Date.parse(seen.endedAt)) byName.set(r.executionName, r);
  }
  return [...byName.values()];
}

/** `window` sorted by startedAt; `all` (sorted) is searched for the deploy that restored a RollbackFailed. */
function figures(window: readonly MetricsRecord[], all: readonly MetricsRecord[], days: number): DoraFigures {
  const deployed = window.filter((r) => classify(r) === 'deployed');
  const failed = window.filter((r) => classify(r) === 'failed-change');

  const leads: number[] = [];
  let fromPush = 0;
  let fromStart = 0;
  let missing = 0;
  for (const r of deployed) {
    const pushed = r.trigger.type === 'manual' ? r.startedAt : pushedAt(r);
    const lead = pushed === undefined ? Number.NaN : Date.parse(r.endedAt) - Date.parse(pushed);
    if (!Number.isFinite(lead) || lead < 0) {
      missing++;
      continue;
    }
    leads.push(lead);
    if (r.trigger.type === 'manual') fromStart++;
    else fromPush++;
  }

  const restores: number[] = [];
  const openExecutions: string[] = [];
  for (const f of failed) {
    const start = Date.parse(f.startedAt);
    if (f.outcome === 'ROLLED_BACK') {
      restores.push(Date.parse(f.endedAt) - start);
      continue;
    }
    const key = serviceKey(f);
    const fix = all.find((r) => serviceKey(r) === key && classify(r) === 'deployed' && Date.parse(r.startedAt) > start);
    if (fix) restores.push(Date.parse(fix.endedAt) - start);
    else openExecutions.push(f.executionName);
  }

  const first = failed[0];
  const last = failed[failed.length - 1];
  const attempts = deployed.length + failed.length;
  return {
    deployments: { count: deployed.length, perDay: deployed.length / days },
    leadTime: {
      count: leads.length,
      fromPush,
      fromStart,
      missing,
      medianMs: percentile(leads, 0.5),
      p90Ms: percentile(leads, 0.9),
    },
    changeFailureRate: { failed: failed.length, attempts, rate: attempts === 0 ? null : failed.length / attempts },
    timeToRestore: {
      failures: failed.length,
      restored: restores.length,
      open: openExecutions.length,
      meanMs: restores.length === 0 ? null : restores.reduce((a, b) => a + b, 0) / restores.length,
      medianMs: percentile(restores, 0.5),
      openExecutions,
    },
    meanTimeBetweenFailuresMs:
      first && last && failed.length >= 2
        ? (Date.parse(last.startedAt) - Date.parse(first.startedAt)) / (failed.length - 1)
        : null,
    notCounted: {
      ignored: window.filter((r) => classify(r) === 'ignored').length,
      failedWithoutChange: window.filter((r) => classify(r) === 'no-change').length,
    },
  };
}

/** The p-quantile (0..1) with linear interpolation between closest ranks; null for no values. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * p;
  const lo = Math.floor(pos);
  const below = sorted[lo] ?? 0;
  const above = sorted[Math.min(lo + 1, sorted.length - 1)] ?? below;
  return below + (above - below) * (pos - lo);
}

/** A duration for people: `45 s`, `12 min`, `3.5 h`, `2.1 d`; `n/a` for null. */
export function humanDuration(ms: number | null): string {
  if (ms === null) return 'n/a';
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < DAY_MS) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / DAY_MS).toFixed(1)} d`;
}

function renderFigures(title: string, f: DoraFigures): string[] {
  const cfr = f.changeFailureRate;
  const ttr = f.timeToRestore;
  const lt = f.leadTime;
  return [
    title,
    `  deployment frequency   ${f.deployments.count} deploy(s), ${f.deployments.perDay.toFixed(2)}/day, ${(f.deployments.perDay * 7).toFixed(1)}/week`,
    `  lead time              median ${humanDuration(lt.medianMs)}, p90 ${humanDuration(lt.p90Ms)} (${lt.count} timed: ${lt.fromPush} from the push, ${lt.fromStart} manual from start; ${lt.missing} without a push time)`,
    `  change failure rate    ${cfr.rate === null ? 'n/a' : `${(cfr.rate * 100).toFixed(1)}%`} (${cfr.failed} failed of ${cfr.attempts} attempt(s))`,
    `  time to restore        mean ${humanDuration(ttr.meanMs)}, median ${humanDuration(ttr.medianMs)} (${ttr.restored} restored${ttr.open ? `, ${ttr.open} OPEN: ${ttr.openExecutions.join(', ')}` : ''})`,
    `  between failed deploys mean ${humanDuration(f.meanTimeBetweenFailuresMs)}`,
    `  not counted            ${f.notCounted.ignored} ignored, ${f.notCounted.failedWithoutChange} failed before any change`,
  ];
}

/** The report as plain text: the window, then overall, then one block per service. */
export function renderMetrics(report: MetricsReport): string {
  const lines = [`DORA metrics ${report.since} .. ${report.until} (${report.days.toFixed(1)} days)`, ''];
  lines.push(...renderFigures('all services', report.overall));
  for (const [key, f] of Object.entries(report.services)) lines.push('', ...renderFigures(key, f));
  return lines.join('\n');
}
