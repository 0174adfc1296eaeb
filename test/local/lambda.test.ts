import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalLambda, localFunctionArn, startLambda } from '../../local/lambda.ts';
import { eventually, tempDir } from './support.ts';

const SERVERLESS = path.join(import.meta.dirname, 'fixtures/lambda/serverless.yml');
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

let lambda: LocalLambda;
let client: LambdaClient;
const saved = process.env.AWS_ENDPOINT_URL_LAMBDA;

beforeAll(async () => {
  lambda = await startLambda({ serverlessFile: SERVERLESS, region: 'us-east-1', accountId: '123456789012' });
  // The client finds the endpoint as a handler's would: AWS_ENDPOINT_URL_LAMBDA, default config otherwise.
  process.env.AWS_ENDPOINT_URL_LAMBDA = lambda.endpoint;
  client = new LambdaClient({ region: 'us-east-1', credentials, maxAttempts: 1 });
});

afterAll(async () => {
  client.destroy();
  await lambda.close();
  if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_LAMBDA;
  else process.env.AWS_ENDPOINT_URL_LAMBDA = saved;
});

const json = (payload: Uint8Array | undefined) => JSON.parse(Buffer.from(payload ?? []).toString('utf8')) as unknown;
const invoke = (FunctionName: string, payload: unknown, InvocationType?: 'RequestResponse' | 'Event' | 'DryRun') =>
  client.send(
    new InvokeCommand({
      FunctionName,
      Payload: Buffer.from(JSON.stringify(payload)),
      ...(InvocationType === undefined ? {} : { InvocationType }),
    }),
  );

describe('the local Lambda endpoint', () => {
  it.each([
    'echo',
    'EchoLambdaFunction',
    'echo:$LATEST',
    'arn:aws:lambda:us-east-1:123456789012:function:echo',
    localFunctionArn('echo', 'us-east-1', '123456789012'),
  ])('invokes the handler serverless.yml names for %s and answers its result', async (name) => {
    const res = await invoke(name, { hello: 'world' });
    expect(res.StatusCode).toBe(200);
    expect(res.FunctionError).toBeUndefined();
    expect(res.ExecutedVersion).toBe('$LATEST');
    expect(json(res.Payload)).toEqual({
      received: { hello: 'world' },
      functionName: 'rollgate-local-EchoLambdaFunction',
    });
  });

  it('answers a handler that throws with X-Amz-Function-Error: Unhandled and { errorType, errorMessage }', async () => {
    const res = await invoke('fail', { reason: 'gate failed' });
    expect(res.StatusCode).toBe(200);
    expect(res.FunctionError).toBe('Unhandled');
    expect(json(res.Payload)).toMatchObject({ errorType: 'HookRejectedError', errorMessage: 'gate failed' });
    expect(lambda.invocations.at(-1)).toMatchObject({
      function: 'FailLambdaFunction',
      outcome: 'HookRejectedError: gate failed',
    });
  });

  it('answers an Event invocation 202 at once and runs the handler after', async () => {
    const dir = tempDir();
    try {
      const markerFile = path.join(dir.dir, 'marker');
      const res = await invoke('echo', { markerFile }, 'Event');
      expect(res.StatusCode).toBe(202);
      await eventually(() => (existsSync(markerFile) ? true : undefined), 5000);
      expect(readFileSync(markerFile, 'utf8')).toBe('called\n');
    } finally {
      dir.remove();
    }
  });

  it('answers DryRun 204 without running the handler', async () => {
    const before = lambda.invocations.length;
    expect((await invoke('echo', {}, 'DryRun')).StatusCode).toBe(204);
    expect(lambda.invocations.length).toBe(before);
  });

  it('gives the handler the environment of the process (AWS_ENDPOINT_URL_LAMBDA included)', async () => {
    expect(json((await invoke('envCheck', {})).Payload)).toEqual({ endpoint: lambda.endpoint });
  });

  it('throws ResourceNotFoundException for a function serverless.yml does not define', async () => {
    await expect(invoke('nope', {})).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: expect.stringContaining('Function not found: nope'),
      $metadata: { httpStatusCode: 404 },
    });
  });

  it('throws InvalidRequestContentException for a payload that is not JSON', async () => {
    await expect(
      client.send(new InvokeCommand({ FunctionName: 'echo', Payload: Buffer.from('{not json') })),
    ).rejects.toMatchObject({ name: 'InvalidRequestContentException', $metadata: { httpStatusCode: 400 } });
  });
});
