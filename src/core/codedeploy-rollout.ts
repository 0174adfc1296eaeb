import type { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import type { ECSClient, Service } from '@aws-sdk/client-ecs';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { CodeDeploySpec } from '../config/codedeploy.ts';
import {
  appSpecFor,
  type CodeDeployHooks,
  createDeployment,
  findExecutionDeployment,
  isOpen,
  stopWithRollback,
} from './codedeploy.ts';
import { failOpenHooks, linkDeployment } from './codedeploy-hook.ts';
import type { RolloutWatch, WatchParams } from './deploy.ts';
import { describeService, primaryDeployment } from './ecs.ts';
import { TargetNotFoundError } from './errors.ts';
import { closeGates } from './gates.ts';

/**
 * Deploy, CheckRollout and Rollback for a target on the CODE_DEPLOY controller (`codeDeploy`): CreateDeployment with
 * the AppSpec and rollgate's hooks, followed through BatchGetDeployments; StopDeployment with autoRollbackEnabled.
 * deploy.ts, check-rollout.ts and rollback.ts hand such a target here.
 */

/** What the three need besides the ECS side: the CodeDeploy client, the target's settings, the gate bridge. */
export interface CodeDeployContext {
  readonly codeDeploy: CodeDeployClient;
  readonly spec: CodeDeploySpec;
  readonly s3: S3Client;
  readonly sfn: SFNClient;
  /** The bucket of the gate bridge (`gates/`). */
  readonly bucket: string;
  readonly executionName: string;
  /** The image deployed (the deployment's description). */
  readonly image: string;
}

type WatchBase = WatchParams & { readonly ecs: ECSClient };

/** A fresh watch of a CodeDeploy deployment. */
function watch(
  params: WatchBase,
  deploymentId: string,
  expect: 'SUCCESSFUL' | 'ROLLBACK_SUCCESSFUL',
  watchOf: (p: WatchBase, id: string | undefined) => RolloutWatch,
  /** A deploy's watch: its gates come first (RolloutDone), BAKING during the termination wait. */
  gated = false,
): RolloutWatch {
  return {
    ...watchOf(params, undefined),
    codeDeployDeploymentId: deploymentId,
    expect,
    ...(gated ? { bake: true } : {}),
  };
}

/** The container and port of the service's load balancer: the AppSpec's LoadBalancerInfo. */
function loadBalancerInfo(svc: Service, cluster: string): { containerName: string; containerPort: number } {
  const lb = svc.loadBalancers?.[0];
  if (!lb?.containerName || lb.containerPort === undefined) {
    throw new TargetNotFoundError(
      `ECS service ${svc.serviceName} in cluster ${cluster} has no load balancer container and port: a CodeDeploy blue/green deployment needs them (the AppSpec's LoadBalancerInfo)`,
    );
  }
  return { containerName: lb.containerName, containerPort: lb.containerPort };
}

/**
 * Deploy through CodeDeploy. A retry or redrive follows the deployment this execution already created (found by its
 * description), so CreateDeployment happens once per execution; the backup is checked before it. Then the deployment
 * is linked to the execution for the hooks (again on a retry: the hooks that came first are announced).
 */
export async function deployWithCodeDeploy(
  params: WatchBase &
    CodeDeployContext & {
      readonly svc: Service;
      readonly hooks: () => CodeDeployHooks;
      readonly checkBackup: () => Promise<void>;
      readonly watchOf: (p: WatchBase, id: string | undefined) => RolloutWatch;
    },
): Promise<RolloutWatch> {
  const { codeDeploy, spec } = params;
  const group = { codeDeploy, application: spec.application, deploymentGroup: spec.deploymentGroup };
  const existing = await findExecutionDeployment({ ...group, executionName: params.executionName, kind: 'execution' });
  let id = existing?.deploymentId;
  if (!id) {
    await params.checkBackup();
    id = await createDeployment({
      ...group,
      deploymentConfig: spec.deploymentConfig,
      appSpec: appSpecFor({
        taskDefinitionArn: params.taskDefinitionArn,
        ...loadBalancerInfo(params.svc, params.cluster),
        gates: spec.gates,
        hooks: params.hooks(),
      }),
      executionName: params.executionName,
      image: params.image,
      kind: 'execution',
    });
  }
  await linkDeployment({ ...params, deploymentId: id, gates: spec.gates });
  return watch(params, id, 'SUCCESSFUL', params.watchOf, true);
}

/**
 * Rollback of a CodeDeploy target: the execution's gates closed and every hook still waiting reported Failed, then
 * the deployment this execution created, if any: in progress, stopped with autoRollbackEnabled (CodeDeploy moves the
 * traffic back and starts a rollback deployment, which the watch follows); already failed with its rollback, that
 * rollback followed. When the service runs the backup already (CreateDeployment never went through, or CodeDeploy's
 * rollback is done) the ECS deployment is watched; when it does not (the deployment had succeeded), the backup is
 * deployed through CodeDeploy without hooks (once per execution: a retry follows it).
 */
export async function rollbackWithCodeDeploy(
  params: WatchBase &
    CodeDeployContext & {
      readonly reason: string;
      readonly watchOf: (p: WatchBase, id: string | undefined) => RolloutWatch;
    },
): Promise<RolloutWatch> {
  const { codeDeploy, spec, ecs, cluster, service } = params;
  const store = { s3: params.s3, bucket: params.bucket, executionName: params.executionName };
  await closeGates({ ...store, reason: params.reason });
  await failOpenHooks({ ...store, codeDeploy });
  const group = { codeDeploy, application: spec.application, deploymentGroup: spec.deploymentGroup };
  const mine = await findExecutionDeployment({ ...group, executionName: params.executionName, kind: 'execution' });
  if (mine?.deploymentId && isOpen(mine)) {
    await stopWithRollback(codeDeploy, mine.deploymentId);
    return watch(params, mine.deploymentId, 'ROLLBACK_SUCCESSFUL', params.watchOf);
  }
  if (mine?.deploymentId && mine.rollbackInfo?.rollbackDeploymentId) {
    return watch(params, mine.deploymentId, 'ROLLBACK_SUCCESSFUL', params.watchOf);
  }
  const redeploy = await findExecutionDeployment({ ...group, executionName: params.executionName, kind: 'rollback' });
  if (redeploy?.deploymentId) return watch(params, redeploy.deploymentId, 'SUCCESSFUL', params.watchOf);
  const svc = await describeService(ecs, cluster, service);
  const primary = primaryDeployment(svc);
  if (primary?.taskDefinition === params.taskDefinitionArn && primary.rolloutState !== 'FAILED') {
    return params.watchOf(params, primary.id);
  }
  const id = await createDeployment({
    ...group,
    deploymentConfig: 'CodeDeployDefault.ECSAllAtOnce',
    appSpec: appSpecFor({
      taskDefinitionArn: params.taskDefinitionArn,
      ...loadBalancerInfo(svc, cluster),
      gates: [],
      hooks: {} as CodeDeployHooks,
    }),
    executionName: params.executionName,
    image: params.image,
    kind: 'rollback',
  });
  return watch(params, id, 'SUCCESSFUL', params.watchOf);
}
