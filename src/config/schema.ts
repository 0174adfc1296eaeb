import { z } from 'zod';
import { MAX_WORKERS, planShards } from '../../loadgen/plan.ts';
import { codeDeployFields, codeDeployIssues, localCodeDeployFields } from './codedeploy.ts';
import { judgeIssues, judgeSchema } from './judge.ts';
import {
  bakeSeconds,
  gatesOf,
  localRouteIssues,
  type ProgressiveTarget,
  progressiveFields,
  progressiveIssues,
} from './progressive.ts';

/**
 * The schema of rollgate.config.yml. Every field has a default where a sane one exists, so a minimal target is
 * `{ name, repository, cluster, service, container, health: { url } }`. Durations are in seconds unless the name
 * says otherwise (`timeoutMs`).
 */

const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$/, 'letters, digits, "-" and "_", at most 80 characters');
const seconds = (max: number) => z.number().int().min(0).max(max);

/**
 * Bounds AWS (or HTTP) sets on config values, so a typo or a pasted blob fails `validate`, not a deploy. The whole
 * config travels in one Lambda environment variable (4 KB for all of a function's variables), so no value needs to be
 * long: these limits are what the services accept, not a budget.
 */
/** A URL rollgate sends requests to: http(s), at most 2048 characters (half Lambda's 4 KB environment). */
const httpUrl = z
  .url({ protocol: /^https?$/, error: 'an http:// or https:// URL' })
  .max(2048, 'a URL of at most 2048 characters');
/**
 * An HTTP header name (an RFC 9110 token: letters, digits and !#$%&'*+-.^_`|~), at most 40 characters: the longest
 * an ALB listener rule's http-header condition accepts.
 */
const headerName = z
  .string()
  .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,40}$/, "an HTTP header name: 1-40 letters, digits or !#$%&'*+-.^_`|~");
/** A tag glob: ECR tag characters plus `*` and `?`, at most 128 (ECR's longest tag). */
const tagGlob = z
  .string()
  .regex(/^[A-Za-z0-9_.*?-]{1,128}$/, 'a tag glob: 1-128 of letters, digits, "_", ".", "-", "*" and "?"');
/** ECS names (service, container): up to 255 letters, digits, "_" and "-". */
const ecsName = z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, 'up to 255 letters, digits, "_" and "-"');

/** How the Check state polls the rollout: back-off from initialWait to maxWait, give up after deadline. */
export const rolloutSchema = z
  .object({
    deadlineSeconds: z.number().int().min(30).max(86_400).default(900),
    // at least 1 s: a zero wait would loop Check states into Step Functions' 25,000-event history limit
    initialWaitSeconds: z.number().int().min(1).max(300).default(5),
    maxWaitSeconds: seconds(900).default(30),
    backoffRate: z.number().min(1).max(5).default(1.5),
  })
  .strict()
  .refine((r) => r.maxWaitSeconds >= r.initialWaitSeconds, {
    message: 'maxWaitSeconds must be >= initialWaitSeconds',
    path: ['maxWaitSeconds'],
  });

/** The post-rollout health probe (ProbeHealth state). */
export const healthSchema = z
  .object({
    url: httpUrl,
    expectStatus: z.number().int().min(100).max(599).default(200),
    /** Wait before the first probe: the load balancer needs time to register the new targets. */
    settleSeconds: seconds(900).default(10),
    intervalSeconds: z.number().min(0.1).max(60).default(2),
    consecutiveSuccesses: z.number().int().min(1).max(100).default(3),
    deadlineSeconds: z.number().int().min(1).max(840).default(120),
    timeoutMs: z.number().int().min(100).max(60_000).default(3000),
    /** When set, a success also needs this response header to equal the deployed image tag. */
    versionHeader: headerName.optional(),
  })
  .strict();

/** Service-level objectives the load test must meet; each is optional. */
export const sloSchema = z
  .object({
    p95Ms: z.number().positive().optional(),
    p99Ms: z.number().positive().optional(),
    maxErrorRate: z.number().min(0).max(1).optional(),
    minAchievedRate: z.number().min(0).max(1).optional(),
  })
  .strict();

