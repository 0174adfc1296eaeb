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
  /** Largest Map state fan-out. Default: as many as the 256 KB state payload limit allows (see estimateResultBytes). */
  maxWorkers?: number;
}

/** A Lambda allows 1024 open files; each connection is one, and the runtime needs a few. */
export const MAX_LAMBDA_CONNECTIONS = 1000;

/** Step Functions' limit on a state's input/output, which holds all Map results at once. */
export const STATE_PAYLOAD_LIMIT_BYTES = 256 * 1024;

/**
 * Upper estimate of one WorkerResult's JSON size: two compressed histograms (a few KB) plus ~40 bytes per second of
 * timeline.
 */
export function estimateResultBytes(durationSec: number, timeoutMs = DEFAULT_TIMEOUT_MS): number {
  return 12_000 + 40 * (Math.ceil(durationSec) + Math.ceil(timeoutMs / 1000) + 2);
}

/**
 * @returns one shard per worker: the rate split evenly, the connections split (rounded up), `workerIndex` 0..n-1.
 * @throws LoadPlanError when the plan cannot fit the limits; the message says which limit and what to change.
 */
export function planShards(input: PlanInput): WorkerShard[] {
  const {
    rate,
    durationSec,
    connections,
    timeoutMs = DEFAULT_TIMEOUT_MS,
    maxShardDurationSec = 600,
    maxRatePerWorker = 2000,
  } = input;
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
  const resultBytes = estimateResultBytes(durationSec, timeoutMs);
  const payloadMax = Math.floor((STATE_PAYLOAD_LIMIT_BYTES * 0.9) / resultBytes);
  const maxWorkers = input.maxWorkers ?? payloadMax;
  if (workers > maxWorkers) {
    const why =
      workers > input.workers
        ? `${rate} req/s at most ${maxRatePerWorker} req/s per worker needs ${workers} workers`
        : `${workers} workers were asked for`;
    const limit =
      input.maxWorkers !== undefined && input.maxWorkers < payloadMax
        ? `maxWorkers is ${input.maxWorkers}`
        : `their results (~${Math.round(resultBytes / 1024)} KB each for ${durationSec} s) must fit the 256 KB Step Functions payload, so at most ${payloadMax} workers`;
    throw new LoadPlanError(
      `cannot plan the load test: ${why}, but ${limit}; lower the rate, shorten the test or raise maxRatePerWorker`,
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
