/**
 * The local ECS's persisted state, its in-memory tasks, ARNs, and the views the API returns (field names exactly as
 * the ECS API's; timestamps stored as epoch milliseconds, returned as epoch seconds).
 */
import { createHash } from 'node:crypto';
import type { LifecycleStage, StrategyConfig } from './strategies.ts';

export type RolloutState = 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';

export interface Tag {
  key: string;
  value: string;
}

export interface TaskDefinitionRecord {
  taskDefinitionArn: string;
  family: string;
  revision: number;
  status: 'ACTIVE' | 'INACTIVE';
  /** epoch ms */
  registeredAt: number;
  deregisteredAt?: number;
  /** The registered input minus `family` and `tags`: containerDefinitions, roles, networkMode, cpu, memory, ... */
  body: Record<string, unknown>;
  tags: Tag[];
}

export interface DeploymentRecord {
  /** `ecs-svc/` + 19 digits. */
  id: string;
  status: 'PRIMARY' | 'ACTIVE';
  taskDefinition: string;
  failedTasks: number;
  createdAt: number;
  updatedAt: number;
  rolloutState: RolloutState;
  rolloutStateReason: string;
}

/** One of the two target groups of a service's ALB: `blue` is `targetGroupArn`, `green` the alternate. */
export type TargetGroupName = 'blue' | 'green';

export interface ServiceLoadBalancer {
  targetGroupArn: string;
  containerName: string;
  containerPort: number;
  /** Port of the local load balancer on 127.0.0.1. */
  port: number;
  healthCheckPath: string;
  /** `advancedConfiguration` as on AWS: the alternate target group, the rules ECS moves, the role it uses. */
  alternateTargetGroupArn?: string;
  productionListenerRule?: string;
  /** Only with a test route (a test listener port or a test header). */
  testListenerRule?: string;
  roleArn?: string;
  /** Port of the test listener (0: a free one); absent: the test listener is no test route. */
  testPort?: number;
  /** A rule on the production listener: requests with this header go where test traffic goes. */
  testHeader?: { name: string; value: string };
  /** The target group serving production: blue at first, swapped by every successful strategy deployment. */
  liveTargetGroup?: TargetGroupName;
}

export interface DeploymentConfigurationRecord {
  minimumHealthyPercent: number;
  maximumPercent: number;
  deploymentCircuitBreaker: { enable: boolean; rollback: boolean };
  /** BLUE_GREEN / CANARY / LINEAR and their settings, once set by UpdateService (absent: ROLLING). */
  strategy?: StrategyConfig;
}

/** `ServiceDeployment.status`. */
export type ServiceDeploymentStatus =
  | 'IN_PROGRESS'
  | 'SUCCESSFUL'
  | 'ROLLBACK_REQUESTED'
  | 'ROLLBACK_IN_PROGRESS'
  | 'ROLLBACK_SUCCESSFUL'
  | 'ROLLBACK_FAILED'
  | 'STOPPED';

/** A service revision a service deployment moves from or to: a deployment of one task definition. */
export interface RevisionRef {
  arn: string;
  deploymentId: string;
  taskDefinition: string;
  /** The target group its tasks serve from. */
  targetGroup: TargetGroupName;
}

/** One BLUE_GREEN / CANARY / LINEAR service deployment (ECS's `ServiceDeployment`), persisted with its service. */
export interface ServiceDeploymentRecord {
  arn: string;
  status: ServiceDeploymentStatus;
  statusReason: string;
  lifecycleStage: LifecycleStage;
  /** Percent of test / production traffic on the target revision. */
  testPercent: number;
  productionPercent: number;
  source: RevisionRef;
  target: RevisionRef;
  config: StrategyConfig;
  /** epoch ms */
  createdAt: number;
  updatedAt: number;
  finishedAt?: number;
  rollback?: { reason: string; startedAt: number; serviceRevisionArn: string };
  /** Local only: from the decision to roll back to production fully on the source revision, in ms. */
  rollbackFlipMs?: number;
}

export interface ServiceEventRecord {
  id: string;
  createdAt: number;
  message: string;
}

