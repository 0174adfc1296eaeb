import type { AddressInfo } from 'node:net';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWorker } from '../../loadgen/engine.ts';
import { type LocalServer, startServer } from './helpers.ts';

/** A raw TCP server answering every request (one per "\r\n\r\n") with `respond`. */
async function rawServer(respond: (socket: Socket) => void): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    let pending = '';
    socket.on('data', (chunk) => {
      pending += chunk.toString('latin1');
      let at = pending.indexOf('\r\n\r\n');
      while (at >= 0) {
        pending = pending.slice(at + 4);
        respond(socket);
        at = pending.indexOf('\r\n\r\n');
      }
    });
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

// A fixed pair of connections: these tests are of the HTTP client, not of connections opened on demand.
const shard = (url: string) => ({ url, rate: 100, durationSec: 0.5, connections: 2, maxConnections: 2, warmupSec: 0 });

describe('the HTTP/1.1 client under runWorker', () => {
  let chunked: LocalServer;
  let closing: LocalServer;
  beforeAll(async () => {
    chunked = await startServer((_req, res) => {
      res.write('hello ');
      setImmediate(() => res.end('world, in chunks'));
    });
    closing = await startServer((_req, res) => {
      res.setHeader('connection', 'close');
      res.end('bye');
    });
  });
  afterAll(async () => {
    await Promise.all([chunked.close(), closing.close()]);
  });

  it('reads chunked bodies, counting their bytes', async () => {
    const r = await runWorker(shard(chunked.url));
    expect(r.requests).toMatchObject({ scheduled: 50, total: 50, ok: 50, errors: 0 });
    expect(r.bytesReceived).toBe(50 * 'hello world, in chunks'.length);
  });

  it('reconnects after a response with connection: close', async () => {
    const r = await runWorker(shard(closing.url));
    expect(r.requests).toMatchObject({ total: 50, ok: 50, errors: 0 });
    expect(r.bytesReceived).toBe(150);
  });

  it('parses responses split across reads, skips 1xx, and reads bodies delimited by the connection end', async () => {
    const split = await rawServer((socket) => {
      socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-');
      setTimeout(() => socket.write('Length: 4\r\nX-A: b\r\n\r\nab'), 2);
      setTimeout(() => socket.write('cd'), 4);
    });
    const untilClose = await rawServer((socket) => {
      socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it');
    });
    try {
      const a = await runWorker(shard(split.url));
      expect(a.requests).toMatchObject({ total: 50, ok: 50, errors: 0 });
      expect(a.statusCodes).toEqual({ '201': 50 });
      expect(a.bytesReceived).toBe(200);
      const b = await runWorker(shard(untilClose.url));
      expect(b.requests).toMatchObject({ total: 50, ok: 50, errors: 0 });
      expect(b.bytesReceived).toBe(50 * 'all of it'.length);
    } finally {
      await Promise.all([split.close(), untilClose.close()]);
    }
  });

  it('fails malformed responses and connections closed mid-response by kind', async () => {
    const garbage = await rawServer((socket) => socket.write('SMTP ready\r\n\r\n'));
    const cut = await rawServer((socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    try {
      const a = await runWorker(shard(garbage.url));
      expect(a.requests).toMatchObject({ total: 50, ok: 0, errors: 50 });
      expect(a.errorKinds).toEqual({ other: 50 });
      const b = await runWorker(shard(cut.url));
      expect(b.requests).toMatchObject({ total: 50, ok: 0, errors: 50 });
      expect(b.errorKinds).toEqual({ connection_reset: 50 });
    } finally {
      await Promise.all([garbage.close(), cut.close()]);
    }
  });
});
