/**
 * The local ECS service scheduler's rules, as pure functions: a service's state, its tasks and the time in, the
 * actions to take out. No processes, no timers, no I/O: the engine (engine.ts) applies the actions and the task
 * processes (tasks.ts) carry them out, so these rules are tested as tables (test/local/ecs-scheduler.test.ts).
 *
 * Semantics (ECS's rolling update, `deploymentController: ECS`):
 * - tasks that are RUNNING or PENDING and not asked to stop never exceed floor(desired * maximumPercent / 100);
 * - RUNNING tasks never drop below ceil(desired * minimumHealthyPercent / 100) because of the scheduler;
 * - a task is RUNNING when its process is up and its PORT accepts TCP connections (container liveness; the load
 *   balancer's health check does not gate the rollout, so a version that fails it still completes here);
 * - the PRIMARY deployment is COMPLETED when it runs `desiredCount` tasks and every older task is gone; the older
 *   deployments then disappear;
 * - a task that exits or does not open its port within the start timeout is a failed task; at the circuit breaker's
 *   threshold the deployment is FAILED, and with rollback ECS starts a new PRIMARY deployment of the last COMPLETED
 *   task definition;
 * - a task that dies is replaced; a service whose tasks keep failing launches less often (back-off).
 */
import type { DeploymentConfigurationRecord, DeploymentRecord, ServiceRecord, TaskRecord } from './model.ts';

/** What the scheduler reads of a task. */
export type TaskView = Pick<TaskRecord, 'id' | 'deploymentId' | 'lastStatus' | 'desiredStatus' | 'createdAt'>;

/** What the scheduler reads of a service. */
export type ServiceView = Pick<ServiceRecord, 'desiredCount' | 'deployments' | 'lastCompleted'> & {
  readonly deploymentConfiguration: DeploymentConfigurationRecord;
};

/** A service's scheduling memory, kept by the engine between passes (not persisted). */
export interface SchedulerMemory {
  /** No launch before this time (epoch ms): ECS throttles tasks that keep failing. */
  readonly nextLaunchAt: number;
  readonly consecutiveFailures: number;
  /** Whether the last pass found the service steady (for the "steady state" event). */
  readonly steady: boolean;
  /** Whether "unable to consistently start tasks" was reported for the current deployment. */
  readonly unstableReported: boolean;
}

export const FRESH_MEMORY: SchedulerMemory = {
  nextLaunchAt: 0,
  consecutiveFailures: 0,
  steady: false,
  unstableReported: false,
};

/** What one scheduler pass asks for, in the order the engine applies them. */
export type SchedulerAction =
  /** Ask tasks to stop (running ones are drained from the load balancer first). */
  | { readonly type: 'stop'; readonly taskIds: readonly string[]; readonly reason: string }
  /** Start `count` tasks of a deployment. */
  | { readonly type: 'launch'; readonly deploymentId: string; readonly taskDefinition: string; readonly count: number }
  /** The PRIMARY deployment reached its desired count with nothing else left: COMPLETED, the others gone. */
  | { readonly type: 'complete'; readonly deploymentId: string }
  /** The service reached a steady state (after completion, once): the event, older deployments dropped. */
  | { readonly type: 'steady' };

export interface SchedulerInput {
  readonly service: ServiceView;
  /** The service's tasks, stopped ones included. */
  readonly tasks: readonly TaskView[];
  readonly memory: Pick<SchedulerMemory, 'nextLaunchAt' | 'steady'>;
  /** The clock (epoch ms). */
  readonly now: number;
}

export interface SchedulerDecision {
  readonly actions: SchedulerAction[];
  /** The service's `steady` memory after the actions. */
  readonly steady: boolean;
}

/** ECS's circuit breaker threshold: 0.5 x desired count, at least 3, at most 200. */
export function circuitBreakerThreshold(desiredCount: number): number {
  return Math.min(200, Math.max(3, Math.ceil(0.5 * desiredCount)));
}

/** The back-off after `consecutiveFailures` failed tasks: 250 ms doubling up to 5 s (ECS throttles similarly). */
export function launchBackoffMs(consecutiveFailures: number): number {
  return Math.min(5000, 250 * 2 ** (consecutiveFailures - 1));
}

