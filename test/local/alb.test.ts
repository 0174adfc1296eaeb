import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type LoadBalancer, type LoadBalancerStatus, startLoadBalancer } from '../../local/lb.ts';
import { eventually } from './support.ts';

const servers: Server[] = [];
let lb: LoadBalancer | undefined;
const agent = new Agent({ connections: 8 });

afterAll(() => agent.close());

afterEach(async () => {
  await lb?.close();
  lb = undefined;
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A target that answers its name as text, and 500 to `/fail`. */
async function named(name: string): Promise<number> {
  const server = createServer((req, res) => {
    if (req.url === '/health') res.writeHead(200).end('ok');
    else if (req.url === '/fail') res.writeHead(500).end(name);
    else res.writeHead(200, { 'content-type': 'text/plain' }).end(name);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** A load balancer with blue targets b1, b2 and green target g1, all healthy. */
async function blueGreen(): Promise<LoadBalancer> {
  lb = await startLoadBalancer({ name: 'lb web', port: 0, healthCheckPath: '/health', healthCheckIntervalMs: 50 });
  lb.register({ id: 'b1', port: await named('blue') });
  lb.register({ id: 'b2', port: await named('blue') });
  lb.register({ id: 'g1', port: await named('green') }, 'green');
  const l = lb;
  await eventually(() => (l.targets().every((t) => t.state === 'healthy') ? true : undefined), 5000);
  return lb;
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const res = await request(url, { dispatcher: agent, headers, headersTimeout: 5000, bodyTimeout: 5000 });
  return { status: res.statusCode, text: await res.body.text() };
}

async function names(url: string, n: number, headers: Record<string, string> = {}): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await get(url, headers)).text);
  return out;
}

const count = (list: string[], value: string) => list.filter((x) => x === value).length;
const stats = (l: LoadBalancer, tg: string) => l.status().targetGroups.find((t) => t.name === tg);

describe('the local ALB model', () => {
  it('starts every rule at blue 100 / green 0: production and test listeners serve blue only', async () => {
    const l = await blueGreen();
    expect(count(await names(l.url, 10), 'blue')).toBe(10);
    expect(count(await names(l.testUrl, 10), 'blue')).toBe(10);
    expect(l.rules('production')).toEqual([
      {
        arn: l.defaultRule('production'),
        priority: 'default',
        conditions: [],
        forward: [
          { targetGroup: 'blue', weight: 100 },
          { targetGroup: 'green', weight: 0 },
        ],
      },
    ]);
  });

  it('splits production traffic by the forward weights: 10% to green is 30 of 300 sequential requests', async () => {
    const l = await blueGreen();
    l.setWeights(l.defaultRule('production'), { blue: 90, green: 10 });
    const got = await names(l.url, 300);
    expect(count(got, 'green')).toBe(30);
    expect(count(got, 'blue')).toBe(270);
  });

  it('moves the test listener to green on its own, leaving production on blue', async () => {
    const l = await blueGreen();
    l.setWeights(l.defaultRule('test'), { blue: 0, green: 100 });
    expect(count(await names(l.testUrl, 10), 'green')).toBe(10);
    expect(count(await names(l.url, 10), 'blue')).toBe(10);
  });

  it('routes requests that carry the header of a header rule to its target group (x-canary: 1 -> green)', async () => {
    const l = await blueGreen();
    const rule = l.createRule('production', {
      priority: 1,
      conditions: [{ httpHeaderName: 'X-Canary', values: ['1'] }],
      forward: [{ targetGroup: 'green', weight: 1 }],
    });
    expect(count(await names(l.url, 10, { 'x-canary': '1' }), 'green')).toBe(10);
    expect(count(await names(l.url, 10, { 'x-canary': '0' }), 'blue')).toBe(10);
    expect(count(await names(l.url, 10), 'blue')).toBe(10);
    l.deleteRule(rule.arn);
    expect(count(await names(l.url, 10, { 'x-canary': '1' }), 'blue')).toBe(10);
  });

  it('accepts target groups by ARN, and rejects bad changes with an error naming what is wrong', async () => {
    const l = await blueGreen();
    const green = l.targetGroup('green').arn;
    l.modifyRule(l.defaultRule('production'), { forward: [{ targetGroup: green, weight: 100 }] });
    expect(count(await names(l.url, 5), 'green')).toBe(5);
    expect(() => l.setWeights(l.defaultRule('production'), { blue: 1000 })).toThrow(
      'weight of target group blue must be an integer from 0 to 999, got 1000',
    );
    expect(() => l.setWeights('arn:nope', { blue: 1 })).toThrow('unknown listener rule arn:nope: expected one of');
    expect(() => l.setWeights(l.defaultRule('test'), { red: 1 })).toThrow('unknown target group red');
    expect(() =>
      l.createRule('test', { priority: 0, conditions: [{ httpHeaderName: 'x', values: ['1'] }], forward: [] }),
    ).toThrow('rule priority must be an integer from 1 to 50000, got 0');
    expect(() => l.deleteRule(l.defaultRule('test'))).toThrow('cannot delete the default rule');
    // A rejected change leaves the rule as it was.
    expect(count(await names(l.url, 5), 'green')).toBe(5);
  });

  it('answers 503 when every weight of the matched rule is 0', async () => {
    const l = await blueGreen();
    l.setWeights(l.defaultRule('production'), { blue: 0, green: 0 });
    expect((await get(l.url)).status).toBe(503);
  });

  it('counts requests, errors and latency per target group, the same through status() and the admin endpoint', async () => {
    const l = await blueGreen();
    l.setWeights(l.defaultRule('production'), { blue: 50, green: 50 });
    await names(l.url, 20);
    for (let i = 0; i < 4; i++) await get(`${l.url}/fail`);
    // A green target that is not listening: connection failures are errors too (the client gets 502).
    const gone = await named('gone');
    const server = servers.pop();
    await new Promise((resolve) => server?.close(resolve));
    await l.deregister('g1');
    l.register({ id: 'g2', port: gone }, 'green');
    for (let i = 0; i < 4; i++) await get(l.url);
    const blue = stats(l, 'blue');
    const green = stats(l, 'green');
    expect(blue).toMatchObject({ requests: 14, errors: 2, statusCodes: { '200': 12, '500': 2 } });
    expect(green).toMatchObject({ requests: 14, errors: 4, statusCodes: { '200': 10, '500': 2, '502': 2 } });
    expect(blue?.latencyMs.max).toBeGreaterThan(0);
    expect(blue?.histogram.length).toBeGreaterThan(0);
    const viaAdmin = JSON.parse((await get(l.adminUrl)).text) as LoadBalancerStatus;
    // Health checks go on (targets' lastCheck moves): compare what was served, listeners and counters.
    const counters = (s: LoadBalancerStatus) => ({
      listeners: s.listeners,
      targetGroups: s.targetGroups.map(({ targets, ...rest }) => ({ ...rest, targets: targets.map((t) => t.id) })),
    });
    expect(counters(viaAdmin)).toEqual(counters(l.status()));
    expect(viaAdmin.listeners.map((x) => x.url)).toEqual([l.url, l.testUrl]);
  });

  it('flips production back to blue under a 10 ms client with 0 failed requests, then green answers none', async () => {
    const l = await blueGreen();
    const rule = l.defaultRule('production');
    l.setWeights(rule, { blue: 90, green: 10 });
    const served: string[] = [];
    const failures: string[] = [];
    let polling = true;
    const loop = (async () => {
      while (polling) {
        const res = await get(l.url).catch((e: Error) => ({ status: 0, text: e.message }));
        if (res.status === 200) served.push(res.text);
        else failures.push(`${res.status} ${res.text}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    await eventually(() => (count(served, 'green') >= 3 ? true : undefined), 10_000);
    l.setWeights(rule, { blue: 100, green: 0 });
    const flippedAt = served.length;
    await l.deregister('g1');
    await eventually(() => (served.length >= flippedAt + 30 ? true : undefined), 10_000);
    polling = false;
    await loop;
    expect(failures).toEqual([]);
    expect(count(served.slice(flippedAt), 'green')).toBe(0);
  });
});
