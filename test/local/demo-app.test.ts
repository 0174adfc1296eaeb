import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { allocatePort, canConnect, releasePort } from '../../local/tasks.ts';
import { eventually } from './support.ts';

const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

async function startApp(tag: string): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }> {
  const port = await allocatePort();
  releasePort(port);
  const child = spawn(process.execPath, ['examples/demo-app/server.js'], {
    env: { PATH: process.env.PATH ?? '', IMAGE_TAG: tag, PORT: String(port) },
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  children.push(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, url: `http://127.0.0.1:${port}`, exited };
}

async function ready(url: string): Promise<void> {
  await eventually(async () => ((await canConnect(Number(new URL(url).port))) ? true : undefined), 5000);
}

async function get(url: string) {
  const started = Date.now();
  const res = await request(url, { headersTimeout: 5000 });
  const body = (await res.body.json()) as Record<string, unknown>;
  return { status: res.statusCode, body, version: res.headers['x-app-version'], ms: Date.now() - started };
}

/** A request written on a raw socket: `continued` when the server sent 100 Continue, `response` all it sent after. */
function rawRequest(url: string, head: string): { continued: Promise<void>; response: Promise<string> } {
  const socket = connect(Number(new URL(url).port), '127.0.0.1');
  let received = '';
  let onContinue: () => void = () => undefined;
  const continued = new Promise<void>((resolve) => {
    onContinue = resolve;
  });
  const response = new Promise<string>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (/^HTTP\/1\.1 100 /.test(received)) onContinue();
    });
    socket.on('end', () => resolve(received.replace(/^HTTP\/1\.1 100 [^\r]*\r\n\r\n/, '')));
    socket.on('error', reject);
  });
  socket.write(head);
  return { continued, response };
}

describe('examples/demo-app', () => {
  it('reports its version on / and /health', async () => {
    const app = await startApp('v1');
    await ready(app.url);
    const root = await get(`${app.url}/`);
    expect(root).toMatchObject({
      status: 200,
      version: 'v1',
      body: { service: 'demo-app', version: 'v1', pid: app.child.pid },
    });
    expect(await get(`${app.url}/health`)).toMatchObject({ status: 200, body: { status: 'ok', version: 'v1' } });
  });

  it('-unhealthy: /health is 500 while / works', async () => {
    const app = await startApp('v2-unhealthy');
    await ready(app.url);
    expect((await get(`${app.url}/health`)).status).toBe(500);
    expect((await get(`${app.url}/`)).status).toBe(200);
  });

  it('-crash: exits with code 1 before listening', async () => {
    const app = await startApp('v2-crash');
    expect(await app.exited).toBe(1);
  });

  it('-slow: / takes 300 ms more, /health does not', async () => {
    const app = await startApp('v2-slow');
    await ready(app.url);
    expect((await get(`${app.url}/`)).ms).toBeGreaterThanOrEqual(290);
    expect((await get(`${app.url}/health`)).ms).toBeLessThan(250);
  });

  it('-errors: about 10% of / answers 500, never /health', async () => {
    const app = await startApp('v2-errors');
    await ready(app.url);
    let errors = 0;
    for (let i = 0; i < 300; i++) if ((await get(`${app.url}/`)).status === 500) errors++;
    expect(errors).toBeGreaterThan(5);
    expect(errors).toBeLessThan(75);
    for (let i = 0; i < 20; i++) expect((await get(`${app.url}/health`)).status).toBe(200);
  });

  it('-flaky: every other answer of / is a 500, never /health', async () => {
    const app = await startApp('v2-flaky');
    await ready(app.url);
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      statuses.push((await get(`${app.url}/`)).status);
      expect((await get(`${app.url}/health`)).status).toBe(200);
    }
    expect(statuses.filter((s) => s === 500)).toHaveLength(20);
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
  });

  it('exits 0 on SIGTERM after finishing the request in flight', async () => {
    const app = await startApp('v2-slow');
    await ready(app.url);
    // `Expect: 100-continue` makes Node's server answer "100 Continue" as it takes the request: from then on the
    // request is in flight, with no timer guessing when.
    const inFlight = rawRequest(app.url, 'GET / HTTP/1.1\r\nHost: demo\r\nExpect: 100-continue\r\n\r\n');
    await inFlight.continued;
    app.child.kill('SIGTERM');
    expect(await inFlight.response).toMatch(/^HTTP\/1\.1 200 /m);
    expect(await app.exited).toBe(0);
  });

  it('exits when its stdin closes (its parent is gone)', async () => {
    const app = await startApp('v1');
    await ready(app.url);
    app.child.stdin?.end();
    expect(await app.exited).toBe(0);
  });
});