/** The load test run after a healthy rollout (PlanLoad -> Generate -> Aggregate). */
export const loadSchema = z
  .object({
    url: httpUrl,
    rate: z.number().positive().max(100_000),
    durationSeconds: z.number().int().min(1).max(3600),
    /**
     * Load-generator Lambdas, all running at once (nested inline Maps of at most 40). At most 1000, an account's
     * default Lambda concurrency; the plan raises it when the rate needs more (2000 req/s a worker at most).
     */
    workers: z.number().int().min(1).max(MAX_WORKERS).default(1),
    /** Connections opened up front, split over the workers. */
    connections: z.number().int().min(1).max(10_000).default(20),
    /**
     * Most connections in all, split over the workers: more open when a request is due and every one is busy.
     * Default: each worker's share of the rate at 4 s of latency (or the timeout, if longer), at most 900 per worker.
     */
    maxConnections: z.number().int().min(1).max(1_000_000).optional(),
    timeoutMs: z.number().int().min(100).max(60_000).default(2000),
    /**
     * What an inconclusive load test does to the deploy (the generator could not keep its schedule, so the run says
     * nothing about the service): `rollback` (the default: fail safe) or `deploy`.
     */
    onInconclusive: z.enum(['rollback', 'deploy']).default('rollback'),
    /** Only images whose tag matches one of these globs are load tested (default: all). */
    tags: z.array(tagGlob).min(1).max(100).default(['*']),
    slo: sloSchema.default({}),
    /** Compare the new version with a baseline by statistics (src/config/judge.ts); absent: SLOs alone. */
    judge: judgeSchema.exactOptional(),
  })
  .strict();

/**
 * Where the functions that send requests to the targets' URLs (ProbeHealth and GenerateLoad) run, to reach services
 * behind an internal load balancer: subnets and security groups of one VPC (Lambda allows 16 subnets and 5 groups).
 * The other functions stay outside any VPC. The VPC needs a route to S3 for the load results (an S3 gateway endpoint
 * or a NAT gateway): docs/deploy-aws.md.
 */
export const vpcSchema = z
  .object({
    subnetIds: z
      .array(z.string().regex(/^subnet-[0-9a-f]{8}(?:[0-9a-f]{9})?$/, 'a subnet id such as "subnet-0123456789abcdef0"'))
      .min(1)
      .max(16),
    securityGroupIds: z
      .array(z.string().regex(/^sg-[0-9a-f]{8}(?:[0-9a-f]{9})?$/, 'a security group id such as "sg-0123456789abcdef0"'))
      .min(1)
      .max(5),
  })
  .strict();

/** The per-service deploy lock: what happens when a deploy of the service is already running. */
export const lockSchema = z
  .object({
    /**
     * supersede: a running deploy is never interrupted; of the executions waiting, only the newest proceeds and the
     * older ones end IGNORED. queue: each waits its turn. reject: a new execution ends IGNORED while one runs.
     */
    policy: z.enum(['supersede', 'queue', 'reject']).default('supersede'),
    /** How long a lock is held at most: a crashed execution cannot block the service longer. Default: the state machine's timeout (7200). */
    leaseSeconds: z.number().int().min(1).max(86_400).optional(),
    /** Seconds between attempts while waiting (whole seconds: a Wait state's SecondsPath must be an integer). */
    pollSeconds: z.number().int().min(1).max(300).default(10),
    /** Give up (FAILED) after waiting this long. */
    maxWaitSeconds: z.number().int().min(1).max(86_400).default(3600),
  })
  .strict();

export const targetSchema = z
  .object({
    name,
    /** The ECR repository name (not the URI), as in the push event's `detail.repository-name`. */
    repository: z.string().regex(/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/, {
      error: 'an ECR repository name such as "team/web-app"',
    }),
    /** Tag globs (`*` any run of characters, `?` one) that deploy; a push matching none is ignored. */
    tags: z.array(tagGlob).min(1).max(100).default(['*']),
    /** Tag globs that never deploy even when `tags` matches (e.g. `*-rc*`). */
    excludeTags: z.array(tagGlob).max(100).default([]),
    cluster: name,
    /** The service name, or its full ARN (`arn:aws:ecs:<region>:<account>:service/<cluster>/<service>`). */
    service: z.union(
      [
        ecsName,
        z.string().regex(/^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:service\/[A-Za-z0-9_-]{1,255}\/[A-Za-z0-9_-]{1,255}$/),
      ],
      {
        error: 'an ECS service name (up to 255 letters, digits, "_" and "-") or its ARN',
      },
    ),
    /** The container in the task definition whose image is replaced. */
    container: ecsName,
    /** IAM role ARNs the task definition uses (taskRoleArn, executionRoleArn): RegisterTaskDefinition passes them. */
    passRoles: z
      .array(z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,576}$/, 'an IAM role ARN'))
      .max(20)
      .default([]),
    rollout: rolloutSchema.default({
      deadlineSeconds: 900,
      initialWaitSeconds: 5,
      maxWaitSeconds: 30,
      backoffRate: 1.5,
    }),
    health: healthSchema,
    load: loadSchema.optional(),
    /**
     * The VPC this target's URLs are reached from (see vpcSchema). The prober and the load generators serve every
     * target, so every target that names one must name the same; the top-level `vpc` may name it once instead.
     */
    vpc: vpcSchema.optional(),
    lock: lockSchema.default({ policy: 'supersede', pollSeconds: 10, maxWaitSeconds: 3600 }),
    /**
     * ECR emits push events best-effort: when on, a scheduled check starts an execution for the newest pushed image
     * matching the filters that was never attempted (an image that was rolled back is never retried).
     */
    missedPushCheck: z.boolean().default(false),
    /** Progressive delivery: `strategy`, `bakeMinutes`, `canary`, `linear`, `testRoute`, `gateTimeoutSeconds`. */
    ...progressiveFields,
    /** Services on the CODE_DEPLOY controller: `codeDeploy: { application, deploymentGroup, deploymentConfig, gates }`. */
    ...codeDeployFields,
  })
  .strict();

