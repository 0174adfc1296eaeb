import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { logicalId } from '../local/state-machine.ts';
import { EXECUTION_TIMEOUT_SECONDS } from '../src/config/schema.ts';
import * as errors from '../src/core/errors.ts';
import { ASL_FILES, allStates, readAsl, taskFunction } from './asl.ts';

type AslValidator = (definition: unknown) => { isValid: boolean; errorsText: (sep?: string) => string };
const require = createRequire(import.meta.url);
const aslValidator = require('asl-validator') as AslValidator;

/** Every error class src/core/errors.ts exports, by its `name`. */
const errorClasses = new Map(
  (Object.entries(errors) as [string, unknown][])
    .filter(
      (e): e is [string, new (m: string) => Error] => typeof e[1] === 'function' && e[1].prototype instanceof Error,
    )
    .map(([exportName, cls]) => [new cls('x').name, exportName]),
);
const aslErrors = new Set<string>(Object.values(errors.ASL_ERRORS));
const transient = new Set<string>(errors.TASK_RETRY.flatMap((r) => r.ErrorEquals));

/** The source of src/ and loadgen/ (the code the Lambdas run), errors.ts itself excepted. */
const sources = ['src', 'loadgen']
  .flatMap((dir) => readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => path.join(dir, f)))
  .filter((f) => f.endsWith('.ts') && f !== path.join('src', 'core', 'errors.ts'))
  .map((f) => readFileSync(f, 'utf8'))
  .join('\n');

const serverless = parseYaml(readFileSync('serverless.yml', 'utf8')) as { functions: Record<string, unknown> };
const functionIds = new Set(Object.keys(serverless.functions).map(logicalId));

describe('src/core/errors.ts', () => {
  it('holds only *Error classes named as they are, each thrown somewhere in src/ or loadgen/', () => {
    expect(errorClasses.size).toBeGreaterThan(5);
    for (const [name, exportName] of errorClasses) {
      expect(name, exportName).toBe(exportName);
      expect(name).toMatch(/Error$/);
      expect(sources, `${name} is never thrown: delete it`).toMatch(new RegExp(`new ${name}\\(`));
    }
  });

  it('names what the state machine makes up itself without the Error suffix, and no class has such a name', () => {
    for (const [key, name] of Object.entries(errors.ASL_ERRORS)) {
      expect(name).toBe(key);
      expect(name).not.toMatch(/Error$/);
      expect(errorClasses.has(name)).toBe(false);
    }
  });
});

describe.each(ASL_FILES)('%s', (file) => {
  const definition = readAsl(file);
  const states = allStates(definition.States);
  const tasks = states.filter((s) => s.state.Type === 'Task');

  it('times out as the config validation assumes (EXECUTION_TIMEOUT_SECONDS)', () => {
    expect(definition.TimeoutSeconds).toBe(EXECUTION_TIMEOUT_SECONDS);
  });

  it('validates against the Amazon States Language', () => {
    const result = aslValidator(definition);
    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
  });

  /** The error names the state machine writes itself: a Pass state's `{Error, Cause}`, a Fail state's Error. */
  const madeUp = states.flatMap(({ name, state }) => {
    const fromPass =
      (state.Parameters as { Error?: unknown } | undefined)?.Error ??
      (state.Result as { Error?: unknown } | undefined)?.Error;
    const fromSummary = (state.Parameters as { error?: unknown } | undefined)?.error;
    const written = [
      ...(state.Type === 'Pass' ? [fromPass, fromSummary] : []),
      ...(state.Type === 'Fail' ? [state.Error] : []),
    ];
    return written.filter((e): e is string => typeof e === 'string').map((error) => ({ state: name, error }));
  });

  it('makes up only the names in ASL_ERRORS, and each of them in a named Pass or Fail state', () => {
    expect(madeUp.map((m) => m.error).filter((e) => !aslErrors.has(e))).toEqual([]);
    expect(new Set(madeUp.map((m) => m.error))).toEqual(aslErrors);
  });

  it('matches (ErrorEquals) only names that are thrown in src/ or loadgen/, made up by a state, or transient AWS errors', () => {
    const matched = states.flatMap(({ state }) =>
      [...(state.Retry ?? []), ...(state.Catch ?? [])].flatMap((r) => r.ErrorEquals),
    );
    expect(matched).toContain('States.ALL');
    const unknown = matched.filter(
      (n) => !n.startsWith('States.') && !transient.has(n) && !aslErrors.has(n) && !errorClasses.has(n),
    );
    expect(unknown).toEqual([]);
    // a class name matched in the ASL is thrown by code (checked above for every class)
    expect(matched.filter((n) => errorClasses.has(n)).length).toBeGreaterThan(0);
  });

  it("gives every Task the one Retry block, TASK_RETRY, and a catch (its own or one of its Map states')", () => {
    expect(tasks.length).toBeGreaterThan(10);
    for (const { name, state, ancestors } of tasks) {
      expect(state.Retry, name).toEqual(errors.TASK_RETRY);
      expect(
        [state, ...ancestors].some((catcher) =>
          (catcher.Catch ?? []).some((c) => c.ErrorEquals.includes('States.ALL')),
        ),
        `${name} has no States.ALL catch: an error would escape the audit record`,
      ).toBe(true);
    }
  });

  it('passes every Task its log keys: the execution name and the state name', () => {
    for (const { name, state } of tasks) {
      const { payload } = taskFunction(state);
      expect((payload as { log?: unknown } | undefined)?.log, name).toEqual({
        'execution.$': '$$.Execution.Name',
        state: name,
      });
    }
  });

  it('references only functions defined in serverless.yml', () => {
    for (const { name, state } of tasks) {
      const { functionId } = taskFunction(state);
      expect(
        functionId,
        `${name}: Resource must be {"Fn::GetAtt": [<Function>LambdaFunction, "Arn"]}, or lambda:invoke.waitForTaskToken with that FunctionName`,
      ).toBeDefined();
      expect(functionIds, `${name} references ${functionId}`).toContain(functionId);
    }
  });
});
