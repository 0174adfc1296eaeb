/**
 * API views of the local ECS's records: objects whose field names are exactly the ECS API's (checked against
 * @aws-sdk/client-ecs's schemas), timestamps in epoch seconds.
 */
import {
  type ClusterRecord,
  compact,
  containerArn,
  type DeploymentRecord,
  type LocalTaskInfo,
  type ServiceLoadBalancer,
  type ServiceRecord,
  seconds,
  type TaskDefinitionRecord,
  type TaskRecord,
} from './model.ts';
import type { StrategyConfig } from './strategies.ts';

export interface ViewContext {
  region: string;
  accountId: string;
}

/** Tasks per deployment, by state, as the counts in a deployment and a service need them. */
export interface TaskCounts {
  running: number;
  pending: number;
  /** Not asked to stop. */
  desired: number;
}

export function countTasks(tasks: readonly TaskRecord[], deploymentId?: string): TaskCounts {
  let running = 0;
  let pending = 0;
  let desired = 0;
  for (const t of tasks) {
    if (deploymentId !== undefined && t.deploymentId !== deploymentId) continue;
    if (t.lastStatus === 'RUNNING') running++;
    if (t.lastStatus === 'PROVISIONING' || t.lastStatus === 'PENDING') pending++;
    if (t.desiredStatus === 'RUNNING' && t.lastStatus !== 'STOPPED') desired++;
  }
  return { running, pending, desired };
}

export function deploymentView(
  service: ServiceRecord,
  deployment: DeploymentRecord,
  tasks: readonly TaskRecord[],
): Record<string, unknown> {
  const counts = countTasks(tasks, deployment.id);
  return {
    id: deployment.id,
    status: deployment.status,
    taskDefinition: deployment.taskDefinition,
    // The PRIMARY deployment wants the service's desired count; an older one only keeps what it has not stopped yet.
    desiredCount: deployment.status === 'PRIMARY' ? service.desiredCount : counts.desired,
    pendingCount: counts.pending,
    runningCount: counts.running,
    failedTasks: deployment.failedTasks,
    createdAt: seconds(deployment.createdAt),
    updatedAt: seconds(deployment.updatedAt),
    launchType: 'FARGATE',
    platformVersion: '1.4.0',
    platformFamily: 'Linux',
    rolloutState: deployment.rolloutState,
    rolloutStateReason: deployment.rolloutStateReason,
  };
}

/** A service's `loadBalancers[]` entry, with `advancedConfiguration` as a blue/green-ready service has it on AWS. */
function loadBalancerView(lb: ServiceLoadBalancer): Record<string, unknown> {
  const { targetGroupArn, containerName, containerPort } = lb;
  const advanced = compact({
    alternateTargetGroupArn: lb.alternateTargetGroupArn,
    productionListenerRule: lb.productionListenerRule,
    testListenerRule: lb.testListenerRule,
    roleArn: lb.roleArn,
  });
  return {
    targetGroupArn,
    containerName,
    containerPort,
    ...(lb.alternateTargetGroupArn === undefined ? {} : { advancedConfiguration: advanced }),
  };
}

/** The strategy fields of a `deploymentConfiguration`, as UpdateService took them (defaults applied). */
export function strategyView(config: StrategyConfig): Record<string, unknown> {
  return compact({
    strategy: config.strategy,
    bakeTimeInMinutes: config.bakeTimeInMinutes,
    canaryConfiguration: config.canaryConfiguration,
    linearConfiguration: config.linearConfiguration,
    lifecycleHooks: config.lifecycleHooks.map((h) =>
      compact({
        hookTargetArn: h.hookTargetArn,
        roleArn: h.roleArn,
        lifecycleStages: h.lifecycleStages,
        targetType: 'AWS_LAMBDA',
        hookDetails: h.hookDetails,
      }),
    ),
  });
}

export function serviceView(
  ctx: ViewContext,
  cluster: ClusterRecord,
  service: ServiceRecord,
  tasks: readonly TaskRecord[],
  includeTags: boolean,
): Record<string, unknown> {
  const counts = countTasks(tasks);
  const primary = service.deployments[0];
  const { deploymentCircuitBreaker, maximumPercent, minimumHealthyPercent, strategy } = service.deploymentConfiguration;
  const lb = service.loadBalancer;
  return compact({
    serviceArn: service.serviceArn,
    serviceName: service.serviceName,
    clusterArn: cluster.clusterArn,
    loadBalancers: lb === undefined ? [] : [loadBalancerView(lb)],
    serviceRegistries: [],
    status: service.status,
    desiredCount: service.desiredCount,
    runningCount: counts.running,
    pendingCount: counts.pending,
    launchType: 'FARGATE',
    platformVersion: 'LATEST',
    platformFamily: 'Linux',
    taskDefinition: primary?.taskDefinition,
    deploymentConfiguration: {
      deploymentCircuitBreaker: { ...deploymentCircuitBreaker },
      maximumPercent,
      minimumHealthyPercent,
      ...(strategy === undefined ? {} : strategyView(strategy)),
    },
    currentServiceDeployment: service.serviceDeployments?.at(-1)?.arn,
    deployments: service.deployments.map((d) => deploymentView(service, d, tasks)),
    events: service.events.map((e) => ({ id: e.id, createdAt: seconds(e.createdAt), message: e.message })),
    createdAt: seconds(service.createdAt),
    placementConstraints: [],
    placementStrategy: [],
    healthCheckGracePeriodSeconds: lb === undefined ? undefined : 0,
    schedulingStrategy: 'REPLICA',
    deploymentController: { type: service.deploymentController ?? 'ECS' },
    createdBy: `arn:aws:iam::${ctx.accountId}:root`,
    enableECSManagedTags: false,
    propagateTags: 'NONE',
    enableExecuteCommand: false,
    availabilityZoneRebalancing: 'DISABLED',
    tags: includeTags ? service.tags : undefined,
  });
}

