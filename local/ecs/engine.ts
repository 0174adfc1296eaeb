/**
 * The local ECS control plane: task definitions, services and their deployments, and the service scheduler that runs
 * tasks as real processes behind each service's load balancer.
 *
 * Scheduler semantics (ECS's rolling update, `deploymentController: ECS`):
 * - tasks that are RUNNING or PENDING and not asked to stop never exceed floor(desired * maximumPercent / 100);
 * - RUNNING tasks never drop below ceil(desired * minimumHealthyPercent / 100) because of the scheduler;
 * - a task is RUNNING when its process is up and its PORT accepts TCP connections (container liveness; the load
 *   balancer's health check does not gate the rollout, so a version that fails it still completes here);
 * - a RUNNING task is registered with the load balancer; before it stops it is deregistered and drained;
 * - the PRIMARY deployment is COMPLETED when it runs `desiredCount` tasks and every older task is gone; the older
 *   deployments then disappear;
 * - a task that exits or does not open its port within the start timeout is a failed task; at the circuit breaker's
 *   threshold the deployment is FAILED, and with rollback ECS starts a new PRIMARY deployment of the last COMPLETED
 *   task definition;
 * - a task that dies is replaced.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { LoadBalancer } from '../lb.ts';
import { type LocalRegistry, parseImageUri } from '../registry.ts';
import { allocatePort, releasePort, type TaskExit, TaskProcess, waitForPort } from '../tasks.ts';
import type { LocalCloudSpec, LocalServiceSpec } from '../types.ts';
import { clientError, clusterNotFound, invalidParameter, serviceNotFound } from './errors.ts';
import {
  type ClusterRecord,
  clusterArn,
  type DeploymentConfigurationRecord,
  type DeploymentRecord,
  type EcsState,
  MAX_EVENTS,
  nameFromArn,
  type ServiceLoadBalancer,
  type ServiceRecord,
  serviceArn,
  type Tag,
  type TaskDefinitionRecord,
  type TaskRecord,
  targetGroupArn,
  taskArn,
  taskDefinitionArn,
} from './model.ts';
import { StateStore } from './store.ts';
import { countTasks } from './views.ts';

export interface EngineOptions {
  spec: LocalCloudSpec;
  stateDir: string;
  registry: LocalRegistry;
  /** Working directory of task processes (the repository root). */
  cwd: string;
  log: (line: string) => void;
  /** A task that has not opened its port by then failed to start. */
  taskStartTimeoutMs: number;
  /** SIGTERM -> SIGKILL. */
  stopGraceMs: number;
  /** Bound on draining a target before its task is stopped. */
  deregistrationDelayMs: number;
  healthCheckIntervalMs: number;
}

/** A service's runtime side: its tasks (stopped ones kept for DescribeTasks), processes and load balancer. */
interface ServiceRuntime {
  cluster: string;
  service: string;
  tasks: TaskRecord[];
  procs: Map<string, TaskProcess>;
  lb?: LoadBalancer;
  /** No launch before this time (ms): ECS throttles tasks that keep failing. */
  nextLaunchAt: number;
  consecutiveFailures: number;
  /** Whether the last reconcile found the service steady (for the "steady state" event). */
  steady: boolean;
  unstableReported: boolean;
  reconcileQueued: boolean;
}

/** Normalized RegisterTaskDefinition input. */
export interface TaskDefinitionInput {
  family: string;
  body: Record<string, unknown>;
  tags: Tag[];
}

export interface CreateServiceInput {
  cluster: string;
  serviceName: string;
  taskDefinition: string;
  desiredCount: number;
  deploymentConfiguration: DeploymentConfigurationRecord;
  loadBalancer?: { containerName: string; containerPort: number; port: number; healthCheckPath: string };
  tags: Tag[];
}

export interface UpdateServiceInput {
  cluster: string;
  service: string;
  taskDefinition?: string;
  desiredCount?: number;
  forceNewDeployment?: boolean;
  deploymentConfiguration?: Partial<Omit<DeploymentConfigurationRecord, 'deploymentCircuitBreaker'>> & {
    deploymentCircuitBreaker?: { enable: boolean; rollback: boolean };
  };
}

/** What tests and the CLI can see of a task beyond the API: its process and port. */
export interface LocalTaskInfo {
  taskArn: string;
  cluster: string;
  service: string;
  deploymentId: string;
  taskDefinitionArn: string;
  imageTag?: string;
  lastStatus: TaskRecord['lastStatus'];
  desiredStatus: TaskRecord['desiredStatus'];
  pid?: number;
  port?: number;
}

const STATE_FILE = 'ecs-state.json';
/** Stopped tasks kept per service for DescribeTasks/ListTasks (ECS keeps them about an hour). */
const KEEP_STOPPED = 50;
const TICK_MS = 100;

const FAMILY = /^[a-zA-Z0-9_-]{1,255}$/;

/** ECS's circuit breaker threshold: 0.5 x desired count, at least 3, at most 200. */
export function circuitBreakerThreshold(desiredCount: number): number {
  return Math.min(200, Math.max(3, Math.ceil(0.5 * desiredCount)));
}

export class EcsEngine {
  readonly region: string;
  readonly accountId: string;
  state: EcsState;
  readonly #options: EngineOptions;
  readonly #runtimes = new Map<string, ServiceRuntime>();
  readonly #store: StateStore;
  readonly #work = new Set<Promise<unknown>>();
  #timer: NodeJS.Timeout | undefined;
  #closing = false;

