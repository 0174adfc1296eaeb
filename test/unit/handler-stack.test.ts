import type { Context } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { InvalidPayloadError } from '../../src/core/errors.ts';

/** The stack as a cold start builds it: the logger reads POWERTOOLS_LOG_LEVEL once, when its module loads. */
async function coldStart(level: string): Promise<typeof import('../../src/runtime/handler.ts')> {
  vi.resetModules();
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', level);
  const errors = await import('../../src/core/errors.ts');
  // the reloaded module must throw the very class the test imported
  expect(errors.InvalidPayloadError.name).toBe(InvalidPayloadError.name);
  return import('../../src/runtime/handler.ts');
}

const { lambda, logger } = await coldStart('INFO');

const context = {
  functionName: 'rollgate-test-backup',
  functionVersion: '$LATEST',
  awsRequestId: 'req-1',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:rollgate-test-backup',
  memoryLimitInMB: '1024',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

const log = { execution: 'exec-1', state: 'Backup' };

const doubler = lambda({ name: 'Doubler', schema: z.object({ n: z.number().int() }) }, ({ n }) => {
  logger.info('doubling', { n });
  return { doubled: n * 2 };
});

/** Every line the logger wrote to stdout and stderr during the test, parsed. */
let lines: Record<string, unknown>[];

beforeEach(() => {
  lines = [];
  const capture = (chunk: unknown) => {
    for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  vi.spyOn(process.stderr, 'write').mockImplementation(capture);
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe('lambda (the middy stack of every handler)', () => {
  it('gives the handler the parsed payload, without the log object', async () => {
    const seen: unknown[] = [];
    const echo = lambda({ name: 'Echo', schema: z.object({ a: z.string() }) }, (input) => {
      seen.push(input);
      return input;
    });
    await expect(echo({ log, a: 'x', extra: 1 }, context)).resolves.toEqual({ a: 'x' });
    expect(seen).toEqual([{ a: 'x' }]);
  });

  it('writes JSON lines that each name the execution, the state and the function', async () => {
    await expect(doubler({ log, n: 2 }, context)).resolves.toEqual({ doubled: 4 });
    expect(lines.map((l) => l.message)).toEqual(['doubling', 'succeeded']);
    for (const line of lines) {
      expect(line).toMatchObject({
        executionName: 'exec-1',
        stateName: 'Backup',
        function_name: 'rollgate-test-backup',
        function_request_id: 'req-1',
        service: 'rollgate',
      });
    }
    expect(lines[1]).toMatchObject({ level: 'INFO', durationMs: expect.any(Number) });
  });

  it("does not carry one invocation's keys into the next", async () => {
    await doubler({ log, n: 1 }, context);
    const other = lambda({ name: 'Other', schema: z.object({}), logKeys: () => ({}) }, () => 'ok');
    lines = [];
    await other({}, context);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toHaveProperty('executionName');
    expect(lines[0]).not.toHaveProperty('stateName');
  });

  it('fails a payload that does not match with InvalidPayloadError naming the field, and logs it', async () => {
    const err = await doubler({ log, n: 'two' }, context).catch((e: unknown) => e);
    expect((err as Error).name).toBe('InvalidPayloadError');
    expect((err as Error).message).toBe(
      'Doubler: the payload does not match its schema:\nn: got "two", expected number, received string',
    );
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'ERROR',
        message: 'failed',
        executionName: 'exec-1',
        stateName: 'Backup',
        error: expect.objectContaining({ name: 'InvalidPayloadError' }),
      }),
    ]);
  });

  it.each([
    ['no log object', { n: 1 }, 'log: missing, expected object, received undefined'],
    ['a log object without the state', { log: { execution: 'e' }, n: 1 }, 'log.state: missing, expected string'],
  ])('rejects a Task payload with %s', async (_what, payload, problem) => {
    await expect(doubler(payload, context)).rejects.toThrow(problem);
  });

  it('takes the log keys from the event for a Lambda no Task invokes', async () => {
    const ended = lambda(
      {
        name: 'Ended',
        schema: z.object({ detail: z.object({ name: z.string() }) }),
        logKeys: (e) => ({ executionName: e.detail.name, stateName: 'Ended' }),
      },
      () => 'done',
    );
    await expect(ended({ detail: { name: 'exec-9' } }, context)).resolves.toBe('done');
    expect(lines).toEqual([expect.objectContaining({ message: 'succeeded', executionName: 'exec-9' })]);
  });

  it('prints nothing at POWERTOOLS_LOG_LEVEL SILENT (what the local cloud sets), errors included', async () => {
    const silent = await coldStart('SILENT');
    const quiet = silent.lambda({ name: 'Quiet', schema: z.object({ n: z.number() }) }, ({ n }) => {
      silent.logger.info('inside', { n });
      return n;
    });
    await expect(quiet({ log, n: 3 }, context)).resolves.toBe(3);
    await expect(quiet({ log, n: 'x' }, context)).rejects.toThrow('n: got "x", expected number');
    expect(lines).toEqual([]);
  });
});
