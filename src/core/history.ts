/**
 * The audit trail on AWS: the audit records of a window in S3, with the state machine's executions still RUNNING
 * (they have no record yet) on top. What `rollgate history --aws` lists.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { ListExecutionsCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { type HistoryRow, historyRow, readAuditRecords, serviceMatches } from './audit.ts';

/** The executions of a state machine that are RUNNING and started by `until`, as history rows. */
export async function runningExecutions(params: {
  readonly sfn: SFNClient;
  readonly stateMachineArn: string;
  readonly until: Date;
}): Promise<HistoryRow[]> {
  const rows: HistoryRow[] = [];
  let nextToken: string | undefined;
  do {
    const page = await params.sfn.send(
      new ListExecutionsCommand({
        stateMachineArn: params.stateMachineArn,
        statusFilter: 'RUNNING',
        maxResults: 100,
        ...(nextToken ? { nextToken } : {}),
      }),
    );
    for (const e of page.executions ?? []) {
      const startedAt = e.startDate?.toISOString() ?? '';
      if (!e.name || Date.parse(startedAt) > params.until.getTime()) continue;
      rows.push({
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
  return rows;
}

export interface AwsHistoryParams {
  readonly s3: S3Client;
  readonly bucket: string;
  /** With a state machine, its RUNNING executions are listed too (unless `service` is set: they name none yet). */
  readonly sfn?: SFNClient | undefined;
  readonly stateMachineArn?: string | undefined;
  readonly since: Date;
  readonly until: Date;
  /** `cluster/service` or `service`. */
  readonly service?: string | undefined;
  readonly limit: number;
}

/** The window's history, newest first, at most `limit` rows. */
export async function awsHistory(params: AwsHistoryParams): Promise<HistoryRow[]> {
  const { sfn, stateMachineArn, service } = params;
  const [records, running] = await Promise.all([
    readAuditRecords(params),
    sfn && stateMachineArn && !service ? runningExecutions({ sfn, stateMachineArn, until: params.until }) : [],
  ]);
  // A redriven execution can be RUNNING again with the record of its first attempt: the live state wins.
  const runningNames = new Set(running.map((r) => r.executionName));
  return [
    ...running,
    ...records.map(historyRow).filter((r) => !runningNames.has(r.executionName) && serviceMatches(r.service, service)),
  ]
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt))
    .slice(0, params.limit);
}
