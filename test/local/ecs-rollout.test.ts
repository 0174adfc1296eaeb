import {
  DescribeServicesCommand,
  DescribeTasksCommand,
  type ECSClient,
  ListTasksCommand,
  type Service,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import type { LocalEcs } from '../../local/ecs/server.ts';
import { startProductionClient } from '../../local/production-client.ts';
import { eventually, registerImage, useTestEcs } from './support.ts';

let ecs: LocalEcs;
let client: ECSClient;
useTestEcs('test', (env) => {
  ({ ecs, client } = env);
});

async function service(): Promise<Service> {
  const out = await client.send(new DescribeServicesCommand({ cluster: 'demo', services: ['demo-app'] }));
  const svc = out.services?.[0];
  if (svc === undefined) throw new Error('service missing');
  return svc;
}

/** What the pipeline does: register the current task definition with the image replaced, update the service. */
async function deploy(image: string): Promise<{ taskDefinitionArn: string; deploymentId: string }> {
  const taskDefinitionArn = await registerImage(client, image);
  const updated = await client.send(
    new UpdateServiceCommand({ cluster: 'demo', service: 'demo-app', taskDefinition: taskDefinitionArn }),
  );
  const primary = updated.service?.deployments?.find((d) => d.status === 'PRIMARY');
  expect(primary).toMatchObject({ taskDefinition: taskDefinitionArn, rolloutState: 'IN_PROGRESS' });
  return { taskDefinitionArn, deploymentId: primary?.id ?? '' };
}

/** Waits until the service has one deployment left that is not IN_PROGRESS. */
function settled(timeoutMs = 30_000): Promise<Service> {
  return eventually(async () => {
    const svc = await service();
    const [only, ...rest] = svc.deployments ?? [];
    return rest.length === 0 && only?.rolloutState !== 'IN_PROGRESS' ? svc : undefined;
  }, timeoutMs);
}

async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(`${ecs.loadBalancerUrl('demo', 'demo-app')}${path}`, {
    headersTimeout: 5000,
    bodyTimeout: 5000,
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

describe('rolling updates on the local ECS', () => {
  it('replaces v1 by v2 with zero failed requests through the load balancer', async () => {
    expect((await get('/')).body.version).toBe('v1');
    // One keep-alive client hitting the load balancer every 10 ms for the whole rollout.
    const poller = startProductionClient(() => `${ecs.loadBalancerUrl('demo', 'demo-app')}/`);
    const v1Tasks = ecs.tasks('demo', 'demo-app').filter((t) => t.lastStatus === 'RUNNING');
    const { taskDefinitionArn, deploymentId } = await deploy('demo-app:v2');

    // While it rolls, ECS shows both deployments and never more than maximumPercent (200%) tasks wanted.
    const during = await service();
    expect(during.deployments?.map((d) => d.status)).toEqual(['PRIMARY', 'ACTIVE']);
    const svc = await settled();
    // Let the load balancer see the new targets healthy, and keep polling for 20 more requests after the rollout.
    await eventually(
      () => (ecs.targets('demo', 'demo-app').every((t) => t.state === 'healthy') ? true : undefined),
      5000,
    );
    const polled = poller.total();
    await eventually(() => (poller.total() >= polled + 20 ? true : undefined), 10_000);
    await poller.stop();

    expect(svc.taskDefinition).toBe(taskDefinitionArn);
    expect(svc.deployments).toEqual([
      expect.objectContaining({
        id: deploymentId,
        status: 'PRIMARY',
        rolloutState: 'COMPLETED',
        rolloutStateReason: `ECS deployment ${deploymentId} completed.`,
        runningCount: 2,
        desiredCount: 2,
        failedTasks: 0,
      }),
    ]);
    expect(svc.events?.[0]?.message).toBe('(service demo-app) has reached a steady state.');
    expect(svc.events?.map((e) => e.message)).toContain(
      `(service demo-app) (deployment ${deploymentId}) deployment completed.`,
    );
    expect(poller.failures).toEqual([]);
    expect(poller.total()).toBeGreaterThan(20);
    expect(poller.versions).toEqual(new Set(['v1', 'v2']));
    expect((await get('/')).body.version).toBe('v2');
    // The old tasks were stopped by the scheduler, their processes are gone, and only v2 targets remain.
    const stopped = await client.send(
      new DescribeTasksCommand({ cluster: 'demo', tasks: v1Tasks.map((t) => t.taskArn) }),
    );
    for (const task of stopped.tasks ?? []) {
      expect(task).toMatchObject({ lastStatus: 'STOPPED', stopCode: 'ServiceSchedulerInitiated' });
      expect(task.stoppedReason).toMatch(/^Scaling activity initiated by \(deployment ecs-svc\/\d+\)$/);
    }
    expect(ecs.targets('demo', 'demo-app')).toHaveLength(2);
    const running = await client.send(new ListTasksCommand({ cluster: 'demo', serviceName: 'demo-app' }));
    expect(running.taskArns).toHaveLength(2);
  });

  it('trips the circuit breaker on a crashing image and rolls back to the last COMPLETED task definition', async () => {
    const before = (await service()).taskDefinition;
    const { taskDefinitionArn, deploymentId } = await deploy('demo-app:v2-crash');
    // Observe the FAILED deployment before the rollback completes and removes it.
    const failedSeen = eventually(async () => {
      const svc = await service();
      return svc.deployments?.find((d) => d.id === deploymentId && d.rolloutState === 'FAILED');
    }, 20_000);
    const failed = await failedSeen;
    expect(failed).toMatchObject({
      status: 'ACTIVE',
      taskDefinition: taskDefinitionArn,
      rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.',
    });
    expect(failed.failedTasks).toBeGreaterThanOrEqual(3);

    const svc = await settled();
    // ECS itself rolled back: a new PRIMARY deployment of the previous task definition.
    expect(svc.taskDefinition).toBe(before);
    expect(svc.deployments?.[0]).toMatchObject({
      status: 'PRIMARY',
      taskDefinition: before,
      rolloutState: 'COMPLETED',
    });
    expect(svc.deployments?.[0]?.id).not.toBe(deploymentId);
    const messages = svc.events?.map((e) => e.message) ?? [];
    expect(messages).toContain(
      `(service demo-app) (deployment ${deploymentId}) deployment failed: tasks failed to start.`,
    );
    expect(messages).toContainEqual(
      expect.stringMatching(
        /^\(service demo-app\) \(deployment ecs-svc\/\d+\) ECS deployment circuit breaker: rolling back to deployment ecs-svc\/\d+ /,
      ),
    );
    expect((await get('/')).body.version).toBe('v1');

    const crashed = ecs.tasks('demo', 'demo-app').filter((t) => t.imageTag === 'v2-crash');
    expect(crashed.length).toBeGreaterThanOrEqual(3);
    const described = await client.send(
      new DescribeTasksCommand({ cluster: 'demo', tasks: crashed.map((t) => t.taskArn) }),
    );
    expect(described.tasks?.[0]).toMatchObject({
      lastStatus: 'STOPPED',
      stopCode: 'EssentialContainerExited',
      stoppedReason: 'Essential container in task exited (exit code 1)',
      containers: [expect.objectContaining({ exitCode: 1, lastStatus: 'STOPPED' })],
    });
  });

  it('fails an image that is not in the local registry as CannotPullContainerError', async () => {
    const before = (await service()).taskDefinition;
    await deploy('123456789012.dkr.ecr.us-east-1.amazonaws.com/unknown-repo:v9');
    const svc = await settled();
    expect(svc.taskDefinition).toBe(before);
    const stopped = await client.send(new ListTasksCommand({ cluster: 'demo', desiredStatus: 'STOPPED' }));
    const described = await client.send(new DescribeTasksCommand({ cluster: 'demo', tasks: stopped.taskArns ?? [] }));
    const pulls = (described.tasks ?? []).filter((t) => t.stopCode === 'TaskFailedToStart');
    expect(pulls.length).toBeGreaterThanOrEqual(3);
    expect(pulls[0]?.stoppedReason).toMatch(/^CannotPullContainerError: /);
  });

  it('completes the rollout of an -unhealthy image (processes up) while its health check fails at the load balancer', async () => {
    const { taskDefinitionArn } = await deploy('demo-app:v2-unhealthy');
    const svc = await settled();
    expect(svc.taskDefinition).toBe(taskDefinitionArn);
    expect(svc.deployments?.[0]).toMatchObject({ rolloutState: 'COMPLETED', runningCount: 2, failedTasks: 0 });
    // The targets fail the LB health check; the LB fails open, so / still answers and /health says 500.
    await eventually(
      () => (ecs.targets('demo', 'demo-app').every((t) => t.state === 'unhealthy') ? true : undefined),
      5000,
    );
    const health = await get('/health');
    expect(health.status).toBe(500);
    expect(health.body).toMatchObject({ status: 'unhealthy', version: 'v2-unhealthy' });
    expect((await get('/')).body).toMatchObject({ version: 'v2-unhealthy' });
  });

  it('replaces a task whose process dies, and forceNewDeployment replaces every task', async () => {
    const [victim] = ecs.tasks('demo', 'demo-app').filter((t) => t.lastStatus === 'RUNNING');
    expect(victim?.pid).toBeTypeOf('number');
    process.kill(victim?.pid ?? 0, 'SIGKILL');
    await eventually(() => {
      const running = ecs.tasks('demo', 'demo-app').filter((t) => t.lastStatus === 'RUNNING');
      return running.length === 2 && !running.some((t) => t.taskArn === victim?.taskArn) ? true : undefined;
    });
    const svc = await service();
    expect(svc.deployments).toHaveLength(1);
    expect(svc.deployments?.[0]?.rolloutState).toBe('COMPLETED');
    expect(svc.events?.map((e) => e.message)).toContain(
      `(service demo-app) has stopped 1 running tasks: (task ${victim?.taskArn.split('/').at(-1)}).`,
    );

    const before = ecs
      .tasks('demo', 'demo-app')
      .filter((t) => t.lastStatus === 'RUNNING')
      .map((t) => t.taskArn);
    const forced = await client.send(
      new UpdateServiceCommand({ cluster: 'demo', service: 'demo-app', forceNewDeployment: true }),
    );
    const newId = forced.service?.deployments?.[0]?.id;
    expect(forced.service?.deployments?.map((d) => d.status)).toEqual(['PRIMARY', 'ACTIVE']);
    const after = await settled();
    expect(after.deployments?.[0]?.id).toBe(newId);
    const now = ecs
      .tasks('demo', 'demo-app')
      .filter((t) => t.lastStatus === 'RUNNING')
      .map((t) => t.taskArn);
    expect(now).toHaveLength(2);
    expect(now.filter((arn) => before.includes(arn))).toEqual([]);
  });
});
