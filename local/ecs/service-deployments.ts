/**
 * The local ECS's BLUE_GREEN / CANARY / LINEAR service deployments: UpdateService with a new task definition starts
 * one, walked by a {@link StrategyRun} over the service's ALB with the engine's real processes. While it runs, the
 * service scheduler leaves the service alone (`holds`): the green tasks start in the alternate target group (SCALE_UP
 * resolves when they are healthy), CLEAN_UP stops blue's tasks, a rollback stops green's. After a success the target
 * groups swap roles (green is the live group); after a rollback the source revision is the PRIMARY deployment again.
 * Either way the scheduler takes the service back (a dead task is replaced from then on, not during the run).
 *
 * Restart: a service deployment the state file shows unfinished (the local cloud stopped during it) is marked
 * ROLLBACK_SUCCESSFUL at start: the service comes back on its source revision with every rule on the live target
 * group, which is what a rollback leaves; its rollback hooks are not invoked (the Lambda endpoint may be gone).
 */
import type { LoadBalancer } from '../lb.ts';
import { otherGroup, testRules } from './alb.ts';
import { refuseUnderCodeDeploy } from './controller.ts';
import { conflict, invalidParameter } from './errors.ts';
import {
  type DeploymentRecord,
  MAX_SERVICE_DEPLOYMENTS,
  type RevisionRef,
  type ServiceDeploymentRecord,
  type ServiceRecord,
  serviceDeploymentArn,
  serviceRevisionArn,
  type TargetGroupName,
  type TaskRecord,
} from './model.ts';
import type { ServiceRuntime } from './processes.ts';
import { startDeployment } from './scheduler.ts';
import type { StrategyConfig } from './strategies.ts';
import { type HookInvoker, lambdaHookInvoker, StrategyRun } from './strategy-run.ts';
import { pollUntil } from './wait.ts';

/** What a service deployment needs of the engine. */
export interface DeploymentHost {
  nextDeploymentId(): string;
  runtime(svc: ServiceRecord): ServiceRuntime | undefined;
  launch(rt: ServiceRuntime, svc: ServiceRecord, deployment: DeploymentRecord, targetGroup: TargetGroupName): void;
  stop(rt: ServiceRuntime, svc: ServiceRecord, tasks: readonly TaskRecord[], reason: string): void;
  event(svc: ServiceRecord, message: string): void;
  save(): void;
  /** The scheduler takes the service back. */
  resume(svc: ServiceRecord): void;
  log(line: string): void;
}

/** Where and how fast: the account, a "minute" of bake time, the task timings that bound SCALE_UP and stops. */
export interface DeploymentSettings {
  readonly region: string;
  readonly accountId: string;
  readonly minuteMs: number;
  readonly taskStartTimeoutMs: number;
  readonly deregistrationDelayMs: number;
  readonly stopGraceMs: number;
  /** The Lambda endpoint hooks are invoked through; none: every hook fails (and the deployment rolls back). */
  readonly lambdaEndpoint?: string;
}

/** Beyond the task start timeout, how long green's tasks may take to pass the target group's health checks. */
const SCALE_UP_HEALTH_MS = 30_000;

const FINAL = new Set(['SUCCESSFUL', 'ROLLBACK_SUCCESSFUL', 'ROLLBACK_FAILED', 'STOPPED']);

export const isFinished = (record: ServiceDeploymentRecord): boolean => FINAL.has(record.status);

/** How a deployment started by another controller (the local CodeDeploy) calls hooks and hears of its progress. */
export interface StartOptions {
  /** Started by the local CodeDeploy (a CODE_DEPLOY service refuses any other deployment). */
  readonly byCodeDeploy?: boolean;
  /** Instead of the Lambda invoker of ECS's lifecycle hooks. */
  readonly invoke?: HookInvoker;
  /** After every change of the run (and the record updated from it), its end included. */
  readonly onChange?: (record: ServiceDeploymentRecord, run: StrategyRun) => void;
}

export class ServiceDeployments {
  readonly #host: DeploymentHost;
  readonly #settings: DeploymentSettings;
  readonly #invoker: { invoke: HookInvoker; close(): void };
  /** Runs in progress, by service deployment ARN. */
  readonly #runs = new Map<string, StrategyRun>();
  /** Services held by a run, by service ARN. */
  readonly #held = new Set<string>();
  #closing = false;

