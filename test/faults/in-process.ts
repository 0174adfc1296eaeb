import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, ECSClient } from '@aws-sdk/client-ecs';
import { expect } from 'vitest';
import { loadConfigFile } from '../../src/config/load.ts';
import { executionLockPk, LOCK_SK, serviceLockPk } from '../../src/core/naming.ts';
import { processesWithMarker } from '../e2e/env.ts';
import { faultEnv } from './support.ts';

/** A local cloud in this process (each file its own: the handlers read their endpoints once, at import). */
export async function openRunner(mutate?: Parameters<typeof faultEnv>[0]) {
  const env = await faultEnv(mutate);
  const { LocalRunner } = await import('../../local/runner.ts');
  const runner = await LocalRunner.open({
    config: loadConfigFile(env.configFile),
    configSource: env.configFile,
    stateDir: env.stateDir,
  });
  const local = { region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } };
  const ecs = new ECSClient({ ...local, endpoint: runner.cloud.ecs.endpoint });
  const ddb = new DynamoDBClient({ ...local, endpoint: runner.cloud.env.AWS_ENDPOINT_URL_DYNAMODB ?? '' });
  return {
    env,
    runner,
    /** The image the demo service's PRIMARY deployment runs. */
    async serving(): Promise<string | undefined> {
      return (await this.primary()).image;
    },
    /** A demo service's PRIMARY deployment: its revision and that revision's image. */
    async primary(service = 'demo-app'): Promise<{ taskDefinitionArn: string; image: string | undefined }> {
      const { services } = await ecs.send(new DescribeServicesCommand({ cluster: 'demo', services: [service] }));
      const primary = services?.[0]?.deployments?.find((d) => d.status === 'PRIMARY')?.taskDefinition ?? '';
      const { taskDefinition } = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: primary }));
      return { taskDefinitionArn: primary, image: taskDefinition?.containerDefinitions?.[0]?.image };
    },
    /** How many of the service's lock and the execution's lock marker are in the lock table. */
    async locksHeld(name: string, service = 'demo-app'): Promise<number> {
      let held = 0;
      for (const pk of [serviceLockPk('demo', service), executionLockPk(name)]) {
        const key = { pk: { S: pk }, sk: { S: LOCK_SK } };
        if ((await ddb.send(new GetItemCommand({ TableName: 'rollgate-locks', Key: key }))).Item) held++;
      }
      return held;
    },
    async close() {
      ecs.destroy();
      ddb.destroy();
      await runner.close();
      expect(processesWithMarker(env.marker)).toEqual([]);
    },
  };
}
