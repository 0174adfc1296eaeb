import { loadtestCommand } from '../../loadgen/cli.ts';
import type { Io } from '../io.ts';

/** `rollgate loadtest`: the standalone load test (loadgen/cli.ts parses its flags and formats its report). */
export async function command(argv: string[], io: Io): Promise<number> {
  return loadtestCommand(argv, io);
}
