import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  EventBridgeClient,
  ListRulesCommand,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatEvent, type LocalEventBridge, readEvents, startEventBridge } from '../../local/eventbridge.ts';
import { publishRollbackEvent } from '../../src/core/notify.ts';
import { tempDir } from './support.ts';

let tmp: ReturnType<typeof tempDir>;
let file: string;
let eb: LocalEventBridge | undefined;
let client: EventBridgeClient;

function clientFor(endpoint: string): EventBridgeClient {
  return new EventBridgeClient({
    endpoint,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
}

async function errorOf(promise: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { name: string; message: string };
  }
  throw new Error('expected the call to fail');
}

const entry = (n: number): PutEventsRequestEntry => ({
  Source: 'test.app',
  DetailType: 'Thing Happened',
  Detail: JSON.stringify({ n }),
});

beforeAll(async () => {
  tmp = tempDir();
  // a directory that does not exist yet: the endpoint creates it
  file = path.join(tmp.dir, '.rollgate', 'events.jsonl');
  eb = await startEventBridge({ file, port: 0 });
  client = clientFor(eb.endpoint);
});

afterAll(async () => {
  client?.destroy();
  await eb?.close();
  tmp?.remove();
});

describe('local EventBridge PutEvents', () => {
  it('accepts entries from the real SDK and appends them as delivered events, one JSON per line', async () => {
    const out = await client.send(
      new PutEventsCommand({
        Entries: [
          { ...entry(1), Time: new Date('2026-11-22T10:00:03.250Z'), Resources: ['arn:aws:states:eu-west-1:1:x'] },
          entry(2),
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(0);
    expect(out.Entries).toHaveLength(2);
    const events = await readEvents(file);
    expect(events).toHaveLength(2);
    expect(events.map((e) => e.id)).toEqual(out.Entries?.map((e) => e.EventId));
    expect(events[0]).toEqual({
      version: '0',
      id: out.Entries?.[0]?.EventId,
      'detail-type': 'Thing Happened',
      source: 'test.app',
      account: '000000000000',
      time: '2026-11-22T10:00:03Z',
      region: 'eu-west-1', // from the request's SigV4 credential scope
      resources: ['arn:aws:states:eu-west-1:1:x'],
      detail: { n: 1 },
    });
    expect(events[1]?.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(readFileSync(file, 'utf8').trimEnd().split('\n')).toHaveLength(2);
  });

  it('answers per-entry errors like EventBridge and appends only the accepted entries', async () => {
    const before = (await readEvents(file)).length;
    const { DetailType: _omitted, ...noDetailType } = entry(3);
    const out = await client.send(
      new PutEventsCommand({
        Entries: [
          noDetailType,
          { ...entry(4), Detail: '{"n": 4' },
          { ...entry(5), Detail: '[5]' },
          entry(6),
          { ...entry(7), Source: undefined },
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(4);
    expect(out.Entries?.map((e) => e.ErrorCode ?? 'ok')).toEqual([
      'InvalidArgument',
      'MalformedDetail',
      'MalformedDetail',
      'ok',
      'InvalidArgument',
    ]);
    expect(out.Entries?.[0]?.ErrorMessage).toBe(
      'Parameter DetailType is not valid. Reason: DetailType is a required argument.',
    );
    expect(out.Entries?.[3]?.EventId).toEqual(expect.any(String));
    const events = await readEvents(file);
    expect(events).toHaveLength(before + 1);
    expect(events.at(-1)?.detail).toEqual({ n: 6 });
  });

  it.each([
    ['more than 10 entries', Array.from({ length: 11 }, (_, i) => entry(i)), /less than or equal to 10/],
    ['no entries', [], /greater than or equal to 1/],
    [
      'more than 256 KB in total',
      [{ ...entry(0), Detail: JSON.stringify({ s: 'x'.repeat(256 * 1024) }) }],
      /over the limit/,
    ],
  ])('rejects a request with %s as ValidationException', async (_, entries, message) => {
    const before = (await readEvents(file)).length;
    const error = await errorOf(client.send(new PutEventsCommand({ Entries: entries })));
    expect(error.name).toBe('ValidationException');
    expect(error.message).toMatch(message);
    expect(await readEvents(file)).toHaveLength(before);
  });

  it('answers an unknown operation with 400 UnknownOperationException', async () => {
    const error = await errorOf(client.send(new ListRulesCommand({})));
    expect(error.name).toBe('UnknownOperationException');
    const res = await fetch(eb?.endpoint ?? '', {
      method: 'POST',
      headers: { 'x-amz-target': 'AWSEvents.ListRules', 'content-type': 'application/x-amz-json-1.1' },
      body: '{}',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      __type: 'UnknownOperationException',
      message: 'The local EventBridge does not implement ListRules.',
    });
  });

  it('keeps the file across a restart and appends to it', async () => {
    const before = readFileSync(file, 'utf8');
    client.destroy();
    await eb?.close();
    eb = await startEventBridge({ file, port: 0 });
    client = clientFor(eb.endpoint);
    const out = await client.send(new PutEventsCommand({ Entries: [entry(8)] }));
    expect(out.FailedEntryCount).toBe(0);
    const after = readFileSync(file, 'utf8');
    expect(after.startsWith(before)).toBe(true);
    expect(after.slice(before.length).trimEnd().split('\n')).toHaveLength(1);
    expect((await readEvents(file)).at(-1)?.id).toBe(out.Entries?.[0]?.EventId);
  });
});

describe('rollback events through the local endpoint', () => {
  it('publishRollbackEvent lands in the file and formatEvent renders it on one line', async () => {
    const arn = 'arn:aws:states:eu-west-1:000000000000:execution:rollgate-deploy-local:demo-app-v3-unhealthy-x';
    const published = await publishRollbackEvent({
      eventBridge: client,
      busName: 'default',
      now: () => new Date('2026-11-22T10:00:03.000Z'),
      summary: {
        executionName: 'demo-app-v3-unhealthy-x',
        outcome: 'ROLLED_BACK',
        error: 'HealthCheckFailedError',
        reason: 'health check failed: /health answered 500\n3 times; rolled back to demo-app:v2',
        auditKey: 'audit/dt=2026-11-22/demo-app-v3-unhealthy-x.json',
      },
      execution: { id: arn, name: 'demo-app-v3-unhealthy-x', startedAt: '2026-11-22T10:00:00.000Z' },
      target: { name: 'demo-app', cluster: 'demo', service: 'demo-app' },
      backup: { image: 'demo-app:v2', key: 'backups/demo/demo-app/demo-app-v3-unhealthy-x.json' },
      release: { image: 'demo-app:v3-unhealthy' },
    });
    const event = (await readEvents(file)).at(-1);
    expect(event).toMatchObject({
      id: published.eventId,
      source: 'rollgate',
      'detail-type': 'Deployment Rolled Back',
      resources: [arn],
      detail: { service: 'demo/demo-app', consoleUrl: expect.stringContaining(arn) },
    });
    expect(event && formatEvent(event)).toBe(
      '2026-11-22 10:00:03  Deployment Rolled Back  demo/demo-app  demo-app:v3-unhealthy -> demo-app:v2  ' +
        'health check failed: /health answered 500 3 times; rolled back to demo-app:v2',
    );
  });

  it('formats events from other sources with their detail', () => {
    expect(
      formatEvent({
        version: '0',
        id: '1',
        'detail-type': 'Thing Happened',
        source: 'test.app',
        account: '000000000000',
        time: '2026-11-22T10:00:03Z',
        region: 'eu-west-1',
        resources: [],
        detail: { n: 1 },
      }),
    ).toBe('2026-11-22 10:00:03  Thing Happened  test.app  {"n":1}');
  });
});