export interface ServiceRecord {
  serviceName: string;
  serviceArn: string;
  clusterName: string;
  status: 'ACTIVE';
  desiredCount: number;
  createdAt: number;
  deploymentConfiguration: DeploymentConfigurationRecord;
  loadBalancer?: ServiceLoadBalancer;
  /** PRIMARY first. */
  deployments: DeploymentRecord[];
  /** Newest first, at most {@link MAX_EVENTS}. */
  events: ServiceEventRecord[];
  /** What a circuit-breaker rollback goes back to. */
  lastCompleted?: { deploymentId: string; taskDefinition: string };
  tags: Tag[];
  /** Strategy deployments, oldest first (the last {@link MAX_SERVICE_DEPLOYMENTS}). */
  serviceDeployments?: ServiceDeploymentRecord[];
  /** CODE_DEPLOY (the config's `deploymentController`): deployed by the local CodeDeploy only; absent: ECS. */
  deploymentController?: 'CODE_DEPLOY';
}

export interface ClusterRecord {
  clusterName: string;
  clusterArn: string;
  createdAt: number;
  tags: Tag[];
  services: Record<string, ServiceRecord>;
}

/** The whole persisted state (`<stateDir>/ecs-state.json`). Tasks are processes and are not persisted. */
export interface EcsState {
  schema: 'rollgate.local-ecs.v1';
  region: string;
  accountId: string;
  deploymentCounter: number;
  clusters: Record<string, ClusterRecord>;
  /** family -> revisions in order (index = revision - 1). */
  taskDefinitions: Record<string, TaskDefinitionRecord[]>;
}

export type TaskStatus = 'PROVISIONING' | 'PENDING' | 'RUNNING' | 'DEACTIVATING' | 'STOPPING' | 'STOPPED';

/** A task of a service: in memory only; its process is in `local/tasks.ts`. */
export interface TaskRecord {
  id: string;
  taskArn: string;
  clusterName: string;
  serviceName: string;
  deploymentId: string;
  taskDefinitionArn: string;
  containerName: string;
  image: string;
  imageTag?: string;
  imageDigest?: string;
  lastStatus: TaskStatus;
  desiredStatus: 'RUNNING' | 'STOPPED';
  createdAt: number;
  startedAt?: number;
  stoppingAt?: number;
  stoppedAt?: number;
  stopCode?: 'TaskFailedToStart' | 'EssentialContainerExited' | 'ServiceSchedulerInitiated' | 'UserInitiated';
  stoppedReason?: string;
  /** Set when the task failed before RUNNING; becomes the stoppedReason. */
  failure?: string;
  exitCode?: number;
  port?: number;
  pid?: number;
  /** The target group it registers in (the live one unless a strategy deployment starts it in the alternate). */
  targetGroup?: TargetGroupName;
  /** Reached RUNNING at some point. */
  ran: boolean;
  registered: boolean;
  version: number;
}

export interface CreateServiceInput {
  cluster: string;
  serviceName: string;
  taskDefinition: string;
  desiredCount: number;
  deploymentConfiguration: DeploymentConfigurationRecord;
  loadBalancer?: Pick<ServiceLoadBalancer, 'containerName' | 'containerPort' | 'port' | 'healthCheckPath'> &
    Pick<ServiceLoadBalancer, 'testPort' | 'testHeader'>;
  tags: Tag[];
}

