/**
 * ListServiceDeployments, DescribeServiceDeployments and StopServiceDeployment over the engine's BLUE_GREEN / CANARY /
 * LINEAR service deployments (service-deployments.ts), in @aws-sdk/client-ecs's shapes (timestamps in epoch seconds).
 */
import type { EcsEngine } from './engine.ts';
import { invalidParameter, serviceDeploymentNotFound } from './errors.ts';
import { type Input, type Operation, optString, page, reqString, stringList } from './input.ts';
import {
  compact,
  type RevisionRef,
  type ServiceDeploymentRecord,
  type ServiceRecord,
  seconds,
  type TaskRecord,
} from './model.ts';
import { countTasks, strategyView } from './views.ts';

const briefView = (engine: EcsEngine, svc: ServiceRecord, r: ServiceDeploymentRecord): Record<string, unknown> =>
  compact({
    serviceDeploymentArn: r.arn,
    serviceArn: svc.serviceArn,
    clusterArn: engine.getCluster(svc.clusterName).clusterArn,
    createdAt: seconds(r.createdAt),
    startedAt: seconds(r.createdAt),
    finishedAt: r.finishedAt === undefined ? undefined : seconds(r.finishedAt),
    targetServiceRevisionArn: r.target.arn,
    status: r.status,
    statusReason: r.statusReason,
  });

function revisionView(rev: RevisionRef, tasks: readonly TaskRecord[], test: number, production: number) {
  const counts = countTasks(tasks, rev.deploymentId);
  return {
    arn: rev.arn,
    requestedTaskCount: counts.desired,
    runningTaskCount: counts.running,
    pendingTaskCount: counts.pending,
    requestedTestTrafficWeight: test,
    requestedProductionTrafficWeight: production,
  };
}

/** A `ServiceDeployment` as DescribeServiceDeployments answers it. */
function serviceDeploymentView(engine: EcsEngine, svc: ServiceRecord, r: ServiceDeploymentRecord) {
  const tasks = engine.tasksOf(svc.clusterName, svc.serviceName);
  const { deploymentCircuitBreaker, maximumPercent, minimumHealthyPercent } = svc.deploymentConfiguration;
  return compact({
    ...briefView(engine, svc, r),
    targetServiceRevisionArn: undefined,
    updatedAt: seconds(r.updatedAt),
    stoppedAt: r.status === 'STOPPED' && r.finishedAt !== undefined ? seconds(r.finishedAt) : undefined,
    sourceServiceRevisions: [revisionView(r.source, tasks, 100 - r.testPercent, 100 - r.productionPercent)],
    targetServiceRevision: revisionView(r.target, tasks, r.testPercent, r.productionPercent),
    lifecycleStage: r.lifecycleStage,
    deploymentConfiguration: {
      deploymentCircuitBreaker: { ...deploymentCircuitBreaker },
      maximumPercent,
      minimumHealthyPercent,
      ...strategyView(r.config),
    },
    rollback:
      r.rollback === undefined
        ? undefined
        : {
            reason: r.rollback.reason,
            startedAt: seconds(r.rollback.startedAt),
            serviceRevisionArn: r.rollback.serviceRevisionArn,
          },
  });
}

/** A `createdAt` filter bound (epoch seconds on the wire), or undefined. */
function bound(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw invalidParameter(`createdAt.${field} must be a date.`);
  return value * 1000;
}

const listServiceDeployments: Operation = (engine, input) => {
  const svc = engine.getService(engine.getCluster(optString(input, 'cluster')), reqString(input, 'service'));
  const statuses = stringList(input, 'status');
  const createdAt = (input.createdAt ?? {}) as Input;
  const after = bound(createdAt.after, 'after');
  const before = bound(createdAt.before, 'before');
  const records = (svc.serviceDeployments ?? [])
    .filter(
      (r) =>
        (statuses.length === 0 || statuses.includes(r.status)) &&
        (after === undefined || r.createdAt >= after) &&
        (before === undefined || r.createdAt <= before),
    )
    .reverse();
  const { items, nextToken } = page(records, input);
  return {
    serviceDeployments: items.map((r) => briefView(engine, svc, r)),
    ...(nextToken === undefined ? {} : { nextToken }),
  };
};

/** The service and the record of a service deployment ARN (`...:service-deployment/<cluster>/<service>/<id>`). */
function lookUp(engine: EcsEngine, arn: string): { svc: ServiceRecord; record: ServiceDeploymentRecord } | undefined {
  const match = /:service-deployment\/([^/]+)\/([^/]+)\/[^/]+$/.exec(arn);
  if (match === null) return undefined;
  const svc = engine.state.clusters[match[1] as string]?.services[match[2] as string];
  const record = svc?.serviceDeployments?.find((r) => r.arn === arn);
  return svc === undefined || record === undefined ? undefined : { svc, record };
}

const describeServiceDeployments: Operation = (engine, input) => {
  const arns = stringList(input, 'serviceDeploymentArns');
  if (arns.length === 0 || arns.length > 20) {
    throw invalidParameter(`serviceDeploymentArns must list 1 to 20 ARNs, got ${arns.length}.`);
  }
  const serviceDeployments: unknown[] = [];
  const failures: unknown[] = [];
  for (const arn of arns) {
    const found = lookUp(engine, arn);
    if (found === undefined) failures.push({ arn, reason: 'MISSING' });
    else serviceDeployments.push(serviceDeploymentView(engine, found.svc, found.record));
  }
  return { serviceDeployments, failures };
};

const stopServiceDeployment: Operation = (engine, input) => {
  const arn = reqString(input, 'serviceDeploymentArn');
  const stopType = optString(input, 'stopType') ?? 'ROLLBACK';
  if (stopType !== 'ROLLBACK') {
    throw invalidParameter(`stopType ${stopType} is not supported by the local ECS: use ROLLBACK.`);
  }
  const found = lookUp(engine, arn);
  if (found === undefined) throw serviceDeploymentNotFound(arn);
  engine.deployments.rollback(found.record);
  return { serviceDeploymentArn: arn };
};

export const serviceDeploymentOperations: Readonly<Record<string, Operation>> = {
  ListServiceDeployments: listServiceDeployments,
  DescribeServiceDeployments: describeServiceDeployments,
  StopServiceDeployment: stopServiceDeployment,
};
