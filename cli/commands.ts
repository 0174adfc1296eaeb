import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runningCloudPid } from '../local/cloud.ts';
import { LocalRunner, listExecutions, type RunSummary } from '../local/runner.ts';
import { DEFAULT_CONFIG_FILE, loadConfigFile } from '../src/config/load.ts';
import type { RollgateConfig } from '../src/config/schema.ts';
import { ConfigError, InvalidInputError } from '../src/core/errors.ts';
import { parseInput } from '../src/core/normalize.ts';
import { historyAwsCommand, metricsCommand, redriveCommand, startCommand } from './aws.ts';
import { runDemo } from './demo.ts';
import { colour, duration, outcomeColour, progressPrinter, table } from './output.ts';

/** Exit codes (DESIGN.md): 0 DEPLOYED or IGNORED, 2 invalid input or config, 3 ROLLED_BACK, 4 FAILED. */
export const EXIT = { ok: 0, error: 1, usage: 2, rolledBack: 3, failed: 4, interrupted: 130 } as const;

/** A failure the user can fix: printed as one message, no stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
}

const USAGE = `rollgate: deploy ECR images to ECS with AWS Step Functions; prove them healthy or roll back.

Usage: rollgate <command> [options]

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
  --json                    machine-readable output (run, history, validate)
  --service S               history: only this service (cluster/service or service)
  --limit N                 history: at most N rows (default 50)
  --quiet                   run/demo: no progress lines

Exit codes: 0 deployed or ignored, 2 invalid input or config, 3 rolled back, 4 failed.`;

interface Common {
  readonly configFile: string;
  readonly stateDir: string;
}

function common(values: { config?: string | undefined; 'state-dir'?: string | undefined }): Common {
  return {
    configFile: values.config ?? process.env.ROLLGATE_CONFIG_FILE ?? DEFAULT_CONFIG_FILE,
    stateDir: path.resolve(values['state-dir'] ?? process.env.ROLLGATE_STATE_DIR ?? '.rollgate'),
  };
}

const commonOptions = {
  config: { type: 'string' },
  'state-dir': { type: 'string' },
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** Runs node's parseArgs, turning its errors (unknown option, missing value) into a usage error. */
function usageErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${USAGE}`);
  }
}

export function exitCodeFor(summary: RunSummary): number {
  if (summary.error === 'InvalidInputError' || summary.error === 'ConfigError') return EXIT.usage;
  if (summary.outcome === 'ROLLED_BACK') return EXIT.rolledBack;
  if (summary.outcome === 'FAILED') return EXIT.failed;
  return EXIT.ok;
}

function readInput(file: string): unknown {
  let text: string;
  try {
    text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(
      `cannot read event file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`event file ${file} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Opens the local cloud, stopping it on Ctrl-C / SIGTERM so no process or port is left behind. */
export async function withLocalRunner<T>(
  c: Common,
  config: RollgateConfig,
  fn: (runner: LocalRunner) => Promise<T>,
): Promise<T> {
  const runner = await LocalRunner.open({ config, configSource: c.configFile, stateDir: c.stateDir });
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\nrollgate: ${signal}: stopping the local cloud...\n`);
    runner.close().finally(() => process.exit(EXIT.interrupted));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await fn(runner);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!stopping) await runner.close();
  }
}

async function cmdRun(argv: string[]): Promise<number> {
  const { values } = usageErrors(() =>
    parseArgs({ args: argv, options: { ...commonOptions, event: { type: 'string' } }, strict: true }),
  );
  if (values.help) return usage();
  if (!values.event)
    throw new UsageError('run needs --event FILE (an ECR push event or {"repository","tag"} JSON; - for stdin)');
  const input = readInput(values.event);
  parseInput(input); // invalid input: exit 2 before anything starts
  const c = common(values);
  const config = loadConfigFile(c.configFile);
  const { stored, events } = await withLocalRunner(c, config, async (runner) => {
    const done = await runner.run(input, { onEvent: progressPrinter('run', values.quiet || values.json) });
    return { stored: done, events: await runner.eventsOf(done.name) };
  });
  const s = stored.summary;
  if (values.json) {
    process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
  } else {
    process.stdout.write(
      `${outcomeColour(s.outcome)}  ${s.image}  ${s.reason}\n${colour.dim(`execution ${s.executionName} in ${duration(s.durationMs)}${s.reportFile ? `; report ${path.relative(process.cwd(), s.reportFile)}` : ''}`)}\n`,
    );
    for (const event of events) process.stdout.write(`event: ${event}\n`);
  }
  return exitCodeFor(s);
}

async function cmdHistory(argv: string[]): Promise<number> {
  if (argv.includes('--aws')) return historyAwsCommand(argv);
  const { values } = usageErrors(() =>
    parseArgs({
      args: argv,
      options: { ...commonOptions, service: { type: 'string' }, limit: { type: 'string' } },
      strict: true,
    }),
  );
  if (values.help) return usage();
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1)
    throw new UsageError(`--limit must be a whole number >= 1, got "${values.limit}"`);
  const c = common(values);
  const wanted = values.service;
  const rows = listExecutions(c.stateDir)
    .map((e) => e.summary)
    .filter((s) => !wanted || s.service === wanted || s.service?.endsWith(`/${wanted}`))
    .slice(0, limit);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return EXIT.ok;
  }
  if (rows.length === 0) {
    process.stdout.write(`no executions recorded in ${c.stateDir}${wanted ? ` for ${wanted}` : ''}\n`);
    return EXIT.ok;
  }
  process.stdout.write(
    `${table(
      ['started', 'trigger', 'image', 'outcome', 'reason', 'duration'],
      rows.map((s) => [
        s.startedAt.replace('T', ' ').slice(0, 19),
        s.trigger,
        s.image,
        s.outcome,
        s.reason,
        duration(s.durationMs),
      ]),
    )}\n`,
  );
  return EXIT.ok;
}

