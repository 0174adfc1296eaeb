/**
 * Runs one shard inside a worker thread (started by run-local.ts through worker-bootstrap.mjs) and talks to the parent:
 * in: `{ type: 'abort' }`; out: `{ type: 'progress', progress }` each second, then `{ type: 'result', result }` or
 * `{ type: 'error', name, message }`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runWorker } from './engine.ts';
import type { ProgressSnapshot, WorkerResult, WorkerShard } from './types.ts';

export type FromWorker =
  | { type: 'progress'; progress: ProgressSnapshot }
  | { type: 'result'; result: WorkerResult }
  | { type: 'error'; name: string; message: string };

export type ToWorker = { type: 'abort' };

const port = parentPort;
if (port === null) throw new Error('worker-thread.ts must run in a worker thread');
const controller = new AbortController();
port.on('message', (message: ToWorker) => {
  if (message.type === 'abort') controller.abort();
});
const post = (message: FromWorker) => port.postMessage(message);

try {
  const result = await runWorker({
    ...(workerData as WorkerShard),
    signal: controller.signal,
    onProgress: (progress) => post({ type: 'progress', progress }),
  });
  post({ type: 'result', result });
} catch (err) {
  const e = err instanceof Error ? err : new Error(String(err));
  post({ type: 'error', name: e.name, message: e.message });
} finally {
  port.close();
}
