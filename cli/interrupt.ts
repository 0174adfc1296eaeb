/**
 * What Ctrl-C and SIGTERM do to a local run. SIGTERM, and Ctrl-C without a terminal to ask on: interrupt the running
 * execution at once (rolled back, recorded, the lock freed) and exit 143 / 130. Ctrl-C on a terminal asks first:
 * finish the execution (its outcome printed as usual; Ctrl-C again rolls back), or roll back now (the default).
 */

export type Choice = 'finish' | 'rollback';

export const QUESTION =
  '\nrollgate: Ctrl-C: [r] roll back now and exit (default), [f] let the execution finish first? ';

/** The answer a key gives: `f` finishes; anything else (r, Enter, Ctrl-C again, Escape) rolls back. */
export function choiceOf(key: string): Choice {
  return key.trim().toLowerCase().startsWith('f') ? 'finish' : 'rollback';
}

/** Reads one key from a terminal in raw mode (so Ctrl-C arrives as a key, not a second signal), then restores it. */
export function readKey(stdin: NodeJS.ReadStream): Promise<string> {
  return new Promise((resolve) => {
    const wasRaw = stdin.isRaw;
    stdin.setRawMode(true);
    stdin.resume();
    stdin.once('data', (data: Buffer | string) => {
      stdin.setRawMode(wasRaw);
      stdin.pause();
      resolve(String(data));
    });
  });
}

/**
 * The signal handler's decisions. `stop(signal)` interrupts the execution and exits (once); `ask` (only on a
 * terminal) answers the question; `say` writes to stderr.
 */
export function interruptHandler(options: {
  readonly stop: (signal: NodeJS.Signals) => void;
  readonly ask?: (question: string) => Promise<string>;
  readonly say: (text: string) => void;
}): (signal: NodeJS.Signals) => void {
  let state: 'running' | 'asking' | 'finishing' | 'stopping' = 'running';
  const stop = (signal: NodeJS.Signals) => {
    state = 'stopping';
    options.stop(signal);
  };
  return (signal) => {
    if (state === 'stopping') {
      options.say(
        `rollgate: ${signal}: still resolving the interrupted execution (SIGKILL abandons it: the next run resolves it)\n`,
      );
      return;
    }
    if (signal !== 'SIGINT' || !options.ask || state !== 'running') {
      stop(signal);
      return;
    }
    state = 'asking';
    options.ask(QUESTION).then(
      (key) => {
        if (state !== 'asking') return;
        if (choiceOf(key) === 'rollback') {
          options.say('r\n');
          stop('SIGINT');
          return;
        }
        state = 'finishing';
        options.say('f\nrollgate: the execution goes on to its end (Ctrl-C again rolls it back now)\n');
      },
      () => stop('SIGINT'),
    );
  };
}
