import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { EventPublishFailedError, InvalidInputError } from '../../src/core/errors.ts';
import { executionConsoleUrl, type NotifyInput, publishRollbackEvent, rollbackEvent } from '../../src/core/notify.ts';

const ebMock = mockClient(EventBridgeClient);
const eventBridge = new EventBridgeClient({ region: 'eu-west-1' });
const time = new Date('2026-11-22T10:00:03.000Z');
const now = () => time;

const ARN =
  'arn:aws:states:eu-west-1:123456789012:execution:rollgate-deploy:demo-app-v3-unhealthy-20261122T100000Z-ab12';
const REGISTRY = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const DIGEST = 'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';

/** The execution state parts a Notify state passes after RecordRolledBack (shapes as Record and Backup return them). */
function rolledBack(): NotifyInput {
  return {
    summary: {
      executionName: 'demo-app-v3-unhealthy-20261122T100000Z-ab12',
      outcome: 'ROLLED_BACK',
      error: 'HealthCheckFailedError',
      reason: 'health check failed: /health answered 500 3 times in a row; rolled back to demo-app:v2',
      image: 'demo-app:v3-unhealthy (sha256:9f86d081884c)',
      target: 'demo-app',
      auditKey: 'audit/dt=2026-11-22/demo-app-v3-unhealthy-20261122T100000Z-ab12.json',
      report: 'reports/demo/demo-app/demo-app-v3-unhealthy-20261122T100000Z-ab12/report.json',
    },
    execution: { id: ARN, name: 'demo-app-v3-unhealthy-20261122T100000Z-ab12', startedAt: '2026-11-22T10:00:00.000Z' },
    target: { name: 'demo-app', cluster: 'demo', service: 'demo-app' },
    backup: {
      image: `${REGISTRY}/demo-app:v2`,
      key: 'backups/demo/demo-app/demo-app-v3-unhealthy-20261122T100000Z-ab12.json',
    },
    release: { image: `${REGISTRY}/demo-app@${DIGEST}` },
  };
}

function rollbackFailed(): NotifyInput {
  const input = rolledBack();
  return {
    ...input,
    summary: {
      ...input.summary,
      outcome: 'FAILED',
      error: 'RollbackFailed',
      reason: 'rollback failed: rollout failed: tasks failed to start; original failure: health check failed: 500',
    },
  };
}

function detailOf(input: NotifyInput): Record<string, unknown> {
  return JSON.parse(rollbackEvent(input, { busName: 'default', time }).Detail ?? '') as Record<string, unknown>;
}

beforeEach(() => {
  ebMock.reset();
});

