import { z } from 'zod';
import { executionInfoSchema, normalize } from '../core/normalize.ts';
import { configFromEnv } from '../runtime/config.ts';
import { lambda } from '../runtime/handler.ts';

const config = configFromEnv();

/**
 * Normalize state input: the raw execution input (checked by normalize itself: a malformed one is the user's
 * InvalidInputError, not a payload error) and `$$.Execution` (kept by the Start Pass state).
 */
const normalizeInput = z.object({ input: z.unknown(), execution: executionInfoSchema });

export const handler = lambda({ name: 'Normalize', schema: normalizeInput }, ({ input, execution }) =>
  normalize({ config, input, execution }),
);
