/**
 * For the end-to-end tests of ECS's native strategies on the local ECS: a local ECS whose service has a test listener
 * and a test header, the local Lambda endpoint serving the fixture hook, and the SDK calls a deployment makes.
 */
import path from 'node:path';
import {
  DescribeServiceDeploymentsCommand,
  type ECSClient,
  type ServiceDeployment,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { request } from 'undici';
import { afterEach, beforeEach } from 'vitest';
import type { LocalEcs } from '../../local/ecs/server.ts';
import { type LocalLambda, localFunctionArn, startLambda } from '../../local/lambda.ts';
import { closeTestEcs, demoSpec, eventually, openTestEcs, registerImage, type TestEcs } from './support.ts';

export const HOOK = localFunctionArn('hook', 'us-east-1', '123456789012');
export const ROLE = 'arn:aws:iam::123456789012:role/ecs-hook';
export const TEST_HEADER = { name: 'x-rollgate-test', value: 'green' };

export interface StrategyEnv {
  ecs: LocalEcs;
  client: ECSClient;
  lambda: LocalLambda;
  dir: string;
}

/** A fresh local ECS (test listener + test header) and Lambda endpoint per test, `minuteMs` as given. */
export function useStrategyEcs(minuteMs: number, use: (env: StrategyEnv) => void): void {
  let lambda: LocalLambda | undefined;
  let env: TestEcs | undefined;
  beforeEach(async () => {
    lambda = await startLambda({
      serverlessFile: path.join(import.meta.dirname, 'fixtures/lambda/serverless.yml'),
      region: 'us-east-1',
      accountId: '123456789012',
    });
    env = await openTestEcs({
      spec: demoSpec({ testListenerPort: 0, testHeader: TEST_HEADER }),
      lambdaEndpoint: lambda.endpoint,
      minuteMs,
      healthCheckIntervalMs: 100,
    });
    use({ ecs: env.ecs, client: env.client, lambda, dir: env.tmp.dir });
  });
  afterEach(async () => {
    await closeTestEcs(env);
    await lambda?.close();
  });
}

/** Registers `image` and updates the service to it with `deploymentConfiguration`; the service deployment ARN. */
export async function deployWith(
  client: ECSClient,
  image: string,
  deploymentConfiguration: Record<string, unknown>,
): Promise<string> {
  const taskDefinition = await registerImage(client, image);
  const out = await client.send(
    new UpdateServiceCommand({
      cluster: 'demo',
      service: 'demo-app',
      taskDefinition,
      deploymentConfiguration: deploymentConfiguration as never,
    }),
  );
  const arn = out.service?.currentServiceDeployment;
  if (arn === undefined) throw new Error('UpdateService answered no currentServiceDeployment');
  return arn;
}

export async function describeDeployment(client: ECSClient, arn: string): Promise<ServiceDeployment> {
  const out = await client.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [arn] }));
  const found = out.serviceDeployments?.[0];
  if (found === undefined) throw new Error(`service deployment ${arn} not found: ${JSON.stringify(out.failures)}`);
  return found;
}

/** Waits for the service deployment to reach one of `statuses`. */
export function deploymentReaches(
  client: ECSClient,
  arn: string,
  statuses: string[],
  timeoutMs = 30_000,
): Promise<ServiceDeployment> {
  return eventually(async () => {
    const d = await describeDeployment(client, arn);
    return statuses.includes(d.status ?? '') ? d : undefined;
  }, timeoutMs);
}

/** The version (`body.version`) a GET answers, with optional headers. */
export async function versionAt(url: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await request(url, { headers, headersTimeout: 5000, bodyTimeout: 5000 });
  return ((await res.body.json()) as { version: string }).version;
}

/** Requests each target group of the service's ALB has routed so far. */
export function requestsByTargetGroup(ecs: LocalEcs): { blue: number; green: number } {
  const groups = ecs.loadBalancer('demo', 'demo-app')?.status().targetGroups ?? [];
  const count = (name: string) => groups.find((g) => g.name === name)?.requests ?? 0;
  return { blue: count('blue'), green: count('green') };
}

/** The hook invocations' payloads, in order. */
export function hookPayloads(lambda: LocalLambda) {
  return lambda.invocations
    .filter((i) => i.function === 'HookLambdaFunction')
    .map(
      (i) =>
        i.payload as {
          lifecycleStage: string;
          executionId: string;
          resourceArn: string;
          hookDetails?: { seen?: number };
          executionDetails: {
            targetServiceRevisionArn: string;
            testTrafficWeights: Record<string, number>;
            productionTrafficWeights: Record<string, number>;
          };
        },
    );
}

/** A payload's weights as `test <green>% / production <green>%` for the revision being deployed. */
export function greenWeights(p: ReturnType<typeof hookPayloads>[number]): string {
  const green = p.executionDetails.targetServiceRevisionArn;
  return `${p.lifecycleStage} test ${p.executionDetails.testTrafficWeights[green]} production ${p.executionDetails.productionTrafficWeights[green]}`;
}
