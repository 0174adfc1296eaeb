/**
 * The local audit trail: every execution the local runner ran, as persisted under `<stateDir>/executions/<name>.json`,
 * with its audit record (the same `rollgate.audit.v1` record the execution wrote to the local S3). `rollgate history`
 * and `rollgate metrics` read it without starting the local cloud.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type AuditRecord, type HistoryRow, historyRow, type Outcome } from '../src/core/audit.ts';
import { oneLine } from '../src/core/text.ts';
import type { ExecutionResult } from './state-machine.ts';

/**
 * What `rollgate run --json` prints and `rollgate history --json` lists: the record's history row (as `history --aws`
 * prints it), with the local run's end status and the report downloaded next to it.
 */
export interface RunSummary extends HistoryRow {
  readonly outcome: Outcome;
  readonly status: ExecutionResult['status'];
  /** The load test report, downloaded from the local S3 to `<stateDir>/reports/<execution>/report.html`. */
  readonly reportFile?: string;
  readonly endedAt: string;
  readonly durationMs: number;
}

/** One execution as persisted: the run (event log, input, output), its audit record and its summary. */
export interface StoredExecution extends ExecutionResult {
  readonly record: AuditRecord;
  readonly summary: RunSummary;
  /** How many times it was redriven (0 or absent: never). */
  readonly redriveCount?: number;
  /** Set when the audit trail in S3 has no record of it: why, and that this stored record is the only one. */
  readonly unrecorded?: string;
}

export function executionsDir(stateDir: string): string {
  return path.join(stateDir, 'executions');
}

/** The stored form of a run: its summary is its record's history row. */
export function storedExecution(
  result: ExecutionResult,
  record: AuditRecord,
  extra: {
    readonly reportFile?: string | undefined;
    readonly redriveCount?: number | undefined;
    readonly unrecorded?: string | undefined;
  } = {},
): StoredExecution {
  const row = historyRow(record);
  return {
    ...result,
    record,
    summary: {
      ...row,
      outcome: record.outcome,
      status: result.status,
      endedAt: record.endedAt,
      durationMs: record.durationMs,
      ...(extra.reportFile ? { reportFile: extra.reportFile } : {}),
    },
    ...(extra.redriveCount ? { redriveCount: extra.redriveCount } : {}),
    ...(extra.unrecorded ? { unrecorded: extra.unrecorded } : {}),
  };
}

/**
 * An execution the local runner is running, as persisted while it runs (rewritten at each state entered): what a
 * later rollgate needs to resolve it when the process that ran it is gone (see LocalRunner's recovery).
 */
export interface UnfinishedExecution {
  readonly schema: typeof UNFINISHED_SCHEMA;
  readonly name: string;
  readonly executionArn: string;
  readonly startDate: string;
  readonly input: unknown;
  /** The rollgate process running it, and that process's identity (see processIdentity). */
  readonly pid: number;
  readonly processIdentity?: string | undefined;
  readonly statesEntered: readonly string[];
  readonly updatedAt: string;
}

export const UNFINISHED_SCHEMA = 'rollgate.local-execution.running.v1';

/** A file under executions/ that could not be read as an execution, and why. */
export interface SkippedFile {
  readonly file: string;
  readonly reason: string;
}

export interface LocalExecutions {
  /** Finished executions, newest first. */
  readonly executions: StoredExecution[];
  /** Executions still running, or whose process died before they ended (resolved by the next local run). */
  readonly unfinished: UnfinishedExecution[];
  /** Files written before the record was stored with the run (no `record`): `rollgate reset` removes them. */
  readonly older: number;
  /** Files that are not readable executions (truncated, `null`, garbage): named, never hiding the others. */
  readonly skipped: SkippedFile[];
}

/** Every local execution file, sorted into finished, unfinished, older and unreadable ones. */
export function readExecutions(stateDir: string): LocalExecutions {
  const out: LocalExecutions = { executions: [], unfinished: [], older: 0, skipped: [] };
  let files: string[];
  try {
    files = readdirSync(executionsDir(stateDir)).filter((f) => f.endsWith('.json'));
  } catch {
    return out;
  }
  let older = 0;
  for (const f of files) {
    const file = path.join(executionsDir(stateDir), f);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      out.skipped.push({ file, reason: `not valid JSON (${oneLine((error as Error).message, 120)})` });
      continue;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      out.skipped.push({ file, reason: `not an execution (${oneLine(JSON.stringify(parsed) ?? 'empty', 40)})` });
      continue;
    }
    const e = parsed as Partial<StoredExecution> & { schema?: string };
    if (e.schema === UNFINISHED_SCHEMA) out.unfinished.push(e as unknown as UnfinishedExecution);
    else if (e.record !== undefined && e.summary !== undefined && typeof e.startDate === 'string') {
      out.executions.push(e as StoredExecution);
    } else older++;
  }
  out.executions.sort((a, b) => b.startDate.localeCompare(a.startDate));
  return { ...out, older };
}

/** What `history` and `metrics` say on stderr about files they could not list: each named, with what to do. */
export function unlistedNotes(stateDir: string, found: LocalExecutions): string[] {
  const notes = found.skipped.map(
    (s) => `skipped ${s.file}: ${s.reason}; remove that file (rollgate reset clears every execution)`,
  );
  if (found.skipped.length > 0) notes.push(`${found.skipped.length} execution file(s) skipped, the others are listed`);
  for (const u of found.unfinished) {
    notes.push(
      `execution ${u.name} (started ${u.startDate}, last state ${u.statesEntered.at(-1) ?? 'none'}) has not ended: the next rollgate run on ${stateDir} resolves it if its process (pid ${u.pid}) is gone`,
    );
  }
  if (found.older > 0) {
    notes.push(
      `${found.older} execution(s) in ${stateDir} were stored by an older rollgate and are not listed (rollgate reset removes them)`,
    );
  }
  return notes;
}

/** Local finished executions, newest first (see readExecutions). */
export function listExecutions(stateDir: string): StoredExecution[] {
  return readExecutions(stateDir).executions;
}
