/**
 * ECS's native deployment strategies (BLUE_GREEN, CANARY, LINEAR), the pure part: checking UpdateService's fields
 * as ECS does, the ordered lifecycle stages a deployment walks with the traffic weights each one sets, the payload a
 * lifecycle hook receives, and the reading of its answer. No processes, timers or I/O: the engine walks the plan.
 *
 * Stage order and meaning as in @aws-sdk/client-ecs's `DeploymentLifecycleHookStage` and `ServiceDeployment
 * .lifecycleStage` and the ECS developer guide: RECONCILE_SERVICE, PRE_SCALE_UP, SCALE_UP (green tasks start),
 * POST_SCALE_UP, TEST_TRAFFIC_SHIFT (test traffic 0 -> 100% green), POST_TEST_TRAFFIC_SHIFT, then per production step
 * PRE_PRODUCTION_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT (canary: canaryPercent, then 100 after the canary bake;
 * linear: stepPercent steps, a step bake between them, none after 100), POST_PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME
 * (bakeTimeInMinutes, both revisions up), CLEAN_UP (blue scaled down). On a rollback ECS runs the hooks of
 * TEST_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT again, with the weights going back to blue.
 */
import { invalidParameter } from './errors.ts';

export type DeploymentStrategy = 'ROLLING' | 'BLUE_GREEN' | 'CANARY' | 'LINEAR';

export const HOOK_STAGES = [
  'RECONCILE_SERVICE',
  'PRE_SCALE_UP',
  'POST_SCALE_UP',
  'TEST_TRAFFIC_SHIFT',
  'POST_TEST_TRAFFIC_SHIFT',
  'PRE_PRODUCTION_TRAFFIC_SHIFT',
  'PRODUCTION_TRAFFIC_SHIFT',
  'POST_PRODUCTION_TRAFFIC_SHIFT',
] as const;

/** A stage a hook can run at. */
export type HookStage = (typeof HOOK_STAGES)[number];
/** Every stage a deployment reports (`ServiceDeployment.lifecycleStage`). */
export type LifecycleStage = HookStage | 'SCALE_UP' | 'BAKE_TIME' | 'CLEAN_UP';

export interface LifecycleHook {
  hookTargetArn: string;
  roleArn: string;
  lifecycleStages: HookStage[];
  hookDetails?: unknown;
}

/** The strategy fields of `deploymentConfiguration`, checked and with ECS's defaults applied. */
export interface StrategyConfig {
  strategy: DeploymentStrategy;
  bakeTimeInMinutes: number;
  canaryConfiguration?: { canaryPercent: number; canaryBakeTimeInMinutes: number };
  linearConfiguration?: { stepPercent: number; stepBakeTimeInMinutes: number };
  lifecycleHooks: LifecycleHook[];
}

/** One step of a deployment: the stage it enters, the green share it sets on entering, the wait after it. */
export interface PlanStep {
  stage: LifecycleStage;
  /** Percent of test traffic to green, set when the step starts. */
  testPercent?: number;
  /** Percent of production traffic to green, set when the step starts. */
  productionPercent?: number;
  /** Minutes to wait once the stage (and its hooks) succeeded. */
  bakeMinutes?: number;
}

const MAX_BAKE = 1440;

const invalid = invalidParameter;

/** A multiple of 0.1 within [min, max]. */
function tenths(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalid(`${field} must be a number from ${min} to ${max}, got ${JSON.stringify(value)}.`);
  }
  if (Math.abs(Math.round(value * 10) - value * 10) > 1e-9) {
    throw invalid(`${field} must be a multiple of 0.1, got ${value}.`);
  }
  return Math.round(value * 10) / 10;
}

function minutes(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_BAKE) {
    throw invalid(`${field} must be an integer from 0 to ${MAX_BAKE} minutes, got ${JSON.stringify(value)}.`);
  }
  return value;
}

