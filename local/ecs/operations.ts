/**
 * The ECS operations the local endpoint implements: input checks, a call into the engine, the ECS-shaped output.
 * Anything not listed answers UnknownOperationException.
 */
import type { AwsJsonOperation } from '../aws-json.ts';
import { serviceDeploymentOperations } from './deployment-operations.ts';
import type { EcsEngine } from './engine.ts';
import { clientError, invalidParameter } from './errors.ts';
import {
  ctx,
  type Input,
  type Operation,
  optBool,
  optInt,
  optString,
  page,
  reqString,
  stringList,
  tags,
} from './input.ts';
import { findService, nameFromArn, type TaskRecord } from './model.ts';
import { strategyFields } from './strategies.ts';
import { clusterView, serviceView, taskDefinitionView, taskView } from './views.ts';

function deploymentConfiguration(input: Input):
  | {
      minimumHealthyPercent?: number;
      maximumPercent?: number;
      deploymentCircuitBreaker?: { enable: boolean; rollback: boolean };
    }
  | undefined {
  const v = input.deploymentConfiguration;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object') throw invalidParameter('deploymentConfiguration must be an object.');
  const dc = v as Input;
  const min = optInt(dc, 'minimumHealthyPercent');
  const max = optInt(dc, 'maximumPercent');
  if (min !== undefined && (min < 0 || min > 100)) {
    throw invalidParameter('minimumHealthyPercent must be between 0 and 100.');
  }
  if (max !== undefined && (max < 100 || max > 200)) {
    throw invalidParameter('maximumPercent must be between 100 and 200.');
  }
  const cb = dc.deploymentCircuitBreaker as Input | undefined;
  return {
    ...(min === undefined ? {} : { minimumHealthyPercent: min }),
    ...(max === undefined ? {} : { maximumPercent: max }),
    ...(cb === undefined || cb === null
      ? {}
      : {
          deploymentCircuitBreaker: {
            enable: optBool(cb, 'enable') ?? false,
            rollback: optBool(cb, 'rollback') ?? false,
          },
        }),
  };
}

const describeServices: Operation = (engine, input) => {
  const cluster = engine.getCluster(optString(input, 'cluster'));
  const names = stringList(input, 'services');
  if (names.length === 0) throw invalidParameter('Services cannot be empty.');
  if (names.length > 10) throw invalidParameter('Services cannot contain more than 10 elements.');
  const includeTags = stringList(input, 'include').includes('TAGS');
  const services: unknown[] = [];
  const failures: unknown[] = [];
  for (const name of names) {
    const svc = findService(cluster, name);
    if (svc === undefined) {
      // ECS reports an unknown service as a failure, not an error.
      failures.push({
        arn: name.startsWith('arn:') ? name : `${cluster.clusterArn.replace(':cluster/', ':service/')}/${name}`,
        reason: 'MISSING',
      });
    } else {
      services.push(
        serviceView(ctx(engine), cluster, svc, engine.tasksOf(cluster.clusterName, svc.serviceName), includeTags),
      );
    }
  }
  return { services, failures };
};

const describeTaskDefinition: Operation = (engine, input) => {
  const ref = reqString(input, 'taskDefinition', clientError);
  const td = engine.taskDefinitions.find(ref);
  if (td === undefined) throw clientError('Unable to describe task definition.');
  const includeTags = stringList(input, 'include').includes('TAGS');
  return { taskDefinition: taskDefinitionView(ctx(engine), td), ...(includeTags ? { tags: td.tags } : {}) };
};

const registerTaskDefinition: Operation = (engine, input) => {
  const family = optString(input, 'family');
  if (family === undefined) throw clientError('Family must be specified.');
  const { family: _family, tags: _tags, ...body } = input;
  const td = engine.taskDefinitions.register({ family, body, tags: tags(input) }, Date.now());
  return { taskDefinition: taskDefinitionView(ctx(engine), td), tags: td.tags };
};

const deregisterTaskDefinition: Operation = (engine, input) => {
  const td = engine.taskDefinitions.deregister(reqString(input, 'taskDefinition', clientError), Date.now());
  return { taskDefinition: taskDefinitionView(ctx(engine), td) };
};

