import { z } from 'zod';

/**
 * Progressive delivery (a target's `strategy` and its settings): ECS's own BLUE_GREEN / CANARY / LINEAR deployments,
 * with rollgate's state machine judging every gate through an ECS lifecycle hook. `rolling` (the default) is the
 * rolling update of old, untouched by everything here.
 */

/** The strategies a target may name, and the ECS `deploymentConfiguration.strategy` each one is. */
export const STRATEGIES = {
  rolling: 'ROLLING',
  'blue-green': 'BLUE_GREEN',
  canary: 'CANARY',
  linear: 'LINEAR',
} as const;
export type Strategy = keyof typeof STRATEGIES;

/** ECS's longest bake (minutes): `bakeTimeInMinutes`, `canaryBakeTimeInMinutes`, `stepBakeTimeInMinutes`. */
const MAX_BAKE_MINUTES = 1440;
const bakeMinutes = z.number().int().min(0).max(MAX_BAKE_MINUTES);

/** A traffic share as ECS takes it: a multiple of 0.1 from `min` to `max`. */
function tenths(min: number, max: number) {
  return z
    .number()
    .min(min)
    .max(max)
    .refine((v) => Math.abs(Math.round(v * 10) - v * 10) < 1e-9, {
      message: `expected a multiple of 0.1 from ${min} to ${max}`,
    });
}

/** `canary`: the share of production traffic the new version gets first, and how long that lasts. */
export const canarySchema = z
  .object({
    /** Percent of production traffic to the new version during the canary step (ECS: 0.1 to 100, default 5). */
    percent: tenths(0.1, 100).default(5),
    /** Minutes the canary step lasts before the rest of the traffic shifts (ECS default 10). */
    bakeMinutes: bakeMinutes.default(10),
  })
  .strict();

/** `linear`: equal steps of production traffic, each baked before the next. */
export const linearSchema = z
  .object({
    /** Percent of production traffic each step adds (ECS: 3 to 100, default 10). */
    stepPercent: tenths(3, 100).default(10),
    /** Minutes between steps (ECS default 6). */
    bakeMinutes: bakeMinutes.default(6),
  })
  .strict();

/** An HTTP header name as an ALB rule's http-header condition takes it: 1-40 token characters. */
const headerName = z
  .string()
  .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,40}$/, "an HTTP header name: 1-40 letters, digits or !#$%&'*+-.^_`|~");

/**
 * Where test traffic reaches the new version before production does: the test listener's URL (scheme, host and
 * port: the probes and the load test keep the paths of `health.url` and `load.url`), or a header that the production
 * listener's test rule routes to the new version, or both (then the URL is used, with the header).
 */
export const testRouteSchema = z
  .object({
    url: z
      .url({ protocol: /^https?$/, error: 'an http:// or https:// URL' })
      .max(2048, 'a URL of at most 2048 characters')
      .refine((u) => /^[a-z]+:\/\/[^/?#]+\/?$/i.test(u), {
        message: 'expected the test listener as scheme://host:port (the paths come from health.url and load.url)',
      })
      .exactOptional(),
    header: z
      .object({
        name: headerName,
        // an ALB http-header condition value: at most 128 characters
        value: z.string().min(1).max(128),
      })
      .strict()
      .exactOptional(),
  })
  .strict()
  .refine((r) => r.url !== undefined || r.header !== undefined, {
    message: 'expected url (the test listener) or header ({ name, value } on the production listener), or both',
  });

/** The fields a target's progressive delivery adds (spread into targetSchema). */
export const progressiveFields = {
  /** `rolling` (default: ECS rolling update), `blue-green`, `canary` or `linear` (ECS native, gated by rollgate). */
  strategy: z.enum(Object.keys(STRATEGIES) as [Strategy, ...Strategy[]]).default('rolling'),
  /** Minutes ECS keeps both versions up after all production traffic moved (`bakeTimeInMinutes`). */
  bakeMinutes: bakeMinutes.default(0),
  canary: canarySchema.exactOptional(),
  linear: linearSchema.exactOptional(),
  testRoute: testRouteSchema.exactOptional(),
  /**
   * How long the state machine waits for ECS to reach the next gate (AwaitGate's TimeoutSecondsPath): the step's bake
   * included, ECS reaches the next production step only after it.
   */
  gateTimeoutSeconds: z.number().int().min(1).max(86_400).default(900),
};

export type CanarySpec = z.output<typeof canarySchema>;
export type LinearSpec = z.output<typeof linearSchema>;
export type TestRoute = z.output<typeof testRouteSchema>;

/** What the checks below read of a target. */
export interface ProgressiveTarget {
  readonly strategy: Strategy;
  readonly bakeMinutes: number;
  readonly canary?: CanarySpec;
  readonly linear?: LinearSpec;
  readonly testRoute?: TestRoute;
  readonly gateTimeoutSeconds: number;
}

/** The canary / linear settings in effect (the section, or its defaults). */
export function canaryOf(t: ProgressiveTarget): CanarySpec {
  return t.canary ?? { percent: 5, bakeMinutes: 10 };
}
export function linearOf(t: ProgressiveTarget): LinearSpec {
  return t.linear ?? { stepPercent: 10, bakeMinutes: 6 };
}

/**
 * The gates an execution of the target waits at: the test gate (with a test route), then each production share.
 * Empty for `rolling`.
 */
export function gatesOf(t: ProgressiveTarget): { stage: 'test' | 'production'; percent: number }[] {
  if (t.strategy === 'rolling') return [];
  const gates: { stage: 'test' | 'production'; percent: number }[] = t.testRoute
    ? [{ stage: 'test', percent: 100 }]
    : [];
  for (const percent of productionShares(t)) gates.push({ stage: 'production', percent });
  return gates;
}

