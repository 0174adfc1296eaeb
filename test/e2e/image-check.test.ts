import { DescribeServicesCommand, DescribeTaskDefinitionCommand, ECSClient } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRunner as Runner } from '../../local/runner.ts';
import { loadConfigFile } from '../../src/config/load.ts';
import { e2eEnv, portInUse, processesWithMarker } from './env.ts';

/**
 * CheckImage on the real local cloud: the handler's DescribeImages goes to the local ECR endpoint (local/ecr.ts)
 * over the same registry the local ECS starts tasks from. An image that is not there ends FAILED before the lock,
 * the backup, RegisterTaskDefinition or UpdateService.
 */

let env: Awaited<ReturnType<typeof e2eEnv>>;
let runner: Runner;
let ecs: ECSClient;

beforeAll(async () => {
  env = await e2eEnv();
  const { LocalRunner } = await import('../../local/runner.ts');
  runner = await LocalRunner.open({
    config: loadConfigFile(env.configFile),
    configSource: env.configFile,
    stateDir: env.stateDir,
  });
  ecs = new ECSClient({
    endpoint: runner.cloud.ecs.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
}, 60_000);

afterAll(async () => {
  ecs?.destroy();
  await runner?.close();
  expect(processesWithMarker(env.marker)).toEqual([]);
  expect(await portInUse(env.port)).toBe(false);
}, 60_000);

/** What "touched" would change: the service's revision and the family's latest revision. */
async function ecsState() {
  const svc = await ecs.send(new DescribeServicesCommand({ cluster: 'demo', services: ['demo-app'] }));
  const latest = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'demo-app' }));
  return {
    service: svc.services?.[0]?.taskDefinition,
    deployments: svc.services?.[0]?.deployments?.length,
    latestRevision: latest.taskDefinition?.revision,
  };
}

const neverPushed = `sha256:${'deadbeef'.repeat(8)}`;

describe('CheckImage on the local cloud', () => {
  it.each([
    [
      'a digest that was never pushed',
      { repository: 'demo-app', digest: neverPushed },
      /ECR has no image with digest sha256:deadbeefdead in repository demo-app \((RepositoryNotFound|ImageNotFound)Exception/,
    ],
    [
      'a tag and a digest that name different images',
      { repository: 'demo-app', tag: 'v1', digest: neverPushed },
      /ECR has no image with digest sha256:deadbeefdead/,
    ],
  ])('ends FAILED on %s, naming it, with nothing touched', async (_what, input, cause) => {
    const before = await ecsState();
    const stored = await runner.run(input);
    expect(stored.summary).toMatchObject({ outcome: 'FAILED', error: 'ImageNotFoundError' });
    expect(stored.summary.reason).toMatch(cause);
    expect(stored.statesEntered).toEqual([
      'Start',
      'Normalize',
      'ShouldDeploy',
      'CheckImage',
      'RecordFailed',
      'Failed',
    ]);
    expect(stored.summary.backupKey).toBeUndefined();
    expect(await ecsState()).toEqual(before);
  });

  it('deploys the same image once ECR has it, tag and digest agreeing', async () => {
    const digest = await runner.cloud.registry.pushImage('demo-app', 'v5');
    const mismatch = await runner.run({ repository: 'demo-app', tag: 'v1', digest });
    expect(mismatch.summary).toMatchObject({ outcome: 'FAILED', error: 'ImageNotFoundError' });
    expect(mismatch.summary.reason).toMatch(/tag v1 (is not in ECR|points at sha256:[0-9a-f]{12}), not at sha256:/);

    const stored = await runner.run({ repository: 'demo-app', tag: 'v5', digest });
    expect(stored.summary).toMatchObject({ outcome: 'DEPLOYED' });
    expect(stored.statesEntered.slice(0, 5)).toEqual(['Start', 'Normalize', 'ShouldDeploy', 'CheckImage', 'InitLock']);
  });
});
