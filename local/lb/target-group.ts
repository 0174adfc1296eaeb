/**
 * One target group of the local ALB: its registered targets, their health checks, draining on deregistration, the
 * round-robin pick over healthy targets (fail open when none is healthy), and its request / error / latency counters.
 */
import type { Histogram } from 'hdr-histogram-js';
import { Pool } from 'undici';
import { createHistogram, encodeHistogram, percentilesMs, recordMs } from '../../loadgen/histograms.ts';
import type { PercentilesMs } from '../../loadgen/types.ts';

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
  /** Name of the target group it is registered in. */
  targetGroup: string;
}

/** Health check and draining settings of a target group. */
export interface TargetGroupSettings {
  /** GET path of the target health check, e.g. `/health`. A 2xx answer is a success. */
  healthCheckPath: string;
  /** Between the end of one check and the start of the next, per target. */
  healthCheckIntervalMs: number;
  /** Per check. */
  healthCheckTimeoutMs: number;
  /** Consecutive successes to become healthy. */
  healthyThreshold: number;
  /** Consecutive failures to become unhealthy. */
  unhealthyThreshold: number;
  /** Upper bound on waiting for a deregistered target's in-flight requests. */
  deregistrationDelayMs: number;
}

/** What a target group has served since it was created, as the status endpoint reports it. */
export interface TargetGroupStats {
  name: string;
  arn: string;
  /** Requests routed to it, answered or not. */
  requests: number;
  /** 5xx answers (its targets' or the load balancer's 502/503) and connection failures. */
  errors: number;
  /** Answers by status code, plus `failed` (cut mid-body) and `aborted` (the client went away). */
  statusCodes: Record<string, number>;
  /** From routing to the end of the answer, as seen by the load balancer. */
  latencyMs: PercentilesMs;
  /** The latency HdrHistogram (integer microseconds), compressed base64, as loadgen's reports encode theirs. */
  histogram: string;
  targets: TargetInfo[];
}

export interface Target {
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

/** What became of a routed request: the status the client got, a cut answer, or a client that went away. */
export type RequestOutcome = number | 'failed' | 'aborted';

export class TargetGroup {
  readonly #targets = new Map<string, Target>();
  readonly #histogram: Histogram = createHistogram();
  readonly #statusCodes = new Map<string, number>();
  #requests = 0;
  #errors = 0;
  #next = 0;
  #closed = false;

  constructor(
    readonly name: string,
    readonly arn: string,
    readonly settings: TargetGroupSettings,
    readonly log: (line: string) => void,
  ) {}

  has(id: string): boolean {
    return this.#targets.has(id);
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
    this.log(`${this.name}: registered target ${t.id} (${host}:${t.port})`);
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
    this.log(`${this.name}: draining target ${id} (${t.inFlight} in flight)`);
    if (t.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.settings.deregistrationDelayMs);
        t.onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.#targets.delete(id);
    await t.pool.destroy().catch(() => undefined);
    this.log(`${this.name}: deregistered target ${id}`);
  }

  targets(): TargetInfo[] {
    return [...this.#targets.values()].map((t) => ({
      id: t.id,
      host: t.host,
      port: t.port,
      state: t.state,
      inFlight: t.inFlight,
      ...(t.lastCheck === undefined ? {} : { lastCheck: t.lastCheck }),
      targetGroup: this.name,
    }));
  }

  /** Round robin over healthy targets; like an ALB, with no healthy target it fails open to every registered one. */
  pick(): Target | undefined {
    const routable = [...this.#targets.values()].filter((t) => t.state !== 'draining');
    const healthy = routable.filter((t) => t.state === 'healthy');
    const candidates = healthy.length > 0 ? healthy : routable;
    if (candidates.length === 0) return undefined;
    this.#next = (this.#next + 1) % candidates.length;
    return candidates[this.#next];
  }

  /** Counts one routed request: its outcome and its latency (a client that went away counts, but not as an error). */
  record(outcome: RequestOutcome, latencyMs: number): void {
    this.#requests++;
    if (outcome === 'failed' || (typeof outcome === 'number' && outcome >= 500)) this.#errors++;
    const key = String(outcome);
    this.#statusCodes.set(key, (this.#statusCodes.get(key) ?? 0) + 1);
    recordMs(this.#histogram, latencyMs);
  }

  stats(): TargetGroupStats {
    return {
      name: this.name,
      arn: this.arn,
      requests: this.#requests,
      errors: this.#errors,
      statusCodes: Object.fromEntries(this.#statusCodes),
      latencyMs: percentilesMs(this.#histogram),
      histogram: encodeHistogram(this.#histogram),
      targets: this.targets(),
    };
  }

  /** Stops health checks and closes every connection. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#targets.values()) {
      clearTimeout(t.timer);
      t.onIdle?.();
    }
    await Promise.all([...this.#targets.values()].map((t) => t.pool.destroy().catch(() => undefined)));
    this.#targets.clear();
  }

  async #check(t: Target): Promise<void> {
    if (this.#closed || t.state === 'draining') return;
    const { healthCheckPath, healthCheckTimeoutMs } = this.settings;
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
      if (t.state !== 'healthy' && t.okStreak >= this.settings.healthyThreshold) this.#transition(t, 'healthy');
    } else {
      t.failStreak++;
      t.okStreak = 0;
      if (t.state !== 'unhealthy' && t.failStreak >= this.settings.unhealthyThreshold) this.#transition(t, 'unhealthy');
    }
    t.timer = setTimeout(() => void this.#check(t), this.settings.healthCheckIntervalMs);
  }

  #transition(t: Target, state: TargetState): void {
    this.log(`${this.name}: target ${t.id} ${t.state} -> ${state}`);
    t.state = state;
  }
}

/** Read through a function: deregister() changes the state while a health check awaits. */
function isDraining(t: Target): boolean {
  return t.state === 'draining';
}
