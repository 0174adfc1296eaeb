/**
 * The local ECS control plane: clusters, services and their deployments, persisted in one state file. It runs the
 * scheduler's passes (scheduler.ts decides, pure) and applies their actions through the task processes
 * (processes.ts: real processes behind each service's load balancer). Task definitions live in task-definitions.ts.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { LoadBalancer } from '../lb.ts';
import { type LocalRegistry, parseImageUri } from '../registry.ts';
import type { LocalCloudSpec, LocalServiceSpec } from '../types.ts';
import { configuredWiring, elbArnPrefix, wireAlb, withAlternate } from './alb.ts';
import { applyTaskFailure } from './circuit-breaker.ts';
import { applyController } from './controller.ts';
import { clusterNotFound, invalidParameter, serviceNotFound } from './errors.ts';
import {
  type ClusterRecord,
  type CreateServiceInput,
  clusterArn,
  type EcsState,
  findService,
  type LocalTaskInfo,
  MAX_EVENTS,
  mergeDeploymentConfiguration,
  nameFromArn,
  type ServiceRecord,
  serviceArn,
  type Tag,
  type TargetGroupName,
  type TaskRecord,
  targetGroupArn,
  taskArn,
  type UpdateServiceInput,
} from './model.ts';
import { type ProcessOptions, type ServiceRuntime, TaskProcesses } from './processes.ts';
import {
  deploymentId,
  FRESH_MEMORY,
  isSettled,
  restoredDeployments,
  type SchedulerAction,
  schedule,
  startDeployment,
} from './scheduler.ts';
import { ServiceDeployments } from './service-deployments.ts';
import { StateStore } from './store.ts';
import { mergeStrategy, parseStrategy } from './strategies.ts';
import { containerOf, seedService, seedTaskDefinition, serviceContainer, TaskDefinitions } from './task-definitions.ts';
import { countTasks, localTaskInfo } from './views.ts';
import { pollUntil } from './wait.ts';

export interface EngineOptions extends Omit<ProcessOptions, 'images'> {
  spec: LocalCloudSpec;
  registry: LocalRegistry;
  /** A "minute" of bake time (and 60 s of a hook's callBackDelay), in ms. */
  minuteMs: number;
  /** The Lambda endpoint lifecycle hooks are invoked through. */
  lambdaEndpoint?: string;
}

const STATE_FILE = 'ecs-state.json';
const TICK_MS = 100;

export class EcsEngine {
  readonly region: string;
  readonly accountId: string;
  readonly state: EcsState;
  readonly taskDefinitions: TaskDefinitions;
  readonly #options: EngineOptions;
  readonly #store: StateStore;
  readonly #processes: TaskProcesses;
  /** BLUE_GREEN / CANARY / LINEAR service deployments. */
  readonly deployments: ServiceDeployments;
  #timer: NodeJS.Timeout | undefined;

