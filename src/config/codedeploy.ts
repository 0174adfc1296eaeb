import { z } from 'zod';
import { deliverySchema, type ProgressiveIssue, type ProgressiveTarget } from './progressive.ts';

/**
 * Services on the CODE_DEPLOY deployment controller: ECS refuses UpdateService with a new task definition for them,
 * and every deploy is an AWS CodeDeploy deployment (CreateDeployment with an AppSpec). The target names the
 * CodeDeploy application, its deployment group and the deployment config; the traffic shifting is CodeDeploy's, the
 * gates are rollgate's (its hook Lambdas at the AppSpec lifecycle events the target lists).
 */

/**
 * The AppSpec lifecycle events rollgate can gate at, in the order CodeDeploy runs them for an ECS deployment (the
 * AppSpec reference's "Run order of hooks"): after test traffic reaches the replacement task set, before production
 * traffic moves, after all of it moved. (BeforeInstall and AfterInstall come before any traffic: nothing to judge.)
 */
export const CODEDEPLOY_GATE_EVENTS = ['AfterAllowTestTraffic', 'BeforeAllowTraffic', 'AfterAllowTraffic'] as const;
export type CodeDeployGateEvent = (typeof CODEDEPLOY_GATE_EVENTS)[number];

/**
 * CodeDeploy's predefined deployment configs for ECS and how each shifts production traffic: all at once, a canary
 * share then the rest after `minutes`, or equal steps every `minutes`.
 */
export const ECS_DEPLOYMENT_CONFIGS = {
  'CodeDeployDefault.ECSAllAtOnce': { type: 'AllAtOnce' },
  'CodeDeployDefault.ECSCanary10Percent5Minutes': { type: 'TimeBasedCanary', percent: 10, minutes: 5 },
  'CodeDeployDefault.ECSCanary10Percent15Minutes': { type: 'TimeBasedCanary', percent: 10, minutes: 15 },
  'CodeDeployDefault.ECSLinear10PercentEvery1Minutes': { type: 'TimeBasedLinear', percent: 10, minutes: 1 },
  'CodeDeployDefault.ECSLinear10PercentEvery3Minutes': { type: 'TimeBasedLinear', percent: 10, minutes: 3 },
} as const satisfies Record<string, TrafficRouting>;

/** A deployment config's traffic routing, as CodeDeploy's `TrafficRoutingConfig` describes it. */
export type TrafficRouting =
  | { readonly type: 'AllAtOnce' }
  | { readonly type: 'TimeBasedCanary' | 'TimeBasedLinear'; readonly percent: number; readonly minutes: number };

/** The traffic routing of a predefined ECS config; undefined for a custom one (CodeDeploy knows it by name). */
export function trafficRoutingOf(deploymentConfig: string): TrafficRouting | undefined {
  return (ECS_DEPLOYMENT_CONFIGS as Record<string, TrafficRouting>)[deploymentConfig];
}

/** Minutes CodeDeploy takes to move all production traffic with a predefined config (canary wait, linear steps). */
export function shiftMinutes(routing: TrafficRouting): number {
  if (routing.type === 'AllAtOnce') return 0;
  if (routing.type === 'TimeBasedCanary') return routing.minutes;
  return (Math.ceil(100 / routing.percent) - 1) * routing.minutes;
}

/** CodeDeploy names (applications, deployment groups, deployment configs): 1-100 characters. */
const codeDeployName = z
  .string()
  .regex(/^[A-Za-z0-9_.+=,@-]{1,100}$/, 'a CodeDeploy name: 1-100 letters, digits or _.+=,@-');

/** `codeDeploy`: the target's service is on the CODE_DEPLOY controller and deploys through this group. */
export const codeDeploySchema = z
  .object({
    application: codeDeployName,
    deploymentGroup: codeDeployName,
    /** A predefined ECS config (`CodeDeployDefault.ECSCanary10Percent5Minutes`, ...) or a custom one by name. */
    deploymentConfig: codeDeployName.default('CodeDeployDefault.ECSAllAtOnce'),
    /** The lifecycle events rollgate's hook gates (probes and load test, then the verdict); at least one. */
    gates: z
      .array(z.enum(CODEDEPLOY_GATE_EVENTS))
      .min(1)
      .refine((g) => new Set(g).size === g.length, { message: 'each lifecycle event at most once' })
      .default(['AfterAllowTestTraffic']),
  })
  .strict();
export type CodeDeploySpec = z.output<typeof codeDeploySchema>;

/** The field a target's CodeDeploy delivery adds (spread into targetSchema). */
export const codeDeployFields = { codeDeploy: codeDeploySchema.exactOptional() };

/** Deploy's and Rollback's `delivery` (from `$.target`): the strategy fields and `codeDeploy`. */
export const codeDeployDeliverySchema = deliverySchema.extend(codeDeployFields);

/** What the local cloud's service declares (`local.clusters[].services[]`): its controller and CodeDeploy group. */
export const localCodeDeployFields = {
  /** `CODE_DEPLOY`: the local ECS refuses UpdateService with a new task definition; the local CodeDeploy deploys. */
  deploymentController: z.enum(['ECS', 'CODE_DEPLOY']).default('ECS'),
  /** The CodeDeploy application and deployment group of a CODE_DEPLOY service (the local CodeDeploy creates them). */
  codeDeploy: z
    .object({
      application: codeDeployName,
      deploymentGroup: codeDeployName,
      /** Minutes the original task set keeps running after all traffic moved (scaled by local.minuteMs). */
      terminationWaitMinutes: z.number().int().min(0).max(2880).default(0),
    })
    .strict()
    .optional(),
};

