/**
 * Where every command writes and what it reads from its surroundings: the one way the CLI prints (rollgate's own
 * commands and `rollgate loadtest` alike). Tests pass their own.
 */
import { isatty } from 'node:tty';
import type { CliIo } from '../loadgen/cli.ts';
import { readKey } from './interrupt.ts';

/** `stdout`, `stderr` and `isTty` are loadgen's `CliIo`: `rollgate loadtest` writes through the same object. */
export interface Io extends CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly now: () => Date;
  /** On a terminal (stdin and stderr): asks a question and resolves with the key pressed. */
  readonly askKey?: (question: string) => Promise<string>;
}

/** The process's own streams, environment and clock. */
export function processIo(): Io {
  return {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    isTty: process.stderr.isTTY === true,
    env: process.env,
    now: () => new Date(),
    // isatty(0): process.stdin is not made (nor its handle opened) unless a question is asked
    ...(isatty(0) && process.stderr.isTTY
      ? {
          askKey: (question: string) => {
            process.stderr.write(question);
            return readKey(process.stdin);
          },
        }
      : {}),
  };
}