  private constructor(options: EngineOptions, state: EcsState, store: StateStore) {
    this.#options = options;
    this.region = options.spec.region;
    this.accountId = options.spec.accountId;
    this.state = state;
    this.#store = store;
    this.taskDefinitions = new TaskDefinitions(state.taskDefinitions, this, (registered) => {
      this.#store.save();
      if (registered !== undefined) options.log(`ecs: registered ${registered.taskDefinitionArn}`);
    });
    this.#processes = new TaskProcesses(
      { ...options, images: options.spec.images },
      {
        event: (svc, message) => this.#event(svc, message),
        running: (rt) => {
          rt.memory = { ...rt.memory, consecutiveFailures: 0 };
          this.#queueReconcile(rt);
        },
        stopped: (rt, svc, task, unexpected) => {
          // During a strategy deployment its run watches the tasks (a green task that fails rolls it back).
          if (unexpected && !this.deployments.holds(svc)) {
            this.#options.log(`ecs: ${svc.serviceName}: task ${task.id} stopped: ${task.stoppedReason ?? 'unknown'}`);
            this.#taskFailed(rt, svc, task);
          }
          this.#queueReconcile(rt);
        },
      },
    );
    this.deployments = new ServiceDeployments(
      {
        nextDeploymentId: () => deploymentId(Date.now(), ++this.state.deploymentCounter),
        runtime: (svc) => this.#runtime(svc),
        launch: (rt, svc, d, targetGroup) =>
          this.#launch(rt, svc, d.id, d.taskDefinition, svc.desiredCount, targetGroup),
        stop: (rt, svc, tasks, reason) => this.#processes.stop(rt, svc, tasks, reason),
        event: (svc, message) => this.#event(svc, message),
        save: () => this.#store.save(),
        resume: (svc) => {
          const rt = this.#runtime(svc);
          if (rt === undefined) return;
          rt.memory = { ...FRESH_MEMORY, steady: false };
          this.#queueReconcile(rt);
        },
        log: options.log,
      },
      { ...options.spec, ...options },
    );
  }

  /**
   * Loads (or creates) the state, starts every service's load balancer and tasks, and resolves once they run;
   * rejects, having stopped everything, when a service is not steady within `readyTimeoutMs`.
   */
  static async open(options: EngineOptions, readyTimeoutMs: number): Promise<EcsEngine> {
    let engine: EcsEngine | undefined;
    const store = new StateStore(
      join(options.stateDir, STATE_FILE),
      () => (engine as EcsEngine).state,
      (error) => options.log(`ecs: cannot write state: ${(error as Error).message}`),
    );
    const loaded = await store.load();
    const state: EcsState = loaded ?? {
      schema: 'rollgate.local-ecs.v1',
      region: options.spec.region,
      accountId: options.spec.accountId,
      deploymentCounter: 0,
      clusters: {},
      taskDefinitions: {},
    };
    engine = new EcsEngine(options, state, store);
    try {
      await engine.#boot(loaded !== undefined);
      await engine.waitForAllSteady(readyTimeoutMs);
    } catch (error) {
      await engine.close();
      throw error;
    }
    return engine;
  }

  async #boot(restored: boolean): Promise<void> {
    const now = Date.now();
    if (restored) {
      // A deployment left half-done by a crash resolves to its PRIMARY; a COMPLETED one just gets its tasks back.
      // An unfinished service deployment is rolled back first (service-deployments.ts).
      for (const svc of this.#services()) {
        this.deployments.restore(svc, now);
        svc.deployments = restoredDeployments(svc.deployments, now);
      }
    }
    for (const clusterSpec of this.#options.spec.clusters) {
      this.createCluster(clusterSpec.name, []);
      for (const serviceSpec of clusterSpec.services) {
        const cluster = this.getCluster(clusterSpec.name);
        const existing = cluster.services[serviceSpec.name];
        if (existing === undefined) {
          await this.#seedService(cluster, serviceSpec);
        } else if (existing.loadBalancer !== undefined) {
          // The LB wiring is the local cloud's own: the config wins over the persisted state.
          existing.loadBalancer = configuredWiring(existing.loadBalancer, serviceSpec);
        }
        applyController(cluster.services[serviceSpec.name], serviceSpec);
      }
    }
    this.#store.save();
    for (const svc of this.#services()) await this.#startRuntime(svc);
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
    this.#tick();
  }

  #services(): ServiceRecord[] {
    return Object.values(this.state.clusters).flatMap((c) => Object.values(c.services));
  }

  /** Creates a service from the config as if deployed long ago: revision 1 (or the latest) of its family, COMPLETED. */
  async #seedService(cluster: ClusterRecord, spec: LocalServiceSpec): Promise<void> {
    const td =
      this.state.taskDefinitions[spec.taskDefinitionFamily]?.at(-1) ??
      this.taskDefinitions.register(seedTaskDefinition(spec), Date.now());
    // It was pushed before it was deployed.
    const ref = parseImageUri(spec.image);
    if (ref?.tag !== undefined && ref.digest === undefined && this.#options.spec.images[ref.repository] !== undefined) {
      await this.#options.registry.pushImage(ref.repository, ref.tag);
    }
    const svc = this.#newService(cluster, seedService(cluster.clusterName, spec, td.taskDefinitionArn));
    const primary = svc.deployments[0];
    if (primary !== undefined) {
      primary.rolloutState = 'COMPLETED';
      primary.rolloutStateReason = `ECS deployment ${primary.id} completed.`;
      svc.lastCompleted = { deploymentId: primary.id, taskDefinition: primary.taskDefinition };
    }
  }

  // ---- clusters and services --------------------------------------------------------------------------------------

  /** Idempotent, like ECS. */
  createCluster(name: string, tags: Tag[]): ClusterRecord {
    const existing = this.state.clusters[name];
    if (existing !== undefined) return existing;
    const cluster: ClusterRecord = {
      clusterName: name,
      clusterArn: clusterArn(this.region, this.accountId, name),
      createdAt: Date.now(),
      tags,
      services: {},
    };
    this.state.clusters[name] = cluster;
    this.#store.save();
    return cluster;
  }

  /** By name or ARN; undefined means `default`. */
  getCluster(nameOrArn: string | undefined): ClusterRecord {
    const cluster = this.state.clusters[nameFromArn(nameOrArn ?? 'default')];
    if (cluster === undefined) throw clusterNotFound();
    return cluster;
  }

  getService(cluster: ClusterRecord, nameOrArn: string): ServiceRecord {
    const svc = findService(cluster, nameOrArn);
    if (svc === undefined) throw serviceNotFound();
    return svc;
  }

  async createService(input: CreateServiceInput): Promise<ServiceRecord> {
    const cluster = this.getCluster(input.cluster);
    if (cluster.services[input.serviceName] !== undefined) {
      throw invalidParameter('Creation of service was not idempotent.');
    }
    const td = this.taskDefinitions.usable(input.taskDefinition);
    if (input.loadBalancer !== undefined) containerOf(td, input.loadBalancer.containerName);
    const svc = this.#newService(cluster, { ...input, taskDefinition: td.taskDefinitionArn });
    await this.#startRuntime(svc);
    return svc;
  }

  #newService(cluster: ClusterRecord, input: CreateServiceInput): ServiceRecord {
    const { clusterName } = cluster;
    const svc: ServiceRecord = {
      serviceName: input.serviceName,
      serviceArn: serviceArn(this.region, this.accountId, clusterName, input.serviceName),
      clusterName,
      status: 'ACTIVE',
      desiredCount: input.desiredCount,
      createdAt: Date.now(),
      deploymentConfiguration: input.deploymentConfiguration,
      ...(input.loadBalancer === undefined
        ? {}
        : {
            loadBalancer: {
              ...input.loadBalancer,
              targetGroupArn: targetGroupArn(this.region, this.accountId, clusterName, input.serviceName),
            },
          }),
      deployments: [],
      events: [],
      tags: input.tags,
    };
    cluster.services[svc.serviceName] = svc;
    this.#startDeployment(svc, input.taskDefinition);
    this.#store.save();
    return svc;
  }

  /**
   * UpdateService: a new deployment when the task definition changes or one is forced (walked by the service's
   * strategy: ROLLING by the scheduler, the others by service-deployments.ts); otherwise in place. Everything is
   * checked before anything changes.
   */
  updateService(input: UpdateServiceInput): ServiceRecord {
    const svc = this.getService(this.getCluster(input.cluster), input.service);
    const current = svc.deployments[0];
    const strategy = mergeStrategy(svc.deploymentConfiguration.strategy, input.strategyFields);
    let target: string | undefined;
    if (input.taskDefinition !== undefined) {
      const td = this.taskDefinitions.usable(input.taskDefinition);
      const containerName = svc.loadBalancer?.containerName;
      if (containerName !== undefined) containerOf(td, containerName);
      target = td.taskDefinitionArn;
    }
    if (input.desiredCount !== undefined && (!Number.isInteger(input.desiredCount) || input.desiredCount < 0)) {
      throw invalidParameter('desiredCount must be a non-negative integer.');
    }
    const deploy =
      (target !== undefined && target !== current?.taskDefinition) || input.forceNewDeployment === true
        ? (target ?? current?.taskDefinition)
        : undefined;
    const how = strategy ?? svc.deploymentConfiguration.strategy ?? parseStrategy(undefined);
    this.deployments.check(svc, how, deploy !== undefined);
    if (input.desiredCount !== undefined) svc.desiredCount = input.desiredCount;
    svc.deploymentConfiguration = mergeDeploymentConfiguration(svc.deploymentConfiguration, input, strategy);
    if (deploy !== undefined) {
      if (how.strategy !== 'ROLLING') this.deployments.start(svc, how, deploy);
      else this.#startDeployment(svc, deploy);
    }
    this.#store.save();
    const rt = this.#runtime(svc);
    if (rt !== undefined) {
      rt.memory = { ...rt.memory, steady: false };
      this.#queueReconcile(rt);
    }
    return svc;
  }

  #startDeployment(svc: ServiceRecord, taskDefinition: string, reason?: string): string {
    const now = Date.now();
    this.state.deploymentCounter++;
    const id = deploymentId(now, this.state.deploymentCounter);
    svc.deployments = startDeployment(svc.deployments, { id, taskDefinition, now, ...(reason ? { reason } : {}) });
    const rt = this.#runtime(svc);
    if (rt !== undefined) rt.memory = { ...FRESH_MEMORY, steady: rt.memory.steady };
    this.#options.log(`ecs: ${svc.serviceName}: deployment ${id} of ${taskDefinition}`);
    return id;
  }

  #event(svc: ServiceRecord, message: string): void {
    svc.events.unshift({ id: randomUUID(), createdAt: Date.now(), message });
    if (svc.events.length > MAX_EVENTS) svc.events.length = MAX_EVENTS;
    this.#options.log(`ecs: ${message}`);
    this.#store.save();
  }

  // ---- runtime: tasks and load balancers --------------------------------------------------------------------------

  #runtime(svc: ServiceRecord): ServiceRuntime | undefined {
    return this.#processes.runtime(svc.clusterName, svc.serviceName);
  }

  async #startRuntime(svc: ServiceRecord): Promise<void> {
    const rt: ServiceRuntime = {
      cluster: svc.clusterName,
      service: svc.serviceName,
      tasks: [],
      procs: new Map(),
      memory: FRESH_MEMORY,
      reconcileQueued: false,
    };
    this.#processes.add(rt);
    const wiring = svc.loadBalancer;
    if (wiring !== undefined) {
      withAlternate(wiring, { ...this, cluster: svc.clusterName, service: svc.serviceName });
      rt.lb = await this.#processes.startLoadBalancer(svc, wiring, elbArnPrefix(this.region, this.accountId));
      wireAlb(rt.lb, wiring);
      // An ephemeral port (0) becomes the service's port from now on.
      wiring.port = rt.lb.port;
      if (wiring.testPort !== undefined) wiring.testPort = Number(new URL(rt.lb.testUrl).port);
      this.#store.save();
    }
    this.#queueReconcile(rt);
  }

  /** The URL of a service's load balancer. */
  loadBalancerUrl(cluster: string, service: string): string {
    const lb = this.loadBalancer(cluster, service);
    if (lb === undefined) throw new Error(`service ${cluster}/${service} has no load balancer`);
    return lb.url;
  }

  loadBalancer(cluster: string, service: string): LoadBalancer | undefined {
    return this.#processes.runtime(cluster, service)?.lb;
  }

  /** Tasks of a service (all services when omitted), stopped ones included. */
  tasksOf(cluster?: string, service?: string): TaskRecord[] {
    return this.#processes.tasksOf(cluster, service);
  }

  localTasks(cluster?: string, service?: string): LocalTaskInfo[] {
    return this.tasksOf(cluster, service).map(localTaskInfo);
  }

  #queueReconcile(rt: ServiceRuntime): void {
    if (rt.reconcileQueued || this.#processes.closing) return;
    rt.reconcileQueued = true;
    setImmediate(() => {
      rt.reconcileQueued = false;
      this.#reconcile(rt);
    });
  }

  #tick(): void {
    for (const rt of this.#processes.runtimes()) this.#reconcile(rt);
  }

  /** One pass of the service scheduler: ask it what to do, and do it. */
  #reconcile(rt: ServiceRuntime): void {
    if (this.#processes.closing) return;
    const svc = this.state.clusters[rt.cluster]?.services[rt.service];
    if (svc === undefined || this.deployments.holds(svc)) return;
    const decision = schedule({ service: svc, tasks: rt.tasks, memory: rt.memory, now: Date.now() });
    for (const action of decision.actions) this.#apply(rt, svc, action);
    rt.memory = { ...rt.memory, steady: decision.steady };
  }

  #apply(rt: ServiceRuntime, svc: ServiceRecord, action: SchedulerAction): void {
    const primary = svc.deployments[0];
    if (action.type === 'stop') {
      this.#processes.stop(rt, svc, this.#tasksById(rt, action.taskIds), action.reason);
    } else if (action.type === 'launch') {
      const live = svc.loadBalancer?.liveTargetGroup ?? 'blue';
      this.#launch(rt, svc, action.deploymentId, action.taskDefinition, action.count, live);
    } else if (action.type === 'complete' && primary?.id === action.deploymentId) {
      primary.rolloutState = 'COMPLETED';
      primary.rolloutStateReason = `ECS deployment ${primary.id} completed.`;
      primary.updatedAt = Date.now();
      svc.deployments = [primary];
      svc.lastCompleted = { deploymentId: primary.id, taskDefinition: primary.taskDefinition };
      this.#event(svc, `(service ${svc.serviceName}) (deployment ${primary.id}) deployment completed.`);
    } else if (action.type === 'steady' && primary !== undefined) {
      // Deployments drained before completion are gone now.
      svc.deployments = [primary];
      this.#event(svc, `(service ${svc.serviceName}) has reached a steady state.`);
    }
  }

  /** Starts `count` tasks of a deployment, registering in `targetGroup` once they run. */
  #launch(rt: ServiceRuntime, svc: ServiceRecord, id: string, arn: string, count: number, tg: TargetGroupName): void {
    const td = this.taskDefinitions.find(arn);
    this.#processes.launch(rt, svc, {
      deploymentId: id,
      taskDefinitionArn: arn,
      container: td === undefined ? undefined : serviceContainer(td, svc.loadBalancer?.containerName),
      count,
      taskArn: (taskId) => taskArn(this.region, this.accountId, svc.clusterName, taskId),
      targetGroup: tg,
    });
  }

  #tasksById(rt: ServiceRuntime, ids: readonly string[]): TaskRecord[] {
    const wanted = new Set(ids);
    return rt.tasks.filter((t) => wanted.has(t.id));
  }

  /** A task meant to run stopped: the circuit breaker's rules (scheduler.ts), applied (circuit-breaker.ts). */
  #taskFailed(rt: ServiceRuntime, svc: ServiceRecord, task: TaskRecord): void {
    applyTaskFailure(
      {
        save: () => this.#store.save(),
        event: (s, message) => this.#event(s, message),
        startDeployment: (s, taskDefinition, reason) => this.#startDeployment(s, taskDefinition, reason),
        stop: (r, s, ids, reason) => this.#processes.stop(r, s, this.#tasksById(r, ids), reason),
        queueReconcile: (r) => this.#queueReconcile(r),
      },
      rt,
      svc,
      task,
    );
  }

  // ---- steady state -----------------------------------------------------------------------------------------------

  /** Settled: the PRIMARY is not IN_PROGRESS and runs the desired count alone, or it is FAILED (ECS gave up). */
  isSettled(svc: ServiceRecord): boolean {
    return isSettled(svc.deployments, this.#runtime(svc)?.memory.steady === true);
  }

  async waitForSteady(cluster: string, service: string, timeoutMs: number): Promise<void> {
    const svc = this.getService(this.getCluster(cluster), service);
    await pollUntil(
      () => this.isSettled(svc),
      timeoutMs,
      () => {
        const primary = svc.deployments[0];
        return `service ${cluster}/${service} not steady after ${timeoutMs} ms (deployment ${primary?.id} ${primary?.rolloutState}, ${countTasks(this.tasksOf(cluster, service), primary?.id).running}/${svc.desiredCount} running); see its events, or reset the local state`;
      },
    );
  }

  async waitForAllSteady(timeoutMs: number): Promise<void> {
    await Promise.all(this.#services().map((s) => this.waitForSteady(s.clusterName, s.serviceName, timeoutMs)));
  }

  // ---- shutdown ---------------------------------------------------------------------------------------------------

  /** Stops every task (SIGTERM, SIGKILL after the grace), closes the load balancers, writes the state. */
  async close(): Promise<void> {
    const again = this.#processes.closing;
    clearInterval(this.#timer);
    this.deployments.close();
    await this.#processes.close();
    if (!again) await this.#store.flush();
  }
}
