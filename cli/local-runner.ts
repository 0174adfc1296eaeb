import { LocalRunner } from '../local/runner.ts';
import type { RollgateConfig } from '../src/config/schema.ts';
import { EXIT } from './exit.ts';
import type { Io } from './io.ts';

/** Opens the local cloud, stopping it on Ctrl-C / SIGTERM so no process or port is left behind. */
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
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    io.stderr(`\nrollgate: ${signal}: stopping the local cloud...\n`);
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
