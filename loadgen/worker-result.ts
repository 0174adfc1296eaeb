/** A worker's figures as the plain JSON it returns (`rollgate.loadtest.worker.v1`). */
import type { Engine } from './engine.ts';
import { encodeHistogram } from './histograms.ts';
import type { WorkerResult } from './types.ts';

function statusCodes(counts: Uint32Array): Record<string, number> {
  const codes: Record<string, number> = {};
  counts.forEach((n, status) => {
    if (n > 0) codes[status] = n;
  });
  return codes;
}

/** The engine's figures as plain JSON, histograms encoded. */
export function workerResult(e: Engine): WorkerResult {
  const measuredEnd = e.stopped ? performance.now() : e.measureStart;
  const o = e.o;
  return {
    schema: 'rollgate.loadtest.worker.v1',
    workerIndex: o.workerIndex,
    url: o.url.href,
    method: o.method,
    startedAt: new Date(e.startedAtMs || Date.now()).toISOString(),
    durationSec: o.durationSec,
    elapsedSec: Math.max(0, Math.round(measuredEnd - e.measureStart) / 1000),
    connections: e.slots.length,
    maxConnections: o.maxConnections,
    maxInFlight: o.maxInFlight,
    timeoutMs: o.timeoutMs,
    rate: { target: o.rate, achieved: Math.round((e.sent / o.durationSec) * 100) / 100 },
    requests: {
      scheduled: e.scheduled,
      total: e.total,
      ok: e.ok,
      errors: e.errors,
      dropped: e.dropped,
      queued: e.queued,
      waited: e.waited,
    },
    statusCodes: statusCodes(e.statusCounts),
    errorKinds: { ...e.errorKinds },
    bytesReceived: e.bytesReceived,
    histograms: {
      latencyUs: encodeHistogram(e.latency.flush()),
      latenessUs: encodeHistogram(e.lateness.flush()),
      connectionWaitUs: encodeHistogram(e.connectionWait.flush()),
    },
    timeline: e.timeline.toJSON(),
    aborted: e.aborted,
  };
}
