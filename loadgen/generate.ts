/**
 * One load generator inside a Lambda: runs a shard within the time the function has left (the GenerateLoad Lambda,
 * src/handlers/generate-load.ts, writes the result to S3). Input errors throw `LoadInputError` (the message names the
 * field).
 */
import type { Context } from 'aws-lambda';
import { runWorker } from './engine.ts';
import { LoadInputError } from './errors.ts';
import { runPairedWorker } from './paired.ts';
import type { WorkerResult, WorkerShard } from './types.ts';
import { resolveShard } from './validate.ts';

/** Time kept back from the Lambda's deadline to close connections, encode the histograms and return. */
const RETURN_MARGIN_MS = 10_000;

export async function generate(
  event: unknown,
  context?: Partial<Pick<Context, 'getRemainingTimeInMillis'>>,
): Promise<WorkerResult> {
  const shard = resolveShard(event);
  const remainingMs = context?.getRemainingTimeInMillis?.();
  const controller = new AbortController();
  let guard: NodeJS.Timeout | undefined;
  if (remainingMs !== undefined) {
    // Warm-up, measured window, then the drain (each outstanding request ends within its timeout).
    const neededMs = (shard.warmupSec + shard.durationSec) * 1000 + shard.timeoutMs + RETURN_MARGIN_MS;
    if (neededMs > remainingMs) {
      throw new LoadInputError(
        `durationSec ${shard.durationSec} + warmupSec ${shard.warmupSec} (+ timeout and margin) needs ${Math.ceil(neededMs / 1000)} s, ` +
          `but this Lambda has ${Math.floor(remainingMs / 1000)} s left: raise the function timeout or plan shorter shards`,
      );
    }
    // Should the run still overrun, stop it and return what was measured (aborted: true) rather than time out.
    guard = setTimeout(() => controller.abort(), remainingMs - RETURN_MARGIN_MS);
  }
  try {
    const options = { ...(event as WorkerShard), signal: controller.signal };
    const { baseline } = options;
    return await (baseline ? runPairedWorker({ ...options, baseline }) : runWorker(options));
  } finally {
    clearTimeout(guard);
  }
}
