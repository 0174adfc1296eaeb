/**
 * The exit codes of every rollgate command (DESIGN.md), and the one place a failure becomes a message and a code.
 */
import { explainAwsError } from './aws.ts';
import type { Io } from './io.ts';
import { colour, safeText } from './output.ts';

/**
 * 0 deployed, ignored or passed; 1 an error; 2 invalid input, flags or config; 3 rolled back (or a load test's SLOs
 * failed); 4 failed; 130 interrupted (SIGINT, Ctrl-C), 143 terminated (SIGTERM): 128 + the signal's number, as shells do.
 */
export const EXIT = { ok: 0, error: 1, usage: 2, rolledBack: 3, failed: 4, interrupted: 130, terminated: 143 } as const;

/** The exit code of an execution's end: its outcome, or 2 when its input or the config was invalid. */
export function exitCodeFor(summary: { readonly outcome: string; readonly error?: string | undefined }): number {
  if (summary.error === 'InvalidInputError' || summary.error === 'ConfigError') return EXIT.usage;
  if (summary.outcome === 'ROLLED_BACK') return EXIT.rolledBack;
  if (summary.outcome === 'FAILED') return EXIT.failed;
  return EXIT.ok;
}

/**
 * What the user can fix in the command line (args.ts), the input or the config (src/core/errors.ts). Matched by name,
 * as the ASL does: a command run from the sources under the bundle (main.ts) has its own copies of the classes.
 */
const USER_ERRORS = new Set(['UsageError', 'ConfigError', 'InvalidInputError']);

/**
 * Prints a command's failure as one message (never a stack trace unless ROLLGATE_DEBUG is set) and returns its exit
 * code: 2 for what the user can fix in the command line, input or config; 1 for the rest, AWS errors explained.
 */
export function reportFailure(command: string, err: unknown, io: Io): number {
  const prefix = `rollgate ${command}: `;
  // messages quote what they were given (flags, file names, parser quotes): never raw on the terminal
  const say = (message: string) => io.stderr(`${prefix}${safeText(message)}\n`);
  if (err instanceof Error && USER_ERRORS.has(err.name)) {
    say(err.message);
    return EXIT.usage;
  }
  const explained = explainAwsError(err);
  if (explained) {
    say(explained);
  } else {
    const e = err as { name?: string; message?: string } | undefined;
    say(`${e?.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e?.message ?? String(err)}`);
  }
  if (io.env.ROLLGATE_DEBUG) io.stderr(`${(err as Error).stack}\n`);
  else if (!explained) io.stderr(colour.dim('(set ROLLGATE_DEBUG=1 for the stack trace)\n'));
  return EXIT.error;
}
