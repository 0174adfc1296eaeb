import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseInput, parseInputText } from '../../src/core/normalize.ts';
import { LOCAL_OPTIONS, parseFlags, stateDirOf, UsageError } from '../args.ts';
import { loadConfig } from '../config.ts';
import { EXIT, exitCodeFor } from '../exit.ts';
import type { Io } from '../io.ts';
import { withLocalRunner } from '../local-runner.ts';
import { colour, duration, outcomeColour, progressPrinter, safeText } from '../output.ts';

const USAGE = 'rollgate run --event FILE|- [--json] [--quiet] [--config FILE] [--state-dir DIR]';

/**
 * The event file (or stdin) as an execution input: at most 256 KiB, a byte order mark ignored, JSON (see
 * parseInputText). Any failure is a usage error: exit 2 before anything starts.
 */
function readInput(file: string): unknown {
  const source = file === '-' ? 'stdin' : `event file ${file}`;
  let text: string;
  try {
    text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseInputText(text, source);
}

/** `rollgate run --event FILE|-`: one execution on the local cloud; exit code by its outcome. */
export async function command(argv: string[], io: Io): Promise<number> {
  const flags = parseFlags(io, argv, USAGE, { ...LOCAL_OPTIONS, event: { type: 'string' } });
  if (!flags) return EXIT.ok;
  const { values } = flags;
  if (!values.event)
    throw new UsageError('run needs --event FILE (an ECR push event or {"repository","tag"} JSON; - for stdin)');
  const input = readInput(values.event);
  parseInput(input); // invalid input: exit 2 before anything starts
  const { config, configFile } = loadConfig(values.config, io);
  const stateDir = stateDirOf(values['state-dir'], io);
  const { stored, events } = await withLocalRunner(io, { config, configFile, stateDir }, async (runner) => {
    const done = await runner.run(input, { onEvent: progressPrinter(io, 'run', values.quiet || values.json) });
    return { stored: done, events: await runner.eventsOf(done.name, (w) => io.stderr(`rollgate: ${w}\n`)) };
  });
  const s = stored.summary;
  if (stored.unrecorded) io.stderr(`rollgate: WARNING: execution ${s.executionName}: ${safeText(stored.unrecorded)}\n`);
  if (values.json) {
    io.stdout(`${JSON.stringify(s, null, 2)}\n`);
  } else {
    const report = s.reportFile ? `; report ${path.relative(process.cwd(), s.reportFile)}` : '';
    io.stdout(
      `${outcomeColour(s.outcome)}  ${safeText(s.image ?? '?')}  ${safeText(s.reason)}\n${colour.dim(`execution ${s.executionName} in ${duration(s.durationMs)}${report}`)}\n`,
    );
    for (const event of events) io.stdout(`event: ${event}\n`);
  }
  return exitCodeFor(s);
}
