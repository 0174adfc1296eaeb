/**
 * The local ECS's hands: a task is a real OS process started from the local registry's image, registered with its
 * service's load balancer once its port accepts connections, and drained from it before it stops. What to start and
 * stop is decided elsewhere (scheduler.ts); this module carries it out and reports back through {@link TaskHooks}.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { LoadBalancer } from '../lb.ts';
import type { LocalRegistry } from '../registry.ts';
import { allocatePort, releasePort, type TaskExit, TaskProcess, waitForPort } from '../tasks.ts';
import type { LocalCloudSpec } from '../types.ts';
import type { ServiceLoadBalancer, ServiceRecord, TargetGroupName, TaskRecord } from './model.ts';
import type { SchedulerMemory } from './scheduler.ts';

/** A service's runtime side: its tasks (stopped ones kept for DescribeTasks), processes and load balancer. */
export interface ServiceRuntime {
  readonly cluster: string;
  readonly service: string;
  tasks: TaskRecord[];
  readonly procs: Map<string, TaskProcess>;
  lb?: LoadBalancer;
  memory: SchedulerMemory;
  reconcileQueued: boolean;
}

export interface ProcessOptions {
  readonly registry: LocalRegistry;
  readonly images: LocalCloudSpec['images'];
  /** Working directory of task processes (the repository root). */
  readonly cwd: string;
  /** Task logs go to `<stateDir>/tasks/<cluster>/<service>/<task-id>.log`. */
  readonly stateDir: string;
  readonly log: (line: string) => void;
  /** A task that has not opened its port by then failed to start. */
  readonly taskStartTimeoutMs: number;
  /** SIGTERM -> SIGKILL. */
  readonly stopGraceMs: number;
  /** Bound on draining a target before its task is stopped. */
  readonly deregistrationDelayMs: number;
  readonly healthCheckIntervalMs: number;
}

/** What the engine hears from the processes. */
export interface TaskHooks {
  /** A service event (DescribeServices' `events`). */
  event(svc: ServiceRecord, message: string): void;
  /** A task reached RUNNING (and is registered with the load balancer). */
  running(rt: ServiceRuntime, svc: ServiceRecord, task: TaskRecord): void;
  /** A task is STOPPED; `unexpected`: it was meant to run (a failure). Not called while closing. */
  stopped(rt: ServiceRuntime, svc: ServiceRecord, task: TaskRecord, unexpected: boolean): void;
}

/** What to launch. */
export interface Launch {
  readonly deploymentId: string;
  readonly taskDefinitionArn: string;
  /** The container the task runs (see serviceContainer); undefined: the task fails to start. */
  readonly container: Record<string, unknown> | undefined;
  readonly count: number;
  readonly taskArn: (id: string) => string;
  /** The target group the tasks register in. */
  readonly targetGroup: TargetGroupName;
}

/** Stopped tasks kept per service for DescribeTasks/ListTasks (ECS keeps them about an hour). */
const KEEP_STOPPED = 50;

export class TaskProcesses {
  readonly #options: ProcessOptions;
  readonly #hooks: TaskHooks;
  readonly #work = new Set<Promise<unknown>>();
  readonly #runtimes = new Map<string, ServiceRuntime>();
  #closing = false;

  constructor(options: ProcessOptions, hooks: TaskHooks) {
    this.#options = options;
    this.#hooks = hooks;
  }

  /** True once close() started: nothing new starts, and stops are not events of the service. */
  get closing(): boolean {
    return this.#closing;
  }

  add(rt: ServiceRuntime): void {
    this.#runtimes.set(`${rt.cluster}/${rt.service}`, rt);
  }

  runtime(cluster: string, service: string): ServiceRuntime | undefined {
    return this.#runtimes.get(`${cluster}/${service}`);
  }

