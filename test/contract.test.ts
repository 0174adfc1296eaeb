import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { logicalId } from '../local/state-machine.ts';
import { EXECUTION_TIMEOUT_SECONDS } from '../src/config/schema.ts';
import * as errors from '../src/core/errors.ts';

type AslValidator = (definition: unknown) => { isValid: boolean; errorsText: (sep?: string) => string };
const require = createRequire(import.meta.url);
const aslValidator = require('asl-validator') as AslValidator;

const files = ['statemachines/deploy.asl.json'];

interface State {
  Type: string;
  Resource?: unknown;
  Retry?: { ErrorEquals: string[] }[];
  Catch?: { ErrorEquals: string[] }[];
  ItemProcessor?: { States: Record<string, State> };
  Iterator?: { States: Record<string, State> };
}

/** Every state with the Map states it runs in, outermost first (none at the top level). */
function allStates(states: Record<string, State>, ancestors: State[] = []): [string, State, State[]][] {
  return Object.entries(states).flatMap(([name, s]) => {
    const nested = s.ItemProcessor ?? s.Iterator;
    return [
      [name, s, ancestors] as [string, State, State[]],
      ...(nested ? allStates(nested.States, [...ancestors, s]) : []),
    ];
  });
}

const errorClasses = new Set(
  (Object.values(errors) as unknown[])
    .filter((v): v is new (m: string) => Error => typeof v === 'function' && v.prototype instanceof Error)
    .map((cls) => new cls('x').name),
);
const known = new Set<string>([...errorClasses, ...errors.TRANSIENT_AWS_ERRORS]);
const serverless = parseYaml(readFileSync('serverless.yml', 'utf8')) as { functions: Record<string, unknown> };
const functionIds = new Set(Object.keys(serverless.functions).map(logicalId));

describe.each(files)('%s', (file) => {
  const definition = JSON.parse(readFileSync(file, 'utf8')) as { States: Record<string, State> };
  const states = allStates(definition.States);

  it('times out as the config validation assumes (EXECUTION_TIMEOUT_SECONDS)', () => {
    expect((definition as { TimeoutSeconds?: number }).TimeoutSeconds).toBe(EXECUTION_TIMEOUT_SECONDS);
  });

  it('validates against the Amazon States Language', () => {
    const result = aslValidator(definition);
    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('matches only error names that exist in src/core/errors.ts or are known AWS names', () => {
    const names = states.flatMap(([, s]) => [...(s.Retry ?? []), ...(s.Catch ?? [])].flatMap((r) => r.ErrorEquals));
    const unknown = names.filter((n) => !n.startsWith('States.') && !known.has(n));
    expect(unknown).toEqual([]);
    expect(names.length).toBeGreaterThan(0);
  });

  it('references only functions defined in serverless.yml', () => {
    const tasks = states.filter(([, s]) => s.Type === 'Task');
    expect(tasks.length).toBeGreaterThan(0);
    for (const [name, s] of tasks) {
      const ref = (s.Resource as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
      expect(ref, `${name}: Resource must be {"Fn::GetAtt": [<Function>LambdaFunction, "Arn"]}`).toBeDefined();
      expect(functionIds, `${name} references ${ref?.[0]}`).toContain(ref?.[0]);
    }
  });

  it("gives every Task transient retries and a catch (its own or its Map state's), so no error escapes the record", () => {
    for (const [name, s, ancestors] of states.filter(([, st]) => st.Type === 'Task')) {
      const retried = (s.Retry ?? []).flatMap((r) => r.ErrorEquals);
      expect(retried, name).toContain('Lambda.ServiceException');
      expect(retried, name).toContain('ThrottlingException');
      expect(
        [s, ...ancestors].some((catcher) => (catcher.Catch ?? []).some((c) => c.ErrorEquals.includes('States.ALL'))),
        name,
      ).toBe(true);
    }
  });
});
