import { parseFlags, UsageError } from '../args.ts';
import { type AwsClients, consoleUrl, EXECUTION_ARN, regionOf } from '../aws.ts';
import { EXIT } from '../exit.ts';
import type { Io } from '../io.ts';

const USAGE = 'rollgate redrive <execution-arn> [--json]';

/** `rollgate redrive <execution-arn>`: RedriveExecution; when AWS refuses, says why and what to do instead. */
export async function command(argv: string[], io: Io, clients: AwsClients = {}): Promise<number> {
  const flags = parseFlags(io, argv, USAGE, { json: { type: 'boolean', default: false } }, { positionals: true });
  if (!flags) return EXIT.ok;
  const { values, positionals } = flags;
  const [executionArn, ...extra] = positionals;
  if (!executionArn || extra.length > 0) {
    throw new UsageError(`expected exactly one execution ARN, got ${positionals.length}\nusage: ${USAGE}`);
  }
  if (!EXECUTION_ARN.test(executionArn)) {
    throw new UsageError(
      `<execution-arn>: got "${executionArn}", expected arn:aws:states:<region>:<account>:execution:<state machine>:<name>`,
    );
  }
  const { RedriveExecutionCommand, SFNClient } = await import('@aws-sdk/client-sfn');
  const sfn = clients.sfn ?? new SFNClient({ region: regionOf(executionArn) });
  try {
    const out = await sfn.send(new RedriveExecutionCommand({ executionArn }));
    const url = consoleUrl(executionArn);
    const at = out.redriveDate?.toISOString();
    if (values.json) {
      io.stdout(`${JSON.stringify({ executionArn, redriveDate: at, consoleUrl: url }, null, 2)}\n`);
    } else {
      io.stdout(`redriven ${executionArn}${at ? ` at ${at}` : ''}\n  console   ${url}\n`);
    }
    return EXIT.ok;
  } finally {
    if (!clients.sfn) sfn.destroy();
  }
}