/** The gates in the order CodeDeploy reaches them. */
export function orderedGates(spec: CodeDeploySpec): CodeDeployGateEvent[] {
  return CODEDEPLOY_GATE_EVENTS.filter((e) => spec.gates.includes(e));
}

/** What the checks read of a target. */
export interface CodeDeployTarget extends ProgressiveTarget {
  readonly codeDeploy?: CodeDeploySpec | undefined;
  readonly rollout?: { readonly deadlineSeconds: number };
}

/** The local service a target deploys to, as far as the checks need it. */
export interface LocalControllerSpec {
  readonly deploymentController: 'ECS' | 'CODE_DEPLOY';
  readonly codeDeploy?: { readonly application: string; readonly deploymentGroup: string } | undefined;
}

/** What cannot work in a target's CodeDeploy settings, and against the local service it deploys to. */
export function codeDeployIssues(t: CodeDeployTarget, local?: LocalControllerSpec): ProgressiveIssue[] {
  const issues: ProgressiveIssue[] = [];
  const cd = t.codeDeploy;
  if (local?.deploymentController === 'CODE_DEPLOY' && !local.codeDeploy) {
    issues.push({
      path: [],
      message: 'the local service is on CODE_DEPLOY: give it codeDeploy: { application, deploymentGroup } as well',
    });
  }
  if (!cd) {
    if (local?.deploymentController === 'CODE_DEPLOY') {
      issues.push({
        path: ['codeDeploy'],
        message: `codeDeploy: { application, deploymentGroup }: the local service uses the CODE_DEPLOY deployment controller, which refuses UpdateService with a new task definition`,
      });
    }
    return issues;
  }
  if (t.strategy !== 'rolling') {
    issues.push({
      path: ['strategy'],
      message: `no strategy (or rolling) with codeDeploy: the deployment config (${cd.deploymentConfig}) decides how traffic moves`,
    });
  }
  for (const field of ['canary', 'linear'] as const) {
    if (t[field])
      issues.push({ path: [field], message: `no ${field} section with codeDeploy (use its deploymentConfig)` });
  }
  if (t.bakeMinutes > 0) {
    issues.push({
      path: ['bakeMinutes'],
      message: "bakeMinutes 0 with codeDeploy (the deployment group's termination wait time keeps the old tasks up)",
    });
  }
  const beforeProduction = cd.gates.filter((g) => g !== 'AfterAllowTraffic');
  if (beforeProduction.length > 0 && !t.testRoute) {
    issues.push({
      path: ['testRoute'],
      message: `a test route for the gate(s) ${beforeProduction.join(', ')} (url of the deployment group's test listener, or a header it routes): production traffic has not moved yet there`,
    });
  }
  // CodeDeploy shifts production traffic between the last gate before it and the next: the wait must cover it
  const routing = trafficRoutingOf(cd.deploymentConfig);
  const shift = routing ? shiftMinutes(routing) * 60 : 0;
  if (shift > 0 && cd.gates.includes('AfterAllowTraffic') && t.gateTimeoutSeconds < shift + 60) {
    issues.push({
      path: ['gateTimeoutSeconds'],
      message: `at least ${shift + 60} s: CodeDeploy reaches AfterAllowTraffic only after ${cd.deploymentConfig} moved all traffic (${shift} s), plus a minute`,
    });
  }
  if (shift > 0 && !cd.gates.includes('AfterAllowTraffic') && t.rollout && t.rollout.deadlineSeconds < shift + 60) {
    issues.push({
      path: ['rollout', 'deadlineSeconds'],
      message: `at least ${shift + 60} s: after the last gate CheckRollout follows ${cd.deploymentConfig} moving all traffic (${shift} s), plus a minute`,
    });
  }
  if (local?.deploymentController === 'ECS') {
    issues.push({
      path: ['codeDeploy'],
      message:
        'no codeDeploy for a service on the ECS deployment controller (or give the local service deploymentController: CODE_DEPLOY)',
    });
  } else if (
    local?.codeDeploy &&
    (local.codeDeploy.application !== cd.application || local.codeDeploy.deploymentGroup !== cd.deploymentGroup)
  ) {
    issues.push({
      path: ['codeDeploy'],
      message: `the local service's CodeDeploy application and deployment group (${local.codeDeploy.application}/${local.codeDeploy.deploymentGroup})`,
    });
  }
  return issues;
}

/** One line for `rollgate validate`: `CodeDeploy payments/payments-prod: CodeDeployDefault.ECSCanary10Percent5Minutes (10% for 5 min, then 100%); gates AfterAllowTestTraffic; ...`. */
export function describeCodeDeploy(t: CodeDeployTarget & { readonly codeDeploy: CodeDeploySpec }): string {
  const cd = t.codeDeploy;
  const routing = trafficRoutingOf(cd.deploymentConfig);
  const how =
    routing === undefined
      ? 'a custom config'
      : routing.type === 'AllAtOnce'
        ? 'all at once'
        : routing.type === 'TimeBasedCanary'
          ? `${routing.percent}% for ${routing.minutes} min, then 100%`
          : `${routing.percent}% more every ${routing.minutes} min`;
  const route = t.testRoute ? [t.testRoute.url, t.testRoute.header?.name].filter(Boolean).join(' + ') : 'none';
  return `CodeDeploy ${cd.application}/${cd.deploymentGroup}: ${cd.deploymentConfig} (${how}); gates ${orderedGates(cd).join(', ')}; test route ${route}; gates wait ${t.gateTimeoutSeconds} s`;
}