async function cmdValidate(argv: string[]): Promise<number> {
  const { values } = usageErrors(() => parseArgs({ args: argv, options: commonOptions, strict: true }));
  if (values.help) return usage();
  const c = common(values);
  const config = loadConfigFile(c.configFile);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
    return EXIT.ok;
  }
  process.stdout.write(`${c.configFile} is valid: ${config.targets.length} target(s)\n`);
  for (const t of config.targets) {
    process.stdout.write(
      `  ${t.name}: ${t.repository} [${t.tags.join(', ')}${t.excludeTags.length ? `; not ${t.excludeTags.join(', ')}` : ''}] -> ${t.cluster}/${t.service} container ${t.container}; health ${t.health.url}${t.load ? `; load ${t.load.rate} req/s for ${t.load.durationSeconds} s` : ''}\n`,
    );
  }
  return EXIT.ok;
}

async function cmdReset(argv: string[]): Promise<number> {
  const { values } = usageErrors(() => parseArgs({ args: argv, options: commonOptions, strict: true }));
  if (values.help) return usage();
  const c = common(values);
  const pid = runningCloudPid(c.stateDir);
  if (pid !== undefined) throw new UsageError(`a rollgate (pid ${pid}) is using ${c.stateDir}; stop it before reset`);
  await rm(c.stateDir, { recursive: true, force: true });
  process.stdout.write(
    `removed ${c.stateDir}: the next command starts a fresh local cloud (services at their initial image)\n`,
  );
  return EXIT.ok;
}

async function cmdDemo(argv: string[]): Promise<number> {
  const { values } = usageErrors(() => parseArgs({ args: argv, options: commonOptions, strict: true }));
  if (values.help) return usage();
  const c = common(values);
  const config = loadConfigFile(c.configFile);
  return withLocalRunner(c, config, (runner) => runDemo(runner, { quiet: values.quiet }));
}

async function cmdCheckMissed(argv: string[]): Promise<number> {
  const { values } = usageErrors(() =>
    parseArgs({
      args: argv,
      options: { ...commonOptions, start: { type: 'boolean', default: false }, 'min-age': { type: 'string' } },
      strict: true,
    }),
  );
  if (values.help) return usage();
  const minAge = values['min-age'] === undefined ? undefined : Number(values['min-age']);
  if (minAge !== undefined && !(Number.isInteger(minAge) && minAge >= 0)) {
    throw new UsageError(`--min-age must be a whole number of seconds >= 0, got "${values['min-age']}"`);
  }
  const c = common(values);
  const config = loadConfigFile(c.configFile);
  if (!config.targets.some((t) => t.missedPushCheck)) {
    throw new UsageError(`no target in ${c.configFile} has missedPushCheck: true; nothing to check`);
  }
  const results = await withLocalRunner(c, config, (runner) =>
    runner.checkMissedPushes({ start: values.start, ...(minAge !== undefined ? { minAgeSeconds: minAge } : {}) }),
  );
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify(
        results.map(({ execution, ...r }) => ({ ...r, ...(execution ? { summary: execution.summary } : {}) })),
        null,
        2,
      )}\n`,
    );
  } else {
    for (const r of results) {
      process.stdout.write(`${r.target}: ${r.status} ${r.reason}\n`);
      if (r.execution)
        process.stdout.write(`  ${outcomeColour(r.execution.summary.outcome)} ${r.execution.summary.reason}\n`);
    }
  }
  return results.some((r) => r.execution && exitCodeFor(r.execution.summary) !== EXIT.ok) ? EXIT.failed : EXIT.ok;
}

async function cmdLoadtest(argv: string[]): Promise<number> {
  const { loadtestCommand } = await import('../loadgen/cli.ts');
  return loadtestCommand(argv);
}

function usage(): number {
  process.stdout.write(`${USAGE}\n`);
  return EXIT.ok;
}

const commands: Record<string, (argv: string[]) => Promise<number>> = {
  run: cmdRun,
  history: cmdHistory,
  validate: cmdValidate,
  reset: cmdReset,
  demo: cmdDemo,
  loadtest: cmdLoadtest,
  'check-missed': cmdCheckMissed,
  metrics: metricsCommand,
  start: startCommand,
  redrive: redriveCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') return usage();
  const fn = commands[command];
  if (!fn) {
    process.stderr.write(`rollgate: unknown command "${command}"\n\n${USAGE}\n`);
    return EXIT.usage;
  }
  try {
    return await fn(rest);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError || err instanceof InvalidInputError) {
      process.stderr.write(`rollgate ${command}: ${err.message}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`rollgate ${command}: ${(err as Error).message ?? String(err)}\n`);
    if (process.env.ROLLGATE_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    else process.stderr.write(colour.dim('(set ROLLGATE_DEBUG=1 for the stack trace)\n'));
    return EXIT.error;
  }
}
