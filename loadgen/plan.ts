/**
 * Splits a load test into shards for the Map state's Generate Lambdas (and for `rollgate loadtest`'s worker threads).
 * Pure.
 */
import { LoadPlanError } from './errors.ts';
import type { WorkerShard } from './types.ts';
import { DEFAULT_TIMEOUT_MS, DEFAULT_WARMUP_SEC, MAX_LAMBDA_SHARD_SEC } from './validate.ts';

export interface PlanInput {
  url: string;
  /** Total target rate, requests per second. */
  rate: number;
  /** Measured duration, seconds. */
  durationSec: number;
  /** Requested workers; raised when the rate needs more (see `maxRatePerWorker`). */
  workers: number;
  /** Connections opened up front, split across workers (each gets at least 1). */
  connections: number;
  /** Most connections in all (on demand), split across workers; default: each worker's `defaultMaxConnections`. */
  maxConnections?: number;
  timeoutMs?: number;
  warmupSec?: number;
  method?: string;
  headers?: Record<string, string>;
  /** Longest measured duration one Lambda may run, seconds (a Lambda runs at most 900 s). Default 600. */
  maxShardDurationSec?: number;
  /**
   * Highest rate one worker is given, req/s. Default 2000: a 1769 MB Lambda (one vCPU) then spends well under half its
   * CPU generating, so its scheduler stays on time.
   */
  maxRatePerWorker?: number;
  /**
   * Most workers, each one concurrent load-generator Lambda. Default MAX_WORKERS: an account's default Lambda
   * concurrency; lower it to what the account allows (its other functions need some too).
   */
  maxWorkers?: number;
}

/** A Lambda allows 1024 open files; each connection is one, and the runtime needs a few. */
export const MAX_LAMBDA_CONNECTIONS = 1000;

/**
 * Most load-generator Lambdas in one plan: an AWS account's default concurrency limit (1000 concurrent executions per
 * Region). The GenerateLoad Map state runs them all at once as nested inline Maps of at most MAP_GROUP_SIZE each
 * (40 x 40 = 1600 concurrent iterations), and each returns only the S3 key of its result, so the state holds ~100 bytes
 * per worker whatever the test's duration.
 */
export const MAX_WORKERS = 1000;
/** An inline Map state runs at most 40 iterations at once on AWS (and in aws-local-stepfunctions). */
export const MAP_GROUP_SIZE = 40;

/**
 * Worker indices in groups for the GenerateLoad Map state: `ceil(workers / 40)` groups of nearly equal size (at most
 * 40 each), so the outer Map's groups and each group's inner Map all run at once: 1000 workers are 25 groups of 40.
 */
export function workerGroups(workers: number): number[][] {
  const count = Math.ceil(workers / MAP_GROUP_SIZE);
  const groups: number[][] = [];
  let next = 0;
  for (let g = 0; g < count; g++) {
    const size = Math.floor(workers / count) + (g < workers % count ? 1 : 0);
    groups.push(Array.from({ length: size }, (_, i) => next + i));
    next += size;
  }
  return groups;
}

/**
 * @returns one shard per worker: the rate split evenly, the connections split (rounded up), `workerIndex` 0..n-1.
 * @throws LoadPlanError when the plan cannot fit the limits; the message says which limit and what to change.
 */
export function planShards(input: PlanInput): WorkerShard[] {
  const { rate, durationSec, connections, maxShardDurationSec = 600, maxRatePerWorker = 2000 } = input;
  const positive = (name: string, v: number) => {
    if (!(Number.isFinite(v) && v > 0)) throw new LoadPlanError(`${name} must be a number > 0, got ${v}`);
  };
  positive('rate', rate);
  positive('durationSec', durationSec);
  positive('maxRatePerWorker', maxRatePerWorker);
  if (!Number.isInteger(input.workers) || input.workers < 1) {
    throw new LoadPlanError(`workers must be an integer >= 1, got ${input.workers}`);
  }
  if (!Number.isInteger(connections) || connections < 1) {
    throw new LoadPlanError(`connections must be an integer >= 1, got ${connections}`);
  }
  if (maxShardDurationSec > MAX_LAMBDA_SHARD_SEC) {
    throw new LoadPlanError(
      `maxShardDurationSec must be <= ${MAX_LAMBDA_SHARD_SEC} (a Lambda runs at most 900 s, warm-up and drain included), got ${maxShardDurationSec}`,
    );
  }
  if (durationSec > maxShardDurationSec) {
    throw new LoadPlanError(
      `durationSec ${durationSec} is longer than one load-generator Lambda may run (${maxShardDurationSec} s; ` +
        'Lambda stops at 900 s): shorten the test or run several',
    );
  }

  const neededForRate = Math.ceil(rate / maxRatePerWorker);
  const workers = Math.max(input.workers, neededForRate);
  const maxWorkers = input.maxWorkers ?? MAX_WORKERS;
  if (workers > maxWorkers) {
    const why =
      workers > input.workers
        ? `${rate} req/s at most ${maxRatePerWorker} req/s per worker needs ${workers} workers`
        : `${workers} workers were asked for`;
    throw new LoadPlanError(
      `cannot plan the load test: ${why}, but each worker is one concurrent load-generator Lambda and at most ` +
        `${maxWorkers} may run at once (an account's default Lambda concurrency is ${MAX_WORKERS}); lower the rate or ` +
        'the workers, or raise maxRatePerWorker',
    );
  }

  const shards = splitShards(input, workers);
  const perWorker = shards[0]?.maxConnections;
  if (perWorker !== undefined && perWorker > MAX_LAMBDA_CONNECTIONS) {
    throw new LoadPlanError(
      `maxConnections ${input.maxConnections} over ${workers} workers is ${perWorker} per load-generator Lambda, but a ` +
        `Lambda allows 1024 open files: at most ${MAX_LAMBDA_CONNECTIONS} each; lower maxConnections or add workers`,
    );
  }
  return shards;
}

/**
 * Splits a load evenly over `workers` shards, without the Lambda and payload limits (`rollgate loadtest` uses this
 * directly for its worker threads). Pure.
 */
export function splitShards(
  input: Pick<
    PlanInput,
    'url' | 'rate' | 'durationSec' | 'connections' | 'maxConnections' | 'timeoutMs' | 'warmupSec' | 'method' | 'headers'
  >,
  workers: number,
): WorkerShard[] {
  const perWorkerConnections = Math.max(1, Math.ceil(input.connections / workers));
  return Array.from({ length: workers }, (_, workerIndex): WorkerShard => {
    const shard: WorkerShard = {
      url: input.url,
      rate: input.rate / workers,
      durationSec: input.durationSec,
      connections: perWorkerConnections,
      timeoutMs: input.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      warmupSec: input.warmupSec ?? DEFAULT_WARMUP_SEC,
      workerIndex,
    };
    if (input.maxConnections !== undefined) {
      shard.maxConnections = Math.max(perWorkerConnections, Math.ceil(input.maxConnections / workers));
    }
    if (input.method !== undefined) shard.method = input.method;
    if (input.headers !== undefined) shard.headers = { ...input.headers };
    return shard;
  });
}
