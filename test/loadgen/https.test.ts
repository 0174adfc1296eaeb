import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerResult } from '../../loadgen/types.ts';

/**
 * test/fixtures/tls: a test CA (its key was thrown away) and a certificate it signed for 127.0.0.1 and localhost,
 * valid until 2126. Made with openssl req -x509 (EC P-256) and openssl x509 -req with subjectAltName IP:127.0.0.1.
 */
const tls = (file: string) => fileURLToPath(new URL(`../fixtures/tls/${file}`, import.meta.url));
const child = fileURLToPath(new URL('./run-worker-child.ts', import.meta.url));
const run = promisify(execFile);

/** Runs a shard in a child process (the CA must be trusted from start-up: NODE_EXTRA_CA_CERTS). */
async function runInChild(shard: object, env: Record<string, string> = {}): Promise<WorkerResult> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', child, JSON.stringify(shard)], {
    env: { ...process.env, ...env },
    timeout: 30_000,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as WorkerResult;
}

describe('runWorker against an https:// target', () => {
  let server: Server;
  let url = '';
  beforeAll(async () => {
    server = createServer(
      { key: readFileSync(tls('server-key.pem')), cert: readFileSync(tls('server-cert.pem')) },
      (req, res) => {
        res.setHeader('x-path', req.url ?? '');
        res.end('secure');
      },
    );
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/hello?x=1`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  // a fixed pair of connections: the test counts TLS handshakes, not connections opened on demand
  const shard = () => ({ url, rate: 100, durationSec: 0.5, connections: 2, maxConnections: 2, warmupSec: 0 });

  it('measures every request over TLS, on kept-alive connections, when the CA is trusted', async () => {
    let handshakes = 0;
    const count = () => handshakes++;
    server.on('secureConnection', count);
    try {
      const r = await runInChild(shard(), { NODE_EXTRA_CA_CERTS: tls('ca.pem') });
      expect(r.requests).toMatchObject({ scheduled: 50, total: 50, ok: 50, errors: 0, dropped: 0 });
      expect(r.statusCodes).toEqual({ '200': 50 });
      expect(r.bytesReceived).toBe(50 * 'secure'.length);
      expect(handshakes).toBe(2); // one per connection: keep-alive over TLS
    } finally {
      server.off('secureConnection', count);
    }
  });

  it('counts a certificate it cannot verify as a tls error, never as a response', async () => {
    const r = await runInChild(shard());
    expect(r.requests).toMatchObject({ scheduled: 50, total: 50, ok: 0, errors: 50 });
    expect(r.errorKinds).toEqual({ tls: 50 });
  });
});
