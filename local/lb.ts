/**
 * The local stand-in for an Application Load Balancer in front of one service: a reverse proxy on 127.0.0.1 that
 * round-robins over registered targets passing its health check, fails open when none pass, and drains a target on
 * deregistration. ECS (local/ecs) registers a task when it runs and deregisters it before stopping it.
 */
import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'undici';

/** ALB target states, minus `unused`/`unavailable`. */
export type TargetState = 'initial' | 'healthy' | 'unhealthy' | 'draining';

export interface TargetInfo {
  id: string;
  host: string;
  port: number;
  state: TargetState;
  /** Requests proxied to it and not finished. */
  inFlight: number;
  /** Outcome of the last health check: the status code, or the error. */
  lastCheck?: { status?: number; error?: string; at: number };
}

export interface LoadBalancerOptions {
  /** For log lines. */
  name?: string;
  /** Port on 127.0.0.1; 0 picks a free one. */
  port: number;
  host?: string;
  /** GET path of the target health check, e.g. `/health`. A 2xx answer is a success. */
  healthCheckPath: string;
  /** Between the end of one check and the start of the next, per target. Default 500. */
  healthCheckIntervalMs?: number;
  /** Per check. Default 1000. */
  healthCheckTimeoutMs?: number;
  /** Consecutive successes to become healthy. Default 2. */
  healthyThreshold?: number;
  /** Consecutive failures to become unhealthy. Default 2. */
  unhealthyThreshold?: number;
  /** Upper bound on waiting for a deregistered target's in-flight requests. Default 5000 (an ALB's is 300 s). */
  deregistrationDelayMs?: number;
  /** Upstream headers and body timeout per request. Default 60000 (an ALB's idle timeout). */
  requestTimeoutMs?: number;
  log?: (line: string) => void;
}

interface Target {
  id: string;
  host: string;
  port: number;
  pool: Pool;
  state: TargetState;
  inFlight: number;
  okStreak: number;
  failStreak: number;
  lastCheck?: { status?: number; error?: string; at: number };
  timer?: NodeJS.Timeout;
  /** Resolves the drain wait when inFlight drops to 0. */
  onIdle?: () => void;
}

// RFC 9110 7.6.1: never forwarded; plus the names listed in Connection.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

function stripHopByHop(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const listed = new Set<string>();
  const connection = headers.connection;
  for (const value of Array.isArray(connection) ? connection : connection === undefined ? [] : [connection]) {
    for (const name of value.split(',')) listed.add(name.trim().toLowerCase());
  }
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(lower) || listed.has(lower)) continue;
    out[lower] = value;
  }
  return out;
}

export class LoadBalancer {
  readonly name: string;
  readonly host: string;
  readonly #server: Server;
  readonly #targets = new Map<string, Target>();
  readonly #options: Required<Omit<LoadBalancerOptions, 'log' | 'name' | 'host' | 'port'>>;
  readonly #log: (line: string) => void;
  #next = 0;
  #closed = false;

