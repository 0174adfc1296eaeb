import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { SendTaskSuccessCommand, SFNClient, TaskTimedOut } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { answerHook, type HookEvent, hookEventSchema } from '../../src/core/gate-hook.ts';
import { closeGates, type Gate, judgeGate, parkGate } from '../../src/core/gates.ts';
import { memoryBucket } from './s3-fake.ts';

const s3Mock = mockClient(S3Client);
const sfnMock = mockClient(SFNClient);
const s3 = new S3Client({ region: 'us-east-1' });
const sfn = new SFNClient({ region: 'us-east-1' });
const bucket = 'artifacts';
const executionName = 'demo-app-v4-1';
const store = { s3, bucket, executionName };
const BLUE = 'arn:aws:ecs:us-east-1:000000000000:service-revision/demo/demo-app/1';
const GREEN = 'arn:aws:ecs:us-east-1:000000000000:service-revision/demo/demo-app/2';
const DEPLOYMENT = 'arn:aws:ecs:us-east-1:000000000000:service-deployment/demo/demo-app/abc';
const testRoute = { url: 'http://127.0.0.1:9091', header: { name: 'x-canary', value: '1' } };

/** The event ECS sends the hook: the weights by revision, the stage, the hook's details. */
function hookEvent(lifecycleStage: string, test: number, production: number): HookEvent {
  return hookEventSchema.parse({
    executionDetails: {
      testTrafficWeights: { [BLUE]: 100 - test, [GREEN]: test },
      productionTrafficWeights: { [BLUE]: 100 - production, [GREEN]: production },
      serviceArn: 'arn:aws:ecs:us-east-1:000000000000:service/demo/demo-app',
      targetServiceRevisionArn: GREEN,
    },
    executionId: 'x1',
    lifecycleStage,
    resourceArn: DEPLOYMENT,
    hookDetails: { execution: executionName },
  });
}

const hook = (event: HookEvent) => answerHook({ s3, bucket, sfn, event });
/** The gates sent to the execution, in order. */
const sent = () =>
  sfnMock.commandCalls(SendTaskSuccessCommand).map((c) => ({
    token: c.args[0].input.taskToken,
    gate: JSON.parse(c.args[0].input.output ?? '{}') as Gate,
  }));

let objects: Map<string, string>;
beforeEach(() => {
  s3Mock.reset();
  sfnMock.reset();
  objects = memoryBucket(s3Mock);
  sfnMock.on(SendTaskSuccessCommand).resolves({});
});

