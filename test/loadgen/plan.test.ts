import { describe, expect, it } from 'vitest';
import { LoadPlanError } from '../../loadgen/errors.ts';
import { MAX_WORKERS, planShards, workerGroups } from '../../loadgen/plan.ts';

const base = { url: 'http://127.0.0.1:9/', rate: 1000, durationSec: 60, workers: 2, connections: 20 };

describe('planShards', () => {
  it('splits rate and connections evenly and numbers the shards', () => {
    const shards = planShards(base);
    expect(shards).toEqual([
      { url: base.url, rate: 500, durationSec: 60, connections: 10, timeoutMs: 2000, warmupSec: 1, workerIndex: 0 },
      { url: base.url, rate: 500, durationSec: 60, connections: 10, timeoutMs: 2000, warmupSec: 1, workerIndex: 1 },
    ]);
  });

  it('raises the worker count when one worker would exceed its rate cap', () => {
    const shards = planShards({ ...base, rate: 9000, workers: 1, maxRatePerWorker: 2000 });
    expect(shards).toHaveLength(5);
    expect(shards.every((s) => s.rate === 1800 && s.connections === 4)).toBe(true);
  });

  it('gives every worker at least one connection', () => {
    expect(planShards({ ...base, workers: 3, connections: 2 }).map((s) => s.connections)).toEqual([1, 1, 1]);
  });

  it.each([
    [{ durationSec: 900 }, /durationSec 900 is longer than one load-generator Lambda may run \(600 s/],
    [
      { rate: 4_000_000 },
      /needs 2000 workers, but each worker is one concurrent load-generator Lambda and at most 1000/,
    ],
    [{ workers: 3, maxWorkers: 2 }, /3 workers were asked for, but .* at most 2 may run at once/],
    [{ maxConnections: 4000 }, /2000 per load-generator Lambda, but a Lambda allows 1024 open files/],
    [{ maxShardDurationSec: 1000 }, /maxShardDurationSec must be <= 840/],
    [{ rate: -1 }, /rate must be a number > 0/],
    [{ workers: 0 }, /workers must be an integer >= 1/],
  ])('throws LoadPlanError for an impossible plan %j', (override, message) => {
    expect(() => planShards({ ...base, ...override })).toThrow(LoadPlanError);
    expect(() => planShards({ ...base, ...override })).toThrow(message);
  });

  it('plans 1,000 workers of 600 s (their results go to S3, not into the state)', () => {
    const shards = planShards({ ...base, durationSec: 600, rate: 100_000, workers: MAX_WORKERS });
    expect(shards).toHaveLength(1000);
    expect(shards[999]).toMatchObject({ rate: 100, workerIndex: 999 });
  });

  it('splits the maximum connections over the workers', () => {
    expect(planShards({ ...base, maxConnections: 300 }).map((s) => s.maxConnections)).toEqual([150, 150]);
  });
});

describe('workerGroups', () => {
  it.each([
    [1, [1]],
    [40, [40]],
    [41, [21, 20]],
    [100, [34, 33, 33]],
    [1000, Array(25).fill(40)],
  ])('splits %i workers into groups of at most 40 that run at once', (workers, sizes) => {
    const groups = workerGroups(workers);
    expect(groups.map((g) => g.length)).toEqual(sizes);
    expect(groups.flat()).toEqual(Array.from({ length: workers }, (_, i) => i));
  });
});