  constructor(host: DeploymentHost, settings: DeploymentSettings) {
    this.#host = host;
    this.#settings = settings;
    const { lambdaEndpoint } = settings;
    this.#invoker =
      lambdaEndpoint === undefined
        ? {
            invoke: () => Promise.reject(new Error('the local ECS was started without a Lambda endpoint')),
            close: () => undefined,
          }
        : lambdaHookInvoker(lambdaEndpoint, settings.region);
  }

  /** Whether a strategy run holds the service (the scheduler leaves it alone). */
  holds(svc: ServiceRecord): boolean {
    return this.#held.has(svc.serviceArn);
  }

  /**
   * Refuses what cannot work: a strategy other than ROLLING on a service without a load balancer, or a new deployment
   * (`deploying`) while a service deployment is in progress.
   */
  check(svc: ServiceRecord, strategy: StrategyConfig, deploying: boolean, byCodeDeploy = false): void {
    if (!byCodeDeploy) refuseUnderCodeDeploy(svc, deploying);
    if (strategy.strategy !== 'ROLLING' && svc.loadBalancer === undefined) {
      throw invalidParameter(
        `deploymentConfiguration.strategy ${strategy.strategy} needs a service with a load balancer and its advancedConfiguration; service ${svc.serviceName} has none.`,
      );
    }
    const current = svc.serviceDeployments?.at(-1);
    if (deploying && this.holds(svc) && current !== undefined) {
      throw invalidParameter(
        `service deployment ${current.arn} is ${current.status}: wait for it to finish or stop it (StopServiceDeployment) first.`,
      );
    }
  }

