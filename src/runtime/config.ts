import { parseConfig } from '../config/load.ts';
import type { RollgateConfig } from '../config/schema.ts';
import { ConfigError } from '../core/errors.ts';
import { getRequiredEnv } from './env.ts';

/**
 * The config a Lambda runs with: `ROLLGATE_CONFIG` holds the validated rollgate.config.yml as JSON (serverless.yml
 * sets it at packaging time; the local runner sets it from the same file). Read once, at cold start.
 */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): RollgateConfig {
  const raw = getRequiredEnv('ROLLGATE_CONFIG', env);
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch (err) {
    throw new ConfigError(`ROLLGATE_CONFIG is not valid JSON: ${(err as Error).message}`);
  }
  return parseConfig(doc, 'ROLLGATE_CONFIG');
}