export interface UpdateServiceInput {
  cluster: string;
  service: string;
  taskDefinition?: string;
  desiredCount?: number;
  forceNewDeployment?: boolean;
  deploymentConfiguration?: Partial<Omit<DeploymentConfigurationRecord, 'deploymentCircuitBreaker' | 'strategy'>> & {
    deploymentCircuitBreaker?: { enable: boolean; rollback: boolean };
  };
  /** deploymentConfiguration's strategy fields as sent (strategy, bakeTimeInMinutes, ...), checked by the engine. */
  strategyFields?: Record<string, unknown>;
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

export const MAX_EVENTS = 100;
export const MAX_SERVICE_DEPLOYMENTS = 50;
export const ECS_TARGET_PREFIX = 'AmazonEC2ContainerServiceV20141113.';

export const clusterArn = (region: string, account: string, cluster: string): string =>
  `arn:aws:ecs:${region}:${account}:cluster/${cluster}`;
export const serviceArn = (region: string, account: string, cluster: string, service: string): string =>
  `arn:aws:ecs:${region}:${account}:service/${cluster}/${service}`;
export const taskDefinitionArn = (region: string, account: string, family: string, revision: number): string =>
  `arn:aws:ecs:${region}:${account}:task-definition/${family}:${revision}`;
export const taskArn = (region: string, account: string, cluster: string, id: string): string =>
  `arn:aws:ecs:${region}:${account}:task/${cluster}/${id}`;
export const containerArn = (region: string, account: string, cluster: string, taskId: string, name: string): string =>
  `arn:aws:ecs:${region}:${account}:container/${cluster}/${taskId}/${stableHex(`${taskId}/${name}`, 8)}-${stableHex(name, 4)}`;
export const targetGroupArn = (region: string, account: string, cluster: string, service: string): string =>
  `arn:aws:elasticloadbalancing:${region}:${account}:targetgroup/${`${cluster}-${service}`.slice(0, 32)}/${stableHex(`${cluster}/${service}`, 16)}`;
/** The alternate (green) target group of a service's ALB. */
export const alternateTargetGroupArn = (region: string, account: string, cluster: string, service: string): string =>
  `arn:aws:elasticloadbalancing:${region}:${account}:targetgroup/${`${cluster}-${service}`.slice(0, 26)}-green/${stableHex(`${cluster}/${service}/green`, 16)}`;
/** A service revision: one per deployment, named by the deployment id's digits. */
export const serviceRevisionArn = (
  region: string,
  account: string,
  cluster: string,
  service: string,
  deploymentId: string,
): string =>
  `arn:aws:ecs:${region}:${account}:service-revision/${cluster}/${service}/${deploymentId.replace(/^ecs-svc\//, '')}`;
export const serviceDeploymentArn = (
  region: string,
  account: string,
  cluster: string,
  service: string,
  deploymentId: string,
): string => `arn:aws:ecs:${region}:${account}:service-deployment/${cluster}/${service}/${stableHex(deploymentId, 22)}`;

export function stableHex(seed: string, length: number): string {
  return createHash('sha256').update(seed).digest('hex').slice(0, length);
}

/** The last path segment of a name-or-ARN (`arn:...:cluster/x` -> `x`, `arn:...:service/c/s` -> `s`). */
export function nameFromArn(nameOrArn: string): string {
  if (!nameOrArn.startsWith('arn:')) return nameOrArn;
  const resource = nameOrArn.split(':').slice(5).join(':');
  return resource.split('/').at(-1) ?? resource;
}

/** A cluster's service by name or ARN. */
export function findService(cluster: ClusterRecord, nameOrArn: string): ServiceRecord | undefined {
  if (!nameOrArn.startsWith('arn:')) return cluster.services[nameOrArn];
  const svc = cluster.services[nameFromArn(nameOrArn)];
  return svc?.serviceArn === nameOrArn ? svc : undefined;
}

/** UpdateService's deploymentConfiguration over the service's: a field not sent keeps its value. */
export function mergeDeploymentConfiguration(
  was: DeploymentConfigurationRecord,
  input: Pick<UpdateServiceInput, 'deploymentConfiguration'>,
  strategy: StrategyConfig | undefined,
): DeploymentConfigurationRecord {
  const dc = input.deploymentConfiguration ?? {};
  const kept = strategy ?? was.strategy;
  return {
    minimumHealthyPercent: dc.minimumHealthyPercent ?? was.minimumHealthyPercent,
    maximumPercent: dc.maximumPercent ?? was.maximumPercent,
    deploymentCircuitBreaker: dc.deploymentCircuitBreaker ?? was.deploymentCircuitBreaker,
    ...(kept === undefined ? {} : { strategy: kept }),
  };
}

/** ECS timestamps travel as epoch seconds. */
export const seconds = (ms: number): number => ms / 1000;

/** Drops undefined values so the JSON carries only what is set. */
export function compact<T extends Record<string, unknown>>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = v;
  return out as T;
}