export function taskDefinitionView(ctx: ViewContext, td: TaskDefinitionRecord): Record<string, unknown> {
  return compact({
    ...td.body,
    taskDefinitionArn: td.taskDefinitionArn,
    family: td.family,
    revision: td.revision,
    volumes: td.body.volumes ?? [],
    placementConstraints: td.body.placementConstraints ?? [],
    status: td.status,
    requiresAttributes: [],
    compatibilities: ['EC2', 'FARGATE'],
    registeredAt: seconds(td.registeredAt),
    deregisteredAt: td.deregisteredAt === undefined ? undefined : seconds(td.deregisteredAt),
    registeredBy: `arn:aws:iam::${ctx.accountId}:root`,
  });
}

function containerStatus(task: TaskRecord): string {
  switch (task.lastStatus) {
    case 'PROVISIONING':
    case 'PENDING':
      return 'PENDING';
    case 'STOPPED':
      return 'STOPPED';
    default:
      return 'RUNNING';
  }
}

export function taskView(
  ctx: ViewContext,
  cluster: ClusterRecord,
  task: TaskRecord,
  td: TaskDefinitionRecord | undefined,
): Record<string, unknown> {
  const container = compact({
    containerArn: containerArn(ctx.region, ctx.accountId, cluster.clusterName, task.id, task.containerName),
    taskArn: task.taskArn,
    name: task.containerName,
    image: task.image,
    imageDigest: task.imageDigest,
    // No container runtime here: the id is the process id.
    runtimeId: task.pid === undefined ? undefined : String(task.pid),
    lastStatus: containerStatus(task),
    exitCode: task.exitCode,
    reason: task.lastStatus === 'STOPPED' ? task.stoppedReason : undefined,
    networkBindings:
      task.port === undefined
        ? []
        : [{ bindIP: '127.0.0.1', containerPort: containerPortOf(td, task), hostPort: task.port, protocol: 'tcp' }],
    healthStatus: 'UNKNOWN',
  });
  return compact({
    attachments: [],
    attributes: [],
    availabilityZone: `${ctx.region}a`,
    clusterArn: cluster.clusterArn,
    connectivity: 'CONNECTED',
    connectivityAt: seconds(task.createdAt),
    containers: [container],
    cpu: typeof td?.body.cpu === 'string' ? td.body.cpu : undefined,
    memory: typeof td?.body.memory === 'string' ? td.body.memory : undefined,
    createdAt: seconds(task.createdAt),
    desiredStatus: task.desiredStatus,
    enableExecuteCommand: false,
    group: `service:${task.serviceName}`,
    healthStatus: 'UNKNOWN',
    lastStatus: task.lastStatus,
    launchType: 'FARGATE',
    platformVersion: '1.4.0',
    platformFamily: 'Linux',
    startedAt: task.startedAt === undefined ? undefined : seconds(task.startedAt),
    startedBy: task.deploymentId,
    stopCode: task.stopCode,
    stoppedAt: task.stoppedAt === undefined ? undefined : seconds(task.stoppedAt),
    stoppedReason: task.stoppedReason,
    stoppingAt: task.stoppingAt === undefined ? undefined : seconds(task.stoppingAt),
    tags: [],
    taskArn: task.taskArn,
    taskDefinitionArn: task.taskDefinitionArn,
    version: task.version,
  });
}

function containerPortOf(td: TaskDefinitionRecord | undefined, task: TaskRecord): number {
  const containers = td?.body.containerDefinitions;
  if (Array.isArray(containers)) {
    const c = containers.find((x) => (x as { name?: unknown }).name === task.containerName) as
      | { portMappings?: { containerPort?: number }[] }
      | undefined;
    const port = c?.portMappings?.[0]?.containerPort;
    if (typeof port === 'number') return port;
  }
  return 8080;
}

export function clusterView(cluster: ClusterRecord, tasks: readonly TaskRecord[]): Record<string, unknown> {
  const counts = countTasks(tasks);
  return {
    clusterArn: cluster.clusterArn,
    clusterName: cluster.clusterName,
    status: 'ACTIVE',
    registeredContainerInstancesCount: 0,
    runningTasksCount: counts.running,
    pendingTasksCount: counts.pending,
    activeServicesCount: Object.keys(cluster.services).length,
    statistics: [],
    tags: cluster.tags,
    settings: [{ name: 'containerInsights', value: 'disabled' }],
    capacityProviders: [],
    defaultCapacityProviderStrategy: [],
  };
}

/** What tests and the CLI see of a task beyond the API: its process and port. */
export function localTaskInfo(t: TaskRecord): LocalTaskInfo {
  return {
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
  };
}