  private constructor(options: EngineOptions, state: EcsState, store: StateStore) {
    this.#options = options;
    this.region = options.spec.region;
    this.accountId = options.spec.accountId;
    this.state = state;
    this.#store = store;
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
      for (const cluster of Object.values(this.state.clusters)) {
        for (const svc of Object.values(cluster.services)) this.#restoreDeployments(svc, now);
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
          existing.loadBalancer.port = serviceSpec.loadBalancerPort;
          existing.loadBalancer.healthCheckPath = serviceSpec.healthCheckPath;
        }
      }
    }
    this.#store.save();
    for (const cluster of Object.values(this.state.clusters)) {
      for (const svc of Object.values(cluster.services)) await this.#startRuntime(svc);
    }
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
    this.#tick();
  }

  /** A deployment left half-done by a crash resolves to its PRIMARY; a COMPLETED one just gets its tasks back. */
  #restoreDeployments(svc: ServiceRecord, now: number): void {
    const primary = svc.deployments[0];
    if (primary === undefined) return;
    svc.deployments = [primary];
    if (primary.rolloutState !== 'COMPLETED') {
      primary.rolloutState = 'IN_PROGRESS';
      primary.rolloutStateReason = `ECS deployment ${primary.id} in progress.`;
      primary.failedTasks = 0;
      primary.updatedAt = now;
    }
  }

  /** Creates a service from the config as if deployed long ago: revision 1 (or the latest) of its family, COMPLETED. */
  async #seedService(cluster: ClusterRecord, spec: LocalServiceSpec): Promise<void> {
    const latest = this.state.taskDefinitions[spec.taskDefinitionFamily]?.at(-1);
    const td =
      latest ??
      this.registerTaskDefinition({
        family: spec.taskDefinitionFamily,
        body: {
          containerDefinitions: [
            {
              name: spec.container,
              image: spec.image,
              essential: true,
              portMappings: [{ containerPort: 8080 }],
              environment: [],
            },
          ],
          ...(spec.executionRoleArn === undefined ? {} : { executionRoleArn: spec.executionRoleArn }),
          ...(spec.taskRoleArn === undefined ? {} : { taskRoleArn: spec.taskRoleArn }),
          networkMode: 'awsvpc',
          requiresCompatibilities: ['FARGATE'],
          cpu: '256',
          memory: '512',
        },
        tags: [],
      });
    // It was pushed before it was deployed.
    const ref = parseImageUri(spec.image);
    if (ref?.tag !== undefined && ref.digest === undefined && this.#options.spec.images[ref.repository] !== undefined) {
      await this.#options.registry.pushImage(ref.repository, ref.tag);
    }
    const svc = this.#newService(cluster, {
      cluster: cluster.clusterName,
      serviceName: spec.name,
      taskDefinition: td.taskDefinitionArn,
      desiredCount: spec.desiredCount,
      deploymentConfiguration: {
        minimumHealthyPercent: spec.minimumHealthyPercent,
        maximumPercent: spec.maximumPercent,
        deploymentCircuitBreaker: { ...spec.circuitBreaker },
      },
      loadBalancer: {
        containerName: spec.container,
        containerPort: 8080,
        port: spec.loadBalancerPort,
        healthCheckPath: spec.healthCheckPath,
      },
      tags: [],
    });
    const primary = svc.deployments[0];
    if (primary !== undefined) {
      primary.rolloutState = 'COMPLETED';
      primary.rolloutStateReason = `ECS deployment ${primary.id} completed.`;
      svc.lastCompleted = { deploymentId: primary.id, taskDefinition: primary.taskDefinition };
    }
  }

  // ---- task definitions -------------------------------------------------------------------------------------------

  /** Validates like ECS (ClientException) and registers the next revision of the family. */
  registerTaskDefinition(input: TaskDefinitionInput): TaskDefinitionRecord {
    const { family } = input;
    if (family === '') throw clientError('Family must not be empty.');
    if (!FAMILY.test(family)) {
      throw clientError(
        'Family contains invalid characters. Up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed.',
      );
    }
    const containers = input.body.containerDefinitions;
    if (!Array.isArray(containers) || containers.length === 0) {
      throw clientError('Container.containerDefinitions should not be null or empty.');
    }
    const names = new Set<string>();
    const networkMode = typeof input.body.networkMode === 'string' ? input.body.networkMode : 'bridge';
    const normalized = containers.map((raw) => {
      if (typeof raw !== 'object' || raw === null) throw clientError('Container definition must be an object.');
      const c = raw as Record<string, unknown>;
      if (typeof c.name !== 'string' || c.name === '') throw clientError('Container.name should not be null or empty.');
      if (typeof c.image !== 'string' || c.image.trim() === '') {
        throw clientError('Container.image should not be null or empty.');
      }
      if (names.has(c.name)) throw clientError(`Duplicate container name: ${c.name}.`);
      names.add(c.name);
      const env = c.environment ?? [];
      if (!Array.isArray(env) || env.some((e) => typeof (e as { name?: unknown }).name !== 'string')) {
        throw clientError(`Container.environment of ${c.name} must be a list of {name, value}.`);
      }
      const portMappings = Array.isArray(c.portMappings) ? (c.portMappings as Record<string, unknown>[]) : [];
      return {
        ...c,
        cpu: c.cpu ?? 0,
        essential: c.essential ?? true,
        portMappings: portMappings.map((pm) => ({
          ...pm,
          ...(pm.hostPort === undefined && (networkMode === 'awsvpc' || networkMode === 'host')
            ? { hostPort: pm.containerPort }
            : {}),
          protocol: pm.protocol ?? 'tcp',
        })),
        environment: env,
        mountPoints: c.mountPoints ?? [],
        volumesFrom: c.volumesFrom ?? [],
      };
    });
    if (!normalized.some((c) => c.essential === true)) {
      throw clientError('Task definition must contain at least one essential container.');
    }
    const revisions = this.state.taskDefinitions[family] ?? [];
    this.state.taskDefinitions[family] = revisions;
    const revision = revisions.length + 1;
    const record: TaskDefinitionRecord = {
      taskDefinitionArn: taskDefinitionArn(this.region, this.accountId, family, revision),
      family,
      revision,
      status: 'ACTIVE',
      registeredAt: Date.now(),
      body: { ...input.body, containerDefinitions: normalized },
      tags: input.tags,
    };
    revisions.push(record);
    this.#store.save();
    this.#options.log(`ecs: registered ${record.taskDefinitionArn}`);
    return record;
  }

  /** By ARN, `family:revision`, or `family` (latest ACTIVE revision). */
  findTaskDefinition(ref: string): TaskDefinitionRecord | undefined {
    let spec = ref;
    if (ref.startsWith('arn:')) {
      const match = /^arn:aws[a-z-]*:ecs:([^:]+):(\d+):task-definition\/(.+)$/.exec(ref);
      if (match === null || match[1] !== this.region || match[2] !== this.accountId || match[3] === undefined) {
        return undefined;
      }
      spec = match[3];
    }
    const colon = spec.lastIndexOf(':');
    if (colon < 0) {
      return this.state.taskDefinitions[spec]?.filter((td) => td.status === 'ACTIVE').at(-1);
    }
    const family = spec.slice(0, colon);
    const revision = Number(spec.slice(colon + 1));
    if (!Number.isInteger(revision) || revision < 1) return undefined;
    return this.state.taskDefinitions[family]?.[revision - 1];
  }

  deregisterTaskDefinition(ref: string): TaskDefinitionRecord {
    const td = ref.includes(':') ? this.findTaskDefinition(ref) : undefined;
    if (td === undefined) throw clientError('The specified task definition does not exist.');
    if (td.status === 'ACTIVE') {
      td.status = 'INACTIVE';
      td.deregisteredAt = Date.now();
      this.#store.save();
    }
    return td;
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
    const svc = this.findService(cluster, nameOrArn);
    if (svc === undefined) throw serviceNotFound();
    return svc;
  }

  findService(cluster: ClusterRecord, nameOrArn: string): ServiceRecord | undefined {
    if (nameOrArn.startsWith('arn:')) {
      const svc = cluster.services[nameFromArn(nameOrArn)];
      return svc?.serviceArn === nameOrArn ? svc : undefined;
    }
    return cluster.services[nameOrArn];
  }

  async createService(input: CreateServiceInput): Promise<ServiceRecord> {
    const cluster = this.getCluster(input.cluster);
    if (cluster.services[input.serviceName] !== undefined) {
      throw invalidParameter('Creation of service was not idempotent.');
    }
    const td = this.#usableTaskDefinition(input.taskDefinition);
    if (input.loadBalancer !== undefined) this.#containerOf(td, input.loadBalancer.containerName);
    const svc = this.#newService(cluster, { ...input, taskDefinition: td.taskDefinitionArn });
    await this.#startRuntime(svc);
    return svc;
  }

  #newService(cluster: ClusterRecord, input: CreateServiceInput): ServiceRecord {
    const now = Date.now();
    const lb: ServiceLoadBalancer | undefined =
      input.loadBalancer === undefined
        ? undefined
        : {
            ...input.loadBalancer,
            targetGroupArn: targetGroupArn(this.region, this.accountId, cluster.clusterName, input.serviceName),
          };
    const svc: ServiceRecord = {
      serviceName: input.serviceName,
      serviceArn: serviceArn(this.region, this.accountId, cluster.clusterName, input.serviceName),
      clusterName: cluster.clusterName,
      status: 'ACTIVE',
      desiredCount: input.desiredCount,
      createdAt: now,
      deploymentConfiguration: input.deploymentConfiguration,
      ...(lb === undefined ? {} : { loadBalancer: lb }),
      deployments: [],
      events: [],
      tags: input.tags,
    };
    cluster.services[svc.serviceName] = svc;
    this.#startDeployment(svc, input.taskDefinition);
    this.#store.save();
    return svc;
  }

  /** UpdateService: a new deployment when the task definition changes or one is forced; otherwise in place. */
  updateService(input: UpdateServiceInput): ServiceRecord {
    const cluster = this.getCluster(input.cluster);
    const svc = this.getService(cluster, input.service);
    const current = svc.deployments[0];
    let target: TaskDefinitionRecord | undefined;
    if (input.taskDefinition !== undefined) {
      target = this.#usableTaskDefinition(input.taskDefinition);
      const containerName = svc.loadBalancer?.containerName;
      if (containerName !== undefined) this.#containerOf(target, containerName);
    }
    if (input.desiredCount !== undefined) {
      if (!Number.isInteger(input.desiredCount) || input.desiredCount < 0) {
        throw invalidParameter('desiredCount must be a non-negative integer.');
      }
      svc.desiredCount = input.desiredCount;
    }
    if (input.deploymentConfiguration !== undefined) {
      const dc = input.deploymentConfiguration;
      svc.deploymentConfiguration = {
        minimumHealthyPercent: dc.minimumHealthyPercent ?? svc.deploymentConfiguration.minimumHealthyPercent,
        maximumPercent: dc.maximumPercent ?? svc.deploymentConfiguration.maximumPercent,
        deploymentCircuitBreaker: dc.deploymentCircuitBreaker ?? svc.deploymentConfiguration.deploymentCircuitBreaker,
      };
    }
    const changed = target !== undefined && target.taskDefinitionArn !== current?.taskDefinition;
    if (changed || input.forceNewDeployment === true) {
      const arn = target?.taskDefinitionArn ?? current?.taskDefinition;
      if (arn === undefined) throw invalidParameter('The service has no task definition.');
      this.#startDeployment(svc, arn);
    }
    this.#store.save();
    const rt = this.#runtime(svc);
    if (rt !== undefined) {
      rt.steady = false;
      this.#queueReconcile(rt);
    }
    return svc;
  }

  #usableTaskDefinition(ref: string): TaskDefinitionRecord {
    const td = this.findTaskDefinition(ref);
    if (td === undefined) throw invalidParameter(`TaskDefinition not found: ${ref}`);
    if (td.status !== 'ACTIVE') throw invalidParameter(`TaskDefinition is inactive: ${td.taskDefinitionArn}`);
    return td;
  }

  #containerOf(td: TaskDefinitionRecord, name: string): Record<string, unknown> {
    const containers = td.body.containerDefinitions as Record<string, unknown>[];
    const container = containers.find((c) => c.name === name);
    if (container === undefined) {
      throw invalidParameter(`The container ${name} does not exist in the task definition.`);
    }
    return container;
  }

  /** The one container a local task runs: the load-balanced one, else the first essential one. */
  #serviceContainer(svc: ServiceRecord, td: TaskDefinitionRecord): Record<string, unknown> | undefined {
    const containers = td.body.containerDefinitions as Record<string, unknown>[];
    const name = svc.loadBalancer?.containerName;
    if (name !== undefined) return containers.find((c) => c.name === name);
    return containers.find((c) => c.essential !== false) ?? containers[0];
  }

  #startDeployment(svc: ServiceRecord, taskDefinition: string, reason?: string): DeploymentRecord {
    const now = Date.now();
    this.state.deploymentCounter++;
    // 19 digits like ECS's ids; monotonic and unique across restarts.
    const id = `ecs-svc/${(BigInt(now) * 1_000_000n + BigInt(this.state.deploymentCounter % 1_000_000)).toString()}`;
    for (const d of svc.deployments) {
      d.status = 'ACTIVE';
      d.updatedAt = now;
    }
    const deployment: DeploymentRecord = {
      id,
      status: 'PRIMARY',
      taskDefinition,
      failedTasks: 0,
      createdAt: now,
      updatedAt: now,
      rolloutState: 'IN_PROGRESS',
      rolloutStateReason: reason ?? `ECS deployment ${id} in progress.`,
    };
    svc.deployments.unshift(deployment);
    const rt = this.#runtime(svc);
    if (rt !== undefined) {
      rt.consecutiveFailures = 0;
      rt.nextLaunchAt = 0;
      rt.unstableReported = false;
    }
    this.#options.log(`ecs: ${svc.serviceName}: deployment ${id} of ${taskDefinition}`);
    return deployment;
  }

  #event(svc: ServiceRecord, message: string): void {
    svc.events.unshift({ id: randomUUID(), createdAt: Date.now(), message });
    if (svc.events.length > MAX_EVENTS) svc.events.length = MAX_EVENTS;
    this.#options.log(`ecs: ${message}`);
    this.#store.save();
  }

  // ---- runtime: tasks and load balancers --------------------------------------------------------------------------

  #key(cluster: string, service: string): string {
    return `${cluster}/${service}`;
  }

  #runtime(svc: ServiceRecord): ServiceRuntime | undefined {
    return this.#runtimes.get(this.#key(svc.clusterName, svc.serviceName));
  }

  async #startRuntime(svc: ServiceRecord): Promise<void> {
    const rt: ServiceRuntime = {
      cluster: svc.clusterName,
      service: svc.serviceName,
      tasks: [],
      procs: new Map(),
      nextLaunchAt: 0,
      consecutiveFailures: 0,
      steady: false,
      unstableReported: false,
      reconcileQueued: false,
    };
    this.#runtimes.set(this.#key(svc.clusterName, svc.serviceName), rt);
    if (svc.loadBalancer !== undefined) {
      const { port, healthCheckPath } = svc.loadBalancer;
      try {
        rt.lb = await LoadBalancer.start({
          name: `lb ${svc.serviceName}`,
          port,
          healthCheckPath,
          healthCheckIntervalMs: this.#options.healthCheckIntervalMs,
          deregistrationDelayMs: this.#options.deregistrationDelayMs,
          log: this.#options.log,
        });
      } catch (error) {
        throw new Error(
          `cannot start the load balancer of service ${svc.serviceName} on 127.0.0.1:${port}: ${(error as Error).message}`,
          { cause: error },
        );
      }
      // An ephemeral port (0) becomes the service's port from now on.
      svc.loadBalancer.port = rt.lb.port;
      this.#store.save();
    }
    this.#queueReconcile(rt);
  }

  /** The URL of a service's load balancer. */
  loadBalancerUrl(cluster: string, service: string): string {
    const rt = this.#runtimes.get(this.#key(cluster, service));
    if (rt?.lb === undefined) throw new Error(`service ${cluster}/${service} has no load balancer`);
    return rt.lb.url;
  }

  loadBalancer(cluster: string, service: string): LoadBalancer | undefined {
    return this.#runtimes.get(this.#key(cluster, service))?.lb;
  }

  /** Tasks of a service (all services when omitted), stopped ones included. */
  tasksOf(cluster?: string, service?: string): TaskRecord[] {
    const out: TaskRecord[] = [];
    for (const rt of this.#runtimes.values()) {
      if (cluster !== undefined && rt.cluster !== cluster) continue;
      if (service !== undefined && rt.service !== service) continue;
      out.push(...rt.tasks);
    }
    return out;
  }

  localTasks(cluster?: string, service?: string): LocalTaskInfo[] {
    return this.tasksOf(cluster, service).map((t) => ({
      taskArn: t.taskArn,
      cluster: t.clusterName,
      service: t.serviceName,
      deploymentId: t.deploymentId,
      taskDefinitionArn: t.taskDefinitionArn,
      ...(t.imageTag === undefined ? {} : { imageTag: t.imageTag }),
      lastStatus: t.lastStatus,
      desiredStatus: t.desiredStatus,
      ...(t.pid === undefined ? {} : { pid: t.pid }),
      ...(t.port === undefined ? {} : { port: t.port }),
    }));
  }

  #queueReconcile(rt: ServiceRuntime): void {
    if (rt.reconcileQueued || this.#closing) return;
    rt.reconcileQueued = true;
    setImmediate(() => {
      rt.reconcileQueued = false;
      this.#reconcile(rt);
    });
  }

  #tick(): void {
    for (const rt of this.#runtimes.values()) this.#reconcile(rt);
  }

  #track<T>(promise: Promise<T>): void {
    const tracked = promise.catch((error: unknown) => {
      this.#options.log(`ecs: internal error: ${(error as Error).stack ?? String(error)}`);
    });
    this.#work.add(tracked);
    void tracked.finally(() => this.#work.delete(tracked));
  }

  /** One pass of the service scheduler: decide and start launches/stops; state changes re-queue it. */
  #reconcile(rt: ServiceRuntime): void {
    if (this.#closing) return;
    const svc = this.state.clusters[rt.cluster]?.services[rt.service];
    const primary = svc?.deployments[0];
    if (svc === undefined || primary === undefined) return;
    const desired = svc.desiredCount;
    const { minimumHealthyPercent, maximumPercent } = svc.deploymentConfiguration;
    const maxTasks = Math.floor((desired * maximumPercent) / 100);
    const minHealthy = Math.ceil((desired * minimumHealthyPercent) / 100);
    const live = () => rt.tasks.filter((t) => t.desiredStatus === 'RUNNING' && t.lastStatus !== 'STOPPED');
    const primaryFailed = primary.rolloutState === 'FAILED';

    // Scale in the primary (desired count lowered): pending tasks first, then the newest.
    const primaryLive = live().filter((t) => t.deploymentId === primary.id);
    if (primaryLive.length > desired) {
      const extra = [...primaryLive]
        .sort(
          (a, b) =>
            Number(a.lastStatus === 'RUNNING') - Number(b.lastStatus === 'RUNNING') || b.createdAt - a.createdAt,
        )
        .slice(0, primaryLive.length - desired);
      this.#stopTasks(rt, svc, extra, `Scaling activity initiated by (deployment ${primary.id})`);
    }

    // Launch within maximumPercent.
    if (!primaryFailed && Date.now() >= rt.nextLaunchAt) {
      const current = live();
      const want = desired - current.filter((t) => t.deploymentId === primary.id).length;
      const room = maxTasks - current.length;
      const count = Math.min(want, room);
      if (count > 0) this.#launch(rt, svc, primary, count);
    }

    // Stop older deployments' tasks as far as minimumHealthyPercent allows. A FAILED primary without a rollback
    // leaves the old tasks serving.
    if (!primaryFailed) {
      const old = live().filter((t) => t.deploymentId !== primary.id);
      const oldPending = old.filter((t) => t.lastStatus !== 'RUNNING');
      if (oldPending.length > 0) {
        this.#stopTasks(rt, svc, oldPending, `Scaling activity initiated by (deployment ${primary.id})`);
      }
      const healthy = live().filter((t) => t.lastStatus === 'RUNNING').length;
      const removable = healthy - minHealthy;
      if (removable > 0) {
        const oldRunning = old
          .filter((t) => t.lastStatus === 'RUNNING')
          .sort((a, b) => a.createdAt - b.createdAt)
          .slice(0, removable);
        if (oldRunning.length > 0) {
          this.#stopTasks(rt, svc, oldRunning, `Scaling activity initiated by (deployment ${primary.id})`);
        }
      }
    }

    // Completion and steady state.
    const primaryRunning = rt.tasks.filter(
      (t) => t.deploymentId === primary.id && t.lastStatus === 'RUNNING' && t.desiredStatus === 'RUNNING',
    ).length;
    const othersLeft = rt.tasks.some((t) => t.deploymentId !== primary.id && t.lastStatus !== 'STOPPED');
    const primaryExtra = rt.tasks.some(
      (t) => t.deploymentId === primary.id && t.lastStatus !== 'STOPPED' && t.desiredStatus === 'STOPPED',
    );
    const settled = primaryRunning === desired && !othersLeft && !primaryExtra;
    if (settled && primary.rolloutState === 'IN_PROGRESS') {
      const now = Date.now();
      primary.rolloutState = 'COMPLETED';
      primary.rolloutStateReason = `ECS deployment ${primary.id} completed.`;
      primary.updatedAt = now;
      svc.deployments = [primary];
      svc.lastCompleted = { deploymentId: primary.id, taskDefinition: primary.taskDefinition };
      this.#event(svc, `(service ${svc.serviceName}) (deployment ${primary.id}) deployment completed.`);
    }
    if (settled && primary.rolloutState === 'COMPLETED' && !rt.steady) {
      rt.steady = true;
      // Deployments drained before completion are gone now.
      svc.deployments = [primary];
      this.#event(svc, `(service ${svc.serviceName}) has reached a steady state.`);
    } else if (!settled) {
      rt.steady = false;
    }
  }

  #launch(rt: ServiceRuntime, svc: ServiceRecord, deployment: DeploymentRecord, count: number): void {
    const td = this.findTaskDefinition(deployment.taskDefinition);
    const container = td === undefined ? undefined : this.#serviceContainer(svc, td);
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = randomBytes(16).toString('hex');
      const task: TaskRecord = {
        id,
        taskArn: taskArn(this.region, this.accountId, svc.clusterName, id),
        clusterName: svc.clusterName,
        serviceName: svc.serviceName,
        deploymentId: deployment.id,
        taskDefinitionArn: deployment.taskDefinition,
        containerName: typeof container?.name === 'string' ? container.name : 'unknown',
        image: typeof container?.image === 'string' ? container.image : '',
        lastStatus: 'PROVISIONING',
        desiredStatus: 'RUNNING',
        createdAt: Date.now(),
        ran: false,
        registered: false,
        version: 1,
      };
      rt.tasks.push(task);
      ids.push(id);
      this.#track(this.#runTask(rt, svc, task, container));
    }
    this.#event(
      svc,
      `(service ${svc.serviceName}) has started ${count} tasks: ${ids.map((id) => `(task ${id})`).join(' ')}.`,
    );
  }

  async #runTask(
    rt: ServiceRuntime,
    svc: ServiceRecord,
    task: TaskRecord,
    container: Record<string, unknown> | undefined,
  ): Promise<void> {
    if (container === undefined) {
      this.#finish(rt, svc, task, { failure: 'CannotStartContainerError: task definition or container not found' });
      return;
    }
    const resolved = await this.#options.registry.resolveImage(task.image, this.#options.spec.images);
    if (!resolved.ok) {
      this.#finish(rt, svc, task, { failure: resolved.reason });
      return;
    }
    task.imageTag = resolved.tag;
    if (resolved.digest !== undefined) task.imageDigest = resolved.digest;
    if (this.#closing || stopRequested(task)) {
      this.#finish(rt, svc, task, {});
      return;
    }
    const port = await allocatePort();
    task.port = port;
    const env: Record<string, string> = {};
    for (const e of (container.environment ?? []) as { name: string; value?: unknown }[]) {
      env[e.name] = e.value === undefined ? '' : String(e.value);
    }
    Object.assign(env, { IMAGE_TAG: resolved.tag, PORT: String(port), HOST: '127.0.0.1' });
    let proc: TaskProcess;
    try {
      proc = await TaskProcess.start({
        command: resolved.command,
        cwd: this.#options.cwd,
        env,
        logFile: join(this.#options.stateDir, 'tasks', svc.clusterName, svc.serviceName, `${task.id}.log`),
      });
    } catch (error) {
      this.#finish(rt, svc, task, { failure: `CannotStartContainerError: ${(error as Error).message}` });
      return;
    }
    task.pid = proc.pid;
    rt.procs.set(task.id, proc);
    task.lastStatus = 'PENDING';
    task.version++;
    const exited = proc.exited.then((exit) => this.#onExit(rt, svc, task, exit));
    if (this.#closing || stopRequested(task)) {
      await proc.stop(this.#options.stopGraceMs);
      await exited;
      return;
    }
    const outcome = await waitForPort(
      port,
      proc,
      this.#options.taskStartTimeoutMs,
      () => this.#closing || stopRequested(task),
    );
    if (outcome === 'open' && !this.#closing && task.desiredStatus === 'RUNNING') {
      task.lastStatus = 'RUNNING';
      task.startedAt = Date.now();
      task.ran = true;
      task.version++;
      rt.consecutiveFailures = 0;
      if (rt.lb !== undefined && svc.loadBalancer !== undefined) {
        rt.lb.register({ id: task.id, port });
        task.registered = true;
        this.#event(
          svc,
          `(service ${svc.serviceName}) registered 1 targets in (target-group ${svc.loadBalancer.targetGroupArn})`,
        );
      }
      this.#queueReconcile(rt);
    } else if (outcome === 'timeout') {
      task.failure = `Task failed to start: container ${task.containerName} did not listen on its port within ${Math.round(this.#options.taskStartTimeoutMs / 1000)} s`;
      await proc.kill();
    } else if (outcome === 'cancelled') {
      await proc.stop(this.#options.stopGraceMs);
    }
    await exited;
  }

  #onExit(rt: ServiceRuntime, svc: ServiceRecord, task: TaskRecord, exit: TaskExit): void {
    rt.procs.delete(task.id);
    if (exit.code !== null) task.exitCode = exit.code;
    if (this.#closing) {
      // Shutting down is not something that happens to the service: no events, no state changes persisted.
      task.lastStatus = 'STOPPED';
      return;
    }
    if (task.desiredStatus === 'RUNNING') {
      const how = exit.code !== null ? `exit code ${exit.code}` : `signal ${exit.signal}`;
      if (task.ran) {
        // Died while serving: deregister at once (nothing left to drain) and let the scheduler replace it.
        if (task.registered) void rt.lb?.deregister(task.id);
        this.#event(svc, `(service ${svc.serviceName}) has stopped 1 running tasks: (task ${task.id}).`);
        this.#finish(rt, svc, task, {
          stopCode: 'EssentialContainerExited',
          reason: `Essential container in task exited (${how})`,
        });
      } else {
        this.#finish(rt, svc, task, { failure: task.failure ?? `Essential container in task exited (${how})` });
      }
      return;
    }
    this.#finish(rt, svc, task, {});
  }

  /**
   * Marks a task STOPPED. `failure`: it never reached RUNNING and was meant to (counts for the circuit breaker).
   */
  #finish(
    rt: ServiceRuntime,
    svc: ServiceRecord,
    task: TaskRecord,
    how: { failure?: string; stopCode?: TaskRecord['stopCode']; reason?: string },
  ): void {
    const now = Date.now();
    const unexpected = task.desiredStatus === 'RUNNING' && !this.#closing;
    task.lastStatus = 'STOPPED';
    task.desiredStatus = 'STOPPED';
    task.stoppedAt = now;
    task.stoppingAt ??= now;
    task.version++;
    if (how.failure !== undefined) {
      task.stopCode = how.failure.startsWith('Essential container') ? 'EssentialContainerExited' : 'TaskFailedToStart';
      task.stoppedReason = how.failure;
    } else if (how.stopCode !== undefined) {
      task.stopCode = how.stopCode;
      if (how.reason !== undefined) task.stoppedReason = how.reason;
    }
    if (task.port !== undefined) releasePort(task.port);
    this.#pruneStopped(rt);
    if (this.#closing) return;
    if (unexpected) {
      this.#options.log(`ecs: ${svc.serviceName}: task ${task.id} stopped: ${task.stoppedReason ?? 'unknown'}`);
      this.#countFailure(rt, svc, task);
    }
    this.#queueReconcile(rt);
  }

  #countFailure(rt: ServiceRuntime, svc: ServiceRecord, task: TaskRecord): void {
    const deployment = svc.deployments.find((d) => d.id === task.deploymentId);
    if (deployment === undefined) return;
    rt.consecutiveFailures++;
    // ECS throttles a service whose tasks keep failing; here 250 ms doubling up to 5 s.
    rt.nextLaunchAt = Date.now() + Math.min(5000, 250 * 2 ** (rt.consecutiveFailures - 1));
    if (deployment.rolloutState !== 'IN_PROGRESS') return;
    deployment.failedTasks++;
    deployment.updatedAt = Date.now();
    this.#store.save();
    const threshold = circuitBreakerThreshold(svc.desiredCount);
    if (deployment.failedTasks < threshold || deployment !== svc.deployments[0]) return;
    const breaker = svc.deploymentConfiguration.deploymentCircuitBreaker;
    if (!breaker.enable) {
      if (!rt.unstableReported) {
        rt.unstableReported = true;
        this.#event(svc, `(service ${svc.serviceName}) is unable to consistently start tasks successfully.`);
      }
      return;
    }
    this.#tripCircuitBreaker(rt, svc, deployment);
  }

  #tripCircuitBreaker(rt: ServiceRuntime, svc: ServiceRecord, deployment: DeploymentRecord): void {
    const now = Date.now();
    deployment.rolloutState = 'FAILED';
    deployment.rolloutStateReason = 'ECS deployment circuit breaker: tasks failed to start.';
    deployment.updatedAt = now;
    this.#event(
      svc,
      `(service ${svc.serviceName}) (deployment ${deployment.id}) deployment failed: tasks failed to start.`,
    );
    const last = svc.lastCompleted;
    if (!svc.deploymentConfiguration.deploymentCircuitBreaker.rollback || last === undefined) return;
    if (last.taskDefinition === deployment.taskDefinition) return;
    const failedTasks = rt.tasks.filter((t) => t.deploymentId === deployment.id && t.desiredStatus === 'RUNNING');
    const rollback = this.#startDeployment(
      svc,
      last.taskDefinition,
      `ECS deployment circuit breaker: rolling back to deploymentId ${last.deploymentId}.`,
    );
    this.#event(
      svc,
      `(service ${svc.serviceName}) (deployment ${rollback.id}) ECS deployment circuit breaker: rolling back to deployment ${last.deploymentId} (${last.taskDefinition}).`,
    );
    this.#stopTasks(rt, svc, failedTasks, `Scaling activity initiated by (deployment ${rollback.id})`);
    rt.steady = false;
    this.#queueReconcile(rt);
  }

  /** Asks tasks to stop: running ones are drained from the load balancer first. */
  #stopTasks(rt: ServiceRuntime, svc: ServiceRecord, tasks: TaskRecord[], reason: string): void {
    const now = Date.now();
    const running = tasks.filter((t) => t.lastStatus === 'RUNNING');
    for (const t of tasks) {
      t.desiredStatus = 'STOPPED';
      t.stoppingAt = now;
      t.stopCode = 'ServiceSchedulerInitiated';
      t.stoppedReason = reason;
      t.version++;
    }
    if (running.length > 0) {
      this.#event(
        svc,
        `(service ${svc.serviceName}) has stopped ${running.length} running tasks: ${running.map((t) => `(task ${t.id})`).join(' ')}.`,
      );
      const registered = running.filter((t) => t.registered);
      if (registered.length > 0 && svc.loadBalancer !== undefined) {
        this.#event(svc, `(service ${svc.serviceName}) has begun draining connections on ${registered.length} tasks.`);
      }
    }
    for (const t of tasks) this.#track(this.#stopTask(rt, svc, t));
  }

  async #stopTask(rt: ServiceRuntime, svc: ServiceRecord, task: TaskRecord): Promise<void> {
    if (task.lastStatus === 'RUNNING') {
      task.lastStatus = 'DEACTIVATING';
      if (task.registered && rt.lb !== undefined) {
        await rt.lb.deregister(task.id);
        task.registered = false;
        if (svc.loadBalancer !== undefined && !this.#closing) {
          this.#event(
            svc,
            `(service ${svc.serviceName}) deregistered 1 targets in (target-group ${svc.loadBalancer.targetGroupArn})`,
          );
        }
      }
    }
    // A task still starting is stopped by #runTask once it notices desiredStatus.
    const proc = rt.procs.get(task.id);
    if (proc === undefined) return;
    if (task.lastStatus !== 'STOPPED') task.lastStatus = 'STOPPING';
    await proc.stop(this.#options.stopGraceMs);
  }

  #pruneStopped(rt: ServiceRuntime): void {
    const stopped = rt.tasks.filter((t) => t.lastStatus === 'STOPPED');
    if (stopped.length <= KEEP_STOPPED) return;
    const drop = new Set(stopped.slice(0, stopped.length - KEEP_STOPPED));
    rt.tasks = rt.tasks.filter((t) => !drop.has(t));
  }

  // ---- steady state -----------------------------------------------------------------------------------------------

  /**
   * Settled: the PRIMARY deployment is not IN_PROGRESS and runs the desired count with nothing else left, or it is
   * FAILED (ECS stopped trying).
   */
  isSettled(svc: ServiceRecord): boolean {
    const primary = svc.deployments[0];
    if (primary === undefined) return true;
    if (primary.rolloutState === 'FAILED') return true;
    const rt = this.#runtime(svc);
    return primary.rolloutState === 'COMPLETED' && rt?.steady === true;
  }

  async waitForSteady(cluster: string, service: string, timeoutMs: number): Promise<void> {
    const svc = this.getService(this.getCluster(cluster), service);
    const deadline = Date.now() + timeoutMs;
    while (!this.isSettled(svc)) {
      if (Date.now() > deadline) {
        const primary = svc.deployments[0];
        throw new Error(
          `service ${cluster}/${service} not steady after ${timeoutMs} ms (deployment ${primary?.id} ${primary?.rolloutState}, ${countTasks(this.tasksOf(cluster, service), primary?.id).running}/${svc.desiredCount} running); see its events, or reset the local state`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async waitForAllSteady(timeoutMs: number): Promise<void> {
    const all = Object.values(this.state.clusters).flatMap((c) => Object.values(c.services));
    await Promise.all(all.map((svc) => this.waitForSteady(svc.clusterName, svc.serviceName, timeoutMs)));
  }

  // ---- shutdown ---------------------------------------------------------------------------------------------------

  /** Stops every task (SIGTERM, SIGKILL after the grace), closes the load balancers, writes the state. */
  async close(): Promise<void> {
    if (this.#closing) {
      await Promise.allSettled([...this.#work]);
      return;
    }
    this.#closing = true;
    clearInterval(this.#timer);
    const runtimes = [...this.#runtimes.values()];
    await Promise.all(runtimes.map((rt) => rt.lb?.close()));
    await Promise.all(
      runtimes.flatMap((rt) => [...rt.procs.values()].map((proc) => proc.stop(this.#options.stopGraceMs))),
    );
    // Tasks that were still being spawned notice #closing and stop themselves.
    while (this.#work.size > 0) await Promise.allSettled([...this.#work]);
    await this.#store.flush();
  }
}

/** Read through a function so TypeScript does not keep a narrowing across awaits (the scheduler changes it). */
function stopRequested(task: TaskRecord): boolean {
  return task.desiredStatus === 'STOPPED';
}
