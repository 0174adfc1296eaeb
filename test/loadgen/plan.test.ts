import { describe, expect, it } from 'vitest';
import { LoadPlanError } from '../../loadgen/errors.ts';
import { estimateResultBytes, planShards } from '../../loadgen/plan.ts';

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
    [{ rate: 1_000_000 }, /needs 500 workers.*256 KB Step Functions payload/],
    [{ workers: 3, maxWorkers: 2 }, /3 workers were asked for, but maxWorkers is 2/],
    [{ maxShardDurationSec: 1000 }, /maxShardDurationSec must be <= 840/],
    [{ rate: -1 }, /rate must be a number > 0/],
    [{ workers: 0 }, /workers must be an integer >= 1/],
  ])('throws LoadPlanError for an impossible plan %j', (override, message) => {
    expect(() => planShards({ ...base, ...override })).toThrow(LoadPlanError);
    expect(() => planShards({ ...base, ...override })).toThrow(message);
  });

  it('keeps all results of a 600 s plan under the 256 KB state payload', () => {
    const shards = planShards({ ...base, durationSec: 600, rate: 8000 });
    expect(shards.length * estimateResultBytes(600)).toBeLessThan(256 * 1024);
  });
});