  private constructor(server: Server, options: LoadBalancerOptions) {
    this.#server = server;
    this.name = options.name ?? 'lb';
    this.host = options.host ?? '127.0.0.1';
    this.#log = options.log ?? (() => undefined);
    this.#options = {
      healthCheckPath: options.healthCheckPath,
      healthCheckIntervalMs: options.healthCheckIntervalMs ?? 500,
      healthCheckTimeoutMs: options.healthCheckTimeoutMs ?? 1000,
      healthyThreshold: options.healthyThreshold ?? 2,
      unhealthyThreshold: options.unhealthyThreshold ?? 2,
      deregistrationDelayMs: options.deregistrationDelayMs ?? 5000,
      requestTimeoutMs: options.requestTimeoutMs ?? 60_000,
    };
  }

  /** Starts listening; rejects (e.g. EADDRINUSE) when the port cannot be bound. */
  static async start(options: LoadBalancerOptions): Promise<LoadBalancer> {
    const server = createServer();
    const lb = new LoadBalancer(server, options);
    server.keepAliveTimeout = 60_000;
    server.on('request', (req, res) => lb.#handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, lb.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return lb;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  /** Adds a target in state `initial` and starts its health checks (the first one right away). Idempotent by id. */
  register(target: { id: string; host?: string; port: number }): void {
    if (this.#closed || this.#targets.has(target.id)) return;
    const host = target.host ?? '127.0.0.1';
    const t: Target = {
      id: target.id,
      host,
      port: target.port,
      pool: new Pool(`http://${host}:${target.port}`, { connections: 64, pipelining: 1 }),
      state: 'initial',
      inFlight: 0,
      okStreak: 0,
      failStreak: 0,
    };
    this.#targets.set(t.id, t);
    this.#log(`${this.name}: registered target ${t.id} (${host}:${t.port})`);
    void this.#check(t);
  }

  /**
   * Stops routing new requests to the target, waits for its in-flight requests (at most the deregistration delay),
   * then forgets it. Resolves when the target can be stopped.
   */
  async deregister(id: string): Promise<void> {
    const t = this.#targets.get(id);
    if (t === undefined || t.state === 'draining') return;
    t.state = 'draining';
    clearTimeout(t.timer);
    this.#log(`${this.name}: draining target ${id} (${t.inFlight} in flight)`);
    if (t.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#options.deregistrationDelayMs);
        t.onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.#targets.delete(id);
    await t.pool.destroy().catch(() => undefined);
    this.#log(`${this.name}: deregistered target ${id}`);
  }

  targets(): TargetInfo[] {
    return [...this.#targets.values()].map((t) => ({
      id: t.id,
      host: t.host,
      port: t.port,
      state: t.state,
      inFlight: t.inFlight,
      ...(t.lastCheck === undefined ? {} : { lastCheck: t.lastCheck }),
    }));
  }

  /** Stops health checks, closes every connection and the listener. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    for (const t of this.#targets.values()) {
      clearTimeout(t.timer);
      t.onIdle?.();
    }
    await Promise.all([...this.#targets.values()].map((t) => t.pool.destroy().catch(() => undefined)));
    this.#targets.clear();
    await closed;
  }

  #pick(): Target | undefined {
    const routable = [...this.#targets.values()].filter((t) => t.state !== 'draining');
    const healthy = routable.filter((t) => t.state === 'healthy');
    // Like an ALB: with no healthy target, fail open and route to every registered one.
    const candidates = healthy.length > 0 ? healthy : routable;
    if (candidates.length === 0) return undefined;
    this.#next = (this.#next + 1) % candidates.length;
    return candidates[this.#next];
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const target = this.#pick();
    if (target === undefined) {
      res.writeHead(503, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
      res.end('503 Service Temporarily Unavailable: no registered targets\n');
      return;
    }
    // Counted synchronously with the pick, so a drain that starts now waits for this request.
    target.inFlight++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      target.inFlight--;
      if (target.inFlight === 0) target.onIdle?.();
    };
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
      release();
    });
    void this.#forward(target, req, res, abort.signal).finally(release);
  }

  async #forward(target: Target, req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const headers = stripHopByHop(req.headers);
    const clientIp = req.socket.remoteAddress ?? '';
    const prior = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = prior === undefined ? clientIp : `${String(prior)}, ${clientIp}`;
    headers['x-forwarded-proto'] = 'http';
    headers['x-forwarded-port'] = String(this.port);
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    try {
      const upstream = await target.pool.request({
        method: (req.method ?? 'GET') as 'GET',
        path: req.url ?? '/',
        headers,
        body: hasBody ? req : null,
        signal,
        headersTimeout: this.#options.requestTimeoutMs,
        bodyTimeout: this.#options.requestTimeoutMs,
      });
      res.writeHead(upstream.statusCode, stripHopByHop(upstream.headers) as OutgoingHttpHeaders);
      await pipeline(upstream.body, res);
    } catch (error) {
      if (signal.aborted) return;
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
        res.end('502 Bad Gateway\n');
      } else {
        // The status line is out: cut the connection so the client sees a broken response, not a short one.
        res.destroy(error as Error);
      }
    }
  }

  async #check(t: Target): Promise<void> {
    if (this.#closed || t.state === 'draining') return;
    const { healthCheckPath, healthCheckTimeoutMs } = this.#options;
    let ok = false;
    try {
      const response = await t.pool.request({
        method: 'GET',
        path: healthCheckPath,
        headers: { 'user-agent': 'ELB-HealthChecker/2.0' },
        signal: AbortSignal.timeout(healthCheckTimeoutMs),
        headersTimeout: healthCheckTimeoutMs,
        bodyTimeout: healthCheckTimeoutMs,
      });
      await response.body.dump();
      ok = response.statusCode >= 200 && response.statusCode < 300;
      t.lastCheck = { status: response.statusCode, at: Date.now() };
    } catch (error) {
      t.lastCheck = { error: (error as Error).message, at: Date.now() };
    }
    if (this.#closed || isDraining(t) || !this.#targets.has(t.id)) return;
    if (ok) {
      t.okStreak++;
      t.failStreak = 0;
      if (t.state !== 'healthy' && t.okStreak >= this.#options.healthyThreshold) this.#transition(t, 'healthy');
    } else {
      t.failStreak++;
      t.okStreak = 0;
      if (t.state !== 'unhealthy' && t.failStreak >= this.#options.unhealthyThreshold) this.#transition(t, 'unhealthy');
    }
    t.timer = setTimeout(() => void this.#check(t), this.#options.healthCheckIntervalMs);
  }

  #transition(t: Target, state: TargetState): void {
    this.#log(`${this.name}: target ${t.id} ${t.state} -> ${state}`);
    t.state = state;
  }
}

/** Read through a function: deregister() changes the state while a health check awaits. */
function isDraining(t: Target): boolean {
  return t.state === 'draining';
}

/** Starts a load balancer; see {@link LoadBalancerOptions}. */
export function startLoadBalancer(options: LoadBalancerOptions): Promise<LoadBalancer> {
  return LoadBalancer.start(options);
}