/** One pass of the service scheduler: scale in, launch within maximumPercent, stop old tasks, complete. */
export function schedule(input: SchedulerInput): SchedulerDecision {
  const { service, tasks, memory, now } = input;
  const primary = service.deployments[0];
  if (primary === undefined) return { actions: [], steady: memory.steady };
  const actions: SchedulerAction[] = [];
  const desired = service.desiredCount;
  const { minimumHealthyPercent, maximumPercent } = service.deploymentConfiguration;
  const maxTasks = Math.floor((desired * maximumPercent) / 100);
  const minHealthy = Math.ceil((desired * minimumHealthyPercent) / 100);
  const primaryFailed = primary.rolloutState === 'FAILED';
  const reason = `Scaling activity initiated by (deployment ${primary.id})`;
  // Tasks asked to stop during this pass no longer count as live for the rest of it.
  const stopping = new Set<string>();
  const stop = (chosen: readonly TaskView[]) => {
    if (chosen.length === 0) return;
    for (const t of chosen) stopping.add(t.id);
    actions.push({ type: 'stop', taskIds: chosen.map((t) => t.id), reason });
  };
  const live = () =>
    tasks.filter((t) => t.desiredStatus === 'RUNNING' && t.lastStatus !== 'STOPPED' && !stopping.has(t.id));

  // Scale in the primary (desired count lowered): pending tasks first, then the newest.
  const primaryLive = live().filter((t) => t.deploymentId === primary.id);
  if (primaryLive.length > desired) {
    stop(
      [...primaryLive]
        .sort(
          (a, b) =>
            Number(a.lastStatus === 'RUNNING') - Number(b.lastStatus === 'RUNNING') || b.createdAt - a.createdAt,
        )
        .slice(0, primaryLive.length - desired),
    );
  }

  // Launch within maximumPercent. (Launched tasks are not RUNNING yet: nothing below depends on them.)
  if (!primaryFailed && now >= memory.nextLaunchAt) {
    const current = live();
    const want = desired - current.filter((t) => t.deploymentId === primary.id).length;
    const count = Math.min(want, maxTasks - current.length);
    if (count > 0) {
      actions.push({ type: 'launch', deploymentId: primary.id, taskDefinition: primary.taskDefinition, count });
    }
  }

  // Stop older deployments' tasks as far as minimumHealthyPercent allows. A FAILED primary without a rollback
  // leaves the old tasks serving.
  if (!primaryFailed) {
    const old = live().filter((t) => t.deploymentId !== primary.id);
    stop(old.filter((t) => t.lastStatus !== 'RUNNING'));
    const removable = live().filter((t) => t.lastStatus === 'RUNNING').length - minHealthy;
    if (removable > 0) {
      stop(
        old
          .filter((t) => t.lastStatus === 'RUNNING')
          .sort((a, b) => a.createdAt - b.createdAt)
          .slice(0, removable),
      );
    }
  }

  // Completion and steady state. A task asked to stop is not STOPPED yet: it still counts as left.
  const desiredRunning = (t: TaskView) => t.desiredStatus === 'RUNNING' && !stopping.has(t.id);
  const primaryRunning = tasks.filter(
    (t) => t.deploymentId === primary.id && t.lastStatus === 'RUNNING' && desiredRunning(t),
  ).length;
  const othersLeft = tasks.some((t) => t.deploymentId !== primary.id && t.lastStatus !== 'STOPPED');
  const primaryExtra = tasks.some(
    (t) => t.deploymentId === primary.id && t.lastStatus !== 'STOPPED' && !desiredRunning(t),
  );
  const settled = primaryRunning === desired && !othersLeft && !primaryExtra;
  if (!settled) return { actions, steady: false };
  let rolloutState = primary.rolloutState;
  if (rolloutState === 'IN_PROGRESS') {
    actions.push({ type: 'complete', deploymentId: primary.id });
    rolloutState = 'COMPLETED';
  }
  if (rolloutState === 'COMPLETED' && !memory.steady) {
    actions.push({ type: 'steady' });
    return { actions, steady: true };
  }
  return { actions, steady: memory.steady };
}

/** What to do when a task of the service failed (stopped while it was meant to run). */
export type FailureAction =
  /** Remember the failure and hold launches until `nextLaunchAt`. */
  | { readonly type: 'throttle'; readonly consecutiveFailures: number; readonly nextLaunchAt: number }
  /** The deployment's `failedTasks` becomes `failedTasks`. */
  | { readonly type: 'count'; readonly deploymentId: string; readonly failedTasks: number }
  /** Threshold reached without a circuit breaker: the "unable to consistently start tasks" event, once. */
  | { readonly type: 'unstable' }
  /** The circuit breaker trips: the deployment is FAILED. */
  | { readonly type: 'fail'; readonly deploymentId: string }
  /** ...and rolls back: a new PRIMARY deployment of `to`, the failed deployment's tasks stopped. */
  | {
      readonly type: 'rollback';
      readonly to: NonNullable<ServiceRecord['lastCompleted']>;
      readonly stopTaskIds: readonly string[];
    };

