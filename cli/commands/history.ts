import { readExecutions, unlistedNotes } from '../../local/history.ts';
import { type HistoryRow, serviceMatches } from '../../src/core/audit.ts';
import {
  bucketOf,
  checkAwsWindow,
  LOCAL_OPTIONS,
  parseFlags,
  parseLimit,
  parseWindow,
  stateDirOf,
  UsageError,
} from '../args.ts';
import { type AwsClients, explained, STATE_MACHINE_ARN } from '../aws.ts';
import { EXIT } from '../exit.ts';
import type { Io } from '../io.ts';
import { duration, outcomeColour, table } from '../output.ts';

const USAGE =
  'rollgate history [--service S] [--limit N] [--json] [--state-dir DIR]\n' +
  '       rollgate history --aws --bucket B [--state-machine-arn ARN] [--service S] [--since D] [--until D] [--limit N] [--json]';

/**
 * `rollgate history`: the audit trail, newest first: the local executions, or with `--aws` the audit records in S3
 * for the window (default the last 30 days) with the state machine's RUNNING executions (from ListExecutions) on top
 * when `--state-machine-arn` (or ROLLGATE_STATE_MACHINE_ARN) is given. Both print the same rows.
 */
export async function command(argv: string[], io: Io, clients: AwsClients = {}): Promise<number> {
  const flags = parseFlags(io, argv, USAGE, {
    ...LOCAL_OPTIONS,
    service: { type: 'string' },
    limit: { type: 'string' },
    aws: { type: 'boolean', default: false },
    bucket: { type: 'string' },
    'state-machine-arn': { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
  });
  if (!flags) return EXIT.ok;
  const { values } = flags;
  const limit = parseLimit(values.limit);
  const wanted = values.service;
  let rows: HistoryRow[];
  let none: string;
  if (values.aws) {
    const bucket = bucketOf(values.bucket, io);
    const stateMachineArn = values['state-machine-arn'] ?? io.env.ROLLGATE_STATE_MACHINE_ARN;
    if (stateMachineArn !== undefined && !STATE_MACHINE_ARN.test(stateMachineArn)) {
      throw new UsageError(
        `--state-machine-arn: got "${stateMachineArn}", expected arn:aws:states:<region>:<account>:stateMachine:<name>`,
      );
    }
    const window = parseWindow(values.since, values.until, io.now());
    checkAwsWindow(window);
    const { S3Client } = await import('@aws-sdk/client-s3');
    const { SFNClient } = await import('@aws-sdk/client-sfn');
    const { awsHistory } = await import('../../src/core/history.ts');
    const s3 = clients.s3 ?? new S3Client({});
    const sfn = stateMachineArn ? (clients.sfn ?? new SFNClient({})) : undefined;
    try {
      rows = await explained(bucket, () =>
        awsHistory({ s3, sfn, bucket, stateMachineArn, ...window, service: wanted, limit }),
      );
    } finally {
      if (!clients.s3) s3.destroy();
      if (sfn && !clients.sfn) sfn.destroy();
    }
    none = `no executions in s3://${bucket}/audit/ from ${window.since.toISOString()} to ${window.until.toISOString()}`;
  } else {
    const stateDir = stateDirOf(values['state-dir'], io);
    const found = readExecutions(stateDir);
    for (const note of unlistedNotes(stateDir, found)) io.stderr(`${note}\n`);
    const { executions } = found;
    rows = executions
      .map((e) => e.summary)
      .filter((s) => serviceMatches(s.service, wanted))
      .slice(0, limit);
    none = `no executions recorded in ${stateDir}`;
  }
  if (values.json) {
    io.stdout(`${JSON.stringify(rows, null, 2)}\n`);
    return EXIT.ok;
  }
  if (rows.length === 0) {
    io.stdout(`${none}${wanted ? ` for ${wanted}` : ''}\n`);
    return EXIT.ok;
  }
  io.stdout(
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
}
