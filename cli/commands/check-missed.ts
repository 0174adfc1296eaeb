import { LOCAL_OPTIONS, parseFlags, stateDirOf, UsageError } from '../args.ts';
import { loadConfig } from '../config.ts';
import { EXIT, exitCodeFor } from '../exit.ts';
import type { Io } from '../io.ts';
import { withLocalRunner } from '../local-runner.ts';
import { outcomeColour } from '../output.ts';

const USAGE = 'rollgate check-missed [--start] [--min-age SECONDS] [--json] [--config FILE] [--state-dir DIR]';

/** `rollgate check-missed`: the scheduled missed-push check, once, on the local cloud. */
export async function command(argv: string[], io: Io): Promise<number> {
  const flags = parseFlags(io, argv, USAGE, {
    ...LOCAL_OPTIONS,
    start: { type: 'boolean', default: false },
    'min-age': { type: 'string' },
  });
  if (!flags) return EXIT.ok;
  const { values } = flags;
  const minAge = values['min-age'] === undefined ? undefined : Number(values['min-age']);
  if (minAge !== undefined && !(Number.isInteger(minAge) && minAge >= 0)) {
    throw new UsageError(`--min-age must be a whole number of seconds >= 0, got "${values['min-age']}"`);
  }
  const { config, configFile } = loadConfig(values.config, io);
  if (!config.targets.some((t) => t.missedPushCheck)) {
    throw new UsageError(`no target in ${configFile} has missedPushCheck: true; nothing to check`);
  }
  const stateDir = stateDirOf(values['state-dir'], io);
  const results = await withLocalRunner(io, { config, configFile, stateDir }, (runner) =>
    runner.checkMissedPushes({ start: values.start, ...(minAge !== undefined ? { minAgeSeconds: minAge } : {}) }),
  );
  if (values.json) {
    const rows = results.map(({ execution, ...r }) => ({ ...r, ...(execution ? { summary: execution.summary } : {}) }));
    io.stdout(`${JSON.stringify(rows, null, 2)}\n`);
  } else {
    for (const r of results) {
      io.stdout(`${r.target}: ${r.status} ${r.reason}\n`);
      if (r.execution) io.stdout(`  ${outcomeColour(r.execution.summary.outcome)} ${r.execution.summary.reason}\n`);
    }
  }
  return results.some((r) => r.execution && exitCodeFor(r.execution.summary) !== EXIT.ok) ? EXIT.failed : EXIT.ok;
}
