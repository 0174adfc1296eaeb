import { readFileSync } from 'node:fs';

/** A state of statemachines/deploy.asl.json, with the fields the tests read. */
export interface AslState {
  readonly Type: string;
  readonly Resource?: unknown;
  readonly Parameters?: Record<string, unknown>;
  readonly Result?: unknown;
  readonly Error?: string;
  readonly Retry?: readonly { readonly ErrorEquals: readonly string[] }[];
  readonly Catch?: readonly { readonly ErrorEquals: readonly string[] }[];
  readonly ItemProcessor?: { readonly States: Record<string, AslState> };
  readonly Iterator?: { readonly States: Record<string, AslState> };
}

export interface AslDefinition {
  readonly TimeoutSeconds?: number;
  readonly States: Record<string, AslState>;
}

export const ASL_FILES = ['statemachines/deploy.asl.json'];

export function readAsl(file = 'statemachines/deploy.asl.json'): AslDefinition {
  return JSON.parse(readFileSync(file, 'utf8')) as AslDefinition;
}

/** Every state (Map iterators included) with its name and the Map states it runs in, outermost first. */
export function allStates(
  states: Record<string, AslState>,
  ancestors: readonly AslState[] = [],
): { name: string; state: AslState; ancestors: readonly AslState[] }[] {
  return Object.entries(states).flatMap(([name, state]) => {
    const nested = state.ItemProcessor ?? state.Iterator;
    return [{ name, state, ancestors }, ...(nested ? allStates(nested.States, [...ancestors, state]) : [])];
  });
}

/** The Task states of a definition. */
export function taskStates(definition: AslDefinition = readAsl()) {
  return allStates(definition.States).filter((s) => s.state.Type === 'Task');
}

/**
 * The function a Task state invokes (its serverless logical id) and the payload it sends it: a plain Lambda Task
 * (`Resource: {"Fn::GetAtt": [X, "Arn"]}`, payload = Parameters) or a `lambda:invoke.waitForTaskToken` Task
 * (`Parameters: {FunctionName: {"Fn::GetAtt": [X, "Arn"]}, Payload}`).
 */
export function taskFunction(state: AslState): { functionId: string | undefined; payload: unknown } {
  const direct = (state.Resource as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt'];
  if (direct) return { functionId: direct[0], payload: state.Parameters };
  if (state.Resource === WAIT_FOR_TASK_TOKEN) {
    const params = state.Parameters as { FunctionName?: { 'Fn::GetAtt'?: [string, string] }; Payload?: unknown };
    return { functionId: params.FunctionName?.['Fn::GetAtt']?.[0], payload: params.Payload };
  }
  return { functionId: undefined, payload: state.Parameters };
}

/** The Resource of a Task that invokes a Lambda and waits for its task token (AwaitGate). */
export const WAIT_FOR_TASK_TOKEN = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
