import type { ECSClient } from '@aws-sdk/client-ecs';
import type { S3Client } from '@aws-sdk/client-s3';
import type { CodeDeployTarget } from '../config/codedeploy.ts';
import { type CodeDeployContext, rollbackWithCodeDeploy } from './codedeploy-rollout.ts';
import { type RolloutWatch, updateService, type WatchParams, watchOf } from './deploy.ts';
import { describeService, primaryDeployment } from './ecs.ts';
import { closeGates } from './gates.ts';
import {
  latestServiceDeployment,
  stopWithRollback,
  strategyConfiguration,
  updateServiceProgressive,
} from './service-deployments.ts';

/** `taskDefinitionArn`: the backed-up revision (`$.backup.taskDefinitionArn`). */
export interface RollbackParams extends WatchParams {
  readonly ecs: ECSClient;
  /** Throws when this execution does not hold the service's deploy lock (see confirmLock). */
  readonly confirmLock?: () => Promise<void>;
  /** The target's strategy: anything but `rolling` rolls back the ECS service deployment (below). */
  readonly delivery?: CodeDeployTarget;
  /** Where this execution's gates are (a progressive rollback closes them: the hook answers FAILED). */
  readonly gates?: { readonly s3: S3Client; readonly bucket: string; readonly executionName: string };
  /** Why (the failure), for the gates' FAIL mark. */
  readonly reason?: string;
  /** A target with `codeDeploy` rolls back through CodeDeploy (codedeploy-rollout.ts) with these. */
  readonly codeDeploy?: Omit<CodeDeployContext, 'spec' | 's3' | 'bucket' | 'executionName'>;
}

/**
 * Points the service back at the backed-up revision. When ECS's circuit breaker already started that rollback,
 * the existing deployment is followed instead of starting a second one. With a progressive strategy: a service
 * deployment still in progress is stopped with ROLLBACK (ECS flips the traffic back to the old revision, whose tasks
 * still run), one already rolling back is followed; a finished one is replaced by a deployment of the backup without
 * lifecycle hooks.
 */
export async function rollback(params: RollbackParams): Promise<RolloutWatch> {
  const { ecs, cluster, service, taskDefinitionArn, delivery } = params;
  await params.confirmLock?.();
  if (delivery?.codeDeploy) {
    if (!params.codeDeploy || !params.gates)
      throw new Error('rollback: a codeDeploy target needs the CodeDeploy context and its gates');
    return rollbackWithCodeDeploy({
      ...params,
      ...params.codeDeploy,
      ...params.gates,
      spec: delivery.codeDeploy,
      reason: params.reason ?? 'the execution rolls back',
      watchOf,
    });
  }
  if (delivery && delivery.strategy !== 'rolling') {
    if (params.gates) await closeGates({ ...params.gates, reason: params.reason ?? 'the execution rolls back' });
    const open = await latestServiceDeployment(ecs, cluster, service, [
      'PENDING',
      'IN_PROGRESS',
      'ROLLBACK_REQUESTED',
      'ROLLBACK_IN_PROGRESS',
    ]);
    if (open) {
      if (open.status === 'PENDING' || open.status === 'IN_PROGRESS') await stopWithRollback(ecs, open.arn);
      return { ...watchOf(params, undefined), serviceDeploymentArn: open.arn, expect: 'ROLLBACK_SUCCESSFUL' };
    }
  }
  const svc = await describeService(ecs, cluster, service);
  const primary = primaryDeployment(svc);
  if (primary?.taskDefinition === taskDefinitionArn && primary.rolloutState !== 'FAILED') {
    return watchOf(params, primary.id);
  }
  if (delivery && delivery.strategy !== 'rolling') {
    const arn = await updateServiceProgressive({
      ecs,
      cluster,
      service,
      current: svc,
      taskDefinitionArn,
      deploymentConfiguration: strategyConfiguration(delivery, undefined),
    });
    return { ...watchOf(params, undefined), serviceDeploymentArn: arn, expect: 'SUCCESSFUL' };
  }
  return updateService(params);
}
