import {
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeClustersCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  type ECSClient,
  ListServicesCommand,
  ListTaskDefinitionsCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import type { LocalEcs } from '../../local/ecs/server.ts';
import { useTestEcs } from './support.ts';

const TD1 = 'arn:aws:ecs:us-east-1:123456789012:task-definition/demo-app:1';

let ecs: LocalEcs;
let client: ECSClient;
useTestEcs('file', (env) => {
  ({ ecs, client } = env);
});

async function errorOf(promise: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await promise;
  } catch (error) {
    const e = error as Error & { $metadata?: { httpStatusCode?: number } };
    return {
      name: e.name,
      message: e.message,
      ...(e.$metadata?.httpStatusCode ? { status: e.$metadata.httpStatusCode } : {}),
    };
  }
  throw new Error('expected the call to fail');
}

describe('the local ECS endpoint, through @aws-sdk/client-ecs', () => {
  it('describes the seeded service as a COMPLETED deployment of revision 1', async () => {
    const out = await client.send(new DescribeServicesCommand({ cluster: 'demo', services: ['demo-app'] }));
    expect(out.failures).toEqual([]);
    const svc = out.services?.[0];
    expect(svc).toMatchObject({
      serviceArn: 'arn:aws:ecs:us-east-1:123456789012:service/demo/demo-app',
      serviceName: 'demo-app',
      clusterArn: 'arn:aws:ecs:us-east-1:123456789012:cluster/demo',
      status: 'ACTIVE',
      desiredCount: 2,
      runningCount: 2,
      pendingCount: 0,
      taskDefinition: TD1,
      deploymentConfiguration: {
        minimumHealthyPercent: 100,
        maximumPercent: 200,
        deploymentCircuitBreaker: { enable: true, rollback: true },
      },
      loadBalancers: [
        {
          containerName: 'web',
          containerPort: 8080,
          targetGroupArn: expect.stringMatching(/^arn:aws:elasticloadbalancing:/),
        },
      ],
      deploymentController: { type: 'ECS' },
    });
    expect(svc?.deployments).toHaveLength(1);
    expect(svc?.deployments?.[0]).toMatchObject({
      id: expect.stringMatching(/^ecs-svc\/\d{19}$/),
      status: 'PRIMARY',
      taskDefinition: TD1,
      desiredCount: 2,
      runningCount: 2,
      pendingCount: 0,
      failedTasks: 0,
      rolloutState: 'COMPLETED',
      rolloutStateReason: expect.stringMatching(/^ECS deployment ecs-svc\/\d+ completed\.$/),
    });
    // Timestamps travel as epoch seconds; the SDK turns them into Dates.
    expect(svc?.createdAt).toBeInstanceOf(Date);
    expect(Math.abs((svc?.createdAt?.getTime() ?? 0) - Date.now())).toBeLessThan(60_000);
    expect(svc?.events?.[0]?.message).toBe('(service demo-app) has reached a steady state.');
    expect(svc?.events?.[0]?.createdAt).toBeInstanceOf(Date);
  });

  it('reports an unknown service as a MISSING failure, as real ECS does', async () => {
    const out = await client.send(new DescribeServicesCommand({ cluster: 'demo', services: ['demo-app', 'nope'] }));
    expect(out.services?.map((s) => s.serviceName)).toEqual(['demo-app']);
    expect(out.failures).toEqual([{ arn: 'arn:aws:ecs:us-east-1:123456789012:service/demo/nope', reason: 'MISSING' }]);
  });

  it.each([
    ['DescribeServices', () => new DescribeServicesCommand({ cluster: 'nope', services: ['demo-app'] })],
    [
      'UpdateService',
      () => new UpdateServiceCommand({ cluster: 'nope', service: 'demo-app', forceNewDeployment: true }),
    ],
    ['ListTasks', () => new ListTasksCommand({ cluster: 'nope' })],
  ] as const)('%s on an unknown cluster throws ClusterNotFoundException', async (_op, command) => {
    expect(await errorOf(client.send(command() as DescribeServicesCommand))).toMatchObject({
      name: 'ClusterNotFoundException',
      status: 400,
    });
  });

  it('UpdateService on an unknown service throws ServiceNotFoundException', async () => {
    const error = await errorOf(
      client.send(new UpdateServiceCommand({ cluster: 'demo', service: 'nope', taskDefinition: TD1 })),
    );
    expect(error).toMatchObject({ name: 'ServiceNotFoundException', message: 'Service not found.' });
  });

  it.each([
    ['an unknown family', 'nope'],
    ['an unknown revision', 'demo-app:99'],
    ['an ARN of another account', 'arn:aws:ecs:us-east-1:999999999999:task-definition/demo-app:1'],
  ])('UpdateService with %s throws InvalidParameterException', async (_what, taskDefinition) => {
    const error = await errorOf(
      client.send(new UpdateServiceCommand({ cluster: 'demo', service: 'demo-app', taskDefinition })),
    );
    expect(error.name).toBe('InvalidParameterException');
  });

  it('describes a task definition by ARN, family:revision and family (latest ACTIVE), with tags on request', async () => {
    const byArn = await client.send(new DescribeTaskDefinitionCommand({ taskDefinition: TD1 }));
    expect(byArn.taskDefinition).toMatchObject({
      taskDefinitionArn: TD1,
      family: 'demo-app',
      revision: 1,
      status: 'ACTIVE',
      networkMode: 'awsvpc',
      containerDefinitions: [
        {
          name: 'web',
          image: 'demo-app:v1',
          essential: true,
          environment: [],
          portMappings: [{ containerPort: 8080, hostPort: 8080, protocol: 'tcp' }],
        },
      ],
    });
    expect(byArn.taskDefinition?.registeredAt).toBeInstanceOf(Date);
    expect(byArn.tags).toBeUndefined();
    const byRevision = await client.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'demo-app:1' }));
    expect(byRevision.taskDefinition?.taskDefinitionArn).toBe(TD1);
    const byFamily = await client.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: 'demo-app', include: ['TAGS'] }),
    );
    expect(byFamily.taskDefinition?.taskDefinitionArn).toBe(TD1);
    expect(byFamily.tags).toEqual([]);
    expect(await errorOf(client.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'nope:1' })))).toMatchObject({
      name: 'ClientException',
      message: 'Unable to describe task definition.',
    });
  });

  it('registers a new revision from a described one (read-only fields dropped by the SDK), with tags', async () => {
    const current = (await client.send(new DescribeTaskDefinitionCommand({ taskDefinition: TD1 }))).taskDefinition;
    const containerDefinitions = (current?.containerDefinitions ?? []).map((c) => ({
      ...c,
      image: 'demo-app:v1-copy',
      environment: [{ name: 'GREETING', value: 'hi' }],
    }));
    const out = await client.send(
      new RegisterTaskDefinitionCommand({
        ...(current as Record<string, never>),
        family: 'demo-app',
        containerDefinitions,
        tags: [{ key: 'rollgate:execution', value: 'test' }],
      }),
    );
    expect(out.taskDefinition).toMatchObject({
      taskDefinitionArn: 'arn:aws:ecs:us-east-1:123456789012:task-definition/demo-app:2',
      revision: 2,
      containerDefinitions: [
        { name: 'web', image: 'demo-app:v1-copy', environment: [{ name: 'GREETING', value: 'hi' }] },
      ],
    });
    expect(out.tags).toEqual([{ key: 'rollgate:execution', value: 'test' }]);
    const described = await client.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: 'demo-app', include: ['TAGS'] }),
    );
    expect(described.taskDefinition?.revision).toBe(2);
    expect(described.tags).toEqual([{ key: 'rollgate:execution', value: 'test' }]);
    // Registering does not deploy.
    const svc = (await client.send(new DescribeServicesCommand({ cluster: 'demo', services: ['demo-app'] })))
      .services?.[0];
    expect(svc?.taskDefinition).toBe(TD1);
  });

  it.each([
    ['no family', { containerDefinitions: [{ name: 'web', image: 'demo-app:v1' }] }, /Family/],
    [
      'an invalid family',
      { family: 'demo app', containerDefinitions: [{ name: 'web', image: 'demo-app:v1' }] },
      /Family/,
    ],
    ['no container definitions', { family: 'demo-app' }, /containerDefinitions/],
    ['a container without image', { family: 'demo-app', containerDefinitions: [{ name: 'web' }] }, /image/],
    ['a container without name', { family: 'demo-app', containerDefinitions: [{ image: 'demo-app:v1' }] }, /name/],
    [
      'duplicate container names',
      {
        family: 'demo-app',
        containerDefinitions: [
          { name: 'web', image: 'a:1' },
          { name: 'web', image: 'b:1' },
        ],
      },
      /Duplicate/,
    ],
  ])('RegisterTaskDefinition with %s throws ClientException', async (_what, input, message) => {
    const error = await errorOf(client.send(new RegisterTaskDefinitionCommand(input as never)));
    expect(error.name).toBe('ClientException');
    expect(error.message).toMatch(message);
  });

  it('UpdateService to a task definition without the load-balanced container throws InvalidParameterException', async () => {
    const other = await client.send(
      new RegisterTaskDefinitionCommand({
        family: 'other',
        containerDefinitions: [{ name: 'api', image: 'demo-app:v1' }],
      }),
    );
    const error = await errorOf(
      client.send(
        new UpdateServiceCommand({
          cluster: 'demo',
          service: 'demo-app',
          taskDefinition: other.taskDefinition?.taskDefinitionArn,
        }),
      ),
    );
    expect(error).toMatchObject({
      name: 'InvalidParameterException',
      message: expect.stringContaining('container web'),
    });
  });

  it('lists and describes tasks, with their process as runtimeId and their port as host port', async () => {
    const listed = await client.send(new ListTasksCommand({ cluster: 'demo', serviceName: 'demo-app' }));
    expect(listed.taskArns).toHaveLength(2);
    const described = await client.send(
      new DescribeTasksCommand({ cluster: 'demo', tasks: [...(listed.taskArns ?? []), 'nope'] }),
    );
    expect(described.failures).toEqual([
      { arn: 'arn:aws:ecs:us-east-1:123456789012:task/demo/nope', reason: 'MISSING' },
    ]);
    const local = ecs.tasks('demo', 'demo-app').filter((t) => t.lastStatus === 'RUNNING');
    for (const task of described.tasks ?? []) {
      expect(task).toMatchObject({
        taskArn: expect.stringMatching(/^arn:aws:ecs:us-east-1:123456789012:task\/demo\/[0-9a-f]{32}$/),
        lastStatus: 'RUNNING',
        desiredStatus: 'RUNNING',
        group: 'service:demo-app',
        taskDefinitionArn: TD1,
        startedBy: expect.stringMatching(/^ecs-svc\//),
        launchType: 'FARGATE',
      });
      const container = task.containers?.[0];
      const mine = local.find((t) => t.taskArn === task.taskArn);
      expect(container).toMatchObject({
        name: 'web',
        image: 'demo-app:v1',
        lastStatus: 'RUNNING',
        runtimeId: String(mine?.pid),
      });
      expect(container?.networkBindings).toEqual([
        { bindIP: '127.0.0.1', containerPort: 8080, hostPort: mine?.port, protocol: 'tcp' },
      ]);
      expect(task.startedAt).toBeInstanceOf(Date);
    }
    expect(await errorOf(client.send(new ListTasksCommand({ cluster: 'demo', serviceName: 'nope' })))).toMatchObject({
      name: 'ServiceNotFoundException',
    });
    const stopped = await client.send(new ListTasksCommand({ cluster: 'demo', desiredStatus: 'STOPPED' }));
    expect(stopped.taskArns).toEqual([]);
  });

  it('lists services and task definitions, and pages with nextToken', async () => {
    const services = await client.send(new ListServicesCommand({ cluster: 'demo' }));
    expect(services.serviceArns).toEqual(['arn:aws:ecs:us-east-1:123456789012:service/demo/demo-app']);
    const first = await client.send(new ListTaskDefinitionsCommand({ familyPrefix: 'demo-app', maxResults: 1 }));
    expect(first.taskDefinitionArns).toEqual([TD1]);
    expect(first.nextToken).toBeTypeOf('string');
    const second = await client.send(
      new ListTaskDefinitionsCommand({ familyPrefix: 'demo-app', maxResults: 1, nextToken: first.nextToken }),
    );
    expect(second.taskDefinitionArns).toEqual(['arn:aws:ecs:us-east-1:123456789012:task-definition/demo-app:2']);
    expect(second.nextToken).toBeUndefined();
  });

  it('creates clusters (idempotently) and a service without a load balancer that runs its tasks', async () => {
    const created = await client.send(new CreateClusterCommand({ clusterName: 'extra' }));
    expect(created.cluster).toMatchObject({
      clusterName: 'extra',
      clusterArn: 'arn:aws:ecs:us-east-1:123456789012:cluster/extra',
      status: 'ACTIVE',
    });
    await client.send(new CreateClusterCommand({ clusterName: 'extra' }));
    const clusters = await client.send(new DescribeClustersCommand({ clusters: ['extra', 'ghost'] }));
    expect(clusters.clusters?.map((c) => c.clusterName)).toEqual(['extra']);
    expect(clusters.failures?.[0]?.reason).toBe('MISSING');

    const svc = await client.send(
      new CreateServiceCommand({
        cluster: 'extra',
        serviceName: 'worker',
        taskDefinition: 'demo-app:1',
        desiredCount: 1,
      }),
    );
    expect(svc.service).toMatchObject({
      serviceName: 'worker',
      desiredCount: 1,
      taskDefinition: TD1,
      loadBalancers: [],
    });
    expect(svc.service?.deployments?.[0]?.rolloutState).toBe('IN_PROGRESS');
    await ecs.waitForSteadyState('extra', 'worker', 20_000);
    const after = await client.send(new DescribeServicesCommand({ cluster: 'extra', services: ['worker'] }));
    expect(after.services?.[0]).toMatchObject({
      runningCount: 1,
      deployments: [{ rolloutState: 'COMPLETED', runningCount: 1 }],
    });
    expect(
      await errorOf(
        client.send(
          new CreateServiceCommand({ cluster: 'extra', serviceName: 'worker', taskDefinition: 'demo-app:1' }),
        ),
      ),
    ).toMatchObject({ name: 'InvalidParameterException' });
    // Scale to zero: no new deployment, the task stops.
    const scaled = await client.send(
      new UpdateServiceCommand({ cluster: 'extra', service: 'worker', desiredCount: 0 }),
    );
    expect(scaled.service?.deployments).toHaveLength(1);
    await ecs.waitForSteadyState('extra', 'worker', 20_000);
    expect(ecs.tasks('extra', 'worker').every((t) => t.lastStatus === 'STOPPED')).toBe(true);
  });

  it('records every call it receives', () => {
    const ops = new Set(ecs.calls.map((c) => c.op));
    expect(ops).toContain('DescribeServices');
    expect(ops).toContain('RegisterTaskDefinition');
    expect(ecs.calls.find((c) => c.op === 'UpdateService')?.input).toMatchObject({
      cluster: 'nope',
      service: 'demo-app',
    });
  });

  it('answers an unknown operation with UnknownOperationException', async () => {
    const res = await fetch(ecs.endpoint, {
      method: 'POST',
      headers: {
        'x-amz-target': 'AmazonEC2ContainerServiceV20141113.RunTask',
        'content-type': 'application/x-amz-json-1.1',
      },
      body: '{}',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/x-amz-json-1.1');
    expect(await res.json()).toMatchObject({ __type: 'UnknownOperationException' });
  });
});
