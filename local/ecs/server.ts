/**
 * rollgate's local ECS: an HTTP endpoint on 127.0.0.1 speaking the AWS JSON 1.1 protocol
 * (`X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Op>`), so `@aws-sdk/client-ecs` pointed at it (or
 * `AWS_ENDPOINT_URL_ECS`) works unchanged. Tasks are real processes; each service has a load balancer.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AwsJsonCall, type AwsJsonEndpoint, callLog, startAwsJsonEndpoint } from '../aws-json.ts';
import type { LoadBalancer, TargetInfo } from '../lb.ts';
import { LocalRegistry } from '../registry.ts';
import { killAllSync } from '../tasks.ts';
import type { LocalCloudSpec } from '../types.ts';
import { type CodeDeployController, codeDeployController } from './controller.ts';
import { EcsEngine } from './engine.ts';
import { ECS_TARGET_PREFIX, type LocalTaskInfo, type ServiceDeploymentRecord } from './model.ts';
import { ecsOperations } from './operations.ts';

export type { LocalTaskInfo, ServiceDeploymentRecord } from './model.ts';
export { circuitBreakerThreshold } from './scheduler.ts';

export interface StartEcsOptions {
  spec: LocalCloudSpec;
  /** ECS state (`ecs-state.json`) and task logs (`tasks/<cluster>/<service>/<task-id>.log`) live here. */
  stateDir: string;
  /** The local registry's JSON file (see local/registry.ts). */
  registryFile: string;
  /** Port of the ECS endpoint on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  log?: (line: string) => void;
  /** Working directory of task processes. Default: the repository root. */
  cwd?: string;
  /** A task that has not opened its port by then failed to start. Default 10000. */
  taskStartTimeoutMs?: number;
  /** SIGTERM -> SIGKILL grace when stopping a task. Default 3000. */
  stopGraceMs?: number;
  /** Upper bound on draining a target from its load balancer before its task stops. Default 5000. */
  deregistrationDelayMs?: number;
  /** Load balancer health check interval. Default 500. */
  healthCheckIntervalMs?: number;
  /** startEcs rejects when a service is not steady by then. Default 60000. */
  readyTimeoutMs?: number;
  /** Tags must have been pushed (like ECR). Default false: any tag of a known repository resolves. */
  requirePush?: boolean;
  /**
   * How long a "minute" of a strategy deployment's bake time lasts, in ms; a hook's `callBackDelay` (seconds) scales
   * alike (delay * minuteMs / 60). Default `spec.minuteMs`, else 1000.
   */
  minuteMs?: number;
  /** The Lambda endpoint lifecycle hooks are invoked through (the local cloud's). None: every hook fails. */
  lambdaEndpoint?: string;
}

export interface LocalEcs {
  /** `http://127.0.0.1:<port>`: the value for `AWS_ENDPOINT_URL_ECS` or a client's `endpoint`. */
  endpoint: string;
  /** Every call received, oldest first (at most the last 10000). */
  calls: AwsJsonCall[];
  /** The URL of a service's load balancer, e.g. `http://127.0.0.1:18080`. Throws for an unknown service. */
  loadBalancerUrl(cluster: string, service: string): string;
  /** The targets a service's load balancer knows, with their health. */
  targets(cluster: string, service: string): TargetInfo[];
  /**
   * A service's ALB: `status()` (and its `adminUrl`, GET -> JSON) reports each target group's requests, errors and
   * latency; `testUrl` is the test listener. Undefined for a service without a load balancer.
   */
  loadBalancer(cluster: string, service: string): LoadBalancer | undefined;
  /**
   * A service's BLUE_GREEN / CANARY / LINEAR service deployments, oldest first, as the engine keeps them: beyond the
   * API's view, the target group of each revision (`source.targetGroup`, `target.targetGroup`) and `rollbackFlipMs`.
   */
  serviceDeployments(cluster: string, service: string): readonly ServiceDeploymentRecord[];
  /** Tasks with their process id and port (stopped ones included, the last 50 per service). */
  tasks(cluster?: string, service?: string): LocalTaskInfo[];
  /** Resolves when the service's PRIMARY deployment is COMPLETED and steady (or FAILED); rejects after timeoutMs. */
  waitForSteadyState(cluster: string, service: string, timeoutMs?: number): Promise<void>;
  /** The registry the tasks pull from. */
  registry: LocalRegistry;
  /** What the local CodeDeploy drives: the blue/green deployments of CODE_DEPLOY services. */
  codeDeploy: CodeDeployController;
  /** Stops every task (no orphans), the load balancers and the endpoint; writes the state. Idempotent. */
  close(): Promise<void>;
}

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAX_CALLS = 10_000;

/**
 * Starts the local ECS: restores (or creates from `spec`) the clusters, services and task definitions, starts every
 * service's load balancer and tasks, then the endpoint; resolves when every service is steady.
 */
export async function startEcs(options: StartEcsOptions): Promise<LocalEcs> {
  const log = options.log ?? (() => undefined);
  const registry = new LocalRegistry(options.registryFile, { requirePush: options.requirePush ?? false });
  // A parent that exits without close() still takes its tasks along (a SIGKILLed one relies on their stdin).
  process.on('exit', killAllSync);
  let engine: EcsEngine;
  try {
    engine = await EcsEngine.open(
      {
        spec: options.spec,
        stateDir: options.stateDir,
        registry,
        cwd: options.cwd ?? REPO_ROOT,
        log,
        taskStartTimeoutMs: options.taskStartTimeoutMs ?? 10_000,
        stopGraceMs: options.stopGraceMs ?? 3000,
        deregistrationDelayMs: options.deregistrationDelayMs ?? 5000,
        healthCheckIntervalMs: options.healthCheckIntervalMs ?? 500,
        minuteMs: options.minuteMs ?? options.spec.minuteMs ?? 1000,
        ...(options.lambdaEndpoint === undefined ? {} : { lambdaEndpoint: options.lambdaEndpoint }),
      },
      options.readyTimeoutMs ?? 60_000,
    );
  } catch (error) {
    process.off('exit', killAllSync);
    throw error;
  }

  const { calls, onCall } = callLog(MAX_CALLS);
  let server: AwsJsonEndpoint;
  try {
    server = await startAwsJsonEndpoint(
      {
        service: 'ECS',
        targetPrefix: ECS_TARGET_PREFIX,
        operations: ecsOperations(engine),
        onCall,
      },
      { port: options.port ?? 0, log },
    );
  } catch (error) {
    await engine.close();
    process.off('exit', killAllSync);
    throw error;
  }
  const { endpoint } = server;
  log(`ecs: endpoint ${endpoint}`);

  let closing: Promise<void> | undefined;
  return {
    endpoint,
    calls,
    registry,
    codeDeploy: codeDeployController(engine),
    loadBalancerUrl: (cluster, service) => engine.loadBalancerUrl(cluster, service),
    targets: (cluster, service) => engine.loadBalancer(cluster, service)?.targets() ?? [],
    loadBalancer: (cluster, service) => engine.loadBalancer(cluster, service),
    serviceDeployments: (cluster, service) =>
      engine.getService(engine.getCluster(cluster), service).serviceDeployments ?? [],
    tasks: (cluster, service) => engine.localTasks(cluster, service),
    waitForSteadyState: (cluster, service, timeoutMs = 60_000) => engine.waitForSteady(cluster, service, timeoutMs),
    close: () => {
      closing ??= (async () => {
        await server.close(true);
        await engine.close();
        process.off('exit', killAllSync);
      })();
      return closing;
    },
  };
}