const listTaskDefinitions: Operation = (engine, input) => {
  const prefix = optString(input, 'familyPrefix');
  const status = optString(input, 'status') ?? 'ACTIVE';
  const sort = optString(input, 'sort') ?? 'ASC';
  let arns = Object.values(engine.taskDefinitions.families)
    .flat()
    .filter((td) => (prefix === undefined || td.family === prefix) && (status === 'ALL' || td.status === status))
    .sort((a, b) => a.family.localeCompare(b.family) || a.revision - b.revision)
    .map((td) => td.taskDefinitionArn);
  if (sort === 'DESC') arns = arns.reverse();
  const { items, nextToken } = page(arns, input);
  return { taskDefinitionArns: items, ...(nextToken === undefined ? {} : { nextToken }) };
};

const updateService: Operation = (engine, input) => {
  const cluster = optString(input, 'cluster');
  const service = reqString(input, 'service');
  const taskDefinition = optString(input, 'taskDefinition');
  const desiredCount = optInt(input, 'desiredCount');
  const forceNewDeployment = optBool(input, 'forceNewDeployment');
  const dc = deploymentConfiguration(input);
  const strategy =
    typeof input.deploymentConfiguration === 'object' && input.deploymentConfiguration !== null
      ? strategyFields(input.deploymentConfiguration as Input)
      : undefined;
  const svc = engine.updateService({
    cluster: cluster ?? 'default',
    service,
    ...(taskDefinition === undefined ? {} : { taskDefinition }),
    ...(desiredCount === undefined ? {} : { desiredCount }),
    ...(forceNewDeployment === undefined ? {} : { forceNewDeployment }),
    ...(dc === undefined ? {} : { deploymentConfiguration: dc }),
    ...(strategy === undefined ? {} : { strategyFields: strategy }),
  });
  const clusterRecord = engine.getCluster(svc.clusterName);
  return {
    service: serviceView(ctx(engine), clusterRecord, svc, engine.tasksOf(svc.clusterName, svc.serviceName), false),
  };
};

const createService: Operation = async (engine, input) => {
  const clusterRecord = engine.getCluster(optString(input, 'cluster'));
  const serviceName = reqString(input, 'serviceName');
  if (!/^[a-zA-Z0-9_-]{1,255}$/.test(serviceName)) throw invalidParameter('Invalid service name.');
  const taskDefinition = reqString(input, 'taskDefinition');
  const desiredCount = optInt(input, 'desiredCount') ?? 0;
  if (desiredCount < 0) throw invalidParameter('desiredCount must be non-negative.');
  const dc = deploymentConfiguration(input);
  const lbs = input.loadBalancers;
  let loadBalancer: { containerName: string; containerPort: number; port: number; healthCheckPath: string } | undefined;
  if (Array.isArray(lbs) && lbs.length > 0) {
    const first = lbs[0] as Input;
    loadBalancer = {
      containerName: reqString(first, 'containerName'),
      containerPort: optInt(first, 'containerPort') ?? 8080,
      // A service created through the API gets a load balancer on a free port; loadBalancerUrl() tells which.
      port: 0,
      healthCheckPath: '/health',
    };
  }
  const svc = await engine.createService({
    cluster: clusterRecord.clusterName,
    serviceName,
    taskDefinition,
    desiredCount,
    deploymentConfiguration: {
      minimumHealthyPercent: dc?.minimumHealthyPercent ?? 100,
      maximumPercent: dc?.maximumPercent ?? 200,
      deploymentCircuitBreaker: dc?.deploymentCircuitBreaker ?? { enable: false, rollback: false },
    },
    ...(loadBalancer === undefined ? {} : { loadBalancer }),
    tags: tags(input),
  });
  return {
    service: serviceView(ctx(engine), clusterRecord, svc, engine.tasksOf(svc.clusterName, svc.serviceName), true),
  };
};

const listServices: Operation = (engine, input) => {
  const cluster = engine.getCluster(optString(input, 'cluster'));
  const arns = Object.values(cluster.services).map((s) => s.serviceArn);
  const { items, nextToken } = page(arns, input);
  return { serviceArns: items, ...(nextToken === undefined ? {} : { nextToken }) };
};

const createCluster: Operation = (engine, input) => {
  const name = optString(input, 'clusterName') ?? 'default';
  if (!/^[a-zA-Z0-9_-]{1,255}$/.test(name)) throw invalidParameter('Invalid cluster name.');
  const cluster = engine.createCluster(name, tags(input));
  return { cluster: clusterView(cluster, engine.tasksOf(cluster.clusterName)) };
};

