import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { type LocalEcs, type StartEcsOptions, startEcs } from '../../local/ecs/server.ts';
import type { LocalCloudSpec, LocalServiceSpec } from '../../local/types.ts';

/** A one-service local cloud spec (cluster `demo`, service `demo-app`, container `web`), overridable per test. */
export function demoSpec(service: Partial<LocalServiceSpec> = {}): LocalCloudSpec {
  return {
    region: 'us-east-1',
    accountId: '123456789012',
    images: { 'demo-app': { command: ['node', 'examples/demo-app/server.js'] } },
    clusters: [
      {
        name: 'demo',
        services: [
          {
            name: 'demo-app',
            taskDefinitionFamily: 'demo-app',
            container: 'web',
            image: 'demo-app:v1',
            desiredCount: 2,
            // 0: a free port each start, so test files never collide.
            loadBalancerPort: 0,
            healthCheckPath: '/health',
            minimumHealthyPercent: 100,
            maximumPercent: 200,
            circuitBreaker: { enable: true, rollback: true },
            ...service,
          },
        ],
      },
    ],
  };
}

export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'rollgate-local-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** startEcs on a state directory with test-friendly timings. */
export function startTestEcs(dir: string, options: Partial<StartEcsOptions> = {}) {
  return startEcs({
    spec: demoSpec(),
    stateDir: path.join(dir, 'ecs'),
    registryFile: path.join(dir, 'registry.json'),
    taskStartTimeoutMs: 5000,
    stopGraceMs: 2000,
    deregistrationDelayMs: 2000,
    readyTimeoutMs: 20_000,
    ...options,
  });
}

/** A local ECS on a fresh temporary directory, with an SDK client on it. */
export interface TestEcs {
  readonly tmp: ReturnType<typeof tempDir>;
  readonly ecs: LocalEcs;
  readonly client: ECSClient;
}

export async function openTestEcs(options: Partial<StartEcsOptions> = {}): Promise<TestEcs> {
  const tmp = tempDir();
  try {
    const ecs = await startTestEcs(tmp.dir, options);
    return { tmp, ecs, client: ecsClient(ecs.endpoint) };
  } catch (error) {
    tmp.remove();
    throw error;
  }
}

/** Stops what openTestEcs started (every task process) and removes its directory. */
export async function closeTestEcs(env: TestEcs | undefined): Promise<void> {
  env?.client.destroy();
  await env?.ecs.close();
  env?.tmp.remove();
}

/** A test ECS for each test file (`file`) or each test (`test`), handed to `use` once started, closed after. */
export function useTestEcs(scope: 'file' | 'test', use: (env: TestEcs) => void): void {
  let env: TestEcs | undefined;
  const [before, after] = scope === 'file' ? [beforeAll, afterAll] : [beforeEach, afterEach];
  before(async () => {
    env = await openTestEcs();
    use(env);
  });
  after(() => closeTestEcs(env));
}

export function ecsClient(endpoint: string): ECSClient {
  return new ECSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Polls `check` every 50 ms until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * What the pipeline does before UpdateService: registers the service's current task definition with container `web`'s
 * image replaced. The new revision's ARN.
 */
export async function registerImage(client: ECSClient, image: string): Promise<string> {
  const svc = (await client.send(new DescribeServicesCommand({ cluster: 'demo', services: ['demo-app'] })))
    .services?.[0];
  const current = (await client.send(new DescribeTaskDefinitionCommand({ taskDefinition: svc?.taskDefinition })))
    .taskDefinition;
  const registered = await client.send(
    new RegisterTaskDefinitionCommand({
      family: current?.family,
      networkMode: current?.networkMode,
      cpu: current?.cpu,
      memory: current?.memory,
      requiresCompatibilities: current?.requiresCompatibilities,
      containerDefinitions: (current?.containerDefinitions ?? []).map((c) => (c.name === 'web' ? { ...c, image } : c)),
    }),
  );
  return registered.taskDefinition?.taskDefinitionArn ?? '';
}
