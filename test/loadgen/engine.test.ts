import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWorker } from '../../loadgen/engine.ts';
import { LoadInputError } from '../../loadgen/errors.ts';
import { createHistogram, decodeHistogram, percentilesMs } from '../../loadgen/histograms.ts';
import type { ProgressSnapshot } from '../../loadgen/types.ts';
import { resolveShard } from '../../loadgen/validate.ts';
import { type LocalServer, startServer } from './helpers.ts';

/**
 * A server that stalls 1 s in every 5 s: requests arriving in [4 s, 5 s) of each cycle are held until the cycle ends.
 * Open model: ~20% of requests wait 0-1000 ms, so p90 ~500 ms and p99 ~950 ms. A closed loop sends almost nothing
 * during a stall (each connection is stuck on one request), so its percentiles barely move.
 */
describe('runWorker against a server that stalls 1 s every 5 s', () => {
  let stalling: LocalServer;
  let startedAt = 0;
  beforeAll(async () => {
    stalling = await startServer((_req, res) => {
      const phase = (performance.now() - startedAt) % 5000;
      if (phase >= 4000) setTimeout(() => res.end('late'), 5000 - phase);
      else res.end('ok');
    });
    startedAt = performance.now();
  });
  afterAll(() => stalling.close());

  it('reports the stall in full (open model), where a closed loop hides it', async () => {
    const progress: ProgressSnapshot[] = [];
    const open = await runWorker({
      url: stalling.url,
      rate: 300,
      durationSec: 10,
      connections: 20,
      warmupSec: 0,
      onProgress: (p) => progress.push(p),
    });
    const openMs = percentilesMs(decodeHistogram(open.histograms.latencyUs));
    expect(open.requests.dropped).toBe(0);
    expect(open.requests.errors).toBe(0);
    expect(open.requests.total).toBe(3000);
    // 20 connections cannot hold a 300-request stall: more open on demand, each request leaving on schedule
    expect(open.connections).toBeGreaterThan(100);
    expect(open.requests.waited).toBe(0);
    expect(openMs.p90).toBeGreaterThanOrEqual(400);
    expect(openMs.p99).toBeGreaterThanOrEqual(900);
    expect(progress.length).toBeGreaterThanOrEqual(8);
    // progress shows the connections as they grow; the last report can come before the final stall's last few open
    expect(progress.at(-1)?.connections).toBeGreaterThan(100);
    expect(progress.at(-1)?.connections).toBeLessThanOrEqual(open.connections);
    expect(open.timeline.completed.reduce((a, b) => a + b, 0)).toBe(3000);

    // Closed loop, 2 connections, as a classic benchmark tool would: the next request only after the previous one.
    const closed = createHistogram();
    const clients = [new Client(new URL(stalling.url).origin), new Client(new URL(stalling.url).origin)];
    const until = performance.now() + 5500; // spans one stall whatever the phase
    await Promise.all(
      clients.map(async (client) => {
        while (performance.now() < until) {
          const t = performance.now();
          const res = await client.request({ path: '/', method: 'GET' });
          await res.body.dump();
          closed.recordValue(Math.round((performance.now() - t) * 1000));
        }
        await client.close();
      }),
    );
    const closedMs = percentilesMs(closed);
    expect(closed.maxValue).toBeGreaterThan(500_000); // it did hit the stall...
    expect(openMs.p90).toBeGreaterThan(closedMs.p90 * 10); // ...yet its p90 is a tenth of what the open model saw
  });
});