const describeClusters: Operation = (engine, input) => {
  const names = stringList(input, 'clusters');
  const clusters: unknown[] = [];
  const failures: unknown[] = [];
  for (const name of names.length === 0 ? ['default'] : names) {
    const cluster = engine.state.clusters[nameFromArn(name)];
    if (cluster === undefined) {
      failures.push({
        arn: name.startsWith('arn:') ? name : `arn:aws:ecs:${engine.region}:${engine.accountId}:cluster/${name}`,
        reason: 'MISSING',
      });
    } else {
      clusters.push(clusterView(cluster, engine.tasksOf(cluster.clusterName)));
    }
  }
  return { clusters, failures };
};

const listTasks: Operation = (engine, input) => {
  const cluster = engine.getCluster(optString(input, 'cluster'));
  const serviceName = optString(input, 'serviceName');
  if (serviceName !== undefined) engine.getService(cluster, serviceName);
  const family = optString(input, 'family');
  const startedBy = optString(input, 'startedBy');
  const desiredStatus = optString(input, 'desiredStatus') ?? 'RUNNING';
  if (!['RUNNING', 'PENDING', 'STOPPED'].includes(desiredStatus)) {
    throw invalidParameter('desiredStatus must be RUNNING, PENDING or STOPPED.');
  }
  const matches = (t: TaskRecord): boolean => {
    if (serviceName !== undefined && t.serviceName !== nameFromArn(serviceName)) return false;
    if (family !== undefined && !t.taskDefinitionArn.includes(`:task-definition/${family}:`)) return false;
    if (startedBy !== undefined && t.deploymentId !== startedBy) return false;
    // ECS's desiredStatus filter: PENDING is a RUNNING desire with a pending lastStatus.
    if (desiredStatus === 'PENDING') return t.desiredStatus === 'RUNNING' && t.lastStatus !== 'RUNNING';
    return t.desiredStatus === desiredStatus;
  };
  const arns = engine
    .tasksOf(cluster.clusterName)
    .filter(matches)
    .map((t) => t.taskArn);
  const { items, nextToken } = page(arns, input);
  return { taskArns: items, ...(nextToken === undefined ? {} : { nextToken }) };
};

const describeTasks: Operation = (engine, input) => {
  const cluster = engine.getCluster(optString(input, 'cluster'));
  const refs = stringList(input, 'tasks');
  if (refs.length === 0) throw invalidParameter('Tasks cannot be empty.');
  if (refs.length > 100) throw invalidParameter('Tasks cannot contain more than 100 elements.');
  const all = engine.tasksOf(cluster.clusterName);
  const tasks: unknown[] = [];
  const failures: unknown[] = [];
  for (const ref of refs) {
    const task = all.find((t) => t.taskArn === ref || t.id === ref);
    if (task === undefined) {
      failures.push({
        arn: ref.startsWith('arn:')
          ? ref
          : `arn:aws:ecs:${engine.region}:${engine.accountId}:task/${cluster.clusterName}/${ref}`,
        reason: 'MISSING',
      });
    } else {
      tasks.push(taskView(ctx(engine), cluster, task, engine.taskDefinitions.find(task.taskDefinitionArn)));
    }
  }
  return { tasks, failures };
};

/** Operation name (the part after `AmazonEC2ContainerServiceV20141113.`) -> handler. */
const operations: Readonly<Record<string, Operation>> = {
  DescribeServices: describeServices,
  DescribeTaskDefinition: describeTaskDefinition,
  RegisterTaskDefinition: registerTaskDefinition,
  DeregisterTaskDefinition: deregisterTaskDefinition,
  ListTaskDefinitions: listTaskDefinitions,
  UpdateService: updateService,
  CreateService: createService,
  ListServices: listServices,
  CreateCluster: createCluster,
  DescribeClusters: describeClusters,
  ListTasks: listTasks,
  DescribeTasks: describeTasks,
  ...serviceDeploymentOperations,
};

/** The endpoint's operation table, bound to an engine. */
export function ecsOperations(engine: EcsEngine): Record<string, AwsJsonOperation> {
  return Object.fromEntries(
    Object.entries(operations).map(([name, operation]) => [name, (input: Input) => operation(engine, input)]),
  );
}
