import { readExecutions, unlistedNotes } from '../../local/history.ts';
import { type AuditRecord, readAuditRecords, serviceMatches, serviceOf } from '../../src/core/audit.ts';
import { computeMetrics, renderMetrics } from '../../src/core/metrics.ts';
import { bucketOf, checkAwsWindow, parseFlags, parseWindow, stateDirOf } from '../args.ts';
import { type AwsClients, explained } from '../aws.ts';
import { EXIT } from '../exit.ts';
import type { Io } from '../io.ts';

const USAGE =
  'rollgate metrics [--service S] [--since D] [--until D] [--json] [--aws --bucket B] [--state-dir DIR]\n' +
  '  --since/--until: ISO date or date-time, or a time ago (30d, 12h); default the last 30 days';

/**
 * `rollgate metrics`: DORA figures from the audit records: the local executions' or, with `--aws`, those in S3. The
 * same records either way, so an execution counts the same wherever it is read.
 */
export async function command(argv: string[], io: Io, clients: AwsClients = {}): Promise<number> {
  const flags = parseFlags(io, argv, USAGE, {
    service: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    json: { type: 'boolean', default: false },
    aws: { type: 'boolean', default: false },
    bucket: { type: 'string' },
    'state-dir': { type: 'string' },
    config: { type: 'string' },
  });
  if (!flags) return EXIT.ok;
  const { values } = flags;
  const window = parseWindow(values.since, values.until, io.now());
  let records: AuditRecord[];
  if (values.aws) {
    const bucket = bucketOf(values.bucket, io);
    checkAwsWindow(window);
    const { S3Client } = await import('@aws-sdk/client-s3');
    const s3 = clients.s3 ?? new S3Client({});
    try {
      records = await explained(bucket, () => readAuditRecords({ s3, bucket, ...window }));
    } finally {
      if (!clients.s3) s3.destroy();
    }
  } else {
    const stateDir = stateDirOf(values['state-dir'], io);
    const found = readExecutions(stateDir);
    for (const note of unlistedNotes(stateDir, found)) io.stderr(`${note}\n`);
    records = found.executions.map((e) => e.record);
  }
  const report = computeMetrics({
    records: records.filter((r) => serviceMatches(serviceOf(r), values.service)),
    ...window,
  });
  io.stdout(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderMetrics(report)}\n`);
  return EXIT.ok;
}