const localServiceSchema = z
  .object({
    name: z.string().min(1),
    taskDefinitionFamily: z.string().min(1),
    container: z.string().min(1),
    image: z.string().min(1),
    desiredCount: z.number().int().min(1).max(20).default(2),
    loadBalancerPort: z.number().int().min(1024).max(65_535),
    healthCheckPath: z.string().startsWith('/').default('/health'),
    minimumHealthyPercent: z.number().int().min(0).max(100).default(100),
    maximumPercent: z.number().int().min(100).max(200).default(200),
    circuitBreaker: z
      .object({ enable: z.boolean().default(true), rollback: z.boolean().default(true) })
      .strict()
      .default({ enable: true, rollback: true }),
    executionRoleArn: z.string().optional(),
    taskRoleArn: z.string().optional(),
    /** A test listener on this port (ECS's `testListenerRule` on it): where test traffic reaches the new version. */
    testListenerPort: z.number().int().min(1024).max(65_535).optional(),
    /** A rule on the production listener: requests carrying this header go where test traffic goes. */
    testHeader: z
      .object({ name: z.string().min(1), value: z.string().min(1) })
      .strict()
      .optional(),
    /** `deploymentController` (ECS or CODE_DEPLOY) and, for CODE_DEPLOY, its CodeDeploy application and group. */
    ...localCodeDeployFields,
  })
  .strict();

/** The local cloud: what `rollgate demo` / `rollgate run` start on this machine. Ignored on AWS. */
export const localSchema = z
  .object({
    region: z.string().default('us-east-1'),
    accountId: z
      .string()
      .regex(/^\d{12}$/, 'a 12-digit AWS account id')
      .default('000000000000'),
    images: z.record(z.string(), z.object({ command: z.array(z.string()).min(1) }).strict()),
    clusters: z.array(z.object({ name, services: z.array(localServiceSchema).min(1) }).strict()).min(1),
    /** How long a "minute" of ECS bake time (and 60 s of a hook's callBackDelay) lasts locally, in ms. */
    minuteMs: z.number().int().min(1).max(60_000).default(1000),
  })
  .strict();

