/** Shared fixtures of the loadgen tests: local servers on 127.0.0.1:0 and synthetic worker results. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CliIo } from '../../loadgen/cli.ts';
import { createHistogram, encodeHistogram } from '../../loadgen/histograms.ts';
import type { WorkerResult } from '../../loadgen/types.ts';

export interface LocalServer {
  url: string;
  server: Server;
  close: () => Promise<void>;
}

/** Starts a node:http server on 127.0.0.1, port 0. `close` also ends keep-alive and held connections. */
export async function startServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<LocalServer> {
  const server = createServer(handler);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Deterministic PRNG (mulberry32) so "random" samples are the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A WorkerResult whose latency histogram holds `samplesUs` (microseconds); counters follow from it. */
export function fakeResult(
  workerIndex: number,
  samplesUs: number[],
  overrides: Partial<WorkerResult> = {},
): WorkerResult {
  const latency = createHistogram();
  for (const v of samplesUs) latency.recordValue(v);
  const lateness = createHistogram();
  for (let i = 0; i < samplesUs.length; i++) lateness.recordValue(100 + (i % 50));
  const n = samplesUs.length;
  const seconds = 3;
  const per = Math.floor(n / seconds);
  const sent = [per, per, n - 2 * per];
  return {
    schema: 'rollgate.loadtest.worker.v1',
    workerIndex,
    url: 'http://127.0.0.1:9/',
    method: 'GET',
    startedAt: `2026-01-01T00:00:0${workerIndex % 10}.000Z`,
    durationSec: seconds,
    elapsedSec: seconds + 0.2,
    connections: 5,
    maxConnections: 50,
    maxInFlight: 100,
    timeoutMs: 2000,
    rate: { target: n / seconds, achieved: n / seconds },
    requests: { scheduled: n, total: n, ok: n - 1, errors: 1, dropped: 0, queued: 0, waited: 0 },
    statusCodes: { '200': n - 1, '503': 1 },
    errorKinds: { http_5xx: 1 },
    bytesReceived: n * 10,
    histograms: {
      latencyUs: encodeHistogram(latency),
      latenessUs: encodeHistogram(lateness),
      connectionWaitUs: encodeHistogram(createHistogram()),
    },
    timeline: { sent, completed: sent, errors: [0, 1, 0], dropped: [0, 0, 0], p99Us: [1000, 2000 + workerIndex, 1500] },
    aborted: false,
    ...overrides,
  };
}

/** A CliIo that collects what `rollgate loadtest` writes. */
export function captureIo(): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    isTty: false,
    stdout: (t: string) => {
      io.out += t;
    },
    stderr: (t: string) => {
      io.err += t;
    },
  };
  return io;
}
