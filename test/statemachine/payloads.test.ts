import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { readFunctions } from '../../local/state-machine.ts';
import { formatIssues } from '../../src/config/load.ts';
import { lockResultSchema } from '../../src/core/lock.ts';
import type { RollgateHandler } from '../../src/runtime/handler.ts';
import { type AslState, taskStates } from '../asl.ts';
import { ecrEvent } from '../helpers.ts';
import { NEW_TD } from '../unit/aws-fixtures.ts';
import { type Harness, type RecordedState, startHarness } from './harness.ts';

/**
 * The contract between the ASL and the handlers, checked on real data: the input of every Task state is recorded
 * from real executions of the state machine (every path the scenarios below take), the Task's `Parameters` are
 * applied to it here, independently of the runner, and the result must parse with that handler's own schema.
 */

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
  const scenarios: [string, () => Promise<unknown>][] = [
    // another execution's lock expires while this one waits: AcquireLock sees NONE, then its own WAIT answer
    [
      'waits for the lock, then deploys',
      async () => {
        await h.holdLock('holder-execution', 'demo-app:v0', 1);
        return h.run(ecrEvent('push'), { WaitForLock: 1100 });
      },
    ],
    [
      'deploys by hand, then finds that image already running',
      async () => {
        await h.run({ repository: 'demo-app', tag: 'v3', reason: 'contract' });
        return h.run({ repository: 'demo-app', tag: 'v3' });
      },
    ],
    ['load tests and deploys', () => h.run({ repository: 'demo-app', tag: 'v4' })],
    ['ignores an unmatched tag', () => h.run({ repository: 'demo-app', tag: 'latest' })],
    ['fails on malformed input', () => h.run({ repository: 'demo-app' })],
    [
      'rolls back a failed health check',
      async () => {
        h.unhealthy.add(NEW_TD);
        return h.run({ repository: 'demo-app', tag: 'v3' });
      },
    ],
    [
      'fails the rollback',
      async () => {
        h.unhealthy.add(NEW_TD);
        h.aws.behaviour.rollbackRejects = true;
        return h.run({ repository: 'demo-app', tag: 'v3' });
      },
    ],
  ];
  for (const [, scenario] of scenarios) {
    await h.reset();
    await scenario();
  }
}, 120_000);

afterAll(async () => {
  await h?.close();
});

/** JSONPath as Parameters use it: `$`, `$.a.b`, `$$.Execution.Name`; a path that matches nothing fails the state. */
function resolvePath(path: string, input: unknown, context: unknown): unknown {
  const [root, rest] = path.startsWith('$$') ? [context, path.slice(2)] : [input, path.slice(1)];
  if (!path.startsWith('$') || (rest !== '' && !rest.startsWith('.'))) throw new Error(`unsupported path ${path}`);
  let value = root;
  for (const key of rest.split('.').slice(1)) {
    if (typeof value !== 'object' || value === null || !(key in value)) {
      throw new Error(`${path} matches nothing (States.Runtime)`);
    }
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** A Task's Parameters applied to its input, as Step Functions does (keys ending `.$` are paths). */
function applyParameters(template: unknown, input: unknown, context: unknown): unknown {
  if (typeof template !== 'object' || template === null || Array.isArray(template)) return template;
  return Object.fromEntries(
    Object.entries(template).map(([key, value]) =>
      key.endsWith('.$')
        ? [key.slice(0, -2), resolvePath(String(value), input, context)]
        : [key, applyParameters(value, input, context)],
    ),
  );
}

const functions = readFunctions('serverless.yml');

async function handlerOf(state: AslState): Promise<RollgateHandler<z.ZodType, unknown>> {
  const id = (state.Resource as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  const ref = functions[id];
  if (!ref) throw new Error(`${id} is not in serverless.yml`);
  const mod = (await import(pathToFileURL(ref.file).href)) as Record<string, RollgateHandler<z.ZodType, unknown>>;
  const handler = mod[ref.exportName];
  if (!handler) throw new Error(`${ref.file} does not export ${ref.exportName}`);
  return handler;
}

function contextOf(recorded: RecordedState) {
  return {
    Execution: {
      Id: `arn:aws:states:us-east-1:000000000000:execution:rollgate-deploy-local:${recorded.execution}`,
      Name: recorded.execution,
      RedriveCount: 0,
    },
  };
}

describe('Task payloads built from recorded states', () => {
  it.each(taskStates().map((t) => [t.name, t.state] as const))(
    "%s: its Parameters, applied to each recorded input, parse with its handler's schema",
    async (name, state) => {
      const handler = await handlerOf(state);
      expect(handler.taskPayload, `${name}'s handler takes the Task's log object`).toBe(true);
      const inputs = h.recorded.filter((r) => r.state === name);
      expect(inputs.length, `no scenario entered ${name}`).toBeGreaterThan(0);
      const problems: string[] = [];
      for (const recorded of inputs) {
        const { log, ...payload } = applyParameters(state.Parameters, recorded.input, contextOf(recorded)) as Record<
          string,
          unknown
        >;
        expect(log).toEqual({ execution: recorded.execution, state: name });
        const parsed = handler.schema.safeParse(payload);
        if (!parsed.success) problems.push(`${recorded.execution}: ${formatIssues(parsed.error.issues, payload)}`);
      }
      expect(problems).toEqual([]);
    },
  );

  it("parses InitLock's {status: NONE}, which AcquireLock's answer type (LockResult) does not allow", () => {
    const first = h.recorded.filter((r) => r.state === 'AcquireLock').map((r) => (r.input as { lock: unknown }).lock);
    expect(first).toContainEqual({ status: 'NONE' });
    expect(first).toContainEqual(expect.objectContaining({ status: 'WAIT' }));
    expect(lockResultSchema.safeParse({ status: 'NONE' }).success).toBe(false);
  });
});
