import path from 'node:path';
import {
  BatchGetDeploymentsCommand,
  CodeDeployClient,
  CreateDeploymentCommand,
  type DeploymentInfo,
  GetDeploymentCommand,
  ListDeploymentsCommand,
  PutLifecycleEventHookExecutionStatusCommand,
  StopDeploymentCommand,
} from '@aws-sdk/client-codedeploy';
import { DescribeServicesCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCodeDeploy, startCodeDeploy } from '../../local/codedeploy/server.ts';
import { type LocalLambda, startLambda } from '../../local/lambda.ts';
import { appSpecFor, appSpecRevision } from '../../src/core/codedeploy.ts';
import {
  closeTestEcs,
  demoSpec,
  ecsClient,
  eventually,
  openTestEcs,
  registerImage,
  startTestEcs,
  type TestEcs,
} from './support.ts';

/**
 * The local CodeDeploy endpoint through @aws-sdk/client-codedeploy: a CODE_DEPLOY service with a test listener, its
 * deployments walked by the local ECS, the AppSpec hooks invoked through the local Lambda endpoint (the fixture's
 * `echo`, which only records the call: the test reports each hook's status as a hook Lambda would).
 */

const spec = demoSpec({
  testListenerPort: 0,
  deploymentController: 'CODE_DEPLOY',
  codeDeploy: { application: 'app', deploymentGroup: 'dg', terminationWaitMinutes: 0 },
});
let lambda: LocalLambda;
let env: TestEcs;
let codeDeploy: LocalCodeDeploy;
let client: CodeDeployClient;

beforeAll(async () => {
  lambda = await startLambda({
    serverlessFile: path.join(import.meta.dirname, 'fixtures/lambda/serverless.yml'),
    region: 'us-east-1',
    accountId: '123456789012',
  });
  env = await openTestEcs({ spec, lambdaEndpoint: lambda.endpoint, minuteMs: 600, healthCheckIntervalMs: 100 });
  codeDeploy = await startCodeDeploy({
    spec,
    stateDir: path.join(env.tmp.dir, 'codedeploy'),
    ecs: env.ecs.codeDeploy,
    lambdaEndpoint: lambda.endpoint,
    minuteMs: 600,
  });
  client = new CodeDeployClient({
    endpoint: codeDeploy.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    maxAttempts: 1,
  });
}, 60_000);

afterAll(async () => {
  client?.destroy();
  await codeDeploy?.close();
  await closeTestEcs(env);
  await lambda?.close();
}, 60_000);

const production = () => env.ecs.loadBalancerUrl('demo', 'demo-app');
const testListener = () => env.ecs.loadBalancer('demo', 'demo-app')?.testUrl ?? '';
async function version(url: string): Promise<string> {
  const res = await fetch(`${url}/`);
  await res.arrayBuffer();
  return res.headers.get('x-app-version') ?? '?';
}

/** CreateDeployment of `image` with the hooks named, each on the fixture's `echo`. */
async function create(image: string, events: string[], overrides: Record<string, unknown> = {}) {
  const taskDefinitionArn = await registerImage(env.client, image);
  const appSpec = appSpecFor({
    taskDefinitionArn,
    containerName: 'web',
    containerPort: 8080,
    gates: [],
    hooks: {} as never,
  });
  const withHooks = { ...appSpec, Hooks: events.map((e) => ({ [e]: 'echo' })) };
  const out = await client.send(
    new CreateDeploymentCommand({
      applicationName: 'app',
      deploymentGroupName: 'dg',
      revision: appSpecRevision(withHooks as never),
      ...overrides,
    }),
  );
  return out.deploymentId ?? '';
}

const get = async (id: string): Promise<DeploymentInfo> =>
  (await client.send(new GetDeploymentCommand({ deploymentId: id }))).deploymentInfo ?? {};

/** The hook calls the deployment made so far: the payload CodeDeploy sends. */
const hookCalls = (id: string) =>
  lambda.invocations
    .filter((i) => (i.payload as { DeploymentId?: string }).DeploymentId === id)
    .map((i) => ({ type: i.invocationType, ...(i.payload as { LifecycleEventHookExecutionId: string }) }));

