/**
 * Services on the CODE_DEPLOY deployment controller (a local service's `deploymentController: CODE_DEPLOY`): ECS
 * refuses UpdateService with a new task definition for them, and the local CodeDeploy (local/codedeploy) deploys
 * them as ECS's blue/green does, through {@link ServiceDeployments} with its own hook invoker.
 */
import type { LocalServiceSpec } from '../types.ts';
import type { EcsEngine } from './engine.ts';
import { invalidParameter } from './errors.ts';
import type { ServiceDeploymentRecord, ServiceRecord } from './model.ts';
import type { StartOptions } from './service-deployments.ts';
import type { StrategyConfig } from './strategies.ts';

/** The config's controller on a service (the config wins over a persisted state). */
export function applyController(svc: ServiceRecord | undefined, spec: LocalServiceSpec): void {
  if (svc === undefined) return;
  if (spec.deploymentController === 'CODE_DEPLOY') svc.deploymentController = 'CODE_DEPLOY';
  else delete svc.deploymentController;
}

/** UpdateService with a new task definition (or forced) on a CODE_DEPLOY service: ECS's InvalidParameterException. */
export function refuseUnderCodeDeploy(svc: ServiceRecord, deploying: boolean): void {
  if (deploying && svc.deploymentController === 'CODE_DEPLOY') {
    throw invalidParameter(
      'Unable to update task definition on services with a CODE_DEPLOY deployment controller. Use AWS CodeDeploy to trigger a new deployment.',
    );
  }
}

/** What the local CodeDeploy drives: a CODE_DEPLOY service's blue/green deployments. */
export interface CodeDeployController {
  /** The service, or ServiceNotFoundException / ClusterNotFoundException. */
  service(cluster: string, service: string): ServiceRecord;
  /** The task definition's ARN, or ECS's error for one that cannot be used. */
  taskDefinition(ref: string): string;
  /** Starts the deployment (checked as UpdateService would: one at a time, a load balancer). */
  start(
    svc: ServiceRecord,
    strategy: StrategyConfig,
    taskDefinition: string,
    options: StartOptions,
  ): ServiceDeploymentRecord;
  /** Rolls the deployment back (StopServiceDeployment ROLLBACK's path). */
  rollback(record: ServiceDeploymentRecord): void;
}

export function codeDeployController(engine: EcsEngine): CodeDeployController {
  return {
    service: (cluster, service) => engine.getService(engine.getCluster(cluster), service),
    taskDefinition: (ref) => engine.taskDefinitions.usable(ref).taskDefinitionArn,
    start: (svc, strategy, taskDefinition, options) =>
      engine.deployments.start(svc, strategy, taskDefinition, { ...options, byCodeDeploy: true }),
    rollback: (record) => engine.deployments.rollback(record),
  };
}