function record(value: unknown, field: string): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${field} must be an object.`);
  return value as Record<string, unknown>;
}

/** The lifecycle hooks of `deploymentConfiguration.lifecycleHooks`, checked. */
function hooks(value: unknown): LifecycleHook[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid('deploymentConfiguration.lifecycleHooks must be a list.');
  return value.map((raw, i) => {
    const field = `deploymentConfiguration.lifecycleHooks[${i}]`;
    const hook = record(raw, field) ?? {};
    if (hook.targetType !== undefined && hook.targetType !== 'AWS_LAMBDA') {
      throw invalid(
        `${field}.targetType ${String(hook.targetType)} is not supported by the local ECS: use AWS_LAMBDA.`,
      );
    }
    if (typeof hook.hookTargetArn !== 'string' || !hook.hookTargetArn.startsWith('arn:aws:lambda:')) {
      throw invalid(`${field}.hookTargetArn must be a Lambda function ARN, got ${JSON.stringify(hook.hookTargetArn)}.`);
    }
    if (typeof hook.roleArn !== 'string' || !hook.roleArn.startsWith('arn:aws:iam::')) {
      throw invalid(`${field}.roleArn must be an IAM role ARN, got ${JSON.stringify(hook.roleArn)}.`);
    }
    const stages = hook.lifecycleStages;
    if (!Array.isArray(stages) || stages.length === 0) {
      throw invalid(`${field}.lifecycleStages must list at least one of ${HOOK_STAGES.join(', ')}.`);
    }
    for (const stage of stages) {
      if (!(HOOK_STAGES as readonly unknown[]).includes(stage)) {
        throw invalid(`${field}.lifecycleStages: ${JSON.stringify(stage)} is not one of ${HOOK_STAGES.join(', ')}.`);
      }
    }
    return {
      hookTargetArn: hook.hookTargetArn,
      roleArn: hook.roleArn,
      lifecycleStages: stages as HookStage[],
      ...(hook.hookDetails === undefined ? {} : { hookDetails: hook.hookDetails }),
    };
  });
}

/**
 * A canary or linear section: its percent (a multiple of 0.1 from `min` to 100) and its bake (minutes), each with
 * its default when absent. `percent` is [field, min, default]; `bake` is [field, default].
 */
function shiftSettings(
  dc: Record<string, unknown>,
  section: 'canaryConfiguration' | 'linearConfiguration',
  fields: { percent: [string, number, number]; bake: [string, number] },
): [number, number] {
  const prefix = `deploymentConfiguration.${section}`;
  const raw = record(dc[section], prefix) ?? {};
  const [percentField, min, percentDefault] = fields.percent;
  const [bakeField, bakeDefault] = fields.bake;
  const percent = raw[percentField];
  return [
    percent === undefined ? percentDefault : tenths(percent, `${prefix}.${percentField}`, min, 100),
    minutes(raw[bakeField], `${prefix}.${bakeField}`, bakeDefault),
  ];
}

/**
 * The strategy fields of an UpdateService / CreateService `deploymentConfiguration`, checked as ECS does (an
 * InvalidParameterException naming the field) and with the API reference's defaults: bake 0 min, canary 5% baked
 * 10 min, linear 10% steps baked 6 min.
 */
export function parseStrategy(deploymentConfiguration: Record<string, unknown> | undefined): StrategyConfig {
  const dc = deploymentConfiguration ?? {};
  const strategy = dc.strategy ?? 'ROLLING';
  if (strategy !== 'ROLLING' && strategy !== 'BLUE_GREEN' && strategy !== 'CANARY' && strategy !== 'LINEAR') {
    throw invalid(
      `deploymentConfiguration.strategy must be ROLLING, BLUE_GREEN, CANARY or LINEAR, got ${JSON.stringify(strategy)}.`,
    );
  }
  const config: StrategyConfig = {
    strategy,
    bakeTimeInMinutes: minutes(dc.bakeTimeInMinutes, 'deploymentConfiguration.bakeTimeInMinutes', 0),
    lifecycleHooks: hooks(dc.lifecycleHooks),
  };
  if (strategy === 'CANARY') {
    const [canaryPercent, canaryBakeTimeInMinutes] = shiftSettings(dc, 'canaryConfiguration', {
      percent: ['canaryPercent', 0.1, 5],
      bake: ['canaryBakeTimeInMinutes', 10],
    });
    config.canaryConfiguration = { canaryPercent, canaryBakeTimeInMinutes };
  }
  if (strategy === 'LINEAR') {
    const [stepPercent, stepBakeTimeInMinutes] = shiftSettings(dc, 'linearConfiguration', {
      percent: ['stepPercent', 3, 10],
      bake: ['stepBakeTimeInMinutes', 6],
    });
    config.linearConfiguration = { stepPercent, stepBakeTimeInMinutes };
  }
  return config;
}

const STRATEGY_FIELDS = [
  'strategy',
  'bakeTimeInMinutes',
  'canaryConfiguration',
  'linearConfiguration',
  'lifecycleHooks',
] as const;

/** The strategy fields present in a `deploymentConfiguration` as sent, or undefined when there are none. */
export function strategyFields(dc: Record<string, unknown>): Record<string, unknown> | undefined {
  const present = STRATEGY_FIELDS.filter((k) => dc[k] !== undefined && dc[k] !== null);
  return present.length === 0 ? undefined : Object.fromEntries(present.map((k) => [k, dc[k]]));
}

/**
 * UpdateService's strategy fields over the service's current ones (a field not sent keeps its value;
 * `lifecycleHooks: []` removes the hooks), checked by {@link parseStrategy}; undefined when none was sent.
 */
export function mergeStrategy(
  current: StrategyConfig | undefined,
  fields: Record<string, unknown> | undefined,
): StrategyConfig | undefined {
  if (fields === undefined) return undefined;
  return parseStrategy({ ...current, ...fields });
}

/** The production shares of green, in order, and the bake after each. */
function productionSteps(config: StrategyConfig): Array<{ percent: number; bake: number }> {
  if (config.strategy === 'CANARY' && config.canaryConfiguration !== undefined) {
    const { canaryPercent, canaryBakeTimeInMinutes } = config.canaryConfiguration;
    return canaryPercent >= 100
      ? [{ percent: 100, bake: 0 }]
      : [
          { percent: canaryPercent, bake: canaryBakeTimeInMinutes },
          { percent: 100, bake: 0 },
        ];
  }
  if (config.strategy === 'LINEAR' && config.linearConfiguration !== undefined) {
    const { stepPercent, stepBakeTimeInMinutes } = config.linearConfiguration;
    const steps: Array<{ percent: number; bake: number }> = [];
    // In tenths, so 3.3% steps add up exactly; the last step is 100 and has no bake.
    for (let tenth = Math.round(stepPercent * 10); tenth < 1000; tenth += Math.round(stepPercent * 10)) {
      steps.push({ percent: tenth / 10, bake: stepBakeTimeInMinutes });
    }
    steps.push({ percent: 100, bake: 0 });
    return steps;
  }
  return [{ percent: 100, bake: 0 }];
}

/** The steps of a BLUE_GREEN, CANARY or LINEAR deployment, in order. */
export function planDeployment(config: StrategyConfig): PlanStep[] {
  if (config.strategy === 'ROLLING') throw new Error('a ROLLING deployment has no lifecycle plan');
  const plan: PlanStep[] = [
    { stage: 'RECONCILE_SERVICE' },
    { stage: 'PRE_SCALE_UP' },
    { stage: 'SCALE_UP' },
    { stage: 'POST_SCALE_UP' },
    { stage: 'TEST_TRAFFIC_SHIFT', testPercent: 100 },
    { stage: 'POST_TEST_TRAFFIC_SHIFT' },
  ];
  for (const { percent, bake } of productionSteps(config)) {
    plan.push({ stage: 'PRE_PRODUCTION_TRAFFIC_SHIFT' });
    plan.push({
      stage: 'PRODUCTION_TRAFFIC_SHIFT',
      productionPercent: percent,
      ...(bake > 0 ? { bakeMinutes: bake } : {}),
    });
  }
  plan.push({ stage: 'POST_PRODUCTION_TRAFFIC_SHIFT' });
  plan.push({ stage: 'BAKE_TIME', ...(config.bakeTimeInMinutes > 0 ? { bakeMinutes: config.bakeTimeInMinutes } : {}) });
  plan.push({ stage: 'CLEAN_UP' });
  return plan;
}

/** The rollback: every share back to blue, with the hooks ECS runs again on a rollback. */
export function planRollback(): PlanStep[] {
  return [
    { stage: 'PRODUCTION_TRAFFIC_SHIFT', productionPercent: 0 },
    { stage: 'TEST_TRAFFIC_SHIFT', testPercent: 0 },
  ];
}

/** The hooks to invoke at a stage, in configuration order. */
export function hooksAt(config: StrategyConfig, stage: LifecycleStage): LifecycleHook[] {
  return config.lifecycleHooks.filter((h) => (h.lifecycleStages as string[]).includes(stage));
}

/**
 * ALB forward weights (integers, at most 999) for a green share given to 0.1%: exact, `{ blue: 900, green: 100 }` for
 * 10%; the whole share to one group is weight 1 to it and 0 to the other.
 */
export function weightsFor(greenPercent: number): { blue: number; green: number } {
  if (greenPercent >= 100) return { blue: 0, green: 1 };
  if (greenPercent <= 0) return { blue: 1, green: 0 };
  const green = Math.round(greenPercent * 10);
  return { blue: 1000 - green, green };
}

/**
 * What a hook Lambda receives, as ECS sends it: the stage, the service deployment (`resourceArn`), an id of this hook
 * execution, and `executionDetails` with the service, the revision being deployed and the traffic weights by revision
 * ARN (percent; the weights tell the direction: going to green, or back to blue on a rollback). `hookDetails` is the
 * hook's configured value, or what its last IN_PROGRESS answer handed back.
 */
export interface HookPayload {
  executionDetails: {
    serviceArn: string;
    targetServiceRevisionArn: string;
    testTrafficWeights: Record<string, number>;
    productionTrafficWeights: Record<string, number>;
  };
  executionId: string;
  lifecycleStage: LifecycleStage;
  resourceArn: string;
  hookDetails?: unknown;
}

export function hookPayload(params: {
  serviceArn: string;
  serviceDeploymentArn: string;
  executionId: string;
  lifecycleStage: LifecycleStage;
  blueRevisionArn: string;
  greenRevisionArn: string;
  testPercent: number;
  productionPercent: number;
  hookDetails?: unknown;
}): HookPayload {
  const { blueRevisionArn: blue, greenRevisionArn: green } = params;
  return {
    executionDetails: {
      serviceArn: params.serviceArn,
      targetServiceRevisionArn: green,
      testTrafficWeights: { [blue]: 100 - params.testPercent, [green]: params.testPercent },
      productionTrafficWeights: { [blue]: 100 - params.productionPercent, [green]: params.productionPercent },
    },
    executionId: params.executionId,
    lifecycleStage: params.lifecycleStage,
    resourceArn: params.serviceDeploymentArn,
    ...(params.hookDetails === undefined ? {} : { hookDetails: params.hookDetails }),
  };
}

/** A hook's verdict: go on, roll back (with why), or ask again after a delay (ms, scaled by the caller). */
export type HookVerdict =
  | { status: 'SUCCEEDED' }
  | { status: 'FAILED'; reason: string }
  | { status: 'IN_PROGRESS'; callBackDelaySeconds: number; hookDetails?: unknown };

/** ECS's default delay before invoking an IN_PROGRESS hook again. */
export const DEFAULT_CALLBACK_DELAY_SECONDS = 30;

/**
 * Reads a hook Lambda's answer as ECS does: `hookStatus` SUCCEEDED / FAILED / IN_PROGRESS (with `callBackDelay`
 * seconds, default 30, and `hookDetails` passed to the next call); an error or any other answer rolls back.
 */
export function readHookAnswer(answer: { payload?: unknown; functionError?: string }): HookVerdict {
  if (answer.functionError !== undefined) {
    const error = answer.payload as { errorType?: unknown; errorMessage?: unknown } | null;
    return {
      status: 'FAILED',
      reason: `the hook failed (${answer.functionError}): ${String(error?.errorType)}: ${String(error?.errorMessage)}`,
    };
  }
  const body = answer.payload as { hookStatus?: unknown; callBackDelay?: unknown; hookDetails?: unknown } | null;
  const status = body?.hookStatus;
  if (status === 'SUCCEEDED') return { status };
  if (status === 'FAILED') return { status, reason: 'the hook answered FAILED' };
  if (status === 'IN_PROGRESS') {
    const delay = body?.callBackDelay;
    return {
      status,
      callBackDelaySeconds:
        typeof delay === 'number' && Number.isFinite(delay) && delay >= 0 ? delay : DEFAULT_CALLBACK_DELAY_SECONDS,
      ...(body?.hookDetails === undefined ? {} : { hookDetails: body.hookDetails }),
    };
  }
  return { status: 'FAILED', reason: `the hook returned no valid hookStatus: ${JSON.stringify(answer.payload)}` };
}
