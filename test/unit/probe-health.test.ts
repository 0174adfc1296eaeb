import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import type { HealthSpec } from '../../src/config/schema.ts';
import { routedUrl } from '../../src/core/gate-route.ts';
import { probeHealth } from '../../src/core/probe-health.ts';

let server: Server;
let base: string;
const answers: number[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/hang') return; // never answers: the per-request timeout must fire
    if (req.url === '/canary') {
      // a header route: only requests with the header reach the (healthy) new version
      res.writeHead(req.headers['x-canary'] === '1' ? 200 : 503).end();
      return;
    }
    if (req.url === '/flaky') {
      const status = answers.shift() ?? 200;
      res.writeHead(status, { 'x-app-version': 'v2' }).end();
      return;
    }
    res.writeHead(req.url === '/bad' ? 500 : 200, { 'x-app-version': 'v2' }).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function spec(path: string, overrides: Partial<HealthSpec> = {}): HealthSpec {
  const config = parseConfig({
    version: 1,
    targets: [
      {
        name: 't',
        repository: 'r',
        cluster: 'c',
        service: 's',
        container: 'c',
        health: {
          url: `${base}${path}`,
          intervalSeconds: 0.1,
          consecutiveSuccesses: 3,
          deadlineSeconds: 2,
          timeoutMs: 200,
          ...overrides,
        },
      },
    ],
  });
  const health = config.targets[0]?.health;
  if (!health) throw new Error('no health spec');
  return health;
}

describe('probeHealth', () => {
  it('passes after N consecutive successes', async () => {
    const out = await probeHealth({ health: spec('/ok') });
    expect(out).toMatchObject({ status: 'HEALTHY', attempts: 3, consecutiveSuccesses: 3 });
  });

  it('restarts the count after a failure', async () => {
    answers.push(200, 500, 200, 200);
    const out = await probeHealth({ health: spec('/flaky') });
    expect(out.attempts).toBe(5);
  });

  it('fails at the deadline with what it saw', async () => {
    await expect(probeHealth({ health: spec('/bad', { deadlineSeconds: 1 }) })).rejects.toMatchObject({
      name: 'HealthCheckFailedError',
      message: expect.stringMatching(
        /was not healthy within 1 s: 0\/3 consecutive successes .*last failure: HTTP 500 \(expected 200\)/,
      ),
    });
  });

  it('times out each request on its own', async () => {
    await expect(probeHealth({ health: spec('/hang', { deadlineSeconds: 1 }) })).rejects.toMatchObject({
      message: expect.stringContaining('timed out after 200 ms'),
    });
  });

  it('checks the served version when a version header is configured', async () => {
    await expect(
      probeHealth({ health: spec('/ok', { versionHeader: 'x-app-version' }), expectVersion: 'v2' }),
    ).resolves.toMatchObject({ status: 'HEALTHY' });
    await expect(
      probeHealth({ health: spec('/ok', { versionHeader: 'x-app-version', deadlineSeconds: 1 }), expectVersion: 'v3' }),
    ).rejects.toMatchObject({ message: expect.stringContaining('x-app-version is "v2" (expected "v3")') });
  });

  it('names a refused connection', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(
      probeHealth({ health: { ...spec('/ok', { deadlineSeconds: 1 }), url: `http://127.0.0.1:${port}/health` } }),
    ).rejects.toMatchObject({ message: expect.stringContaining('ECONNREFUSED') });
  });
});

describe('probeHealth along a gate route', () => {
  it('sends the route headers with every probe, and the route origin replaces the URL origin', async () => {
    const route = { origin: base, headers: { 'x-canary': '1' } };
    const health = spec('/canary');
    const url = routedUrl('http://127.0.0.1:9/canary', route);
    expect(url).toBe(`${base}/canary`);
    await expect(probeHealth({ health: { ...health, url }, headers: route.headers })).resolves.toMatchObject({
      status: 'HEALTHY',
    });
    await expect(probeHealth({ health: { ...health, url } })).rejects.toThrow(/HTTP 503/);
  });
});