describe('runWorker', () => {
  let slow: LocalServer;
  let slow50: LocalServer;
  let slow150: LocalServer;
  let fast: LocalServer;
  let silent: LocalServer;
  beforeAll(async () => {
    slow = await startServer((_req, res) => setTimeout(() => res.end('slow'), 200));
    slow50 = await startServer((_req, res) => setTimeout(() => res.end('slow'), 50));
    slow150 = await startServer((_req, res) => setTimeout(() => res.end('slow'), 150));
    fast = await startServer((req, res) => {
      res.statusCode = req.url === '/fail' ? 503 : 200;
      res.end('x');
    });
    silent = await startServer(() => {}); // never answers
  });
  afterAll(async () => {
    await Promise.all([slow.close(), slow50.close(), slow150.close(), fast.close(), silent.close()]);
  });

  it('counts dropped requests when the target cannot keep up with a tiny in-flight cap', async () => {
    // Capacity: 2 in flight / 200 ms = 10 req/s against 200 req/s offered.
    const r = await runWorker({
      url: slow.url,
      rate: 200,
      durationSec: 2,
      connections: 2,
      maxInFlight: 2,
      tickMs: 400,
      warmupSec: 0,
    });
    expect(r.requests.scheduled).toBe(400);
    expect(r.requests.dropped).toBeGreaterThan(300);
    expect(r.requests.total + r.requests.dropped).toBe(r.requests.scheduled);
    expect(r.requests.total).toBeGreaterThan(10);
    expect(r.requests.errors).toBe(0);
    expect(r.timeline.dropped.reduce((a, b) => a + b, 0)).toBe(r.requests.dropped);
    expect(r.rate.achieved).toBeLessThan(50);
    // Waiting for room under the cap is the target's doing, not the scheduler's: it is not lateness. (Each 400 ms tick
    // releases 80 requests; those let in when a slot frees, anywhere in the tick, would put p99 lateness near 400 ms.)
    const lateness = decodeHistogram(r.histograms.latenessUs);
    expect(lateness.totalCount).toBe(r.requests.scheduled);
    expect(percentilesMs(lateness).p99).toBeLessThan(200);
  });

  it('sends a tick beyond the connections as they free up, adding nothing to latency', async () => {
    // 10 req/s in 300 ms ticks: 3 requests per tick over 2 connections answering in 150 ms. The third goes out when a
    // connection frees (~150 ms into the tick), still ahead of its schedule (~200 ms), so it counts from its send:
    // every latency is ~150 ms. Counted from the tick's start, as a plain quantizing scheduler would, a third would be
    // ~300 ms. (Delays this long keep the margins above a loaded machine's timer jitter.)
    const r = await runWorker({
      url: slow150.url,
      rate: 10,
      durationSec: 3,
      connections: 2,
      tickMs: 300,
      warmupSec: 0,
    });
    const ms = percentilesMs(decodeHistogram(r.histograms.latencyUs));
    expect(r.requests).toMatchObject({ scheduled: 30, total: 30, errors: 0, dropped: 0, queued: 0 });
    expect(ms.min).toBeGreaterThanOrEqual(145); // node timers may fire a hair early by performance.now()
    expect(ms.max).toBeLessThan(270);
  });

  it('opens another connection when a request is due and every one is busy, so the target is measured, not the queue', async () => {
    // 40 req/s, one connection up front, answers in 50 ms: one connection carries 20 req/s at most. A second (and a
    // third, when a connect is slow) opens as requests fall due, and every latency stays ~50 ms.
    const r = await runWorker({ url: slow50.url, rate: 40, durationSec: 1, connections: 1, warmupSec: 0 });
    const ms = percentilesMs(decodeHistogram(r.histograms.latencyUs));
    expect(r.requests).toMatchObject({ scheduled: 40, total: 40, errors: 0, dropped: 0, waited: 0 });
    expect(r.connections).toBeGreaterThanOrEqual(2);
    expect(r.maxConnections).toBe(160); // 40 req/s x 4 s of latency
    // queued behind one connection instead, the median request would wait ~250 ms or more
    expect(ms.p50).toBeLessThan(150);
    expect(decodeHistogram(r.histograms.connectionWaitUs).totalCount).toBe(0);
  });

  it('with every allowed connection busy, keeps the wait out of the latency and counts it apart', async () => {
    // The same load capped at one connection: requests go out ever later than scheduled (the last of 40 ~1 s late).
    // That wait is the generator's limit, in connectionWaitUs; latency counts from each send: ~50 ms.
    const r = await runWorker({
      url: slow50.url,
      rate: 40,
      durationSec: 1,
      connections: 1,
      maxConnections: 1,
      timeoutMs: 5000,
      warmupSec: 0,
    });
    const ms = percentilesMs(decodeHistogram(r.histograms.latencyUs));
    const wait = percentilesMs(decodeHistogram(r.histograms.connectionWaitUs));
    expect(r.requests).toMatchObject({ scheduled: 40, total: 40, errors: 0, dropped: 0 });
    expect(r.connections).toBe(1);
    expect(r.requests.waited).toBeGreaterThan(30);
    expect(decodeHistogram(r.histograms.connectionWaitUs).totalCount).toBe(r.requests.waited);
    expect(wait.max).toBeGreaterThanOrEqual(800);
    expect(ms.p99).toBeLessThan(150);
  });

  it('drops, never sends, a request that waited for a connection longer than the timeout', async () => {
    const r = await runWorker({
      url: slow.url,
      rate: 40,
      durationSec: 1,
      connections: 1,
      maxConnections: 1,
      timeoutMs: 300,
      warmupSec: 0,
    });
    expect(r.requests.dropped).toBeGreaterThan(20);
    expect(r.requests.errors).toBe(0);
    expect(r.requests.total + r.requests.dropped).toBe(r.requests.scheduled);
  });

  it('sends no request more than one tick ahead of its schedule', async () => {
    const arrivals: number[] = [];
    const recorder = await startServer((_req, res) => {
      arrivals.push(Date.now());
      res.end('ok');
    });
    try {
      // 5 req/s (one every 200 ms) in 400 ms ticks: each tick releases 2 requests at once.
      const r = await runWorker({
        url: recorder.url,
        rate: 5,
        durationSec: 4,
        connections: 4,
        tickMs: 400,
        warmupSec: 0,
      });
      const start = Date.parse(r.startedAt);
      const measured = arrivals.slice(-20); // the first 4 opened the connections (unrecorded warm-up requests)
      expect(r.requests.total).toBe(20);
      measured.forEach((at, k) => {
        // One tick early at most, plus the 1 ms of timer slack; Date.now() is whole milliseconds.
        expect(at).toBeGreaterThanOrEqual(start + k * 200 - 400 - 1 - 2);
      });
      // Batching is real: request 1 of the first tick goes out with request 0, ahead of its 200 ms schedule.
      expect((measured[1] as number) - start).toBeLessThan(150);
    } finally {
      await recorder.close();
    }
  });

  it('counts statuses >= 400 as errors by kind, with their latency', async () => {
    const r = await runWorker({ url: `${fast.url}fail`, rate: 100, durationSec: 1, connections: 2, warmupSec: 0 });
    expect(r.requests).toMatchObject({ scheduled: 100, total: 100, ok: 0, errors: 100, dropped: 0 });
    expect(r.statusCodes).toEqual({ '503': 100 });
    expect(r.errorKinds).toEqual({ http_5xx: 100 });
    expect(decodeHistogram(r.histograms.latencyUs).totalCount).toBe(100);
  });

  it('counts timeouts as errors without latency: latency is of answered requests', async () => {
    const r = await runWorker({
      url: silent.url,
      rate: 20,
      durationSec: 0.5,
      connections: 20,
      timeoutMs: 300,
      warmupSec: 0,
    });
    expect(r.requests.total).toBe(10);
    expect(r.errorKinds).toEqual({ timeout: 10 });
    expect(decodeHistogram(r.histograms.latencyUs).totalCount).toBe(0);
  });

  it('counts refused connections by kind', async () => {
    const closed = await startServer(() => {});
    const url = closed.url;
    await closed.close();
    const r = await runWorker({ url, rate: 50, durationSec: 0.4, connections: 2, warmupSec: 0 });
    expect(r.requests.total).toBe(20);
    expect(r.errorKinds).toEqual({ connection_refused: 20 });
  });

  it('keeps the warm-up out of the figures and returns small plain JSON', async () => {
    const r = await runWorker({ url: fast.url, rate: 200, durationSec: 1, connections: 4, warmupSec: 0.5 });
    expect(r.requests.scheduled).toBe(200);
    expect(r.requests.total).toBe(200);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    expect(JSON.stringify(r).length).toBeLessThan(20_000);
    expect(decodeHistogram(r.histograms.latenessUs).totalCount).toBe(200);
  });

  it('stops on abort and returns what it measured', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 500);
    const t = performance.now();
    const r = await runWorker({
      url: fast.url,
      rate: 100,
      durationSec: 30,
      connections: 2,
      warmupSec: 0,
      signal: controller.signal,
    });
    expect(performance.now() - t).toBeLessThan(3000);
    expect(r.aborted).toBe(true);
    expect(r.requests.total).toBeGreaterThan(20);
    expect(r.requests.total + r.requests.dropped).toBe(r.requests.scheduled);
  });

  it.each([
    [{ url: 'not a url' }, /url must be an absolute/],
    [{ rate: 0 }, /rate must be a number > 0/],
    [{ connections: 1.5 }, /connections must be an integer/],
    [{ durationSec: '10' }, /durationSec must be a number > 0 .* got "10"/],
  ])('rejects %j naming the field', async (override, message) => {
    const shard = { url: fast.url, rate: 10, durationSec: 1, connections: 1, ...override };
    await expect(runWorker(shard as never)).rejects.toThrow(LoadInputError);
    await expect(runWorker(shard as never)).rejects.toThrow(message);
  });
});

