import { LocalRunner } from '../local/runner.ts';
import type { RollgateConfig } from '../src/config/schema.ts';
import { EXIT } from './exit.ts';
import { interruptHandler } from './interrupt.ts';
import type { Io } from './io.ts';
import { safeText } from './output.ts';

/**
 * Opens the local cloud (which first resolves any execution a killed rollgate left unfinished, and says so) and runs
 * `fn`. Ctrl-C / SIGTERM: the running execution is interrupted and resolved (lock released, audit record written, a
 * revision it deployed rolled back and waited for), then the local cloud stops, so no process or port is left
 * behind, and rollgate exits 130 (SIGINT) or 143 (SIGTERM). Ctrl-C on a terminal asks first (see interrupt.ts):
 * finish the execution, or roll back now.
 */
export async function withLocalRunner<T>(
  io: Io,
  options: { readonly config: RollgateConfig; readonly configFile: string; readonly stateDir: string },
  fn: (runner: LocalRunner) => Promise<T>,
): Promise<T> {
  const runner = await LocalRunner.open({
    config: options.config,
    configSource: options.configFile,
    stateDir: options.stateDir,
  });
  for (const r of runner.recovered) {
    io.stderr(
      `rollgate: execution ${r.name} did not end (the rollgate running it was killed), resolved now: ${r.summary.outcome}: ${safeText(r.summary.reason)}\n`,
    );
  }
  let stopped: Promise<never> | undefined;
  const stop = (signal: NodeJS.Signals) => {
    io.stderr(
      `\nrollgate: ${signal}: interrupting the execution, rolling back what it deployed, stopping the local cloud...\n`,
    );
    stopped = (async () => {
      try {
        const ended = await runner.interrupt(signal);
        if (ended) {
          io.stderr(
            `rollgate: ${signal}: execution ${ended.name}: ${ended.summary.outcome}: ${safeText(ended.summary.reason)}\n`,
          );
        }
      } catch (err) {
        io.stderr(
          `rollgate: ${signal}: the interrupted execution could not be resolved (${safeText((err as Error).message)}); the next run resolves it\n`,
        );
      } finally {
        await runner.close().catch(() => undefined);
      }
      process.exit(signal === 'SIGTERM' ? EXIT.terminated : EXIT.interrupted);
    })();
  };
  const onSignal = interruptHandler({
    stop,
    say: (text) => io.stderr(text),
    ...(io.askKey ? { ask: io.askKey } : {}),
  });
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await fn(runner);
  } finally {
    // interrupted: the signal's handler prints, closes and exits; what fn returns is not printed
    if (stopped) await stopped;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await runner.close();
  }
}
