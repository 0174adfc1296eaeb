/**
 * The rollgate command: the composition root, the one layer that wires src/, local/ and loadgen/ together. Each
 * command is its own module, imported only when it runs, so `rollgate --help` loads none of them and only the
 * commands that call AWS load an AWS client.
 */

import { preview } from '../src/core/text.ts';
import type { AwsClients } from './aws.ts';
import { EXIT, reportFailure } from './exit.ts';
import { type Io, processIo } from './io.ts';

/**
 * A command: parses its own flags, prints through `io`, returns its exit code (exit.ts); throws to fail. The AWS
 * commands use `clients` when given (tests), else build their own.
 */
export interface CommandModule {
  readonly command: (argv: string[], io: Io, clients?: AwsClients) => Promise<number>;
}

/** Set by the build (scripts/build-cli.mjs) in the bundle it writes; undefined when the sources run. */
declare const ROLLGATE_BUNDLE: boolean | undefined;
const BUNDLED = typeof ROLLGATE_BUNDLE !== 'undefined' && ROLLGATE_BUNDLE;
/** Marks the TypeScript loader (tsx) as registered in this process: bin/rollgate.js sets it too. */
const TSX = Symbol.for('rollgate.tsx');

/**
 * The commands that start the local cloud: it loads the Lambda handlers, the load generator's workers and the demo
 * app from their TypeScript sources at run time, so these always run from the sources (through tsx when this is the
 * bundle). The others are in the bundle.
 */
function fromSources(name: string): () => Promise<CommandModule> {
  return async () => {
    const flags = globalThis as { [TSX]?: boolean };
    if (BUNDLED && !flags[TSX]) {
      const { register } = await import('tsx/esm/api');
      register();
      flags[TSX] = true;
    }
    return (await import(new URL(`../cli/commands/${name}.ts`, import.meta.url).href)) as CommandModule;
  };
}

const COMMANDS: Readonly<Record<string, () => Promise<CommandModule>>> = {
  demo: fromSources('demo'),
  run: fromSources('run'),
  'check-missed': fromSources('check-missed'),
  loadtest: fromSources('loadtest'),
  reset: fromSources('reset'),
  history: () => import('./commands/history.ts'),
  metrics: () => import('./commands/metrics.ts'),
  validate: () => import('./commands/validate.ts'),
  start: () => import('./commands/start.ts'),
  redrive: () => import('./commands/redrive.ts'),
};

export const USAGE = `rollgate: deploy ECR images to ECS with AWS Step Functions; prove them healthy or roll back.

Usage: rollgate <command> [options]   (rollgate <command> --help: its options)

Commands:
  demo                      start the local cloud and run the demo scenarios (npm start)
  run --event FILE|-        run one execution locally with an ECR push event or {"repository","tag"} input
  history                   the audit trail of local executions, newest first
  history --aws --bucket B  the audit trail in S3 [--state-machine-arn ARN: with running executions] [--since D]
  metrics                   DORA figures from the history [--service S] [--since D] [--until D] [--aws --bucket B]
  start --repository R ...  start a deployment on AWS: (--tag T | --digest D) --state-machine-arn ARN [--reason TEXT]
  redrive <execution-arn>   redrive an unsuccessful execution on AWS
  validate                  check rollgate.config.yml and print what it deploys
  loadtest --url URL ...    standalone load test (rollgate loadtest --help)
  reset                     wipe the local cloud's persisted state (.rollgate/)
  check-missed [--start]    the scheduled missed-push check, once, locally (targets with missedPushCheck)

Options:
  --config FILE             config file (default rollgate.config.yml, or ROLLGATE_CONFIG_FILE)
  --state-dir DIR           local cloud state (default .rollgate, or ROLLGATE_STATE_DIR)
  --json                    machine-readable output (run, history, validate, metrics, start, redrive, loadtest)
  --service S               history, metrics: only this service (cluster/service or service)
  --limit N                 history: at most N rows (default 50)
  --quiet                   run/demo: no progress lines

Exit codes: 0 deployed or ignored, 2 invalid input or config, 3 rolled back, 4 failed.`;

/** Runs one command line; returns its exit code. */
export async function main(argv: string[], io: Io = processIo(), clients: AwsClients = {}): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(`${USAGE}\n`);
    return EXIT.ok;
  }
  const load = COMMANDS[name];
  if (!load) {
    io.stderr(`rollgate: unknown command ${preview(name, 40)}\n\n${USAGE}\n`);
    return EXIT.usage;
  }
  try {
    return await (await load()).command(rest, io, clients);
  } catch (err) {
    return reportFailure(name, err, io);
  }
}

/** The process entry (bin/rollgate.js): runs the command line, then exits with its code. */
export async function run(): Promise<never> {
  const code = await main(process.argv.slice(2));
  // Let piped stdout drain, then exit even if a keep-alive socket would hold the event loop open.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}
