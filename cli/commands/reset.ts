import { rm } from 'node:fs/promises';
import { runningCloudPid } from '../../local/cloud.ts';
import { LOCAL_OPTIONS, parseFlags, stateDirOf, UsageError } from '../args.ts';
import { EXIT } from '../exit.ts';
import type { Io } from '../io.ts';

const USAGE = 'rollgate reset [--state-dir DIR]';

/** `rollgate reset`: wipes the local cloud's persisted state, unless a rollgate is using it. */
export async function command(argv: string[], io: Io): Promise<number> {
  const flags = parseFlags(io, argv, USAGE, LOCAL_OPTIONS);
  if (!flags) return EXIT.ok;
  const stateDir = stateDirOf(flags.values['state-dir'], io);
  const pid = runningCloudPid(stateDir);
  if (pid !== undefined) throw new UsageError(`a rollgate (pid ${pid}) is using ${stateDir}; stop it before reset`);
  await rm(stateDir, { recursive: true, force: true });
  io.stdout(`removed ${stateDir}: the next command starts a fresh local cloud (services at their initial image)\n`);
  return EXIT.ok;
}
