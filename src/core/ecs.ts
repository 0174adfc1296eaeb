import {
  type Deployment,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  type ECSClient,
  type Service,
  type Tag,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { TargetNotFoundError } from './errors.ts';

/** Reads one service; ECS answers a missing service with `failures: MISSING`, not an exception. */
export async function describeService(ecs: ECSClient, cluster: string, service: string): Promise<Service> {
  const out = await ecs.send(new DescribeServicesCommand({ cluster, services: [service] }));
  const found = out.services?.find((s) => s.serviceName === service || s.serviceArn === service);
  if (!found || found.status === 'INACTIVE') {
    const reason = out.failures?.[0]?.reason ?? (found ? 'INACTIVE' : 'not returned');
    throw new TargetNotFoundError(`ECS service ${service} in cluster ${cluster} not found (${reason})`);
  }
  return found;
}

/** Reads a task definition with its tags. */
export async function describeTaskDefinition(
  ecs: ECSClient,
  taskDefinition: string,
): Promise<{ taskDefinition: TaskDefinition; tags: Tag[] }> {
  const out = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition, include: ['TAGS'] }));
  if (!out.taskDefinition) throw new TargetNotFoundError(`task definition ${taskDefinition} not found`);
  return { taskDefinition: out.taskDefinition, tags: out.tags ?? [] };
}

/** The PRIMARY deployment: the one ECS is moving the service to. */
export function primaryDeployment(service: Service): Deployment | undefined {
  return service.deployments?.find((d) => d.status === 'PRIMARY');
}

/** The container's image in a task definition; throws naming the containers there when it is missing. */
export function containerImage(taskDefinition: TaskDefinition, container: string): string {
  const containers = taskDefinition.containerDefinitions ?? [];
  const found = containers.find((c) => c.name === container);
  if (!found?.image) {
    throw new TargetNotFoundError(
      `container "${container}" not found in task definition ${taskDefinition.taskDefinitionArn}; it has: ${
        containers.map((c) => c.name).join(', ') || 'no containers'
      }`,
    );
  }
  return found.image;
}
