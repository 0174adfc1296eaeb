import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeImagesCommand } from '@aws-sdk/client-ecr';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type LocalDynamo, startDynamo } from '../../local/dynamodb.ts';
import { readEvents, startEventBridge } from '../../local/eventbridge.ts';
import type { ExecutionResult, LocalStateMachine as Machine } from '../../local/state-machine.ts';
import { ecrEvent, IMAGE_NOT_FOUND_PATH, testConfig } from '../helpers.ts';
import { mutated } from '../property/arbitraries.ts';
import { NEW_TD, OLD_TD } from '../unit/aws-fixtures.ts';
import { clearTable, fakeAws, PUSHED_DIGEST } from './fake-aws.ts';

/**
 * The deploy state machine run as a program: the real ASL file and the real handlers in aws-local-stepfunctions,
 * with ECS and S3 behind aws-sdk-client-mock and a real HTTP health endpoint.
 */

const aws = fakeAws();
let machine: Machine;
let health: Server;
/** The lock table is a real DynamoDB-compatible server (dynalite); ECS and S3 are mocked. */
let dynamo: LocalDynamo;
/** Rollback events go to a real local EventBridge endpoint, which appends them to this file. */
let eventBridge: Awaited<ReturnType<typeof startEventBridge>>;
let eventsFile: string;
/** Task definitions whose health endpoint answers 500. */
const unhealthy = new Set<string>();
/** Task definitions that answer `/` 300 ms late. */
const slow = new Set<string>();
/** Task definitions that never answer `/` (every load-test request times out). */
const hung = new Set<string>();
/** Task definitions that answer `/` 1 s late: more connections than the load test may open (generator-limited). */
const stalled = new Set<string>();

const noWaits = {
  WaitForRollout: 0,
  Settle: 0,
  WaitForRollback: 0,
};

beforeAll(async () => {
  health = createServer((req, res) => {
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
    },
  });
  dynamo = await startDynamo({ table: 'locks', region: 'us-east-1' });
  eventsFile = path.join(mkdtempSync(path.join(tmpdir(), 'rollgate-sm-')), 'events.jsonl');
  eventBridge = await startEventBridge({ file: eventsFile, port: 0 });
  process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = eventBridge.endpoint;
  process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamo.endpoint;
  process.env.LOCK_TABLE = 'locks';
  process.env.ARTIFACTS_BUCKET = 'artifacts';
  process.env.ROLLGATE_CONFIG = JSON.stringify(config);
  process.env.AWS_REGION = 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID = 'test';
  process.env.AWS_SECRET_ACCESS_KEY = 'test';
  const { LocalStateMachine } = await import('../../local/state-machine.ts');
  machine = await LocalStateMachine.load({
    aslFile: 'statemachines/deploy.asl.json',
    serverlessFile: 'serverless.yml',
  });
});

afterAll(async () => {
  await dynamo?.close();
  await eventBridge?.close();
  aws.ecsMock.restore();
  aws.s3Mock.restore();
  aws.ecrMock.restore();
  health.closeAllConnections();
  await new Promise((resolve) => health.close(resolve));
});

beforeEach(async () => {
  await clearTable(dynamo.endpoint, 'locks');
  await rm(eventsFile, { force: true });
  aws.reset();
  unhealthy.clear();
  slow.clear();
  hung.clear();
  stalled.clear();
});

/** Runs of the random-input property below (the report quotes it). */
const PROPERTY_RUNS = 60;

let n = 0;
function run(input: unknown): Promise<ExecutionResult> {
  n++;
  return machine.run(input, {
    name: `test-${n}`,
    waitOverridesMs: noWaits,
    retryOverridesMs: { CheckRollout: 0, Backup: 0, Rollback: 0, CheckImage: 0 },
  });
}

function summaryOf(result: ExecutionResult): Record<string, unknown> {
  return (result.output as { summary: Record<string, unknown> }).summary;
}

/** The audit record the execution wrote. */
function auditOf(result: ExecutionResult): Record<string, unknown> {
  const key = [...aws.objects.keys()].find((k) => k.startsWith('audit/') && k.endsWith(`/${result.name}.json`));
  if (!key) throw new Error(`no audit record for ${result.name}`);
  return JSON.parse(aws.objects.get(key) ?? '{}');
}

