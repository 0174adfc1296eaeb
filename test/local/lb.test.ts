import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { type LoadBalancer, startLoadBalancer } from '../../local/lb.ts';
import { eventually } from './support.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const servers: Server[] = [];
let lb: LoadBalancer | undefined;

afterEach(async () => {
  await lb?.close();
  lb = undefined;
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise((resolve) => {
          s.closeAllConnections();
          s.close(resolve);
        }),
    ),
  );
});

/** A target on a free port: /health answers `health()`, everything else goes to `handler`. */
async function target(name: string, options: { health?: () => number; handler?: Handler } = {}): Promise<number> {
  const server = createServer((req, res) => {
    if (req.url === '/health') {
      res.writeHead(options.health?.() ?? 200).end('ok');
      return;
    }
    if (options.handler) {
      options.handler(req, res);
      return;
    }
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-target': name,
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
      });
      res.end(JSON.stringify({ name, method: req.method, url: req.url, body, headers: req.headers }));
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function start(options: Partial<Parameters<typeof startLoadBalancer>[0]> = {}): Promise<LoadBalancer> {
  lb = await startLoadBalancer({ port: 0, healthCheckPath: '/health', healthCheckIntervalMs: 50, ...options });
  return lb;
}

async function get(
  path = '/',
  init: { method?: 'GET' | 'POST'; body?: string; headers?: Record<string, string> } = {},
) {
  const res = await request(`${lb?.url}${path}`, { headersTimeout: 5000, bodyTimeout: 5000, ...init });
  const text = await res.body.text();
  return {
    status: res.statusCode,
    headers: res.headers,
    text,
    json: () => JSON.parse(text) as Record<string, unknown>,
  };
}

const healthy = (l: LoadBalancer, n: number) =>
  eventually(() => (l.targets().filter((t) => t.state === 'healthy').length === n ? true : undefined), 5000);

describe('the local load balancer', () => {
  it('answers 503 with no registered target', async () => {
    await start();
    expect((await get()).status).toBe(503);
  });

  it('round-robins over healthy targets and proxies method, path, body and headers', async () => {
    const l = await start();
    l.register({ id: 'a', port: await target('a') });
    l.register({ id: 'b', port: await target('b') });
    await healthy(l, 2);
    const names = [];
    for (let i = 0; i < 6; i++) names.push((await get()).json().name);
    expect(names.filter((n) => n === 'a')).toHaveLength(3);
    expect(names.filter((n) => n === 'b')).toHaveLength(3);
    const posted = await get('/echo?x=1', {
      method: 'POST',
      body: 'hello',
      headers: { 'x-custom': 'yes', te: 'trailers' },
    });
    expect(posted.json()).toMatchObject({ method: 'POST', url: '/echo?x=1', body: 'hello' });
    const headers = posted.json().headers as Record<string, string>;
    expect(headers['x-custom']).toBe('yes');
    expect(headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(headers['x-forwarded-port']).toBe(String(l.port));
    expect(headers.te).toBeUndefined();
    // Hop-by-hop response headers stay between the target and the load balancer.
    expect(posted.headers['keep-alive']).not.toBe('timeout=5');
    expect(posted.headers['x-target']).toBeDefined();
  });

  it('routes only to healthy targets, and fails open to all when none is healthy', async () => {
    const l = await start();
    let bHealth = 200;
    l.register({ id: 'a', port: await target('a', { health: () => 500 }) });
    l.register({ id: 'b', port: await target('b', { health: () => bHealth }) });
    await eventually(() => (l.targets().find((t) => t.id === 'a')?.state === 'unhealthy' ? true : undefined), 5000);
    await healthy(l, 1);
    for (let i = 0; i < 4; i++) expect((await get()).json().name).toBe('b');
    bHealth = 500;
    await eventually(() => (l.targets().every((t) => t.state === 'unhealthy') ? true : undefined), 5000);
    const names = new Set<unknown>();
    for (let i = 0; i < 4; i++) names.add((await get()).json().name);
    expect(names).toEqual(new Set(['a', 'b']));
    expect(l.targets().find((t) => t.id === 'a')?.lastCheck?.status).toBe(500);
  });

  it('drains a deregistered target: no new requests, in-flight ones finish before deregister() resolves', async () => {
    const l = await start({ deregistrationDelayMs: 5000 });
    // The slow target answers when the test says so: the order of events is the test's, not a timer's.
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slowPort = await target('slow', {
      handler: (_req, res) => void released.then(() => res.writeHead(200).end('slow done')),
    });
    l.register({ id: 'slow', port: slowPort });
    await healthy(l, 1);
    const inFlight = get('/');
    await eventually(() => (l.targets()[0]?.inFlight === 1 ? true : undefined), 2000);
    l.register({ id: 'fast', port: await target('fast') });
    let drainedYet = false;
    const drained = l.deregister('slow').then(() => {
      drainedYet = true;
    });
    // While draining, new requests go to the other target only.
    expect((await get('/')).json().name).toBe('fast');
    expect(drainedYet).toBe(false);
    expect(l.targets().find((t) => t.id === 'slow')?.state).toBe('draining');
    release();
    expect((await inFlight).text).toBe('slow done');
    await drained;
    expect(l.targets().map((t) => t.id)).toEqual(['fast']);
  });

  it('bounds the drain by the deregistration delay', async () => {
    const l = await start({ deregistrationDelayMs: 200 });
    l.register({ id: 'hang', port: await target('hang', { handler: () => undefined }) });
    await healthy(l, 1);
    const hanging = request(`${l.url}/`, { headersTimeout: 5000 }).catch((e: Error) => e);
    await eventually(() => (l.targets()[0]?.inFlight === 1 ? true : undefined), 2000);
    const started = Date.now();
    await l.deregister('hang');
    expect(Date.now() - started).toBeLessThan(1500);
    await l.close();
    await hanging;
  });

  it('answers 502 when the target fails before responding, and cuts the response when it fails mid-body', async () => {
    const l = await start();
    // The target cuts its response once the client has its headers (so the cut is mid-body, by construction).
    let cut: () => void = () => undefined;
    l.register({
      id: 'bad',
      port: await target('bad', {
        handler: (req, res) => {
          if (req.url === '/reset') {
            req.socket.destroy();
          } else {
            res.writeHead(200, { 'content-length': '100' });
            res.write('partial');
            cut = () => req.socket.destroy();
          }
        },
      }),
    });
    expect((await get('/reset')).status).toBe(502);
    const res = await request(`${l.url}/partial`, { headersTimeout: 5000, bodyTimeout: 5000 });
    expect(res.statusCode).toBe(200);
    cut();
    await expect(res.body.text()).rejects.toThrow();
  });

  it('answers 502 for a registered target that is not listening', async () => {
    const l = await start();
    const port = await target('gone');
    const server = servers.pop();
    await new Promise((resolve) => server?.close(resolve));
    l.register({ id: 'gone', port });
    expect((await get()).status).toBe(502);
  });
});
