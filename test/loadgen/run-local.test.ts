import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoadInputError } from '../../loadgen/errors.ts';
import { generate } from '../../loadgen/generate.ts';
import { type LoadProgress, runLoadTest } from '../../loadgen/run-local.ts';
import { type LocalServer, startServer } from './helpers.ts';

describe('runLoadTest', () => {
  let server: LocalServer;
  beforeAll(async () => {
    server = await startServer((_req, res) => res.end('ok'));
  });
  afterAll(() => server.close());

  it('runs each worker in its own thread (TypeScript loaded through the tsx bootstrap) and merges them', async () => {
    const progress: LoadProgress[] = [];
    const { report } = await runLoadTest({
      url: server.url,
      rate: 300,
      durationSec: 2,
      workers: 3,
      connections: 6,
      warmupSec: 0,
      slo: { maxErrorRate: 0 },
      onProgress: (p) => progress.push(p),
    });
    expect(report.workers).toBe(3);
    expect(report.perWorker.map((w) => w.rate.target)).toEqual([100, 100, 100]);
    expect(report.requests).toMatchObject({ scheduled: 600, total: 600, errors: 0, dropped: 0 });
    expect(report.slo).toMatchObject({ passed: true, spec: { maxErrorRate: 0 } });
    expect(progress.at(-1)?.sent).toBeGreaterThan(200);
  });

  it('rejects invalid options before starting any thread', async () => {
    await expect(runLoadTest({ url: server.url, rate: 10, durationSec: 1, workers: 0 })).rejects.toThrow(
      /workers must be an integer from 1 to 64, got 0/,
    );
    await expect(runLoadTest({ url: server.url, rate: 10, durationSec: -1 })).rejects.toThrow(LoadInputError);
  });
});

describe('generate (the Generate Lambda)', () => {
  it('names the bad field of a malformed shard', async () => {
    await expect(generate({ url: 'http://127.0.0.1:9/', rate: 10, durationSec: 5 })).rejects.toThrow(
      'connections must be an integer >= 1 and <= 10000, got nothing',
    );
    await expect(generate('nope')).rejects.toThrow(/the load shard must be an object/);
  });

  it('refuses a shard that cannot finish in the time the Lambda has left', async () => {
    const shard = { url: 'http://127.0.0.1:9/', rate: 10, durationSec: 600, connections: 1 };
    await expect(generate(shard, { getRemainingTimeInMillis: () => 300_000 })).rejects.toThrow(
      /needs 613 s, but this Lambda has 300 s left/,
    );
  });
});