/** The production shares ECS steps through: canary [p, 100], linear [s, 2s, ..., 100], blue-green [100]. */
export function productionShares(t: ProgressiveTarget): number[] {
  if (t.strategy === 'canary') {
    const { percent } = canaryOf(t);
    return percent >= 100 ? [100] : [percent, 100];
  }
  if (t.strategy === 'linear') {
    const { stepPercent } = linearOf(t);
    const shares: number[] = [];
    for (let share = stepPercent; share < 100 - 1e-9; share = Math.round((share + stepPercent) * 10) / 10) {
      shares.push(share);
    }
    return [...shares, 100];
  }
  return [100];
}

/** Minutes ECS bakes each production step below 100% (canary, linear). */
export function stepBakeMinutes(t: ProgressiveTarget): number {
  return t.strategy === 'canary' ? canaryOf(t).bakeMinutes : t.strategy === 'linear' ? linearOf(t).bakeMinutes : 0;
}

/**
 * Seconds of bake the execution waits beyond its gates: the final bake (`bakeMinutes`, CheckRollout follows it). The
 * steps' bakes are inside the gates' waits (gateTimeoutSeconds covers them).
 */
export function bakeSeconds(t: ProgressiveTarget): number {
  return t.strategy === 'rolling' ? 0 : t.bakeMinutes * 60;
}

/** One problem with a target's progressive settings: the field (under the target) and what was expected. */
export interface ProgressiveIssue {
  readonly path: (string | number)[];
  readonly message: string;
}

/** What cannot work in a target's progressive settings (the time budget is checked with the rest, in schema.ts). */
export function progressiveIssues(t: ProgressiveTarget): ProgressiveIssue[] {
  const issues: ProgressiveIssue[] = [];
  if (t.strategy === 'blue-green' && !t.testRoute) {
    issues.push({
      path: ['testRoute'],
      message:
        'a test route for strategy blue-green (url of the test listener, or a header routed by the production listener): blue/green is judged on test traffic before any production request reaches the new version',
    });
  }
  if (t.canary && t.strategy !== 'canary') {
    issues.push({ path: ['canary'], message: `no canary section with strategy ${t.strategy} (it is for canary)` });
  }
  if (t.linear && t.strategy !== 'linear') {
    issues.push({ path: ['linear'], message: `no linear section with strategy ${t.strategy} (it is for linear)` });
  }
  const stepBake = stepBakeMinutes(t) * 60;
  if (stepBake > 0 && productionShares(t).length > 1 && t.gateTimeoutSeconds < stepBake + 60) {
    issues.push({
      path: ['gateTimeoutSeconds'],
      message: `at least ${stepBake + 60} s: ECS reaches the next gate only after the step's bake (${stepBake} s), plus a minute`,
    });
  }
  if (t.strategy === 'rolling') {
    if (t.testRoute) {
      issues.push({
        path: ['testRoute'],
        message: 'no testRoute with strategy rolling (a rolling update has no test traffic)',
      });
    }
    if (t.bakeMinutes > 0) {
      issues.push({
        path: ['bakeMinutes'],
        message: 'bakeMinutes 0 with strategy rolling (ECS bakes only blue-green, canary and linear)',
      });
    }
  }
  return issues;
}

/** One line for `rollgate validate`: `canary 10% for 5 min, then 100%; bake 2 min; test route header x-canary: 1; gates wait 600 s`. */
export function describeStrategy(t: ProgressiveTarget): string {
  if (t.strategy === 'rolling') return 'strategy rolling';
  const shares = productionShares(t);
  const stepBake = stepBakeMinutes(t);
  const steps = shares.length > 1 ? `${shares.slice(0, -1).join('%, ')}% (${stepBake} min each), then 100%` : '100%';
  const route = t.testRoute
    ? [t.testRoute.url, t.testRoute.header && `header ${t.testRoute.header.name}: ${t.testRoute.header.value}`]
        .filter(Boolean)
        .join(' + ')
    : 'none';
  return `strategy ${t.strategy}: ${steps}; bake ${t.bakeMinutes} min; test route ${route}; gates wait ${t.gateTimeoutSeconds} s`;
}

/** A target's progressive fields alone (Deploy and Rollback take them from `$.target`). */
export const deliverySchema = z.object(progressiveFields);

/** What the local cloud's service declares as its test route (`local.clusters[].services[]`). */
export interface LocalTestRoute {
  readonly testListenerPort?: number | undefined;
  readonly testHeader?: { readonly name: string; readonly value: string } | undefined;
}

/**
 * A target's test route against the local service it deploys to: what the target sends test traffic to must exist
 * on the local load balancer (the same header, the test listener's port).
 */
export function localRouteIssues(route: TestRoute | undefined, local: LocalTestRoute): ProgressiveIssue[] {
  const issues: ProgressiveIssue[] = [];
  if (route?.header) {
    const h = local.testHeader;
    if (!h || h.name.toLowerCase() !== route.header.name.toLowerCase() || h.value !== route.header.value) {
      issues.push({
        path: ['testRoute', 'header'],
        message: `the local service's testHeader (${h ? `${h.name}: ${h.value}` : 'none'}): the local load balancer routes test traffic by it`,
      });
    }
  }
  if (route?.url) {
    const port = Number(new URL(route.url).port || (route.url.startsWith('https') ? 443 : 80));
    if (local.testListenerPort !== port) {
      issues.push({
        path: ['testRoute', 'url'],
        message: `a URL on the local service's testListenerPort (${local.testListenerPort ?? 'none'}): the local test listener`,
      });
    }
  }
  return issues;
}