export const configSchema = z
  .object({
    version: z.literal(1, { error: 'must be 1' }),
    targets: z.array(targetSchema).min(1),
    /** The VPC of the functions that send requests to the targets (see vpcSchema): for every target. */
    vpc: vpcSchema.optional(),
    local: localSchema.optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    // One function runs in one VPC: the targets that name one must agree with each other and with the top level.
    const same = (a: VpcSpec, b: VpcSpec) =>
      JSON.stringify([[...a.subnetIds].sort(), [...a.securityGroupIds].sort()]) ===
      JSON.stringify([[...b.subnetIds].sort(), [...b.securityGroupIds].sort()]);
    let first: { vpc: VpcSpec; where: string } | undefined = config.vpc && { vpc: config.vpc, where: 'vpc' };
    config.targets.forEach((t, i) => {
      if (!t.vpc) return;
      if (first === undefined) first = { vpc: t.vpc, where: `targets[${i}].vpc` };
      else if (!same(first.vpc, t.vpc)) {
        ctx.addIssue({
          code: 'custom',
          path: ['targets', i, 'vpc'],
          message: `the same subnets and security groups as ${first.where}: the prober and the load generators serve every target from one VPC`,
        });
      }
    });
    const seen = new Map<string, number>();
    config.targets.forEach((t, i) => {
      const key = `${t.cluster}/${t.service}`;
      const first = seen.get(key);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['targets', i, 'service'],
          message: `service ${key} is already the target of targets[${first}]; one target per service`,
        });
      }
      seen.set(key, i);
      if (t.load) {
        try {
          planShards({
            url: t.load.url,
            rate: t.load.rate,
            durationSec: t.load.durationSeconds,
            workers: t.load.workers,
            connections: t.load.connections,
            ...(t.load.maxConnections !== undefined ? { maxConnections: t.load.maxConnections } : {}),
            timeoutMs: t.load.timeoutMs,
          });
        } catch (err) {
          ctx.addIssue({
            code: 'custom',
            path: ['targets', i, 'load'],
            message: `a plan that fits: ${(err as Error).message}`,
          });
        }
      }
      const local = config.local?.clusters
        .find((c) => c.name === t.cluster)
        ?.services.find((s) => s.name === t.service);
      for (const issue of [
        // a codeDeploy target's strategy fields are checked by codeDeployIssues (its deployment config decides)
        ...(t.codeDeploy ? [] : progressiveIssues(t)),
        ...(local && t.testRoute ? localRouteIssues(t.testRoute, local) : []),
        ...codeDeployIssues(t, local),
        ...judgeIssues(t.load),
      ]) {
        ctx.addIssue({ code: 'custom', path: ['targets', i, ...issue.path], message: issue.message });
      }
      // The longest path must end before the state machine's own timeout, or no Catch (and no rollback) runs.
      const worst = worstCaseSeconds(t);
      if (worst > EXECUTION_TIMEOUT_SECONDS) {
        const gates = t.codeDeploy ? t.codeDeploy.gates.length : gatesOf(t).length;
        const progressive = gates
          ? ` + ${gates} gate(s) x (gateTimeoutSeconds + health.deadlineSeconds + load.durationSeconds) + bakeMinutes x 60 (${bakeSeconds(t)} s)`
          : '';
        ctx.addIssue({
          code: 'custom',
          path: ['targets', i],
          message: `deadlines adding up to at most ${EXECUTION_TIMEOUT_SECONDS} s (the state machine's TimeoutSeconds): lock.maxWaitSeconds + 2 x (rollout.deadlineSeconds + health.settleSeconds + health.deadlineSeconds) + load.durationSeconds${progressive} is ${worst} s`,
        });
      }
      if (config.targets.findIndex((o) => o.name === t.name) !== i) {
        ctx.addIssue({ code: 'custom', path: ['targets', i, 'name'], message: `duplicate target name "${t.name}"` });
      }
    });
  });

/** statemachines/deploy.asl.json's TimeoutSeconds: an execution past it is TIMED_OUT and runs no Catch. */
export const EXECUTION_TIMEOUT_SECONDS = 7200;

/**
 * The longest an execution of a target can run: waiting for the lock, the rollout and the rollback, the probes; for a
 * progressive strategy, also each gate (waited for up to gateTimeoutSeconds, then probed and load tested) and the bakes.
 */
export function worstCaseSeconds(
  t: {
    readonly lock: { readonly maxWaitSeconds: number };
    readonly rollout: { readonly deadlineSeconds: number };
    readonly health: { readonly settleSeconds: number; readonly deadlineSeconds: number };
    readonly load?: { readonly durationSeconds: number } | undefined;
    /** A CodeDeploy target's gates (its strategy stays rolling). */
    readonly codeDeploy?: { readonly gates: readonly string[] } | undefined;
  } & Partial<ProgressiveTarget>,
): number {
  const leg = t.rollout.deadlineSeconds + t.health.settleSeconds + t.health.deadlineSeconds;
  const loadSeconds = t.load ? t.load.durationSeconds + 60 : 0;
  const rolling = t.lock.maxWaitSeconds + 2 * leg + loadSeconds;
  const gate = (t.gateTimeoutSeconds ?? 0) + t.health.deadlineSeconds + loadSeconds;
  if (t.codeDeploy) return rolling + t.codeDeploy.gates.length * gate;
  if (t.strategy === undefined || t.strategy === 'rolling') return rolling;
  const p = {
    ...t,
    strategy: t.strategy,
    bakeMinutes: t.bakeMinutes ?? 0,
    gateTimeoutSeconds: t.gateTimeoutSeconds ?? 0,
  };
  return rolling + gatesOf(p).length * gate + bakeSeconds(p);
}

export type RollgateConfig = z.output<typeof configSchema>;
export type Target = z.output<typeof targetSchema>;
export type HealthSpec = z.output<typeof healthSchema>;
export type RolloutSpec = z.output<typeof rolloutSchema>;
export type LoadSpec = z.output<typeof loadSchema>;
export type VpcSpec = z.output<typeof vpcSchema>;
export type LockSpec = z.output<typeof lockSchema>;
export type LocalSpec = z.output<typeof localSchema>;
