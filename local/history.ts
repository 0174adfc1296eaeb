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
}

export function executionsDir(stateDir: string): string {
  return path.join(stateDir, 'executions');
}

/** The stored form of a run: its summary is its record's history row. */
export function storedExecution(
  result: ExecutionResult,
  record: AuditRecord,
  extra: { readonly reportFile?: string | undefined; readonly redriveCount?: number | undefined } = {},
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
  };
}

/**
 * Local executions, newest first. Files written before the record was stored with the run (no `record`) are counted
 * in `older`, not listed: `rollgate reset` removes them.
 */
export function readExecutions(stateDir: string): { executions: StoredExecution[]; older: number } {
  let files: string[];
  try {
    files = readdirSync(executionsDir(stateDir)).filter((f) => f.endsWith('.json'));
  } catch {
    return { executions: [], older: 0 };
  }
  const all = files.map((f) => {
    const file = path.join(executionsDir(stateDir), f);
    try {
      return (JSON.parse(readFileSync(file, 'utf8')) ?? {}) as Partial<StoredExecution>;
    } catch (error) {
      throw new Error(
        `${file} is not valid JSON (${oneLine((error as Error).message, 120)}): remove it, or rollgate reset clears every execution`,
      );
    }
  });
  const executions = all
    .filter((e): e is StoredExecution => e.record !== undefined && e.summary !== undefined)
    .sort((a, b) => b.startDate.localeCompare(a.startDate));
  return { executions, older: all.length - executions.length };
}

/** Local executions, newest first (see readExecutions). */
export function listExecutions(stateDir: string): StoredExecution[] {
  return readExecutions(stateDir).executions;
}
