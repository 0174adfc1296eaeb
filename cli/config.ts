import { DEFAULT_CONFIG_FILE, loadConfigFile } from '../src/config/load.ts';
import type { RollgateConfig } from '../src/config/schema.ts';
import type { Io } from './io.ts';

/** The config file (`--config`, ROLLGATE_CONFIG_FILE, or rollgate.config.yml) and the config it holds. */
export function loadConfig(flag: string | undefined, io: Io): { configFile: string; config: RollgateConfig } {
  const configFile = flag ?? io.env.ROLLGATE_CONFIG_FILE ?? DEFAULT_CONFIG_FILE;
  return { configFile, config: loadConfigFile(configFile) };
}
