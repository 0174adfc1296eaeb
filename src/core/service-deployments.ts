import {
  type DeploymentConfiguration,
  DescribeServiceDeploymentsCommand,
  type ECSClient,
  ListServiceDeploymentsCommand,
  type Service,
  type ServiceDeployment,
  type ServiceDeploymentStatus,
  StopServiceDeploymentCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { canaryOf, linearOf, type ProgressiveTarget, STRATEGIES } from '../config/progressive.ts';
import { TargetNotFoundError } from './errors.ts';

/**
 * ECS's own progressive deployments (BLUE_GREEN, CANARY, LINEAR), followed through the service deployment APIs:
 * UpdateService with the strategy and rollgate's lifecycle hook, ListServiceDeployments / DescribeServiceDeployments,
 * StopServiceDeployment (ROLLBACK).
 */

/** The lifecycle hook rollgate's Deploy puts on the service: its hook Lambda and the role ECS invokes it with. */
export interface GateHook {
  /** The GateHook Lambda's ARN (env GATE_HOOK_FUNCTION_ARN). */
  readonly functionArn: string;
  /** The role ECS assumes to invoke it (env ECS_HOOK_ROLE_ARN). */
  readonly roleArn: string;
}

/** A target's strategy as ECS's `deploymentConfiguration` fields, with the hook (none: `lifecycleHooks: []`). */
export function strategyConfiguration(
  target: ProgressiveTarget,
  hook: (GateHook & { readonly executionName: string }) | undefined,
): DeploymentConfiguration {
  const config: DeploymentConfiguration = {
    strategy: STRATEGIES[target.strategy],
    bakeTimeInMinutes: target.bakeMinutes,
    lifecycleHooks: hook
      ? [
          {
            hookTargetArn: hook.functionArn,
            roleArn: hook.roleArn,
            lifecycleStages: [
              ...(target.testRoute ? (['POST_TEST_TRAFFIC_SHIFT'] as const) : []),
              'PRODUCTION_TRAFFIC_SHIFT',
            ],
            hookDetails: { execution: hook.executionName },
          },
        ]
      : [],
  };
  if (target.strategy === 'canary') {
    const c = canaryOf(target);
    config.canaryConfiguration = { canaryPercent: c.percent, canaryBakeTimeInMinutes: c.bakeMinutes };
  }
  if (target.strategy === 'linear') {
    const l = linearOf(target);
    config.linearConfiguration = { stepPercent: l.stepPercent, stepBakeTimeInMinutes: l.bakeMinutes };
  }
  return config;
}

/** UpdateService to a revision with the strategy fields (the service's other deployment settings kept). */
export async function updateServiceProgressive(params: {
  readonly ecs: ECSClient;
  readonly cluster: string;
  readonly service: string;
  readonly current: Service;
  readonly taskDefinitionArn: string;
  readonly deploymentConfiguration: DeploymentConfiguration;
}): Promise<string> {
  const { ecs, cluster, service } = params;
  const out = await ecs.send(
    new UpdateServiceCommand({
      cluster,
      service,
      taskDefinition: params.taskDefinitionArn,
      deploymentConfiguration: { ...params.current.deploymentConfiguration, ...params.deploymentConfiguration },
    }),
  );
  const arn = out.service?.currentServiceDeployment;
  if (!arn) {
    throw new TargetNotFoundError(`UpdateService on ${cluster}/${service} returned no service deployment to follow`);
  }
  return arn;
}

/** The newest service deployment of the service in one of these states, if any. */
export async function latestServiceDeployment(
  ecs: ECSClient,
  cluster: string,
  service: string,
  status: ServiceDeploymentStatus[],
): Promise<{ arn: string; status: ServiceDeploymentStatus } | undefined> {
  const out = await ecs.send(new ListServiceDeploymentsCommand({ cluster, service, status }));
  const newest = [...(out.serviceDeployments ?? [])].sort(
    (a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0),
  )[0];
  return newest?.serviceDeploymentArn && newest.status
    ? { arn: newest.serviceDeploymentArn, status: newest.status }
    : undefined;
}

/** One service deployment; TargetNotFoundError when ECS does not know it. */
export async function describeServiceDeployment(ecs: ECSClient, arn: string): Promise<ServiceDeployment> {
  const out = await ecs.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [arn] }));
  const found = out.serviceDeployments?.find((d) => d.serviceDeploymentArn === arn);
  if (!found) {
    const reason = out.failures?.[0]?.reason ?? 'not returned';
    throw new TargetNotFoundError(`ECS service deployment ${arn} not found (${reason})`);
  }
  return found;
}

/** StopServiceDeployment with ROLLBACK: ECS moves all traffic back to the old revision (a weight flip). */
export async function stopWithRollback(ecs: ECSClient, arn: string): Promise<void> {
  await ecs.send(new StopServiceDeploymentCommand({ serviceDeploymentArn: arn, stopType: 'ROLLBACK' }));
}

/** What CheckRollout makes of a service deployment (see check-rollout.ts). */
export interface DeploymentReading {
  readonly status: 'IN_PROGRESS' | 'BAKING' | 'COMPLETED' | 'FAILED';
  readonly reason?: string;
}

/**
 * A service deployment's state for the watch: `expect` is SUCCESSFUL for a deployment (BAKING while ECS bakes it,
 * when `bake`), ROLLBACK_SUCCESSFUL for a deployment stopped with ROLLBACK.
 */
export function readServiceDeployment(
  d: ServiceDeployment,
  expect: 'SUCCESSFUL' | 'ROLLBACK_SUCCESSFUL',
  bake: boolean,
): DeploymentReading {
  const why = `ECS service deployment ${d.serviceDeploymentArn} is ${d.status}${d.statusReason ? `: ${d.statusReason}` : ''}`;
  if (d.status === expect) return { status: 'COMPLETED', reason: why };
  const going =
    expect === 'SUCCESSFUL'
      ? d.status === 'PENDING' || d.status === 'IN_PROGRESS'
      : d.status === 'ROLLBACK_REQUESTED' || d.status === 'ROLLBACK_IN_PROGRESS' || d.status === 'IN_PROGRESS';
  if (!going) return { status: 'FAILED', reason: why };
  return { status: bake && d.lifecycleStage === 'BAKE_TIME' ? 'BAKING' : 'IN_PROGRESS' };
}
