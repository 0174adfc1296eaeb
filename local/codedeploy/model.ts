/**
 * The local CodeDeploy, the pure part: its persisted records, the AppSpec of an ECS deployment read as CodeDeploy
 * reads it, the predefined ECS deployment configs as the local ECS's blue/green plan (strategies.ts), and the
 * lifecycle events of the AppSpec reference for ECS mapped onto that plan's stages.
 */
import { parse as parseYaml } from 'yaml';
import { AwsError } from '../aws-json.ts';
import type { HookStage, LifecycleHook, StrategyConfig } from '../ecs/strategies.ts';

export const CODEDEPLOY_TARGET_PREFIX = 'CodeDeploy_20141006.';

/**
 * The AppSpec's hook events for ECS in the order CodeDeploy runs them, each at the plan stage it runs in:
 * BeforeInstall before the replacement task set is created, AfterInstall after, AfterAllowTestTraffic once the test
 * listener serves it, BeforeAllowTraffic before production traffic moves (once: CodeDeploy runs each hook once per
 * deployment, so the canary's second step does not run it again), AfterAllowTraffic after all of it moved.
 */
export const HOOK_EVENTS = {
  BeforeInstall: 'PRE_SCALE_UP',
  AfterInstall: 'POST_SCALE_UP',
  AfterAllowTestTraffic: 'POST_TEST_TRAFFIC_SHIFT',
  BeforeAllowTraffic: 'PRE_PRODUCTION_TRAFFIC_SHIFT',
  AfterAllowTraffic: 'POST_PRODUCTION_TRAFFIC_SHIFT',
} as const satisfies Record<string, HookStage>;
export type HookEvent = keyof typeof HOOK_EVENTS;

/** The event run at a plan stage, if any. */
export function eventAt(stage: string): HookEvent | undefined {
  return (Object.keys(HOOK_EVENTS) as HookEvent[]).find((e) => HOOK_EVENTS[e] === stage);
}

/** CodeDeploy's predefined ECS configs: the plan each one is (all at once, canary, linear). */
const CONFIGS: Record<string, Pick<StrategyConfig, 'strategy' | 'canaryConfiguration' | 'linearConfiguration'>> = {
  'CodeDeployDefault.ECSAllAtOnce': { strategy: 'BLUE_GREEN' },
  'CodeDeployDefault.ECSCanary10Percent5Minutes': {
    strategy: 'CANARY',
    canaryConfiguration: { canaryPercent: 10, canaryBakeTimeInMinutes: 5 },
  },
  'CodeDeployDefault.ECSCanary10Percent15Minutes': {
    strategy: 'CANARY',
    canaryConfiguration: { canaryPercent: 10, canaryBakeTimeInMinutes: 15 },
  },
  'CodeDeployDefault.ECSLinear10PercentEvery1Minutes': {
    strategy: 'LINEAR',
    linearConfiguration: { stepPercent: 10, stepBakeTimeInMinutes: 1 },
  },
  'CodeDeployDefault.ECSLinear10PercentEvery3Minutes': {
    strategy: 'LINEAR',
    linearConfiguration: { stepPercent: 10, stepBakeTimeInMinutes: 3 },
  },
};

export const DEPLOYMENT_CONFIGS: readonly string[] = Object.keys(CONFIGS);

/** An ECS AppSpec as CodeDeploy uses it: the task definition, the load balancer's container and port, the hooks. */
export interface EcsAppSpec {
  readonly taskDefinition: string;
  readonly containerName: string;
  readonly containerPort: number;
  /** In the AppSpec's order. */
  readonly hooks: ReadonlyArray<{ readonly event: HookEvent; readonly functionName: string }>;
}

const invalidRevision = (message: string) => new AwsError('InvalidRevisionException', message);

/** Reads AppSpecContent (YAML or JSON, version 0.0, one AWS::ECS::Service TargetService); InvalidRevision if not. */
export function parseAppSpec(content: string): EcsAppSpec {
  let doc: unknown;
  try {
    doc = parseYaml(content);
  } catch (error) {
    throw invalidRevision(`The AppSpec content is not valid YAML or JSON: ${(error as Error).message}`);
  }
  const spec = doc as {
    version?: unknown;
    Resources?: Array<{ TargetService?: { Type?: unknown; Properties?: Record<string, unknown> } }>;
    Hooks?: unknown;
  } | null;
  if (spec === null || typeof spec !== 'object') throw invalidRevision('The AppSpec content must be an object.');
  if (spec.version !== 0 && spec.version !== '0.0') {
    throw invalidRevision(`The AppSpec version must be 0.0, got ${JSON.stringify(spec.version)}.`);
  }
  const target = Array.isArray(spec.Resources) ? spec.Resources[0]?.TargetService : undefined;
  if (target?.Type !== 'AWS::ECS::Service' || spec.Resources?.length !== 1) {
    throw invalidRevision('The AppSpec Resources must hold one TargetService of Type AWS::ECS::Service.');
  }
  const props = target.Properties ?? {};
  const lb = props.LoadBalancerInfo as { ContainerName?: unknown; ContainerPort?: unknown } | undefined;
  if (typeof props.TaskDefinition !== 'string' || props.TaskDefinition === '') {
    throw invalidRevision('The AppSpec TargetService Properties must name a TaskDefinition.');
  }
  if (typeof lb?.ContainerName !== 'string' || !Number.isInteger(Number(lb.ContainerPort))) {
    throw invalidRevision('The AppSpec LoadBalancerInfo must give ContainerName and ContainerPort.');
  }
  const hooks: Array<{ event: HookEvent; functionName: string }> = [];
  if (spec.Hooks !== undefined) {
    if (!Array.isArray(spec.Hooks)) throw invalidRevision('The AppSpec Hooks must be a list.');
    for (const entry of spec.Hooks as unknown[]) {
      const pairs = entry && typeof entry === 'object' ? Object.entries(entry) : [];
      const [event, functionName] = pairs[0] ?? [];
      if (pairs.length !== 1 || event === undefined || !(event in HOOK_EVENTS) || typeof functionName !== 'string') {
        throw invalidRevision(
          `Each AppSpec hook is one { <event>: <function> } with an event of ${Object.keys(HOOK_EVENTS).join(', ')}, got ${JSON.stringify(entry)}.`,
        );
      }
      if (hooks.some((h) => h.event === event)) throw invalidRevision(`The AppSpec names the hook ${event} twice.`);
      hooks.push({ event: event as HookEvent, functionName });
    }
  }
  return {
    taskDefinition: props.TaskDefinition,
    containerName: lb.ContainerName,
    containerPort: Number(lb.ContainerPort),
    hooks,
  };
}

