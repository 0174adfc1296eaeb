import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ExecutionResult, LocalStateMachine as Machine } from '../../local/state-machine.ts';
import { ecrEvent, testConfig } from '../helpers.ts';
import { NEW_TD, OLD_TD } from '../unit/aws-fixtures.ts';
import { fakeAws } from './fake-aws.ts';

/**
 * The deploy state machine run as a program: the real ASL file and the real handlers in aws-local-stepfunctions,
 * with ECS and S3 behind aws-sdk-client-mock and a real HTTP health endpoint.
 */

const aws = fakeAws();
let machine: Machine;
let health: Server;
/** Task definitions whose health endpoint answers 500. */
const unhealthy = new Set<string>();

const noWaits = {
  WaitForRollout: 0,
  Settle: 0,
  WaitForRollback: 0,
};

beforeAll(async () => {
  health = createServer((_req, res) => {
    res.writeHead(unhealthy.has(aws.current() ?? '') ? 500 : 200).end();
  });
  await new Promise<void>((resolve) => health.listen(0, '127.0.0.1', resolve));
  const port = (health.address() as AddressInfo).port;
  const config = testConfig({
    health: { url: `http://127.0.0.1:${port}/health`, deadlineSeconds: 1, intervalSeconds: 0.1 },
  });
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
  aws.ecsMock.restore();
  aws.s3Mock.restore();
  health.closeAllConnections();
  await new Promise((resolve) => health.close(resolve));
});

beforeEach(() => {
  aws.reset();
  unhealthy.clear();
});

let n = 0;
function run(input: unknown): Promise<ExecutionResult> {
  n++;
  return machine.run(input, {
    name: `test-${n}`,
    waitOverridesMs: noWaits,
    retryOverridesMs: { CheckRollout: 0, Backup: 0, Rollback: 0 },
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

const deployPath = [
  'Start',
  'Normalize',
  'ShouldDeploy',
  'Backup',
  'Register',
  'Deploy',
  'WaitForRollout',
  'CheckRollout',
  'RolloutDone',
];
const rollbackPath = [
  'Rollback',
  'WaitForRollback',
  'CheckRollback',
  'RollbackDone',
  'ProbeRollback',
  'RecordRolledBack',
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
    expect(result.statesEntered.slice(-3)).toEqual(['Rollback', 'RecordRollbackFailed', 'RollbackFailed']);
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
    expect(result.statesEntered.slice(-3)).toEqual(['ProbeRollback', 'RecordRollbackFailed', 'RollbackFailed']);
  });

  it('rolls back on an unexpected error after the deploy began, with the cause recorded', async () => {
    aws.behaviour.describeErrors = [Object.assign(new Error('Unexpected token < in JSON'), { name: 'SyntaxError' })];
    const result = await run(ecrEvent('push'));
    expect(result.error).toBe('DeploymentRolledBack');
    expect(result.statesEntered).toEqual([...deployPath.slice(0, -1), ...rollbackPath]);
    expect(result.cause).toBe(
      'SyntaxError: Unexpected token < in JSON; rolled back to demo-app:v1',
    );
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

  it('never deploys when the backup cannot be written', async () => {
    aws.behaviour.backupWriteFails = true;
    const result = await run(ecrEvent('push'));
    expect(result.error).toBe('BackupFailedError');
    expect(result.statesEntered).toEqual(['Start', 'Normalize', 'ShouldDeploy', 'Backup', 'RecordFailed', 'Failed']);
    expect(result.cause).toContain('(nothing was changed)');
    expect(aws.updateServiceCalls()).toEqual([]);
    expect(aws.registered()).toEqual([]);
  });
});