async function nextHook(id: string, n: number): Promise<string> {
  return eventually(() => hookCalls(id)[n]?.LifecycleEventHookExecutionId, 20_000);
}

const report = (deploymentId: string, lifecycleEventHookExecutionId: string, status: 'Succeeded' | 'Failed') =>
  client.send(new PutLifecycleEventHookExecutionStatusCommand({ deploymentId, lifecycleEventHookExecutionId, status }));

async function finished(id: string): Promise<DeploymentInfo> {
  return eventually(async () => {
    const d = await get(id);
    return d.status === 'InProgress' || d.status === 'Created' ? undefined : d;
  }, 30_000);
}

describe('the local CodeDeploy', () => {
  it('is the only way to deploy a CODE_DEPLOY service: ECS shows the controller and refuses a new task definition', async () => {
    const out = await env.client.send(new DescribeServicesCommand({ cluster: 'demo', services: ['demo-app'] }));
    expect(out.services?.[0]?.deploymentController).toEqual({ type: 'CODE_DEPLOY' });
    const taskDefinition = await registerImage(env.client, 'demo-app:v9');
    await expect(
      env.client.send(new UpdateServiceCommand({ cluster: 'demo', service: 'demo-app', taskDefinition })),
    ).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: expect.stringMatching(/CODE_DEPLOY deployment controller\. Use AWS CodeDeploy/),
    });
  });

  it.each([
    [{ applicationName: 'nope' }, 'ApplicationDoesNotExistException'],
    [{ deploymentGroupName: 'nope' }, 'DeploymentGroupDoesNotExistException'],
    [{ deploymentConfigName: 'Custom.Unknown' }, 'DeploymentConfigDoesNotExistException'],
    [
      { revision: { revisionType: 'AppSpecContent', appSpecContent: { content: '{"version":"0.0"}' } } },
      'InvalidRevisionException',
    ],
    [
      { revision: { revisionType: 'AppSpecContent', appSpecContent: { content: '{}', sha256: 'ab' } } },
      'InvalidRevisionException',
    ],
  ])('refuses CreateDeployment with %j: %s', async (overrides, name) => {
    await expect(create('demo-app:v2', [], overrides)).rejects.toMatchObject({ name });
  });

  it('runs the hooks once each, in the AppSpec order, asynchronously; the deployment waits for each status', async () => {
    const id = await create('demo-app:v2', [
      'BeforeInstall',
      'AfterAllowTestTraffic',
      'BeforeAllowTraffic',
      'AfterAllowTraffic',
    ]);
    await expect(create('demo-app:v3', [])).rejects.toMatchObject({ name: 'DeploymentLimitExceededException' });
    const seen: string[] = [];
    for (let n = 0; n < 4; n++) {
      const hook = await nextHook(id, n);
      seen.push(hook);
      if (n === 1) {
        // AfterAllowTestTraffic: the test listener serves the replacement, production the original
        expect(await version(testListener())).toBe('v2');
        expect(await version(production())).toBe('v1');
        await expect(report(id, hook, 'Pending' as never)).rejects.toMatchObject({
          name: 'InvalidLifecycleEventHookExecutionStatusException',
        });
      }
      await report(id, hook, 'Succeeded');
      await expect(report(id, hook, 'Succeeded')).rejects.toMatchObject({
        name: 'LifecycleEventAlreadyCompletedException',
      });
    }
    const done = await finished(id);
    expect(done).toMatchObject({ status: 'Succeeded', computePlatform: 'ECS', creator: 'user' });
    expect(hookCalls(id).map((c) => c.type)).toEqual(['Event', 'Event', 'Event', 'Event']);
    expect(new Set(seen).size).toBe(4);
    const record = codeDeploy.deployments().find((d) => d.deploymentId === id);
    expect(record?.lifecycleEvents.map((e) => e.event)).toEqual([
      'BeforeInstall',
      'AfterAllowTestTraffic',
      'BeforeAllowTraffic',
      'AfterAllowTraffic',
    ]);
    expect(await version(production())).toBe('v2');
    const listed = await client.send(
      new ListDeploymentsCommand({
        applicationName: 'app',
        deploymentGroupName: 'dg',
        includeOnlyStatuses: ['Succeeded'],
      }),
    );
    expect(listed.deployments).toContain(id);
  }, 60_000);

  it('a hook reported Failed fails the deployment and rolls it back through a rollback deployment', async () => {
    const id = await create('demo-app:v3', ['AfterAllowTestTraffic']);
    await report(id, await nextHook(id, 0), 'Failed');
    const failed = await finished(id);
    expect(failed).toMatchObject({ status: 'Failed', errorInformation: { code: 'HOOK_EXECUTION_FAILURE' } });
    const rollbackId = failed.rollbackInfo?.rollbackDeploymentId ?? '';
    const rollback = await finished(rollbackId);
    expect(rollback).toMatchObject({
      status: 'Succeeded',
      creator: 'codeDeployRollback',
      rollbackInfo: { rollbackTriggeringDeploymentId: id },
    });
    expect(await version(production())).toBe('v2');
    const both = await client.send(new BatchGetDeploymentsCommand({ deploymentIds: [id, rollbackId] }));
    expect(both.deploymentsInfo?.map((d) => d.status)).toEqual(['Failed', 'Succeeded']);
  }, 60_000);

  it('StopDeployment rolls back with autoRollbackEnabled only, and a stopped deployment cannot be stopped again', async () => {
    const id = await create('demo-app:v4', ['AfterAllowTestTraffic']);
    const hook = await nextHook(id, 0);
    await expect(client.send(new StopDeploymentCommand({ deploymentId: id }))).rejects.toMatchObject({
      name: 'UnsupportedActionForDeploymentTypeException',
    });
    expect(await client.send(new StopDeploymentCommand({ deploymentId: id, autoRollbackEnabled: true }))).toMatchObject(
      {
        status: 'Pending',
      },
    );
    const stopped = await finished(id);
    expect(stopped).toMatchObject({ status: 'Stopped', errorInformation: { code: 'MANUAL_STOP' } });
    expect((await finished(stopped.rollbackInfo?.rollbackDeploymentId ?? '')).status).toBe('Succeeded');
    await expect(
      client.send(new StopDeploymentCommand({ deploymentId: id, autoRollbackEnabled: true })),
    ).rejects.toMatchObject({ name: 'DeploymentAlreadyCompletedException' });
    // the hook it was waiting for was failed by the stop: a late report is refused
    await expect(report(id, hook, 'Succeeded')).rejects.toMatchObject({
      name: 'LifecycleEventAlreadyCompletedException',
    });
    expect(await version(production())).toBe('v2');
  }, 60_000);

  it('persists under its state directory: a deployment cut short by a stop is Stopped at the next start, its rollback Succeeded', async () => {
    const id = await create('demo-app:v5', ['AfterAllowTestTraffic']);
    await nextHook(id, 0);
    await codeDeploy.close();
    await env.ecs.close();
    const ecs = await startTestEcs(env.tmp.dir, {
      spec,
      lambdaEndpoint: lambda.endpoint,
      minuteMs: 600,
      healthCheckIntervalMs: 100,
    });
    env.client.destroy();
    env = { ...env, ecs, client: ecsClient(ecs.endpoint) };
    codeDeploy = await startCodeDeploy({
      spec,
      stateDir: path.join(env.tmp.dir, 'codedeploy'),
      ecs: ecs.codeDeploy,
      lambdaEndpoint: lambda.endpoint,
      minuteMs: 600,
    });
    client.destroy();
    client = new CodeDeployClient({
      endpoint: codeDeploy.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    const stopped = await get(id);
    expect(stopped).toMatchObject({ status: 'Stopped', errorInformation: { code: 'MANUAL_STOP' } });
    expect(await get(stopped.rollbackInfo?.rollbackDeploymentId ?? '')).toMatchObject({ status: 'Succeeded' });
    expect(await version(production())).toBe('v2');
    // and the group takes a new deployment
    const next = await create('demo-app:v6', []);
    expect((await finished(next)).status).toBe('Succeeded');
    expect(await version(production())).toBe('v6');
  }, 60_000);
});
