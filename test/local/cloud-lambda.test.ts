import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCloud, startLocalCloud } from '../../local/cloud.ts';
import { localFunctionArn } from '../../local/lambda.ts';
import { loadConfigFile } from '../../src/config/load.ts';
import { e2eEnv } from '../e2e/env.ts';

let cloud: LocalCloud | undefined;
let client: LambdaClient;

beforeAll(async () => {
  const env = await e2eEnv();
  cloud = await startLocalCloud({
    config: loadConfigFile(env.configFile),
    configSource: env.configFile,
    stateDir: env.stateDir,
  });
  // As the local runner does: the handlers (imported on first invocation) read this environment at cold start.
  Object.assign(process.env, cloud.env);
  client = new LambdaClient({ maxAttempts: 1 });
}, 60_000);

afterAll(async () => {
  client?.destroy();
  await cloud?.stop();
});

const invoke = (FunctionName: string, payload: unknown) =>
  client.send(new InvokeCommand({ FunctionName, Payload: Buffer.from(JSON.stringify(payload)) }));

describe('the local cloud Lambda endpoint', () => {
  it('is in the handlers environment as AWS_ENDPOINT_URL_LAMBDA and runs serverless.yml handlers', async () => {
    expect(cloud?.env.AWS_ENDPOINT_URL_LAMBDA).toBe(cloud?.lambda.endpoint);
    const arn = localFunctionArn('normalize', 'us-east-1', '123456789012');
    const res = await invoke(arn, {
      log: { execution: 'exec-1', state: 'Normalize' },
      input: { repository: 'not-a-configured-repository', tag: 'v9' },
      execution: { id: 'arn:aws:states:local:exec', name: 'exec-1', startedAt: new Date().toISOString() },
    });
    expect(res.FunctionError).toBeUndefined();
    const job = JSON.parse(Buffer.from(res.Payload ?? []).toString('utf8')) as { decision?: string };
    expect(job.decision).toBe('IGNORE');
  });

  it('answers a handler error as Unhandled with its named error', async () => {
    const res = await invoke('normalize', {
      log: { execution: 'exec-2', state: 'Normalize' },
      input: 'not an event',
      execution: { id: 'arn:aws:states:local:exec', name: 'exec-2', startedAt: new Date().toISOString() },
    });
    expect(res.FunctionError).toBe('Unhandled');
    const error = JSON.parse(Buffer.from(res.Payload ?? []).toString('utf8')) as { errorType: string };
    expect(error.errorType).toBe('InvalidInputError');
  });
});