export interface FailureInput {
  readonly service: ServiceView;
  readonly tasks: readonly TaskView[];
  /** The deployment of the task that failed. */
  readonly deploymentId: string;
  readonly memory: Pick<SchedulerMemory, 'consecutiveFailures' | 'unstableReported'>;
  readonly now: number;
}

/** The circuit breaker: counts a failed task against its deployment, and fails (and rolls back) at the threshold. */
export function taskFailed(input: FailureInput): FailureAction[] {
  const { service, memory, now } = input;
  const deployment = service.deployments.find((d) => d.id === input.deploymentId);
  if (deployment === undefined) return [];
  const consecutiveFailures = memory.consecutiveFailures + 1;
  const actions: FailureAction[] = [
    { type: 'throttle', consecutiveFailures, nextLaunchAt: now + launchBackoffMs(consecutiveFailures) },
  ];
  if (deployment.rolloutState !== 'IN_PROGRESS') return actions;
  const failedTasks = deployment.failedTasks + 1;
  actions.push({ type: 'count', deploymentId: deployment.id, failedTasks });
  if (failedTasks < circuitBreakerThreshold(service.desiredCount) || deployment !== service.deployments[0]) {
    return actions;
  }
  const breaker = service.deploymentConfiguration.deploymentCircuitBreaker;
  if (!breaker.enable) {
    if (!memory.unstableReported) actions.push({ type: 'unstable' });
    return actions;
  }
  actions.push({ type: 'fail', deploymentId: deployment.id });
  const last = service.lastCompleted;
  if (breaker.rollback && last !== undefined && last.taskDefinition !== deployment.taskDefinition) {
    const stopTaskIds = input.tasks
      .filter((t) => t.deploymentId === deployment.id && t.desiredStatus === 'RUNNING')
      .map((t) => t.id);
    actions.push({ type: 'rollback', to: last, stopTaskIds });
  }
  return actions;
}

/** A deployment id like ECS's (19 digits): monotonic and unique across restarts given a persisted counter. */
export function deploymentId(now: number, counter: number): string {
  return `ecs-svc/${(BigInt(now) * 1_000_000n + BigInt(counter % 1_000_000)).toString()}`;
}

/** The deployments after a new one starts: it is PRIMARY and IN_PROGRESS, every other one ACTIVE. */
export function startDeployment(
  deployments: readonly DeploymentRecord[],
  next: { readonly id: string; readonly taskDefinition: string; readonly now: number; readonly reason?: string },
): DeploymentRecord[] {
  const { id, taskDefinition, now } = next;
  return [
    {
      id,
      status: 'PRIMARY',
      taskDefinition,
      failedTasks: 0,
      createdAt: now,
      updatedAt: now,
      rolloutState: 'IN_PROGRESS',
      rolloutStateReason: next.reason ?? `ECS deployment ${id} in progress.`,
    },
    ...deployments.map((d): DeploymentRecord => ({ ...d, status: 'ACTIVE', updatedAt: now })),
  ];
}

/** The deployments after a restart: a rollout left half-done resolves to its PRIMARY, started over. */
export function restoredDeployments(deployments: readonly DeploymentRecord[], now: number): DeploymentRecord[] {
  const primary = deployments[0];
  if (primary === undefined) return [];
  if (primary.rolloutState === 'COMPLETED') return [primary];
  return [
    {
      ...primary,
      rolloutState: 'IN_PROGRESS',
      rolloutStateReason: `ECS deployment ${primary.id} in progress.`,
      failedTasks: 0,
      updatedAt: now,
    },
  ];
}

/**
 * Settled: the PRIMARY deployment is FAILED (ECS stopped trying), or COMPLETED and the service steady (it runs the
 * desired count with nothing else left).
 */
export function isSettled(deployments: readonly DeploymentRecord[], steady: boolean): boolean {
  const primary = deployments[0];
  if (primary === undefined || primary.rolloutState === 'FAILED') return true;
  return primary.rolloutState === 'COMPLETED' && steady;
}
