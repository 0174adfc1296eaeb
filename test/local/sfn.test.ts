import { mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsJsonEndpoint } from '../../local/aws-json.ts';
import { startSfn, TaskTokens } from '../../local/sfn.ts';
import { LAMBDA_CALLBACK, LocalStateMachine } from '../../local/state-machine.ts';

let tokens: TaskTokens;
let endpoint: AwsJsonEndpoint;
let sfn: SFNClient;
let dir: string;

beforeAll(async () => {
  tokens = new TaskTokens();
  endpoint = await startSfn({ tokens });
  sfn = new SFNClient({
    endpoint: endpoint.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    maxAttempts: 1,
  });
  dir = mkdtempSync(path.join(tmpdir(), 'rollgate-sfn-'));
  writeFileSync(path.join(dir, 'serverless.yml'), 'service: t\nfunctions: {}\n');
});

afterAll(async () => {
  sfn.destroy();
  await endpoint.close(true);
  await rm(dir, { recursive: true, force: true });
});

async function errorOf(p: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await p;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('the local SFN callback endpoint, through the real SFN client', () => {
  it('SendTaskSuccess settles the token with the parsed output, once', async () => {
    const issued = tokens.issue('arn:exec:a', 'Wait');
    await sfn.send(new SendTaskHeartbeatCommand({ taskToken: issued.token }));
    await sfn.send(new SendTaskSuccessCommand({ taskToken: issued.token, output: '{"gate":{"percent":10}}' }));
    await expect(issued.result).resolves.toEqual({ gate: { percent: 10 } });
    const again = await errorOf(sfn.send(new SendTaskSuccessCommand({ taskToken: issued.token, output: '{}' })));
    expect(again.name).toBe('TaskTimedOut');
    expect(tokens.pending('arn:exec:a')).toEqual([]);
  });

  it('SendTaskFailure fails the task with its error and cause', async () => {
    const issued = tokens.issue('arn:exec:b', 'Wait');
    await sfn.send(new SendTaskFailureCommand({ taskToken: issued.token, error: 'GateFailed', cause: 'p95 300 ms' }));
    const failure = await errorOf(issued.result);
    expect(failure.name).toBe('GateFailed');
    expect(failure.message).toBe('p95 300 ms');
  });

  it('refuses a token it never issued, and output that is not JSON', async () => {
    const unknown = await errorOf(sfn.send(new SendTaskSuccessCommand({ taskToken: 'nope', output: '{}' })));
    expect(unknown.name).toBe('InvalidToken');
    const issued = tokens.issue('arn:exec:c', 'Wait');
    const bad = await errorOf(sfn.send(new SendTaskSuccessCommand({ taskToken: issued.token, output: '{oops' })));
    expect(bad.name).toBe('InvalidOutput');
    expect(tokens.pending('arn:exec:c')).toHaveLength(1);
    tokens.expire('arn:exec:c');
    expect((await errorOf(issued.result)).name).toBe('States.Timeout');
  });
});

/** A machine with one callback state that calls `Park` with the token, and its Catch / Timeout branches. */
async function callbackMachine(park: (input: unknown) => Promise<unknown>, timeoutSeconds = 5) {
  const asl = {
    StartAt: 'AwaitGate',
    States: {
      AwaitGate: {
        Type: 'Task',
        Resource: LAMBDA_CALLBACK,
        Parameters: {
          FunctionName: { 'Fn::GetAtt': ['ParkLambdaFunction', 'Arn'] },
          Payload: { 'taskToken.$': '$$.Task.Token', 'gate.$': '$.gate' },
        },
        TimeoutSeconds: timeoutSeconds,
        ResultPath: '$.woken',
        Catch: [
          { ErrorEquals: ['States.Timeout'], ResultPath: '$.error', Next: 'TimedOut' },
          { ErrorEquals: ['GateFailed'], ResultPath: '$.error', Next: 'Failed' },
        ],
        End: true,
      },
      TimedOut: { Type: 'Pass', End: true },
      Failed: { Type: 'Pass', End: true },
    },
  };
  const file = path.join(dir, `m-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(asl));
  return LocalStateMachine.load({
    aslFile: file,
    serverlessFile: path.join(dir, 'serverless.yml'),
    overrides: { ParkLambdaFunction: park },
  });
}

describe('the local runner runs lambda:invoke.waitForTaskToken states', () => {
  it('gives the function a fresh token in its Payload and waits for SendTaskSuccess', async () => {
    const seen: Array<Record<string, unknown>> = [];
    const machine = await callbackMachine(async (input) => {
      seen.push(input as Record<string, unknown>);
      const { taskToken } = input as { taskToken: string };
      // answered later, from outside the function, as an ECS hook would
      setTimeout(() => {
        void sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify({ stage: 'POST_TEST' }) }));
      }, 50);
      return { parked: true };
    });
    const first = await machine.run({ gate: 'test' }, { name: 'cb-1', taskTokens: tokens });
    const second = await machine.run({ gate: 'prod' }, { name: 'cb-2', taskTokens: tokens });
    expect(first.status).toBe('SUCCEEDED');
    expect(first.output).toEqual({ gate: 'test', woken: { stage: 'POST_TEST' } });
    expect(second.output).toEqual({ gate: 'prod', woken: { stage: 'POST_TEST' } });
    expect(seen.map((s) => s.gate)).toEqual(['test', 'prod']);
    const [a, b] = seen.map((s) => s.taskToken as string);
    expect(a).toMatch(/^rollgate-local-/);
    expect(a).not.toBe(b);
    // the execution is over: its token is answered no more
    const late = await errorOf(sfn.send(new SendTaskSuccessCommand({ taskToken: a as string, output: '{}' })));
    expect(late.name).toBe('TaskTimedOut');
  });

  it('a SendTaskFailure goes to the state Catch by its error name', async () => {
    const machine = await callbackMachine(async (input) => {
      const { taskToken } = input as { taskToken: string };
      await sfn.send(new SendTaskFailureCommand({ taskToken, error: 'GateFailed', cause: 'probe 500' }));
      return {};
    });
    const result = await machine.run({ gate: 'test' }, { name: 'cb-3', taskTokens: tokens });
    expect(result.status).toBe('SUCCEEDED');
    expect(result.statesEntered).toEqual(['AwaitGate', 'Failed']);
    expect(result.output).toMatchObject({ error: { Error: 'GateFailed', Cause: 'probe 500' } });
  });

  it('a token never answered ends in States.Timeout after TimeoutSeconds, and is refused afterwards', async () => {
    let token = '';
    const machine = await callbackMachine(async (input) => {
      token = (input as { taskToken: string }).taskToken;
      return {};
    }, 1);
    const result = await machine.run({ gate: 'test' }, { name: 'cb-4', taskTokens: tokens });
    expect(result.statesEntered).toEqual(['AwaitGate', 'TimedOut']);
    const late = await errorOf(sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' })));
    expect(late.name).toBe('TaskTimedOut');
  });

  it('says what is missing when run without a token registry', async () => {
    const machine = await callbackMachine(async () => ({}));
    const result = await machine.run({ gate: 'test' }, { name: 'cb-5' });
    expect(result.status).toBe('FAILED');
    expect(result.cause).toMatch(/AwaitGate waits for a task token/);
  });
});
