import { MissingEnvError } from '../core/errors.ts';

/**
 * Reads a required environment variable, failing with a message that names it.
 * Handlers call this once, at module scope (cold start); src/core never reads process.env.
 */
export function getRequiredEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') {
    throw new MissingEnvError(`environment variable ${name} is required but is not set`);
  }
  return value;
}
