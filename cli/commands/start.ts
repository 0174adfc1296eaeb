import { InvalidInputError } from '../../src/core/errors.ts';
import { executionName } from '../../src/core/naming.ts';
import { parseInput } from '../../src/core/normalize.ts';
import { parseFlags, UsageError } from '../args.ts';
import { type AwsClients, consoleUrl, regionOf, STATE_MACHINE_ARN } from '../aws.ts';
import { EXIT } from '../exit.ts';
import type { Io } from '../io.ts';

const USAGE =
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
function asFlagErrors(err: InvalidInputError): UsageError {
  const lines = err.message.split('\n').slice(1);
  const flagged = lines.map((l) =>
    l.replace(/^(repository|tag|digest|reason|force)\b/, '--$1').replace(/^startedBy\b/, '--started-by'),
  );
  return new UsageError(flagged.length ? flagged.join('\n') : err.message);
}

/**
 * `rollgate start`: starts a deployment on AWS (StartExecution) with the manual input, named by `executionName()`
 * (`<repository>-<tag>-<digest8>-<time>-<rand>`), and prints the execution ARN and its console URL.
 */
export async function command(argv: string[], io: Io, clients: AwsClients = {}): Promise<number> {
  const flags = parseFlags(io, argv, USAGE, {
    repository: { type: 'string' },
    tag: { type: 'string' },
    digest: { type: 'string' },
    reason: { type: 'string' },
    force: { type: 'boolean', default: false },
    'started-by': { type: 'string' },
    'state-machine-arn': { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (!flags) return EXIT.ok;
  const { values } = flags;
  if (!values.repository) {
    throw new UsageError(
      `--repository is required: the ECR repository name, as in rollgate.config.yml\nusage: ${USAGE}`,
    );
  }
  if (values.tag === undefined && values.digest === undefined) {
    throw new UsageError(
      `give --tag T or --digest sha256:<hex> (or both): which image of ${values.repository} to deploy`,
    );
  }
  const stateMachineArn = values['state-machine-arn'] ?? io.env.ROLLGATE_STATE_MACHINE_ARN;
  if (!stateMachineArn) {
    throw new UsageError(
      '--state-machine-arn is required (or ROLLGATE_STATE_MACHINE_ARN): arn:aws:states:<region>:<account>:stateMachine:rollgate-deploy-<stage>',
    );
  }
  if (!STATE_MACHINE_ARN.test(stateMachineArn)) {
    throw new UsageError(
      `--state-machine-arn: got "${stateMachineArn}", expected arn:aws:states:<region>:<account>:stateMachine:<name>`,
    );
  }
  const startedBy = values['started-by'] ?? io.env.USER ?? io.env.LOGNAME ?? io.env.USERNAME;
  if (values['started-by'] !== undefined && !values['started-by'].trim()) {
    throw new UsageError('--started-by: got "", expected a name');
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
  const name = executionName(image, io.now());
  const { SFNClient, StartExecutionCommand } = await import('@aws-sdk/client-sfn');
  const sfn = clients.sfn ?? new SFNClient({ region: regionOf(stateMachineArn) });
  try {
    const out = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
    const arn = out.executionArn ?? '';
    const url = consoleUrl(arn);
    if (values.json) {
      const startDate = out.startDate?.toISOString();
      io.stdout(
        `${JSON.stringify({ executionName: name, executionArn: arn, startDate, consoleUrl: url, input }, null, 2)}\n`,
      );
    } else {
      io.stdout(`started ${name}\n  execution ${arn}\n  console   ${url}\n`);
    }
    return EXIT.ok;
  } finally {
    if (!clients.sfn) sfn.destroy();
  }
}
