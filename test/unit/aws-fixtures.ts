import type { Deployment, Service, TaskDefinition } from '@aws-sdk/client-ecs';

export const OLD_TD = 'arn:aws:ecs:us-east-1:123456789012:task-definition/demo-app:7';
export const NEW_TD = 'arn:aws:ecs:us-east-1:123456789012:task-definition/demo-app:8';

/** A task definition as DescribeTaskDefinition returns it, read-only fields included. */
export function taskDefinition(
  arn = OLD_TD,
  image = '123456789012.dkr.ecr.us-east-1.amazonaws.com/demo-app:v1',
): TaskDefinition {
  return {
    taskDefinitionArn: arn,
    family: 'demo-app',
    revision: Number(arn.split(':').pop()),
    status: 'ACTIVE',
    taskRoleArn: 'arn:aws:iam::123456789012:role/demo-task',
    executionRoleArn: 'arn:aws:iam::123456789012:role/demo-exec',
    networkMode: 'awsvpc',
    requiresCompatibilities: ['FARGATE'],
    compatibilities: ['EC2', 'FARGATE'],
    cpu: '256',
    memory: '512',
    requiresAttributes: [{ name: 'com.amazonaws.ecs.capability.ecr-auth' }],
    registeredAt: new Date('2026-01-01T00:00:00Z'),
    registeredBy: 'arn:aws:iam::123456789012:user/ci',
    containerDefinitions: [
      {
        name: 'web',
        image,
        essential: true,
        portMappings: [{ containerPort: 8080 }],
        environment: [{ name: 'A', value: '1' }],
      },
      { name: 'sidecar', image: 'public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0', essential: false },
    ],
  };
}

export function deployment(overrides: Partial<Deployment> = {}): Deployment {
  return {
    id: 'ecs-svc/1111',
    status: 'PRIMARY',
    taskDefinition: OLD_TD,
    desiredCount: 2,
    runningCount: 2,
    pendingCount: 0,
    failedTasks: 0,
    rolloutState: 'COMPLETED',
    ...overrides,
  };
}

export function service(deployments: Deployment[] = [deployment()]): Service {
  const primary = deployments.find((d) => d.status === 'PRIMARY');
  return {
    serviceName: 'demo-app',
    serviceArn: 'arn:aws:ecs:us-east-1:123456789012:service/demo/demo-app',
    clusterArn: 'arn:aws:ecs:us-east-1:123456789012:cluster/demo',
    status: 'ACTIVE',
    desiredCount: 2,
    taskDefinition: primary?.taskDefinition ?? OLD_TD,
    launchType: 'FARGATE',
    deploymentConfiguration: {
      minimumHealthyPercent: 100,
      maximumPercent: 200,
      deploymentCircuitBreaker: { enable: true, rollback: true },
    },
    deployments,
  };
}
