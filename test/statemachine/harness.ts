import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { type LocalDynamo, startDynamo } from '../../local/dynamodb.ts';
import { startEventBridge } from '../../local/eventbridge.ts';
import { startSfn, TaskTokens } from '../../local/sfn.ts';
import type { ExecutionResult, LocalStateMachine, RunOptions } from '../../local/state-machine.ts';
import { taskStates } from '../asl.ts';
import { testConfig } from '../helpers.ts';
import { clearTable, fakeAws } from './fake-aws.ts';

/** The input a Task state was entered with, in a real execution (before its Parameters were applied). */
export interface RecordedState {
  readonly state: string;
  readonly input: unknown;
  readonly execution: string;
}

/**
 * The deploy state machine as a program under test: the real ASL file and the real handlers in aws-local-stepfunctions,
 * with ECS, ECR and S3 behind aws-sdk-client-mock, the lock table in a real DynamoDB-compatible server (dynalite), rollback
 * events on a real local EventBridge endpoint, and a real HTTP health endpoint. Handlers read their environment at
 * import, so one harness per test file; `close()` in afterAll.
 */
export async function startHarness(options: { readonly config?: Parameters<typeof testConfig>[0] } = {}) {
  const aws = fakeAws();
  /** Task definitions whose health endpoint answers 500. */
  const unhealthy = new Set<string>();
  /** Task definitions that answer `/` 300 ms late. */
  const slow = new Set<string>();
  /** Task definitions that never answer `/` (every load-test request times out). */
  const hung = new Set<string>();
  /** Task definitions that answer `/` 1 s late: more connections than the load test may open (generator-limited). */
  const stalled = new Set<string>();
  const health: Server = createServer((req, res) => {
    if (req.url === '/health') {
      res.writeHead(unhealthy.has(aws.current() ?? '') ? 500 : 200).end();
      return;
    }
    const current = aws.current() ?? '';
    if (hung.has(current)) return;
    const delay = slow.has(current) ? 300 : stalled.has(current) ? 1000 : 0;
    setTimeout(() => res.writeHead(200).end('ok'), delay);
  });
  await new Promise<void>((resolve) => health.listen(0, '127.0.0.1', resolve));
  const port = (health.address() as AddressInfo).port;
  const config = testConfig({
    ...options.config,
    health: { url: `http://127.0.0.1:${port}/health`, deadlineSeconds: 1, intervalSeconds: 0.1 },
    target: {
      load: {
        url: `http://127.0.0.1:${port}/`,
        rate: 40,
        durationSeconds: 1,
        workers: 2,
        connections: 4,
        // 12 a worker: twice what the 300 ms version needs at 20 req/s, half what the 1 s one needs
        maxConnections: 24,
        timeoutMs: 1500,
        tags: ['v4*'],
        // latency only: errors are judged by the default limit, and a service that answers nothing never passes
        slo: { p95Ms: 100 },
      },
      ...options.config?.target,
    },
  });
  const dynamo: LocalDynamo = await startDynamo({ table: 'locks', region: 'us-east-1' });
  const eventsFile = path.join(mkdtempSync(path.join(tmpdir(), 'rollgate-sm-')), 'events.jsonl');
  const eventBridge = await startEventBridge({ file: eventsFile, port: 0 });
  // the callback states' tokens, answered by a real local SFN endpoint (as the local cloud does)
  const taskTokens = new TaskTokens();
  const sfn = await startSfn({ tokens: taskTokens });
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_EVENTBRIDGE: eventBridge.endpoint,
    AWS_ENDPOINT_URL_SFN: sfn.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    LOCK_TABLE: 'locks',
    ARTIFACTS_BUCKET: 'artifacts',
    ROLLGATE_CONFIG: JSON.stringify(config),
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    // as the local cloud sets it: the handlers' JSON logs stay out of the test output
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  const { LocalStateMachine } = await import('../../local/state-machine.ts');
  const machine: LocalStateMachine = await LocalStateMachine.load({
    aslFile: 'statemachines/deploy.asl.json',
    serverlessFile: 'serverless.yml',
  });

  /** Every Task state's input, from every execution this harness ran. */
  const recorded: RecordedState[] = [];
  const tasks = new Set(taskStates().map((t) => t.name));
  let n = 0;

  return {
    aws,
    dynamo,
    eventsFile,
    unhealthy,
    slow,
    hung,
    stalled,
    recorded,
    taskTokens,

    /** Runs one execution with no waits and no retry back-off (Wait states can be given a duration). */
    run(input: unknown, waits: Readonly<Record<string, number>> = {}): Promise<ExecutionResult> {
      n++;
      const name = `test-${n}`;
      const run: RunOptions = {
        name,
        waitOverridesMs: { WaitForRollout: 0, Settle: 0, WaitForRollback: 0, WaitForLock: 0, ...waits },
        retryOverridesMs: { CheckRollout: 0, Backup: 0, Rollback: 0, CheckImage: 0 },
        taskTokens,
        onStateEntered: (state, stateInput) => {
          if (tasks.has(state)) recorded.push({ state, input: structuredClone(stateInput), execution: name });
        },
      };
      return machine.run(input, run);
    },

    /** Empties the lock table, the events file and the fake AWS between tests. */
    async reset() {
      await clearTable(dynamo.endpoint, 'locks');
      await rm(eventsFile, { force: true });
      aws.reset();
      unhealthy.clear();
      slow.clear();
      hung.clear();
      stalled.clear();
    },

    /** Another execution holds the service's deploy lock for the next `seconds`. */
    async holdLock(execution: string, image: string, seconds = 600) {
      const client = new DynamoDBClient({
        endpoint: dynamo.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      });
      try {
        await client.send(
          new PutItemCommand({
            TableName: 'locks',
            Item: {
              pk: { S: 'service#demo/demo-app' },
              sk: { S: 'lock' },
              execution: { S: execution },
              image: { S: image },
              expiresAt: { N: String(Math.floor(Date.now() / 1000) + seconds) },
            },
          }),
        );
      } finally {
        client.destroy();
      }
    },

    /** The audit record an execution wrote. */
    auditOf(result: ExecutionResult): Record<string, unknown> {
      const key = [...aws.objects.keys()].find((k) => k.startsWith('audit/') && k.endsWith(`/${result.name}.json`));
      if (!key) throw new Error(`no audit record for ${result.name}`);
      return JSON.parse(aws.objects.get(key) ?? '{}');
    },

    async close() {
      await dynamo.close();
      await eventBridge.close();
      await sfn.close(true);
      aws.ecsMock.restore();
      aws.s3Mock.restore();
      aws.ecrMock.restore();
      health.closeAllConnections();
      await new Promise((resolve) => health.close(resolve));
      await rm(path.dirname(eventsFile), { recursive: true, force: true });
    },
  };
}

export type Harness = Awaited<ReturnType<typeof startHarness>>;

/** The summary an execution ended with (`$.summary`). */
export function summaryOf(result: ExecutionResult): Record<string, unknown> {
  return (result.output as { summary: Record<string, unknown> }).summary;
}

export const lockPath = [
  'Start',
  'Normalize',
  'ShouldDeploy',
  'CheckImage',
  'InitLock',
  'AcquireLock',
  'LockDecision',
  'Inspect',
  'AlreadyDeployed',
];
export const deployPath = [
  ...lockPath,
  'Backup',
  'Register',
  'Deploy',
  'WaitForRollout',
  'CheckRollout',
  'RolloutDone',
];
export const rollbackPath = [
  'Rollback',
  'WaitForRollback',
  'CheckRollback',
  'RollbackDone',
  'ProbeRollback',
  'RecordRolledBack',
  'NotifyRolledBack',
  'RolledBack',
];
