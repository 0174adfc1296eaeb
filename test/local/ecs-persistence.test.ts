import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  type ECSClient,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalEcs } from '../../local/ecs/server.ts';
import { demoSpec, ecsClient, eventually, isAlive, startTestEcs, tempDir } from './support.ts';

const TD = (revision: number) => `arn:aws:ecs:us-east-1:123456789012:task-definition/demo-app:${revision}`;

let tmp: ReturnType<typeof tempDir> | undefined;
let ecs: LocalEcs | undefined;
let client: ECSClient | undefined;

afterEach(async () => {
  client?.destroy();
  await ecs?.close();
  tmp?.remove();
  client = undefined;
  ecs = undefined;
  tmp = undefined;
});

async function open(dir: string): Promise<{ ecs: LocalEcs; client: ECSClient }> {
  client?.destroy();
  ecs = await startTestEcs(dir);
  client = ecsClient(ecs.endpoint);
  return { ecs, client };
}

async function deployImage(c: ECSClient, image: string): Promise<string> {
  const registered = await c.send(
    new RegisterTaskDefinitionCommand({
      family: 'demo-app',
      networkMode: 'awsvpc',
      containerDefinitions: [{ name: 'web', image, essential: true, portMappings: [{ containerPort: 8080 }] }],
    }),
  );
  const arn = registered.taskDefinition?.taskDefinitionArn ?? '';
  await c.send(new UpdateServiceCommand({ cluster: 'demo', service: 'demo-app', taskDefinition: arn }));
  return arn;
}

async function describe1(c: ECSClient) {
  return (await c.send(new DescribeServicesCommand({ cluster: 'demo', services: ['demo-app'] }))).services?.[0];
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function servedVersion(url: string): Promise<string> {
  const res = await fetch(`${url}/`);
  return ((await res.json()) as { version: string }).version;
}

describe('local ECS persistence', () => {
  it('restores revisions, events and the service revision after close(), and runs its tasks again', async () => {
    tmp = tempDir();
    let { ecs: first, client: c } = await open(tmp.dir);
    const arn = await deployImage(c, 'demo-app:v2');
    await first.waitForSteadyState('demo', 'demo-app', 20_000);
    const before = await describe1(c);
    expect(before?.taskDefinition).toBe(TD(2));
    const pids = first.tasks().flatMap((t) => (t.pid === undefined ? [] : [t.pid]));
    const lbPort = Number(new URL(first.loadBalancerUrl('demo', 'demo-app')).port);
    await first.close();

    // Nothing survives close(): no task process, no load balancer port.
    expect(pids.filter(isAlive)).toEqual([]);
    expect(await portFree(lbPort)).toBe(true);
    const state = JSON.parse(readFileSync(path.join(tmp.dir, 'ecs', 'ecs-state.json'), 'utf8'));
    expect(state.schema).toBe('rollgate.local-ecs.v1');
    expect(state.taskDefinitions['demo-app']).toHaveLength(2);

    ({ ecs: first, client: c } = await open(tmp.dir));
    const after = await describe1(c);
    expect(after?.taskDefinition).toBe(arn);
    expect(after?.deployments).toEqual([
      expect.objectContaining({ id: before?.deployments?.[0]?.id, rolloutState: 'COMPLETED', runningCount: 2 }),
    ]);
    // The history carries over: older events are still there, below the new steady state.
    expect(after?.events?.length ?? 0).toBeGreaterThan(before?.events?.length ?? 0);
    expect(after?.events?.at(-1)?.id).toBe(before?.events?.at(-1)?.id);
    const revisions = await c.send(new ListTaskDefinitionsCommand({ familyPrefix: 'demo-app' }));
    expect(revisions.taskDefinitionArns).toEqual([TD(1), TD(2)]);
    const latest = await c.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'demo-app' }));
    expect(latest.taskDefinition?.containerDefinitions?.[0]?.image).toBe('demo-app:v2');
    const running = first.tasks('demo', 'demo-app').filter((t) => t.lastStatus === 'RUNNING');
    expect(running).toHaveLength(2);
    expect(running.every((t) => t.imageTag === 'v2' && t.pid !== undefined && isAlive(t.pid))).toBe(true);
    expect(await servedVersion(first.loadBalancerUrl('demo', 'demo-app'))).toBe('v2');
    // The next revision continues the family.
    expect(await deployImage(c, 'demo-app:v3')).toBe(TD(3));
  });

  it('resolves a deployment left IN_PROGRESS by a shutdown to its PRIMARY', async () => {
    tmp = tempDir();
    const { ecs: first, client: c } = await open(tmp.dir);
    const arn = await deployImage(c, 'demo-app:v2');
    // Stop mid-rollout, the way a crash would leave it.
    await first.close();
    const persisted = JSON.parse(readFileSync(path.join(tmp.dir, 'ecs', 'ecs-state.json'), 'utf8'));
    const deployments = persisted.clusters.demo.services['demo-app'].deployments;
    expect(deployments[0]).toMatchObject({ status: 'PRIMARY', taskDefinition: arn, rolloutState: 'IN_PROGRESS' });

    const { ecs: second, client: c2 } = await open(tmp.dir);
    const svc = await describe1(c2);
    expect(svc?.taskDefinition).toBe(arn);
    expect(svc?.deployments).toEqual([
      expect.objectContaining({ taskDefinition: arn, rolloutState: 'COMPLETED', runningCount: 2 }),
    ]);
    expect(await servedVersion(second.loadBalancerUrl('demo', 'demo-app'))).toBe('v2');
  });

  it('leaves no orphan when its process is SIGKILLed: tasks exit when their stdin closes', async () => {
    tmp = tempDir();
    const child = spawn(process.execPath, ['--import', 'tsx', path.join('test', 'local', 'ecs-child.ts'), tmp.dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const ready = await eventually(() => {
      const line = output.split('\n').find((l) => l.startsWith('{'));
      return line === undefined ? undefined : (JSON.parse(line) as { pids: number[]; lbPort: number });
    }, 30_000);
    expect(ready.pids).toHaveLength(2);
    expect(ready.pids.every(isAlive)).toBe(true);

    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    await eventually(() => (ready.pids.some(isAlive) ? undefined : true), 10_000);
    expect(await portFree(ready.lbPort)).toBe(true);
  });

  it('captures the output of each task in a log file under the state directory', async () => {
    tmp = tempDir();
    const { ecs: running } = await open(tmp.dir);
    const [task] = running.tasks('demo', 'demo-app');
    const dir = path.join(tmp.dir, 'ecs', 'tasks', 'demo', 'demo-app');
    const id = task?.taskArn.split('/').at(-1);
    expect(readdirSync(dir)).toContain(`${id}.log`);
    expect(readFileSync(path.join(dir, `${id}.log`), 'utf8')).toMatch(
      /demo-app v1 .*listening on http:\/\/127\.0\.0\.1:/,
    );
  });

  it('fails to start, naming the port and leaving nothing running, when a load balancer port is taken', async () => {
    tmp = tempDir();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      await expect(startTestEcs(tmp.dir, { spec: demoSpec({ loadBalancerPort: port }) })).rejects.toThrow(
        new RegExp(`load balancer of service demo-app on 127\\.0\\.0\\.1:${port}`),
      );
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
