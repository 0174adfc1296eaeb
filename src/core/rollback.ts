import type { ECSClient } from '@aws-sdk/client-ecs';
import type { RolloutSpec } from '../config/schema.ts';
import { type RolloutWatch, updateService, watchOf } from './deploy.ts';
import { describeService, primaryDeployment } from './ecs.ts';

export interface RollbackParams {
  readonly ecs: ECSClient;
  readonly cluster: string;
  readonly service: string;
  /** The backed-up revision (`$.backup.taskDefinitionArn`). */
  readonly taskDefinitionArn: string;
  readonly rollout: RolloutSpec;
  readonly now?: () => Date;
  /** Throws when this execution does not hold the service's deploy lock (see confirmLock). */
  readonly confirmLock?: () => Promise<void>;
}

/**
 * Points the service back at the backed-up revision. When ECS's circuit breaker already started that rollback,
 * the existing deployment is followed instead of starting a second one.
 */
export async function rollback(params: RollbackParams): Promise<RolloutWatch> {
  const { ecs, cluster, service, taskDefinitionArn } = params;
  await params.confirmLock?.();
  const svc = await describeService(ecs, cluster, service);
  const primary = primaryDeployment(svc);
  if (primary?.taskDefinition === taskDefinitionArn && primary.rolloutState !== 'FAILED') {
    return watchOf(params, primary.id);
  }
  return updateService(params);
}