  runtimes(): ServiceRuntime[] {
    return [...this.#runtimes.values()];
  }

  /** Tasks of a service (all services when omitted), stopped ones included. */
  tasksOf(cluster?: string, service?: string): TaskRecord[] {
    return this.runtimes()
      .filter(
        (rt) => (cluster === undefined || rt.cluster === cluster) && (service === undefined || rt.service === service),
      )
      .flatMap((rt) => rt.tasks);
  }

  /** The load balancer of a service (its ports, 0 for any free port; its target groups' ARNs). */
  async startLoadBalancer(svc: ServiceRecord, wiring: ServiceLoadBalancer, arnPrefix: string): Promise<LoadBalancer> {
    const { port, healthCheckPath } = wiring;
    try {
      return await LoadBalancer.start({
        name: `lb ${svc.serviceName}`,
        port,
        ...(wiring.testPort === undefined ? {} : { testPort: wiring.testPort }),
        arnPrefix,
        targetGroupArns: {
          blue: wiring.targetGroupArn,
          ...(wiring.alternateTargetGroupArn === undefined ? {} : { green: wiring.alternateTargetGroupArn }),
        },
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
  }

  /** Starts `count` tasks of a deployment: PROVISIONING in `rt.tasks` at once, their processes on their way. */
  launch(rt: ServiceRuntime, svc: ServiceRecord, launch: Launch): void {
    const { container } = launch;
    const ids: string[] = [];
    for (let i = 0; i < launch.count; i++) {
      const id = randomBytes(16).toString('hex');
      const task: TaskRecord = {
        id,
        taskArn: launch.taskArn(id),
        clusterName: svc.clusterName,
        serviceName: svc.serviceName,
        deploymentId: launch.deploymentId,
        taskDefinitionArn: launch.taskDefinitionArn,
        containerName: typeof container?.name === 'string' ? container.name : 'unknown',
        image: typeof container?.image === 'string' ? container.image : '',
        lastStatus: 'PROVISIONING',
        desiredStatus: 'RUNNING',
        createdAt: Date.now(),
        ran: false,
        registered: false,
        targetGroup: launch.targetGroup,
        version: 1,
      };
      rt.tasks.push(task);
      ids.push(id);
      this.#track(this.#run(rt, svc, task, container));
    }
    this.#hooks.event(
      svc,
      `(service ${svc.serviceName}) has started ${launch.count} tasks: ${ids.map((id) => `(task ${id})`).join(' ')}.`,
    );
  }

  async #run(
    rt: ServiceRuntime,
    svc: ServiceRecord,
    task: TaskRecord,
    container: Record<string, unknown> | undefined,
  ): Promise<void> {
    if (container === undefined) {
      this.#finish(rt, svc, task, { failure: 'CannotStartContainerError: task definition or container not found' });
      return;
    }
    const resolved = await this.#options.registry.resolveImage(task.image, this.#options.images);
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
    const { taskStartTimeoutMs } = this.#options;
    const outcome = await waitForPort(port, proc, taskStartTimeoutMs, () => this.#closing || stopRequested(task));
    if (outcome === 'open' && !this.#closing && task.desiredStatus === 'RUNNING') {
      task.lastStatus = 'RUNNING';
      task.startedAt = Date.now();
      task.ran = true;
      task.version++;
      if (rt.lb !== undefined && svc.loadBalancer !== undefined) {
        const tg = rt.lb.targetGroup(task.targetGroup ?? 'blue');
        rt.lb.register({ id: task.id, port }, tg.name);
        task.registered = true;
        this.#hooks.event(svc, `(service ${svc.serviceName}) registered 1 targets in (target-group ${tg.arn})`);
      }
      this.#hooks.running(rt, svc, task);
    } else if (outcome === 'timeout') {
      task.failure = `Task failed to start: container ${task.containerName} did not listen on its port within ${Math.round(taskStartTimeoutMs / 1000)} s`;
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
        this.#hooks.event(svc, `(service ${svc.serviceName}) has stopped 1 running tasks: (task ${task.id}).`);
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

  /** Marks a task STOPPED. `failure`: it never reached RUNNING and was meant to (counts for the circuit breaker). */
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
    const stopped = rt.tasks.filter((t) => t.lastStatus === 'STOPPED');
    if (stopped.length > KEEP_STOPPED) {
      const drop = new Set(stopped.slice(0, stopped.length - KEEP_STOPPED));
      rt.tasks = rt.tasks.filter((t) => !drop.has(t));
    }
    if (!this.#closing) this.#hooks.stopped(rt, svc, task, unexpected);
  }

  /** Asks tasks to stop: running ones are drained from the load balancer first. */
  stop(rt: ServiceRuntime, svc: ServiceRecord, tasks: readonly TaskRecord[], reason: string): void {
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
      this.#hooks.event(
        svc,
        `(service ${svc.serviceName}) has stopped ${running.length} running tasks: ${running.map((t) => `(task ${t.id})`).join(' ')}.`,
      );
      const registered = running.filter((t) => t.registered);
      if (registered.length > 0 && svc.loadBalancer !== undefined) {
        this.#hooks.event(
          svc,
          `(service ${svc.serviceName}) has begun draining connections on ${registered.length} tasks.`,
        );
      }
    }
    for (const t of tasks) this.#track(this.#stopOne(rt, svc, t));
  }

  async #stopOne(rt: ServiceRuntime, svc: ServiceRecord, task: TaskRecord): Promise<void> {
    if (task.lastStatus === 'RUNNING') {
      task.lastStatus = 'DEACTIVATING';
      if (task.registered && rt.lb !== undefined) {
        await rt.lb.deregister(task.id);
        task.registered = false;
        if (svc.loadBalancer !== undefined && !this.#closing) {
          const tg = rt.lb.targetGroup(task.targetGroup ?? 'blue');
          this.#hooks.event(svc, `(service ${svc.serviceName}) deregistered 1 targets in (target-group ${tg.arn})`);
        }
      }
    }
    // A task still starting is stopped by #run once it notices desiredStatus.
    const proc = rt.procs.get(task.id);
    if (proc === undefined) return;
    if (task.lastStatus !== 'STOPPED') task.lastStatus = 'STOPPING';
    await proc.stop(this.#options.stopGraceMs);
  }

  #track<T>(promise: Promise<T>): void {
    const tracked = promise.catch((error: unknown) => {
      this.#options.log(`ecs: internal error: ${(error as Error).stack ?? String(error)}`);
    });
    this.#work.add(tracked);
    void tracked.finally(() => this.#work.delete(tracked));
  }

  /** Closes the load balancers and stops every process (SIGTERM, SIGKILL after the grace); waits for all work. */
  async close(): Promise<void> {
    const runtimes = this.runtimes();
    if (this.#closing) {
      await Promise.allSettled([...this.#work]);
      return;
    }
    this.#closing = true;
    await Promise.all(runtimes.map((rt) => rt.lb?.close()));
    await Promise.all(
      runtimes.flatMap((rt) => [...rt.procs.values()].map((proc) => proc.stop(this.#options.stopGraceMs))),
    );
    // Tasks that were still being spawned notice the close and stop themselves.
    while (this.#work.size > 0) await Promise.allSettled([...this.#work]);
  }
}

/** Read through a function so TypeScript does not keep a narrowing across awaits (the scheduler changes it). */
function stopRequested(task: TaskRecord): boolean {
  return task.desiredStatus === 'STOPPED';
}