/**
 * The local ECS plan of a deployment: the config's traffic shifting, the group's termination wait as the bake after
 * all traffic moved, and one lifecycle hook per AppSpec hook at its stage (the function is invoked by the local
 * CodeDeploy's own invoker, not as an ECS hook: the role is a placeholder).
 */
export function planOf(params: {
  readonly deploymentConfigName: string;
  readonly terminationWaitMinutes: number;
  readonly appSpec: EcsAppSpec;
  readonly accountId: string;
}): StrategyConfig {
  const config = CONFIGS[params.deploymentConfigName];
  if (config === undefined) {
    throw new AwsError(
      'DeploymentConfigDoesNotExistException',
      `The deployment config ${params.deploymentConfigName} does not exist (the local CodeDeploy knows ${DEPLOYMENT_CONFIGS.join(', ')}).`,
    );
  }
  const lifecycleHooks: LifecycleHook[] = params.appSpec.hooks.map((h) => ({
    hookTargetArn: h.functionName,
    roleArn: `arn:aws:iam::${params.accountId}:role/rollgate-local-CodeDeployServiceRole`,
    lifecycleStages: [HOOK_EVENTS[h.event]],
  }));
  return { ...config, bakeTimeInMinutes: params.terminationWaitMinutes, lifecycleHooks };
}

/** `DeploymentStatus` values. */
export type DeploymentStatus = 'Created' | 'Queued' | 'InProgress' | 'Succeeded' | 'Failed' | 'Stopped';

/** One lifecycle event hook CodeDeploy ran: its execution id and status. */
export interface LifecycleEventRecord {
  event: HookEvent;
  hookExecutionId: string;
  status: 'InProgress' | 'Succeeded' | 'Failed';
  startedAt: number;
  endedAt?: number;
}

/** A deployment as the local CodeDeploy keeps it (`codedeploy-state.json`). */
export interface DeploymentRecord {
  deploymentId: string;
  applicationName: string;
  deploymentGroupName: string;
  deploymentConfigName: string;
  status: DeploymentStatus;
  description?: string;
  creator: 'user' | 'codeDeployRollback';
  createTime: number;
  startTime?: number;
  completeTime?: number;
  errorInformation?: { code: string; message: string };
  rollbackInfo?: { rollbackDeploymentId?: string; rollbackTriggeringDeploymentId?: string; rollbackMessage?: string };
  instanceTerminationWaitTimeStarted: boolean;
  cluster: string;
  service: string;
  /** The AppSpecContent as sent (a rollback deployment keeps its triggering deployment's). */
  appSpecContent: string;
  lifecycleEvents: LifecycleEventRecord[];
  /** The local ECS service deployment walking it. */
  serviceDeploymentArn?: string;
}

/** An application's deployment group, from the config's CODE_DEPLOY services. */
export interface DeploymentGroupRecord {
  applicationName: string;
  deploymentGroupName: string;
  cluster: string;
  service: string;
  terminationWaitMinutes: number;
}

export const isDone = (d: DeploymentRecord): boolean =>
  d.status === 'Succeeded' || d.status === 'Failed' || d.status === 'Stopped';

/** A deployment id as CodeDeploy gives them: `d-` and nine characters of A-Z and 0-9. */
export function deploymentIdOf(counter: number, random: () => number = Math.random): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  let id = '';
  for (let i = 0; i < 6; i++) id += alphabet[Math.floor(random() * alphabet.length)];
  return `d-${id}${String(counter % 1000).padStart(3, '0')}`;
}

/** `DeploymentInfo` as BatchGetDeployments answers it (times in epoch seconds, as the JSON protocol sends them). */
export function deploymentView(d: DeploymentRecord): Record<string, unknown> {
  const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);
  return {
    applicationName: d.applicationName,
    deploymentGroupName: d.deploymentGroupName,
    deploymentConfigName: d.deploymentConfigName,
    deploymentId: d.deploymentId,
    status: d.status,
    ...(d.errorInformation ? { errorInformation: d.errorInformation } : {}),
    createTime: seconds(d.createTime),
    ...(d.startTime ? { startTime: seconds(d.startTime) } : {}),
    ...(d.completeTime ? { completeTime: seconds(d.completeTime) } : {}),
    ...(d.description ? { description: d.description } : {}),
    creator: d.creator,
    ...(d.rollbackInfo ? { rollbackInfo: d.rollbackInfo } : {}),
    deploymentStyle: { deploymentType: 'BLUE_GREEN', deploymentOption: 'WITH_TRAFFIC_CONTROL' },
    instanceTerminationWaitTimeStarted: d.instanceTerminationWaitTimeStarted,
    computePlatform: 'ECS',
    revision: { revisionType: 'AppSpecContent', appSpecContent: { content: d.appSpecContent } },
  };
}