describe('answerHook', () => {
  it('records the gate, wakes the parked execution and answers IN_PROGRESS with a short callBackDelay', async () => {
    await parkGate({ ...store, sfn, taskToken: 'token-1', testRoute });
    expect(await hook(hookEvent('POST_TEST_TRAFFIC_SHIFT', 100, 0))).toEqual({
      hookStatus: 'IN_PROGRESS',
      callBackDelay: 5,
    });
    expect(objects.has(`gates/${executionName}/arrivals/POST_TEST_TRAFFIC_SHIFT-100.json`)).toBe(true);
    expect(sent()).toEqual([
      {
        token: 'token-1',
        gate: expect.objectContaining({
          id: 'POST_TEST_TRAFFIC_SHIFT-100',
          stage: 'test',
          percent: 100,
          testPercent: 100,
          productionPercent: 0,
          final: false,
          route: { origin: 'http://127.0.0.1:9091', headers: { 'x-canary': '1' } },
          serviceDeploymentArn: DEPLOYMENT,
        }),
      },
    ]);
  });

  it('answers IN_PROGRESS again when called again before the verdict, and a used token is ignored', async () => {
    await parkGate({ ...store, sfn, taskToken: 'token-1', testRoute });
    await hook(hookEvent('PRODUCTION_TRAFFIC_SHIFT', 100, 10));
    sfnMock.on(SendTaskSuccessCommand).rejects(new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} }));
    expect(await hook(hookEvent('PRODUCTION_TRAFFIC_SHIFT', 100, 10))).toMatchObject({ hookStatus: 'IN_PROGRESS' });
    const gates = sent().map((s) => s.gate.id);
    expect(gates).toEqual(['PRODUCTION_TRAFFIC_SHIFT-10', 'PRODUCTION_TRAFFIC_SHIFT-10']);
    // a production step below 100% is probed where the header leads
    expect(sent()[0]?.gate.route).toEqual({ headers: { 'x-canary': '1' } });
  });

  it('answers SUCCEEDED once the gate passed, without waking anyone', async () => {
    await parkGate({ ...store, sfn, taskToken: 'token-1', testRoute });
    await hook(hookEvent('PRODUCTION_TRAFFIC_SHIFT', 100, 10));
    const gate = sent()[0]?.gate as Gate;
    expect(await judgeGate({ ...store, gate })).toMatchObject({ id: gate.id, verdict: 'PASS' });
    sfnMock.resetHistory();
    expect(await hook(hookEvent('PRODUCTION_TRAFFIC_SHIFT', 100, 10))).toEqual({ hookStatus: 'SUCCEEDED' });
    expect(sent()).toEqual([]);
  });

  it('answers FAILED to the gate once the execution rolls back', async () => {
    await hook(hookEvent('PRODUCTION_TRAFFIC_SHIFT', 100, 10));
    await closeGates({ ...store, reason: 'SloViolated: p95 300 ms > 100 ms' });
    expect(await hook(hookEvent('PRODUCTION_TRAFFIC_SHIFT', 100, 10))).toEqual({ hookStatus: 'FAILED' });
  });

  it.each([
    ['production back to blue', 'PRODUCTION_TRAFFIC_SHIFT', 100, 0],
    ['test back to blue', 'TEST_TRAFFIC_SHIFT', 0, 0],
    ['production below a gate already reached', 'PRODUCTION_TRAFFIC_SHIFT', 100, 5],
  ])(
    'answers SUCCEEDED at once during a rollback (%s), even after the FAILED mark',
    async (_, stage, test, production) => {
      await parkGate({ ...store, sfn, taskToken: 'token-1', testRoute });
      await hook(hookEvent('PRODUCTION_TRAFFIC_SHIFT', 100, 10));
      await closeGates({ ...store, reason: 'gate failed' });
      sfnMock.resetHistory();
      const before = objects.size;
      // the weights are read before the FAILED mark
      expect(await hook(hookEvent(stage, test, production))).toEqual({ hookStatus: 'SUCCEEDED' });
      expect(sent()).toEqual([]);
      expect(objects.size).toBe(before);
    },
  );

  it('answers SUCCEEDED to a share below one already reached when nothing is closed', async () => {
    await hook(hookEvent('PRODUCTION_TRAFFIC_SHIFT', 100, 10));
    expect(await hook(hookEvent('PRODUCTION_TRAFFIC_SHIFT', 100, 5))).toEqual({ hookStatus: 'SUCCEEDED' });
  });

  it('answers IN_PROGRESS to a transient S3 or Step Functions error, and records the gate on the next call', async () => {
    const slowDown = Object.assign(new Error('Please reduce your request rate.'), {
      name: 'SlowDown',
      $metadata: { httpStatusCode: 503 },
    });
    s3Mock.on(ListObjectsV2Command).rejectsOnce(slowDown);
    const told: unknown[] = [];
    const event = hookEvent('PRODUCTION_TRAFFIC_SHIFT', 100, 10);
    const answer = await answerHook({ s3, bucket, sfn, event, onTransient: (err) => told.push(err) });
    expect(answer).toEqual({ hookStatus: 'IN_PROGRESS', callBackDelay: 5 });
    expect(told).toEqual([slowDown]);

    objects = memoryBucket(s3Mock); // S3 answers again
    await parkGate({ ...store, sfn, taskToken: 'token-1', testRoute });
    sfnMock.on(SendTaskSuccessCommand).rejectsOnce(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    expect(await hook(event)).toEqual({ hookStatus: 'IN_PROGRESS', callBackDelay: 5 });
    expect(objects.has(`gates/${executionName}/arrivals/PRODUCTION_TRAFFIC_SHIFT-10.json`)).toBe(true);
    sfnMock.on(SendTaskSuccessCommand).resolves({});
    expect(await hook(event)).toEqual({ hookStatus: 'IN_PROGRESS', callBackDelay: 5 });
    expect(sent().at(-1)?.gate.id).toBe('PRODUCTION_TRAFFIC_SHIFT-10');
  });

  it('throws an error that is no transient one (ECS reads it as FAILED: a rollback)', async () => {
    const denied = Object.assign(new Error('Access Denied'), {
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
    });
    s3Mock.on(ListObjectsV2Command).rejectsOnce(denied);
    await expect(hook(hookEvent('PRODUCTION_TRAFFIC_SHIFT', 100, 10))).rejects.toBe(denied);
  });

  it('answers SUCCEEDED to traffic going back to the old version even with S3 down', async () => {
    s3Mock.on(ListObjectsV2Command).rejects(Object.assign(new Error('down'), { $metadata: { httpStatusCode: 500 } }));
    expect(await hook(hookEvent('PRODUCTION_TRAFFIC_SHIFT', 0, 0))).toEqual({ hookStatus: 'SUCCEEDED' });
  });

  it('answers SUCCEEDED to a stage that is no gate', async () => {
    expect(await hook(hookEvent('POST_SCALE_UP', 0, 0))).toEqual({ hookStatus: 'SUCCEEDED' });
    expect(objects.size).toBe(0);
  });
});

describe('parkGate', () => {
  it('token first: stores the token and sends nothing until a gate arrives', async () => {
    expect(await parkGate({ ...store, sfn, taskToken: 'token-1', testRoute })).not.toHaveProperty('sent');
    expect(JSON.parse(objects.get(`gates/${executionName}/token.json`) ?? '{}')).toMatchObject({
      taskToken: 'token-1',
      testRoute,
    });
    expect(sent()).toEqual([]);
  });

  it('gate first: sends the gate that arrived unjudged at once', async () => {
    await hook(hookEvent('POST_TEST_TRAFFIC_SHIFT', 100, 0));
    expect(sent()).toEqual([]);
    expect(await parkGate({ ...store, sfn, taskToken: 'token-1', testRoute })).toMatchObject({
      sent: 'POST_TEST_TRAFFIC_SHIFT-100',
    });
    expect(sent().map((s) => [s.token, s.gate.id])).toEqual([['token-1', 'POST_TEST_TRAFFIC_SHIFT-100']]);
  });

  it('skips the gates already judged and sends the next one, in the order ECS reaches them', async () => {
    await parkGate({ ...store, sfn, taskToken: 'token-1', testRoute: undefined });
    await hook(hookEvent('PRODUCTION_TRAFFIC_SHIFT', 0, 10));
    await judgeGate({ ...store, gate: sent()[0]?.gate as Gate });
    await hook(hookEvent('PRODUCTION_TRAFFIC_SHIFT', 0, 100));
    sfnMock.resetHistory();
    expect(await parkGate({ ...store, sfn, taskToken: 'token-2', testRoute: undefined })).toMatchObject({
      sent: 'PRODUCTION_TRAFFIC_SHIFT-100',
    });
    // the last production gate goes to production itself, and ends the gate loop
    expect(sent()[0]?.gate).toMatchObject({ final: true, route: {} });
  });
});