  /** Starts a service deployment of `taskDefinition` with `strategy` (BLUE_GREEN, CANARY or LINEAR). */
  start(
    svc: ServiceRecord,
    strategy: StrategyConfig,
    taskDefinition: string,
    options: StartOptions = {},
  ): ServiceDeploymentRecord {
    this.check(svc, strategy, true, options.byCodeDeploy === true);
    const host = this.#host;
    const rt = host.runtime(svc);
    const wiring = svc.loadBalancer;
    const lb = rt?.lb;
    const source = svc.deployments[0];
    if (rt === undefined || lb === undefined || wiring === undefined || source === undefined) {
      throw invalidParameter(`service ${svc.serviceName} has no running load balancer or no deployment to replace.`);
    }
    const now = Date.now();
    const id = host.nextDeploymentId();
    svc.deployments = startDeployment(svc.deployments, { id, taskDefinition, now });
    const target = svc.deployments[0] as DeploymentRecord;
    const live = wiring.liveTargetGroup ?? 'blue';
    const revision = (d: DeploymentRecord, tg: TargetGroupName): RevisionRef => ({
      arn: serviceRevisionArn(this.#settings.region, this.#settings.accountId, svc.clusterName, svc.serviceName, d.id),
      deploymentId: d.id,
      taskDefinition: d.taskDefinition,
      targetGroup: tg,
    });
    const record: ServiceDeploymentRecord = {
      arn: serviceDeploymentArn(this.#settings.region, this.#settings.accountId, svc.clusterName, svc.serviceName, id),
      status: 'IN_PROGRESS',
      statusReason: 'Service deployment in progress.',
      lifecycleStage: 'RECONCILE_SERVICE',
      testPercent: 0,
      productionPercent: 0,
      source: revision(source, live),
      target: revision(target, otherGroup(live)),
      config: strategy,
      createdAt: now,
      updatedAt: now,
    };
    svc.serviceDeployments = [...(svc.serviceDeployments ?? []), record].slice(-MAX_SERVICE_DEPLOYMENTS);
    this.#held.add(svc.serviceArn);
    host.event(
      svc,
      `(service ${svc.serviceName}) (deployment ${id}) service deployment ${record.arn} started: ${strategy.strategy} to ${taskDefinition}.`,
    );
    const run = this.#walk(svc, rt, lb, record, options);
    this.#runs.set(record.arn, run);
    void run.done.then(() => {
      this.#finish(svc, record, run);
      options.onChange?.(record, run);
    });
    host.save();
    return record;
  }

  #walk(
    svc: ServiceRecord,
    rt: ServiceRuntime,
    lb: LoadBalancer,
    record: ServiceDeploymentRecord,
    options: StartOptions,
  ): StrategyRun {
    const host = this.#host;
    const { source, target } = record;
    const tasksOf = (mine: (t: TaskRecord) => boolean) =>
      rt.tasks.filter((t) => mine(t) && t.lastStatus !== 'STOPPED' && t.desiredStatus === 'RUNNING');
    const stopAndWait = async (tasks: TaskRecord[]) => {
      host.stop(rt, svc, tasks, `Scaling activity initiated by (deployment ${target.deploymentId})`);
      await this.#until(
        () => tasks.every((t) => t.lastStatus === 'STOPPED'),
        this.#settings.deregistrationDelayMs + this.#settings.stopGraceMs + 5000,
        'tasks to stop',
      );
    };
    return new StrategyRun({
      config: record.config,
      lb,
      productionRule: lb.defaultRule('production'),
      testRules: svc.loadBalancer === undefined ? [] : testRules(lb, svc.loadBalancer),
      live: source.targetGroup,
      candidate: target.targetGroup,
      serviceArn: svc.serviceArn,
      serviceDeploymentArn: record.arn,
      blueRevisionArn: source.arn,
      greenRevisionArn: target.arn,
      invoke: options.invoke ?? this.#invoker.invoke,
      minuteMs: this.#settings.minuteMs,
      log: (line) => host.log(`ecs: ${svc.serviceName}: ${line}`),
      onChange: (run) => {
        this.#update(svc, record, run);
        options.onChange?.(record, run);
      },
      scaleUp: async () => {
        const deployment = svc.deployments.find((d) => d.id === target.deploymentId);
        if (deployment === undefined) throw new Error(`deployment ${target.deploymentId} is gone`);
        host.launch(rt, svc, deployment, target.targetGroup);
        await this.#until(
          () => {
            const mine = rt.tasks.filter((t) => t.deploymentId === target.deploymentId);
            const failed = mine.find((t) => t.lastStatus === 'STOPPED');
            if (failed !== undefined) {
              throw new Error(`task ${failed.id} stopped before it served: ${failed.stoppedReason ?? 'unknown'}`);
            }
            const targets = new Map(
              lb
                .targetGroup(target.targetGroup)
                .targets()
                .map((t) => [t.id, t]),
            );
            // A target that fails its health checks fails the scale-up (on AWS, ECS would replace it until its
            // circuit breaker gives up; here the deployment rolls back at once).
            const sick = mine.map((t) => targets.get(t.id)).find((t) => t?.state === 'unhealthy');
            if (sick !== undefined) {
              throw new Error(
                `task ${sick.id} failed the health checks of target group ${target.targetGroup} (last check: ${sick.lastCheck?.status ?? sick.lastCheck?.error ?? 'none'})`,
              );
            }
            return mine.length >= svc.desiredCount && mine.every((t) => targets.get(t.id)?.state === 'healthy');
          },
          this.#settings.taskStartTimeoutMs + SCALE_UP_HEALTH_MS,
          `${svc.desiredCount} tasks of ${target.taskDefinition} to be healthy in target group ${target.targetGroup}`,
        );
      },
      cleanUp: () => stopAndWait(tasksOf((t) => t.deploymentId !== target.deploymentId)),
      stopCandidate: () => stopAndWait(tasksOf((t) => t.deploymentId === target.deploymentId)),
    });
  }

  /** Waits for `done` (see pollUntil); rejects at once when the local ECS stops. */
  #until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return pollUntil(
      () => {
        if (this.#closing) throw new Error('the local ECS is stopping');
        return done();
      },
      timeoutMs,
      () => `timed out after ${timeoutMs} ms waiting for ${what}`,
    );
  }

  /** The run moved: the record follows (and, once it rolls back, the source revision is PRIMARY again). */
  #update(svc: ServiceRecord, record: ServiceDeploymentRecord, run: StrategyRun): void {
    if (this.#closing) return;
    const now = Date.now();
    record.status = run.rollbackRequested ? 'ROLLBACK_REQUESTED' : run.status;
    record.lifecycleStage = run.stage;
    record.testPercent = run.testPercent;
    record.productionPercent = run.productionPercent;
    if (run.reason !== '') record.statusReason = run.reason;
    record.updatedAt = now;
    if (run.rollbackFlipMs !== undefined) record.rollbackFlipMs = run.rollbackFlipMs;
    if (run.status === 'ROLLBACK_IN_PROGRESS' && record.rollback === undefined) {
      record.rollback = { reason: run.reason, startedAt: now, serviceRevisionArn: record.source.arn };
      const target = svc.deployments.find((d) => d.id === record.target.deploymentId);
      const source = svc.deployments.find((d) => d.id === record.source.deploymentId);
      if (target !== undefined && source !== undefined) {
        target.status = 'ACTIVE';
        target.rolloutState = 'FAILED';
        target.rolloutStateReason = `ECS deployment ${target.id} rolled back: ${run.reason}`;
        target.updatedAt = now;
        source.status = 'PRIMARY';
        source.updatedAt = now;
        svc.deployments = [source, target];
      }
      this.#host.event(
        svc,
        `(service ${svc.serviceName}) service deployment ${record.arn} rolling back: ${run.reason}`,
      );
    }
    this.#host.save();
  }

  /** The run ended: the service's deployments and live target group as it left them; the scheduler resumes. */
  #finish(svc: ServiceRecord, record: ServiceDeploymentRecord, run: StrategyRun): void {
    this.#runs.delete(record.arn);
    if (this.#closing) return;
    this.#update(svc, record, run);
    const now = Date.now();
    record.finishedAt = now;
    const target = svc.deployments.find((d) => d.id === record.target.deploymentId);
    const source = svc.deployments.find((d) => d.id === record.source.deploymentId);
    if (run.status === 'SUCCESSFUL' && target !== undefined) {
      if (svc.loadBalancer !== undefined) svc.loadBalancer.liveTargetGroup = record.target.targetGroup;
      target.rolloutState = 'COMPLETED';
      target.rolloutStateReason = `ECS deployment ${target.id} completed.`;
      target.updatedAt = now;
      svc.deployments = [target];
      svc.lastCompleted = { deploymentId: target.id, taskDefinition: target.taskDefinition };
    } else if (run.status === 'ROLLBACK_SUCCESSFUL' && source !== undefined) {
      svc.deployments = [source];
    }
    this.#host.event(svc, `(service ${svc.serviceName}) service deployment ${record.arn} ${run.status}.`);
    this.#held.delete(svc.serviceArn);
    this.#host.save();
    this.#host.resume(svc);
  }

  /** StopServiceDeployment ROLLBACK: the run rolls back (at once, or when the stage it is in lets it). */
  rollback(record: ServiceDeploymentRecord): void {
    const run = this.#runs.get(record.arn);
    if (run === undefined || isFinished(record)) {
      throw conflict(`service deployment ${record.arn} is ${record.status}: only one in progress can be stopped.`);
    }
    run.requestRollback('StopServiceDeployment ROLLBACK requested.');
    record.status = run.rollbackRequested ? 'ROLLBACK_REQUESTED' : record.status;
    this.#host.save();
  }

  /** At start, before the tasks: an unfinished service deployment is rolled back (see the module's comment). */
  restore(svc: ServiceRecord, now: number): void {
    for (const record of svc.serviceDeployments ?? []) {
      if (isFinished(record)) continue;
      const reason = `The local ECS stopped during the service deployment; at start the service runs ${record.source.arn} with all traffic on it.`;
      record.status = 'ROLLBACK_SUCCESSFUL';
      record.statusReason = reason;
      record.rollback ??= { reason, startedAt: now, serviceRevisionArn: record.source.arn };
      record.finishedAt = now;
      record.updatedAt = now;
      const source = svc.deployments.find((d) => d.id === record.source.deploymentId);
      svc.deployments = [
        {
          ...(source ?? {
            id: record.source.deploymentId,
            taskDefinition: record.source.taskDefinition,
            failedTasks: 0,
            createdAt: record.createdAt,
            rolloutStateReason: '',
          }),
          status: 'PRIMARY',
          rolloutState: 'COMPLETED',
          rolloutStateReason: `ECS deployment ${record.source.deploymentId} completed.`,
          updatedAt: now,
        },
      ];
      if (svc.loadBalancer !== undefined) svc.loadBalancer.liveTargetGroup = record.source.targetGroup;
    }
  }

  /** Stops waiting: runs in progress are abandoned (their records stay unfinished: restore() rolls them back). */
  close(): void {
    this.#closing = true;
    for (const run of this.#runs.values()) run.requestRollback('the local ECS is stopping');
    this.#invoker.close();
  }
}
