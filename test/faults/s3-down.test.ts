import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, ECSClient } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRunner } from '../../local/runner.ts';
import { loadConfigFile } from '../../src/config/load.ts';
import { executionLockPk, LOCK_SK, serviceLockPk } from '../../src/core/naming.ts';
import { processesWithMarker } from '../e2e/env.ts';
import { OTHER_FAULTS } from './cases.ts';
import { type Env, faultEnv } from './support.ts';

/**
 * The local S3 stopped mid-run, as an S3 outage would: the run's outcome still reaches the local audit trail and the
 * operator is told that S3 has no record of it; the lock is free; at Backup, nothing is deployed.
 */
let env: Env;
let runner: LocalRunner;
let ecs: ECSClient;
let ddb: DynamoDBClient;

beforeAll(async () => {
  env = await faultEnv();
  const { LocalRunner } = await import('../../local/runner.ts');
  runner = await LocalRunner.open({
    config: loadConfigFile(env.configFile),
    configSource: env.configFile,
    stateDir: env.stateDir,
  });
  const local = { region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } };
  ecs = new ECSClient({ ...local, endpoint: runner.cloud.ecs.endpoint });
  ddb = new DynamoDBClient({ ...local, endpoint: runner.cloud.env.AWS_ENDPOINT_URL_DYNAMODB ?? '' });
}, 60_000);

afterAll(async () => {
  ecs.destroy();
  ddb.destroy();
  await runner.close();
  expect(processesWithMarker(env.marker)).toEqual([]);
});

/** The image the demo service's PRIMARY deployment runs. */
async function serving(): Promise<string | undefined> {
  const { services } = await ecs.send(new DescribeServicesCommand({ cluster: 'demo', services: ['demo-app'] }));
  const primary = services?.[0]?.deployments?.find((d) => d.status === 'PRIMARY')?.taskDefinition;
  const { taskDefinition } = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: primary }));
  return taskDefinition?.containerDefinitions?.[0]?.image;
}

async function locksHeld(name: string): Promise<number> {
  let held = 0;
  for (const pk of [serviceLockPk('demo', 'demo-app'), executionLockPk(name)]) {
    const out = await ddb.send(
      new GetItemCommand({ TableName: 'rollgate-locks', Key: { pk: { S: pk }, sk: { S: LOCK_SK } } }),
    );
    if (out.Item) held++;
  }
  return held;
}

describe('S3 unavailable', () => {
  it(`${OTHER_FAULTS.s3AtRecord}: rolled back, lock free, the outcome kept locally and the operator told`, async () => {
    let stopped: Promise<void> | undefined;
    const done = await runner.run(
      { repository: 'demo-app', tag: 'v3-unhealthy' },
      {
        // ProbeRollback probes for a second or more: S3 is down by the time RecordRolledBack writes
        onEvent: (e) => {
          if (e.type === 'StateEntered' && e.state === 'ProbeRollback') stopped ??= runner.cloud.s3.close();
        },
      },
    );
    await stopped;
    expect(done.statesEntered).toContain('RolledBackUnrecorded');
    expect(done.summary).toMatchObject({ outcome: 'ROLLED_BACK' });
    expect(done.unrecorded).toMatch(/S3.*kept in .* only/);
    expect(await serving()).toBe('demo-app:v1');
    expect(await locksHeld(done.name)).toBe(0);
    expect(await runner.eventsOf(done.name)).toHaveLength(1); // the rollback was still published
  });

  it(`${OTHER_FAULTS.s3AtBackup}: FAILED with nothing deployed, lock free, the operator told`, async () => {
    const done = await runner.run({ repository: 'demo-app', tag: 'v5' });
    expect(done.statesEntered).toContain('Backup');
    expect(done.statesEntered).not.toContain('Register');
    expect(done.statesEntered).not.toContain('Deploy');
    expect(done.summary).toMatchObject({ outcome: 'FAILED' });
    expect(done.unrecorded).toMatch(/S3.*kept in .* only/);
    expect(await serving()).toBe('demo-app:v1');
    expect(await locksHeld(done.name)).toBe(0);
  });
});