describe('rollbackEvent', () => {
  it('builds a "Deployment Rolled Back" entry from a ROLLED_BACK summary', () => {
    const entry = rollbackEvent(rolledBack(), { busName: 'rollgate-events', time });
    expect(entry).toMatchObject({
      Source: 'rollgate',
      DetailType: 'Deployment Rolled Back',
      EventBusName: 'rollgate-events',
      Resources: [ARN],
      Time: time,
    });
    expect(JSON.parse(entry.Detail ?? '')).toEqual({
      schema: 'rollgate.event.v1',
      outcome: 'ROLLED_BACK',
      service: 'demo/demo-app',
      cluster: 'demo',
      serviceName: 'demo-app',
      target: 'demo-app',
      failedImage: `${REGISTRY}/demo-app@${DIGEST}`,
      previousImage: `${REGISTRY}/demo-app:v2`,
      reason: 'health check failed: /health answered 500 3 times in a row; rolled back to demo-app:v2',
      error: 'HealthCheckFailedError',
      reportKey: 'reports/demo/demo-app/demo-app-v3-unhealthy-20261122T100000Z-ab12/report.json',
      auditKey: 'audit/dt=2026-11-22/demo-app-v3-unhealthy-20261122T100000Z-ab12.json',
      backupKey: 'backups/demo/demo-app/demo-app-v3-unhealthy-20261122T100000Z-ab12.json',
      executionName: 'demo-app-v3-unhealthy-20261122T100000Z-ab12',
      executionArn: ARN,
      startedAt: '2026-11-22T10:00:00.000Z',
      consoleUrl: `https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${ARN}`,
    });
  });

  it('builds a "Rollback Failed" entry from a FAILED summary whose error is RollbackFailed', () => {
    const entry = rollbackEvent(rollbackFailed(), { busName: 'default', time });
    expect(entry.DetailType).toBe('Rollback Failed');
    expect(JSON.parse(entry.Detail ?? '')).toMatchObject({
      outcome: 'FAILED',
      error: 'RollbackFailed',
      service: 'demo/demo-app',
      failedImage: `${REGISTRY}/demo-app@${DIGEST}`,
      previousImage: `${REGISTRY}/demo-app:v2`,
      reason: expect.stringMatching(/^rollback failed: /),
      consoleUrl: expect.stringContaining('#/v2/executions/details/arn:aws:states:eu-west-1:'),
    });
  });

  it('works from an *Unrecorded summary (outcome and reason only): the name comes from the execution', () => {
    const input = {
      ...rolledBack(),
      summary: { outcome: 'ROLLED_BACK' as const, reason: 'x (audit record not written)' },
    };
    const detail = detailOf(input);
    expect(detail.executionName).toBe('demo-app-v3-unhealthy-20261122T100000Z-ab12');
    expect(detail).not.toHaveProperty('auditKey');
    expect(detail).not.toHaveProperty('error');
    expect(detail.backupKey).toMatch(/^backups\//);
  });

  it.each([
    ['DEPLOYED', undefined],
    ['IGNORED', undefined],
    ['FAILED', 'HealthCheckFailedError'],
    ['FAILED', undefined],
  ] as const)('refuses an execution that ended %s (%s): no rollback, no event', (outcome, error) => {
    const input = { ...rolledBack(), summary: { ...rolledBack().summary, outcome, ...(error ? { error } : {}) } };
    if (!error) delete (input.summary as { error?: string }).error;
    expect(() => rollbackEvent(input, { busName: 'default', time })).toThrow(InvalidInputError);
    expect(() => rollbackEvent(input, { busName: 'default', time })).toThrow(/no rollback event .* ended/);
  });

  it('keeps the entry far under the 256 KB PutEvents limit whatever the reason', () => {
    const input = rolledBack();
    const huge = { ...input, summary: { ...input.summary, reason: `"\u0001${'x'.repeat(1_000_000)}` } };
    const entry = rollbackEvent(huge, { busName: 'default', time });
    expect(Buffer.byteLength(entry.Detail ?? '')).toBeLessThan(32 * 1024);
    expect((JSON.parse(entry.Detail ?? '') as { reason: string }).reason).toHaveLength(4096);
  });
});

describe('executionConsoleUrl', () => {
  it.each([
    [
      'arn:aws-cn:states:cn-north-1:123456789012:execution:sm:run-1',
      'https://cn-north-1.console.amazonaws.cn/states/home?region=cn-north-1#/v2/executions/details/arn:aws-cn:states:cn-north-1:123456789012:execution:sm:run-1',
    ],
    [
      'arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:sm:run-1',
      'https://us-gov-west-1.console.amazonaws-us-gov.com/states/home?region=us-gov-west-1#/v2/executions/details/arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:sm:run-1',
    ],
    ['unknown', undefined],
    ['arn:aws:states:eu-west-1:123456789012:stateMachine:sm', undefined],
  ])('%s -> %s', (arn, url) => {
    expect(executionConsoleUrl(arn)).toBe(url);
  });
});

describe('publishRollbackEvent', () => {
  it('sends one PutEvents entry and returns its event id', async () => {
    ebMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
    const out = await publishRollbackEvent({ ...rolledBack(), eventBridge, busName: 'default', now });
    expect(out).toEqual({ eventId: 'e-1', detailType: 'Deployment Rolled Back', busName: 'default' });
    const calls = ebMock.commandCalls(PutEventsCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input.Entries).toEqual([rollbackEvent(rolledBack(), { busName: 'default', time })]);
  });

  it('throws EventPublishFailedError when EventBridge rejects the entry (FailedEntryCount > 0)', async () => {
    ebMock.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'NotAuthorizedForSourceException', ErrorMessage: 'Not authorized for the source.' }],
    });
    const sent = publishRollbackEvent({ ...rollbackFailed(), eventBridge, busName: 'ops', now });
    await expect(sent).rejects.toThrow(EventPublishFailedError);
    await expect(sent).rejects.toMatchObject({
      name: 'EventPublishFailedError',
      message: expect.stringContaining('"Rollback Failed" event on bus ops: NotAuthorizedForSourceException'),
    });
  });

  it('lets SDK errors through unchanged for the ASL Retry', async () => {
    ebMock
      .on(PutEventsCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $fault: 'client' }));
    await expect(publishRollbackEvent({ ...rolledBack(), eventBridge, busName: 'default', now })).rejects.toMatchObject(
      {
        name: 'ThrottlingException',
      },
    );
  });

  it('refuses a DEPLOYED summary before calling EventBridge', async () => {
    const input = { ...rolledBack(), summary: { ...rolledBack().summary, outcome: 'DEPLOYED' as const } };
    await expect(publishRollbackEvent({ ...input, eventBridge, busName: 'default', now })).rejects.toThrow(
      InvalidInputError,
    );
    expect(ebMock.commandCalls(PutEventsCommand)).toHaveLength(0);
  });
});
