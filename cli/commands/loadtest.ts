import { loadtestCommand } from '../../loadgen/cli.ts';
import type { Io } from '../io.ts';
import { safeText } from '../output.ts';

/**
 * `rollgate loadtest`: the standalone load test (loadgen/cli.ts parses its flags and formats its report). Its
 * messages quote its flags: they are printed as every command's are (safeText), but for the carriage return that
 * starts a progress line on a terminal.
 */
export async function command(argv: string[], io: Io): Promise<number> {
  const stderr = (t: string) => io.stderr(t.startsWith('\r') ? `\r${safeText(t.slice(1))}` : safeText(t));
  return loadtestCommand(argv, { ...io, stderr });
}