const lockPath = [
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
const deployPath = [...lockPath, 'Backup', 'Register', 'Deploy', 'WaitForRollout', 'CheckRollout', 'RolloutDone'];
const rollbackPath = [
  'Rollback',
  'WaitForRollback',
  'CheckRollback',
  'RollbackDone',
  'ProbeRollback',
  'RecordRolledBack',
  'NotifyRolledBack',
  'RolledBack',
];

describe('deploy state machine', () => {
  it('deploys a good push: backup, register, deploy, wait, probe, record', async () => {
    aws.behaviour.checksToSettle = 2;
    const result = await run(ecrEvent('push'));
    expect(result.status).toBe('SUCCEEDED');
    expect(result.statesEntered).toEqual([
      ...deployPath,
      'WaitForRollout',
      'CheckRollout',
      'RolloutDone',
      'Settle',
      'ProbeHealth',
      'LoadTestWanted',
      'RecordDeployed',
      'Deployed',
    ]);
    expect(summaryOf(result)).toMatchObject({
      outcome: 'DEPLOYED',
      image: 'demo-app:v2 (sha256:7f5b2640fe6f)',
      target: 'demo-app',
    });
    expect(aws.current()).toBe(NEW_TD);
    expect(aws.updateServiceCalls()).toEqual([NEW_TD]);
    expect(aws.registered()[0]?.containerDefinitions?.[0]?.image).toBe(
      '123456789012.dkr.ecr.us-west-2.amazonaws.com/demo-app@sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd12345678',
    );
    expect(aws.objects.has(`backups/demo/demo-app/${result.name}.json`)).toBe(true);
    expect(auditOf(result)).toMatchObject({
      outcome: 'DEPLOYED',
      previousTaskDefinitionArn: OLD_TD,
      newTaskDefinitionArn: NEW_TD,
      trigger: { type: 'push' },
    });
  });

  it.each([
    [
      'an unknown repository',
      { ...ecrEvent('push'), detail: { ...ecrEvent('push').detail, 'repository-name': 'nope' } },
      'no target for repository nope',
    ],
    ['a tag outside the filters', { repository: 'demo-app', tag: 'latest' }, 'tag latest matches no target'],
    ['a failed push', ecrEvent('push-failed'), 'the push did not succeed'],
  ])('ignores %s, touching nothing, and records why', async (_what, input, reason) => {
    const result = await run(input);
    expect(result.status).toBe('SUCCEEDED');
    expect(result.statesEntered).toEqual(['Start', 'Normalize', 'ShouldDeploy', 'RecordIgnored', 'Ignored']);
    expect(summaryOf(result)).toMatchObject({ outcome: 'IGNORED', reason: expect.stringContaining(reason) });
    expect(aws.ecsMock.calls()).toHaveLength(0);
    expect(auditOf(result)).toMatchObject({ outcome: 'IGNORED' });
  });

  it('rolls back when ECS reports the rollout FAILED', async () => {
    aws.behaviour.newRollout = 'FAILED';
    const result = await run(ecrEvent('push'));
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('DeploymentRolledBack');
    expect(result.cause).toMatch(/^rollout failed: ECS reports the rollout FAILED: ECS deployment circuit breaker/);
    expect(result.statesEntered).toEqual([...deployPath, 'RolloutFailed', ...rollbackPath]);
    expect(aws.updateServiceCalls()).toEqual([NEW_TD, OLD_TD]);
    expect(aws.current()).toBe(OLD_TD);
    expect(auditOf(result)).toMatchObject({ outcome: 'ROLLED_BACK', error: 'RolloutFailed' });
  });

  it('follows the rollback ECS started itself instead of starting another', async () => {
    aws.behaviour.newRollout = 'ECS_ROLLBACK';
    const result = await run(ecrEvent('push'));
    expect(result.error).toBe('DeploymentRolledBack');
    expect(result.cause).toContain('circuit breaker: rolling back to deploymentId ecs-svc/1');
    expect(aws.updateServiceCalls()).toEqual([NEW_TD]);
    expect(aws.current()).toBe(OLD_TD);
  });

  it('rolls back when the health check fails, and probes the restored version', async () => {
    unhealthy.add(NEW_TD);
    const result = await run({ repository: 'demo-app', tag: 'v3', reason: 'manual test' });
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('DeploymentRolledBack');
    expect(result.statesEntered).toEqual([...deployPath, 'Settle', 'ProbeHealth', ...rollbackPath]);
    expect(result.cause).toMatch(/^health check failed: http:\/\/127\.0\.0\.1:\d+\/health was not healthy within 1 s/);
    expect(aws.current()).toBe(OLD_TD);
    const events = await readEvents(eventsFile);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      source: 'rollgate',
      'detail-type': 'Deployment Rolled Back',
      detail: { service: 'demo/demo-app', error: 'HealthCheckFailedError', executionName: result.name },
    });
    expect(auditOf(result)).toMatchObject({
      outcome: 'ROLLED_BACK',
      error: 'HealthCheckFailedError',
      trigger: { type: 'manual', reason: 'manual test' },
    });
  });

  it('ends in RollbackFailed when the rollback itself fails', async () => {
    unhealthy.add(NEW_TD);
    aws.behaviour.rollbackRejects = true;
    const result = await run(ecrEvent('push'));
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('RollbackFailed');
    expect(result.statesEntered.slice(-4)).toEqual([
      'Rollback',
      'RecordRollbackFailed',
      'NotifyRollbackFailed',
      'RollbackFailed',
    ]);
    const [event] = await readEvents(eventsFile);
    expect(event).toMatchObject({
      source: 'rollgate',
      'detail-type': 'Rollback Failed',
      detail: { service: 'demo/demo-app', error: 'RollbackFailed', executionName: result.name },
    });
    expect(result.cause).toMatch(
      /^rollback failed: AccessDeniedException: User is not authorized.*original failure: health check failed/,
    );
    expect(auditOf(result)).toMatchObject({ outcome: 'FAILED', error: 'RollbackFailed' });
  });

  it('ends in RollbackFailed when the restored version is not healthy either', async () => {
    unhealthy.add(NEW_TD);
    unhealthy.add(OLD_TD);
    const result = await run(ecrEvent('push'));
    expect(result.error).toBe('RollbackFailed');
    expect(result.statesEntered.slice(-4)).toEqual([
      'ProbeRollback',
      'RecordRollbackFailed',
      'NotifyRollbackFailed',
      'RollbackFailed',
    ]);
  });

  it('rolls back on an unexpected error after the deploy began, with the cause recorded', async () => {
    aws.behaviour.describeErrors = [Object.assign(new Error('Unexpected token < in JSON'), { name: 'SyntaxError' })];
    const result = await run(ecrEvent('push'));
    expect(result.error).toBe('DeploymentRolledBack');
    expect(result.statesEntered).toEqual([...deployPath.slice(0, -1), ...rollbackPath]);
    expect(result.cause).toBe('SyntaxError: Unexpected token < in JSON; rolled back to demo-app:v1');
    expect(auditOf(result)).toMatchObject({ outcome: 'ROLLED_BACK', error: 'SyntaxError' });
  });

  it('retries a throttled ECS call in the ASL and still deploys', async () => {
    aws.behaviour.describeErrors = [Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' })];
    const result = await run(ecrEvent('push'));
    expect(result.status).toBe('SUCCEEDED');
    expect(result.events.filter((e) => e.type === 'StateRetried').map((e) => e.state)).toEqual(['CheckRollout']);
  });

  it('fails fast on malformed input with a named error, deploying nothing', async () => {
    const result = await run({ repository: 'demo-app' });
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('InvalidInputError');
    expect(result.cause).toContain('expected a "tag" or a "digest"');
    expect(result.statesEntered).toEqual(['Start', 'Normalize', 'RecordFailed', 'Failed']);
    expect(aws.ecsMock.calls()).toHaveLength(0);
    expect(auditOf(result)).toMatchObject({ outcome: 'FAILED', error: 'InvalidInputError' });
  });

  describe('CheckImage: never deploys an image that is not in ECR', () => {
    const neverPushed = `sha256:${'deadbeef'.repeat(8)}`;

    /** FAILED at CheckImage: no lock taken, no ECS call, no backup, the reason recorded. */
    function expectNothingTouched(result: ExecutionResult, cause: RegExp) {
      expect(result.status).toBe('FAILED');
      expect(result.error).toBe('ImageNotFoundError');
      expect(result.cause).toMatch(cause);
      expect(result.statesEntered).toEqual(IMAGE_NOT_FOUND_PATH);
      expect(aws.ecsMock.calls()).toHaveLength(0);
      expect([...aws.objects.keys()].filter((k) => !k.startsWith('audit/'))).toEqual([]);
      expect(auditOf(result)).toMatchObject({ outcome: 'FAILED', error: 'ImageNotFoundError' });
    }

    it('fails a manual digest that was never pushed, touching nothing', async () => {
      const result = await run({ repository: 'demo-app', digest: neverPushed });
      expectNothingTouched(result, /ECR has no image with digest sha256:deadbeefdead in repository demo-app/);
    });

    it('fails a tag and a digest that name different images, saying where the tag points', async () => {
      const result = await run({ repository: 'demo-app', tag: 'v3', digest: PUSHED_DIGEST });
      expectNothingTouched(
        result,
        /^ImageNotFoundError: demo-app: tag v3 points at sha256:333333333333, not at sha256:7f5b2640fe6f \(the input's digest\)/,
      );
    });

    it('fails a tag that is not in ECR', async () => {
      const result = await run({ repository: 'demo-app', tag: 'v9' });
      expectNothingTouched(result, /ECR has no image with tag v9 in repository demo-app/);
    });

    it('fails a push whose digest ECR no longer has (deleted since), touching nothing', async () => {
      aws.images.splice(0);
      const result = await run(ecrEvent('push'));
      expectNothingTouched(result, /ECR has no image with digest sha256:7f5b2640fe6f/);
    });

    it('looks the image up by digest (or the tag, without one) and keeps what ECR said in the state', async () => {
      const result = await run(ecrEvent('push'));
      expect(result.status).toBe('SUCCEEDED');
      const calls = aws.ecrMock.commandCalls(DescribeImagesCommand).map((c) => c.args[0].input);
      expect(calls).toEqual([{ repositoryName: 'demo-app', imageIds: [{ imageDigest: PUSHED_DIGEST }] }]);
      expect((result.output as { imageCheck: unknown }).imageCheck).toMatchObject({
        digest: PUSHED_DIGEST,
        tags: ['v2'],
        pushedAt: '2026-11-20T10:00:00.000Z',
      });
    });

    it('retries a throttled DescribeImages in the ASL', async () => {
      aws.ecrMock
        .on(DescribeImagesCommand)
        .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))
        .resolves({ imageDetails: [{ imageDigest: PUSHED_DIGEST, imageTags: ['v2'] }] });
      const result = await run(ecrEvent('push'));
      expect(result.status).toBe('SUCCEEDED');
      expect(result.events.filter((e) => e.type === 'StateRetried').map((e) => e.state)).toEqual(['CheckImage']);
    });
  });

  it(`never registers or deploys an image from an input ECR would refuse or does not have (${PROPERTY_RUNS} random inputs)`, async () => {
    let ran = 0;
    let deployed = 0;
    await fc.assert(
      fc.asyncProperty(
        // the valid push as it is, now and then, so that the deploy path is exercised too
        fc.oneof(
          mutated(ecrEvent('push')),
          mutated({ repository: 'demo-app', tag: 'v3' }),
          fc.constant(ecrEvent('push')),
        ),
        async (input) => {
          aws.reset();
          await clearTable(dynamo.endpoint, 'locks');
          ran++;
          const result = await run(input);
          const registered = aws.registered().map((t) => t.containerDefinitions?.[0]?.image ?? '');
          if (registered.length === 0) {
            expect(aws.updateServiceCalls()).toEqual([]);
            return;
          }
          deployed++;
          // something was deployed: the input was valid and ECR had the very image that was registered
          expect(result.statesEntered).toContain('CheckImage');
          const known = aws.images.flatMap((i) => [`@${i.digest}`, ...i.tags.map((t) => `:${t}`)]);
          for (const image of registered) {
            expect(
              known.some((k) => image.endsWith(k)),
              image,
            ).toBe(true);
          }
        },
      ),
      { numRuns: PROPERTY_RUNS },
    );
    expect(ran).toBeGreaterThanOrEqual(PROPERTY_RUNS);
    expect(deployed).toBeGreaterThan(0);
  }, 120_000);

  it('never deploys when the backup cannot be written', async () => {
    aws.behaviour.backupWriteFails = true;
    const result = await run(ecrEvent('push'));
    expect(result.error).toBe('BackupFailedError');
    expect(result.statesEntered).toEqual([...lockPath, 'Backup', 'RecordFailed', 'Failed']);
    expect(result.cause).toContain('(nothing was changed)');
    expect(aws.updateServiceCalls()).toEqual([]);
    expect(aws.registered()).toEqual([]);
  });

  it('load tests a matching tag after the health check and deploys when the SLOs hold, with the report in S3', async () => {
    const result = await run({ repository: 'demo-app', tag: 'v4' });
    expect(result.status).toBe('SUCCEEDED');
    expect(result.statesEntered.slice(-11)).toEqual([
      'ProbeHealth',
      'LoadTestWanted',
      'PlanLoad',
      'GenerateLoad',
      'GenerateGroup',
      'Generate',
      'Generate',
      'AggregateLoad',
      'LoadPassed',
      'RecordDeployed',
      'Deployed',
    ]);
    const summary = summaryOf(result);
    expect(summary).toMatchObject({ outcome: 'DEPLOYED', reason: expect.stringContaining('load test met its SLOs') });
    const reportKey = `reports/demo/demo-app/${result.name}/report.json`;
    expect(summary.report).toBe(reportKey);
    const report = JSON.parse(aws.objects.get(reportKey) ?? '{}');
    expect(report).toMatchObject({ schema: 'rollgate.loadtest.v1', workers: 2, slo: { passed: true } });
    expect(report.requests.total).toBeGreaterThanOrEqual(30);
    expect(aws.objects.get(`reports/demo/demo-app/${result.name}/report.html`)).toContain('<html');
    expect(auditOf(result)).toMatchObject({
      reportKey,
      reportHtmlKey: `reports/demo/demo-app/${result.name}/report.html`,
    });
  });

  it('rolls back when the load test violates the SLOs, with the violations as the cause', async () => {
    slow.add(NEW_TD);
    const result = await run({ repository: 'demo-app', tag: 'v4-slow' });
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('DeploymentRolledBack');
    expect(result.statesEntered).toContain('SloViolated');
    expect(result.statesEntered.slice(-rollbackPath.length)).toEqual(rollbackPath);
    // 4 connections at 300 ms each cannot carry 40 req/s: the open model reports the queueing too (p95 >= 300 ms)
    expect(result.cause).toMatch(/^SLO gate failed: p95 latency \d{3,}(\.\d)? ms exceeds 100 ms/);
    expect(aws.current()).toBe(OLD_TD);
    expect(auditOf(result)).toMatchObject({
      outcome: 'ROLLED_BACK',
      error: 'SloViolatedError',
      reportKey: expect.stringContaining('report.json'),
    });
  });

  it('rolls back a version that answers no load-test request, with a latency-only SLO', async () => {
    hung.add(NEW_TD);
    const result = await run({ repository: 'demo-app', tag: 'v4-hung' });
    expect(result.error).toBe('DeploymentRolledBack');
    expect(result.statesEntered).toContain('SloViolated');
    expect(result.cause).toMatch(/^SLO gate failed: no request was answered \(\d+ failed\)/);
    expect(aws.current()).toBe(OLD_TD);
  });

  it('rolls back on an inconclusive load test (the default), saying the generator could not keep up', async () => {
    stalled.add(NEW_TD);
    const result = await run({ repository: 'demo-app', tag: 'v4-stalled' });
    expect(result.error).toBe('DeploymentRolledBack');
    expect(result.statesEntered).toContain('LoadInconclusive');
    expect(result.statesEntered).not.toContain('SloViolated');
    expect(result.cause).toMatch(
      /^SLO gate inconclusive: the load generator could not keep up \(all 24 connections it may open were busy/,
    );
    expect(aws.current()).toBe(OLD_TD);
    expect(auditOf(result)).toMatchObject({ outcome: 'ROLLED_BACK', error: 'LoadTestInconclusiveError' });
  });

  it('does not touch a service whose lock another execution holds by the time it deploys (a redrive resuming late)', async () => {
    aws.behaviour.onRegister = async () => {
      // the lock expired and another execution took it while this one was between AcquireLock and Deploy
      const client = new DynamoDBClient({
        endpoint: dynamo.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      });
      await client.send(
        new PutItemCommand({
          TableName: 'locks',
          Item: {
            pk: { S: 'service#demo/demo-app' },
            sk: { S: 'lock' },
            execution: { S: 'intruder' },
            image: { S: 'demo-app:v9' },
            expiresAt: { N: String(Math.floor(Date.now() / 1000) + 600) },
          },
        }),
      );
      client.destroy();
    };
    const result = await run(ecrEvent('push'));
    expect(result.error).toBe('LockLostError');
    expect(result.statesEntered.slice(-4)).toEqual(['Register', 'Deploy', 'RecordFailed', 'Failed']);
    expect(result.cause).toContain('is locked by execution intruder (demo-app:v9)');
    expect(aws.updateServiceCalls()).toEqual([]);
  });
});
