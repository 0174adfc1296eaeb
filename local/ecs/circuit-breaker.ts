/**
 * The circuit breaker applied: a task meant to run stopped, scheduler.ts's `taskFailed` decides (throttle, count,
 * fail, roll back) and this carries its actions out on the service through the engine's hands.
 */
import type { ServiceRecord, TaskRecord } from './model.ts';
import type { ServiceRuntime } from './processes.ts';
import { taskFailed } from './scheduler.ts';

/** What the circuit breaker needs of the engine. */
export interface BreakerHost {
  save(): void;
  event(svc: ServiceRecord, message: string): void;
  /** Starts a new PRIMARY deployment; its id. */
  startDeployment(svc: ServiceRecord, taskDefinition: string, reason: string): string;
  stop(rt: ServiceRuntime, svc: ServiceRecord, taskIds: readonly string[], reason: string): void;
  queueReconcile(rt: ServiceRuntime): void;
}

export function applyTaskFailure(host: BreakerHost, rt: ServiceRuntime, svc: ServiceRecord, task: TaskRecord): void {
  const now = Date.now();
  const actions = taskFailed({
    service: svc,
    tasks: rt.tasks,
    deploymentId: task.deploymentId,
    memory: rt.memory,
    now,
  });
  const deployment = svc.deployments.find((d) => d.id === task.deploymentId);
  for (const action of actions) {
    if (action.type === 'throttle') {
      const { consecutiveFailures, nextLaunchAt } = action;
      rt.memory = { ...rt.memory, consecutiveFailures, nextLaunchAt };
    } else if (action.type === 'count' && deployment !== undefined) {
      deployment.failedTasks = action.failedTasks;
      deployment.updatedAt = now;
      host.save();
    } else if (action.type === 'unstable') {
      rt.memory = { ...rt.memory, unstableReported: true };
      host.event(svc, `(service ${svc.serviceName}) is unable to consistently start tasks successfully.`);
    } else if (action.type === 'fail' && deployment !== undefined) {
      deployment.rolloutState = 'FAILED';
      deployment.rolloutStateReason = 'ECS deployment circuit breaker: tasks failed to start.';
      deployment.updatedAt = now;
      host.event(
        svc,
        `(service ${svc.serviceName}) (deployment ${deployment.id}) deployment failed: tasks failed to start.`,
      );
    } else if (action.type === 'rollback') {
      const { to } = action;
      const rollback = host.startDeployment(
        svc,
        to.taskDefinition,
        `ECS deployment circuit breaker: rolling back to deploymentId ${to.deploymentId}.`,
      );
      host.event(
        svc,
        `(service ${svc.serviceName}) (deployment ${rollback}) ECS deployment circuit breaker: rolling back to deployment ${to.deploymentId} (${to.taskDefinition}).`,
      );
      host.stop(rt, svc, action.stopTaskIds, `Scaling activity initiated by (deployment ${rollback})`);
      rt.memory = { ...rt.memory, steady: false };
      host.queueReconcile(rt);
    }
  }
}
