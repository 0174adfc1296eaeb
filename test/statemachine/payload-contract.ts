import { pathToFileURL } from 'node:url';
import { expect } from 'vitest';
import type { z } from 'zod';
import { readFunctions } from '../../local/state-machine.ts';
import { formatIssues } from '../../src/config/load.ts';
import type { RollgateHandler } from '../../src/runtime/handler.ts';
import { type AslState, taskFunction } from '../asl.ts';
import type { RecordedState } from './harness.ts';

/**
 * The contract between a Task state's Parameters and its handler's schema, checked on inputs recorded from real
 * executions (payloads.test.ts for the rolling paths, gates.test.ts for the gate states).
 */

/** The Task states only a progressive target enters (gates.test.ts records them). */
export const GATE_TASKS = ['AwaitGate', 'ProbeGate', 'PlanGateLoad', 'JudgeGate', 'ProbeBake'];

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
export function applyParameters(template: unknown, input: unknown, context: unknown): unknown {
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
  const id = taskFunction(state).functionId ?? '';
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
    Task: { Token: 'a-task-token' },
  };
}

/**
 * Applies a Task's payload template (its Parameters, or a callback Task's Parameters.Payload) to each recorded input
 * of it and parses the result with the handler's schema: the problems, one line each (none when the contract holds).
 */
export async function payloadProblems(
  name: string,
  state: AslState,
  recorded: readonly RecordedState[],
): Promise<string[]> {
  const handler = await handlerOf(state);
  expect(handler.taskPayload, `${name}'s handler takes the Task's log object`).toBe(true);
  const inputs = recorded.filter((r) => r.state === name);
  expect(inputs.length, `no scenario entered ${name}`).toBeGreaterThan(0);
  const template = taskFunction(state).payload;
  const problems: string[] = [];
  for (const r of inputs) {
    const { log, ...payload } = applyParameters(template, r.input, contextOf(r)) as Record<string, unknown>;
    expect(log).toEqual({ execution: r.execution, state: name });
    const parsed = handler.schema.safeParse(payload);
    if (!parsed.success) problems.push(`${r.execution}: ${formatIssues(parsed.error.issues, payload)}`);
  }
  return problems;
}