describe('resolveShard', () => {
  const base = { url: 'http://127.0.0.1:9/', durationSec: 1, connections: 10 };
  it.each([
    [1000, 250],
    [4000, 63],
    [10_000, 25],
    [100_000, 3],
    [500_000, 1],
    [20, 250],
  ])('defaults the tick at %d req/s to %d ms (about 250 requests a tick, 1-250 ms)', (rate, tickMs) => {
    expect(resolveShard({ ...base, rate }).tickMs).toBe(tickMs);
  });

  it('holds at most 100 requests in a default tick when there are more connections than that', () => {
    // 500 connections would otherwise start all 250 requests of a 250 ms tick at once.
    expect(resolveShard({ ...base, connections: 500, rate: 1000 }).tickMs).toBe(100);
    expect(resolveShard({ ...base, connections: 101, rate: 10_000 }).tickMs).toBe(10);
    expect(resolveShard({ ...base, connections: 100, rate: 1000 }).tickMs).toBe(250);
  });

  it('keeps an explicit tick, up to 1000 ms', () => {
    expect(resolveShard({ ...base, rate: 1000, tickMs: 5 }).tickMs).toBe(5);
    expect(resolveShard({ ...base, rate: 1000, tickMs: 1000 }).tickMs).toBe(1000);
    expect(() => resolveShard({ ...base, rate: 1000, tickMs: 1001 })).toThrow(/tickMs must be an integer .*1000/);
  });
});
