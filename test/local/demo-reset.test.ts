import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  type ECSClient,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { resetServices } from '../../cli/demo-reset.ts';
import type { LocalEcs } from '../../local/ecs/server.ts';
import { demoSpec, type TestEcs, useTestEcs } from './support.ts';

/**
 * `rollgate demo` can be run again and again: it first puts each local service back on the image the config starts it
 * on (cli/demo-reset.ts), through the local ECS API, so the good version deploys again instead of ALREADY_DEPLOYED.
 */
let env: TestEcs;
useTestEcs('file', (e) => {
  env = e;
});

async function imageOf(client: ECSClient): Promise<string | undefined> {
  const svc = (await client.send(new DescribeServicesCommand({ cluster: 'demo', services: ['demo-app'] }))).services;
  const td = await client.send(new DescribeTaskDefinitionCommand({ taskDefinition: svc?.[0]?.taskDefinition }));
  return td.taskDefinition?.containerDefinitions?.find((c) => c.name === 'web')?.image;
}

async function served(ecs: LocalEcs): Promise<string> {
  const res = await request(`${ecs.loadBalancerUrl('demo', 'demo-app')}/`, { headersTimeout: 5000 });
  return ((await res.body.json()) as { version: string }).version;
}

async function until(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('the demo reset', () => {
  it('changes nothing on a service that is on its initial image', async () => {
    const lines: string[] = [];
    expect(await resetServices(env.client, demoSpec(), (l) => lines.push(l))).toEqual([]);
    expect(lines).toEqual([]);
    expect(await imageOf(env.client)).toBe('demo-app:v1');
  });

  it('puts a service a deploy left on another version back on its initial image, steady and serving it', async () => {
    const { client, ecs } = env;
    // what a deploy of v2 leaves: a new revision pinned by digest, rolled out
    const digest = await ecs.registry.pushImage('demo-app', 'v2');
    const current = (await client.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'demo-app' })))
      .taskDefinition;
    const registered = await client.send(
      new RegisterTaskDefinitionCommand({
        family: 'demo-app',
        networkMode: current?.networkMode,
        cpu: current?.cpu,
        memory: current?.memory,
        requiresCompatibilities: current?.requiresCompatibilities,
        containerDefinitions: (current?.containerDefinitions ?? []).map((c) => ({
          ...c,
          image: `demo-app@${digest}`,
        })),
      }),
    );
    await client.send(
      new UpdateServiceCommand({
        cluster: 'demo',
        service: 'demo-app',
        taskDefinition: registered.taskDefinition?.taskDefinitionArn,
      }),
    );
    await until(async () => (await served(ecs)) === 'v2');

    const lines: string[] = [];
    const changed = await resetServices(client, demoSpec(), (l) => lines.push(l));
    expect(changed).toEqual([`demo/demo-app: demo-app@${digest.slice(0, 19)} -> demo-app:v1`]);
    expect(lines).toEqual([`reset ${changed[0]}`]);
    expect(await imageOf(client)).toBe('demo-app:v1');
    // steady when it returns: one deployment, completed, and the load balancer serves v1 only
    const svc = (await client.send(new DescribeServicesCommand({ cluster: 'demo', services: ['demo-app'] })))
      .services?.[0];
    expect(svc?.deployments?.map((d) => d.rolloutState)).toEqual(['COMPLETED']);
    const versions = new Set<string>();
    for (let i = 0; i < 10; i++) versions.add(await served(ecs));
    expect([...versions]).toEqual(['v1']);
    // and a second reset has nothing to do
    expect(await resetServices(client, demoSpec(), () => undefined)).toEqual([]);
  }, 60_000);
});
