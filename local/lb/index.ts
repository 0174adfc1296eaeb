/**
 * The local stand-in for an Application Load Balancer in front of one service, modelled on an ALB as ECS blue/green
 * uses it: a production listener and a test listener (each a reverse proxy on its own 127.0.0.1 port), two target
 * groups (`blue`, `green`) with health checks and draining, and listener rules whose forward actions carry weights
 * over the target groups, optionally behind `http-header` conditions. Each target group counts requests, errors and
 * latency; `status()` and the admin endpoint (`adminUrl`, GET, JSON) report them.
 *
 * With the defaults (every rule at blue 100 / green 0, no header rule) it is a round-robin proxy over blue's healthy
 * targets, as the local cloud always had. The local ECS engine moves the weights (`setWeights` / `modifyRule`);
 * rollgate's own code never does. ECS (local/ecs) registers a task when it runs and deregisters it before stopping it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerFromLoadBalancer, forward } from './proxy.ts';
import {
  type HttpHeaderCondition,
  type ListenerRule,
  matchRule,
  validateForward,
  WeightedChooser,
  type WeightedTargetGroup,
} from './routing.ts';
import { TargetGroup, type TargetGroupStats, type TargetInfo } from './target-group.ts';

export type { HttpHeaderCondition, ListenerRule, WeightedTargetGroup } from './routing.ts';
export type { TargetGroupStats, TargetInfo, TargetState } from './target-group.ts';

export type ListenerName = 'production' | 'test';

export interface LoadBalancerOptions {
  /** For log lines and ARNs. */
  name?: string;
  /** Port of the production listener on 127.0.0.1; 0 picks a free one. */
  port: number;
  /** Port of the test listener; default 0 (a free one). */
  testPort?: number;
  /** Port of the admin (status) endpoint; default 0 (a free one). */
  adminPort?: number;
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
  /** Start of the ARNs of the listeners and rules (`arn:aws:elasticloadbalancing:<region>:<account>`). */
  arnPrefix?: string;
  /** ARNs of the two target groups (e.g. the service's `targetGroupArn` and `alternateTargetGroupArn`). */
  targetGroupArns?: { blue?: string; green?: string };
  log?: (line: string) => void;
}

/** A listener as `status()` reports it. */
export interface ListenerInfo {
  name: ListenerName;
  arn: string;
  url: string;
  /** By priority, the default rule last. */
  rules: ListenerRule[];
}

/** The admin endpoint's JSON. */
export interface LoadBalancerStatus {
  name: string;
  listeners: ListenerInfo[];
  targetGroups: TargetGroupStats[];
}

/** A rule to add with {@link LoadBalancer.createRule}: its header conditions and weighted forward action. */
export interface RuleSpec {
  priority: number;
  conditions: HttpHeaderCondition[];
  forward: WeightedTargetGroup[];
  arn?: string;
}

interface Listener {
  name: ListenerName;
  arn: string;
  server: Server;
  rules: Map<string, { rule: ListenerRule; chooser: WeightedChooser }>;
}

const ACCOUNT = 'arn:aws:elasticloadbalancing:us-east-1:000000000000';

async function listen(server: Server, port: number, host: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}

export class LoadBalancer {
  readonly name: string;
  readonly host: string;
  readonly #listeners: Listener[] = [];
  readonly #targetGroups: TargetGroup[];
  readonly #admin: Server;
  readonly #requestTimeoutMs: number;
  readonly #log: (line: string) => void;
  readonly #arnPrefix: string;
  #closed = false;

  private constructor(options: LoadBalancerOptions) {
    this.name = options.name ?? 'lb';
    this.host = options.host ?? '127.0.0.1';
    this.#log = options.log ?? (() => undefined);
    const prefix = options.arnPrefix ?? ACCOUNT;
    this.#arnPrefix = prefix;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
    const settings = {
      healthCheckPath: options.healthCheckPath,
      healthCheckIntervalMs: options.healthCheckIntervalMs ?? 500,
      healthCheckTimeoutMs: options.healthCheckTimeoutMs ?? 1000,
      healthyThreshold: options.healthyThreshold ?? 2,
      unhealthyThreshold: options.unhealthyThreshold ?? 2,
      deregistrationDelayMs: options.deregistrationDelayMs ?? 5000,
    };
    const slug = this.name.replace(/[^A-Za-z0-9-]+/g, '-');
    const log = (line: string) => this.#log(`${this.name} ${line}`);
    this.#targetGroups = (['blue', 'green'] as const).map(
      (tg) =>
        new TargetGroup(
          tg,
          options.targetGroupArns?.[tg] ?? `${prefix}:targetgroup/${slug}-${tg}/local`,
          settings,
          log,
        ),
    );
    this.#admin = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(this.status()));
    });
    for (const name of ['production', 'test'] as const) {
      const arn = `${prefix}:listener/app/${slug}/local/${name}`;
      const server = createServer();
      server.keepAliveTimeout = 60_000;
      const listener: Listener = { name, arn, server, rules: new Map() };
      server.on('request', (req, res) => this.#handle(listener, req, res));
      this.#listeners.push(listener);
      this.#addRule(listener, {
        arn: `${prefix}:listener-rule/app/${slug}/local/${name}/default`,
        priority: 'default',
        conditions: [],
        forward: [
          { targetGroup: 'blue', weight: 100 },
          { targetGroup: 'green', weight: 0 },
        ],
      });
    }
  }

  /** Starts the listeners and the admin endpoint; rejects (e.g. EADDRINUSE) when a port cannot be bound. */
  static async start(options: LoadBalancerOptions): Promise<LoadBalancer> {
    const lb = new LoadBalancer(options);
    const ports = [options.port, options.testPort ?? 0];
    try {
      for (const [i, listener] of lb.#listeners.entries()) await listen(listener.server, ports[i] ?? 0, lb.host);
      await listen(lb.#admin, options.adminPort ?? 0, lb.host);
    } catch (error) {
      await lb.close();
      throw error;
    }
    return lb;
  }

  /** Port of the production listener. */
  get port(): number {
    return this.#portOf(this.#listener('production').server);
  }

  /** URL of the production listener. */
  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  /** URL of the test listener. */
  get testUrl(): string {
    return `http://${this.host}:${this.#portOf(this.#listener('test').server)}`;
  }

  /** URL of the admin endpoint: any GET answers {@link LoadBalancerStatus} as JSON. */
  get adminUrl(): string {
    return `http://${this.host}:${this.#portOf(this.#admin)}`;
  }

  /** The target group by name (`blue`, `green`) or ARN; throws naming the known ones. */
  targetGroup(nameOrArn: string): TargetGroup {
    const tg = this.#targetGroups.find((t) => t.name === nameOrArn || t.arn === nameOrArn);
    if (tg === undefined) {
      throw new Error(
        `unknown target group ${nameOrArn}: expected one of ${this.#targetGroups.map((t) => `${t.name} (${t.arn})`).join(', ')}`,
      );
    }
    return tg;
  }

  /** Registers a target in a target group (blue by default). Idempotent by id. */
  register(target: { id: string; host?: string; port: number }, targetGroup = 'blue'): void {
    if (this.#closed) return;
    this.targetGroup(targetGroup).register(target);
  }

  /**
   * Stops routing new requests to the target (in whichever target group has it), waits for its in-flight requests
   * (at most the deregistration delay), then forgets it. Resolves when the target can be stopped.
   */
  async deregister(id: string): Promise<void> {
    await this.#targetGroups.find((t) => t.has(id))?.deregister(id);
  }

  /** Every registered target, of both target groups. */
  targets(): TargetInfo[] {
    return this.#targetGroups.flatMap((t) => t.targets());
  }

  /** The rules of a listener, by priority, the default rule last. */
  rules(listener: ListenerName): ListenerRule[] {
    return [...this.#listener(listener).rules.values()]
      .map(({ rule }) => structuredClone(rule))
      .sort((a, b) => (a.priority === 'default' ? 1 : b.priority === 'default' ? -1 : a.priority - b.priority));
  }

  /** Adds a rule with header conditions to a listener (ELBv2 CreateRule). */
  createRule(listener: ListenerName, spec: RuleSpec): ListenerRule {
    const l = this.#listener(listener);
    if (!Number.isInteger(spec.priority) || spec.priority < 1 || spec.priority > 50_000) {
      throw new Error(`rule priority must be an integer from 1 to 50000, got ${spec.priority}`);
    }
    if ([...l.rules.values()].some(({ rule }) => rule.priority === spec.priority)) {
      throw new Error(`listener ${listener} already has a rule with priority ${spec.priority}`);
    }
    if (spec.conditions.length === 0) throw new Error('a rule needs at least one condition, got none');
    for (const c of spec.conditions) {
      if (c.httpHeaderName.length === 0 || c.values.length === 0) {
        throw new Error(
          `an http-header condition needs a header name and at least one value, got ${JSON.stringify(c)}`,
        );
      }
    }
    const slug = this.name.replace(/[^A-Za-z0-9-]+/g, '-');
    const rule: ListenerRule = {
      arn: spec.arn ?? `${this.#arnPrefix}:listener-rule/app/${slug}/local/${listener}/${spec.priority}`,
      priority: spec.priority,
      conditions: structuredClone(spec.conditions),
      forward: this.#resolveForward(spec.forward),
    };
    this.#addRule(l, rule);
    return structuredClone(rule);
  }

  /** Removes a rule that is not a default rule (ELBv2 DeleteRule). */
  deleteRule(ruleArn: string): void {
    const { listener, entry } = this.#rule(ruleArn);
    if (entry.rule.priority === 'default') throw new Error(`cannot delete the default rule ${ruleArn}`);
    listener.rules.delete(ruleArn);
  }

  /**
   * Changes a rule's forward action and/or its conditions (ELBv2 ModifyRule). Takes effect for the next request;
   * the weighted choice starts a new cycle.
   */
  modifyRule(ruleArn: string, change: { forward?: WeightedTargetGroup[]; conditions?: HttpHeaderCondition[] }): void {
    const { entry } = this.#rule(ruleArn);
    const forwardTo = change.forward === undefined ? entry.rule.forward : this.#resolveForward(change.forward);
    if (change.conditions !== undefined && entry.rule.priority === 'default' && change.conditions.length > 0) {
      throw new Error(`the default rule ${ruleArn} cannot have conditions`);
    }
    entry.rule.forward = forwardTo;
    if (change.conditions !== undefined) entry.rule.conditions = structuredClone(change.conditions);
    entry.chooser.reset(forwardTo);
    this.#log(
      `${this.name}: rule ${ruleArn} forwards ${forwardTo.map((f) => `${f.targetGroup}=${f.weight}`).join(' ')}`,
    );
  }

  /** Sets a rule's weights by target group name or ARN, e.g. `{ blue: 90, green: 10 }`. */
  setWeights(ruleArn: string, weights: Readonly<Record<string, number>>): void {
    this.modifyRule(ruleArn, {
      forward: Object.entries(weights).map(([targetGroup, weight]) => ({ targetGroup, weight })),
    });
  }

  /** The ARN of a listener's default rule. */
  defaultRule(listener: ListenerName): string {
    const found = [...this.#listener(listener).rules.values()].find(({ rule }) => rule.priority === 'default');
    return (found as { rule: ListenerRule }).rule.arn;
  }

  /** Listeners with their rules, and each target group's counters and targets: what the admin endpoint answers. */
  status(): LoadBalancerStatus {
    return {
      name: this.name,
      listeners: this.#listeners.map((l) => ({
        name: l.name,
        arn: l.arn,
        url: `http://${this.host}:${this.#portOf(l.server)}`,
        rules: this.rules(l.name),
      })),
      targetGroups: this.#targetGroups.map((t) => t.stats()),
    };
  }

  /** Stops health checks, closes every connection, the listeners and the admin endpoint. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([
      ...this.#listeners.map((l) => (l.server.listening ? closeServer(l.server) : undefined)),
      this.#admin.listening ? closeServer(this.#admin) : undefined,
      ...this.#targetGroups.map((t) => t.close()),
    ]);
  }

  #portOf(server: Server): number {
    return (server.address() as AddressInfo).port;
  }

  #listener(name: ListenerName): Listener {
    const l = this.#listeners.find((x) => x.name === name);
    if (l === undefined) throw new Error(`unknown listener ${String(name)}: expected production or test`);
    return l;
  }

  #rule(ruleArn: string): { listener: Listener; entry: { rule: ListenerRule; chooser: WeightedChooser } } {
    for (const listener of this.#listeners) {
      const entry = listener.rules.get(ruleArn);
      if (entry !== undefined) return { listener, entry };
    }
    throw new Error(
      `unknown listener rule ${ruleArn}: expected one of ${this.#listeners.flatMap((l) => [...l.rules.keys()]).join(', ')}`,
    );
  }

  /** Validates a forward action and names its target groups by name (ARNs accepted). */
  #resolveForward(forwardTo: readonly WeightedTargetGroup[]): WeightedTargetGroup[] {
    const resolved = forwardTo.map((f) => ({ targetGroup: this.targetGroup(f.targetGroup).name, weight: f.weight }));
    validateForward(resolved, new Set(this.#targetGroups.map((t) => t.name)));
    return resolved;
  }

  #addRule(listener: Listener, rule: ListenerRule): void {
    listener.rules.set(rule.arn, { rule, chooser: new WeightedChooser(rule.forward) });
  }

  #handle(listener: Listener, req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const rule = matchRule(
      [...listener.rules.values()].map((e) => e.rule),
      req.headers,
    );
    const name = rule === undefined ? undefined : listener.rules.get(rule.arn)?.chooser.next();
    if (name === undefined) {
      answerFromLoadBalancer(res, 503, '503 Service Temporarily Unavailable: no target group with a weight above 0');
      return;
    }
    const tg = this.targetGroup(name);
    const target = tg.pick();
    if (target === undefined) {
      answerFromLoadBalancer(res, 503, '503 Service Temporarily Unavailable: no registered targets');
      tg.record(503, performance.now() - started);
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
    void forward(target, req, res, {
      signal: abort.signal,
      listenerPort: this.#portOf(listener.server),
      requestTimeoutMs: this.#requestTimeoutMs,
    })
      .then((outcome) => tg.record(outcome, performance.now() - started))
      .finally(release);
  }
}

/** Starts a load balancer; see {@link LoadBalancerOptions}. */
export function startLoadBalancer(options: LoadBalancerOptions): Promise<LoadBalancer> {
  return LoadBalancer.start(options);
}
