import './polyfills.ts';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { parse as parseYaml } from 'yaml';
import { stateMachineName } from '../src/core/naming.ts';
import { injectedFault, lambdaFault } from './faults.ts';
import type { TaskTokens } from './sfn.ts';

/** A Lambda handler as the local runner calls it. */
export type LocalHandler = (input: unknown) => Promise<unknown>;

/** One entry of an execution's event log, as persisted under .rollgate/executions/. */
export interface ExecutionEvent {
  readonly type: string;
  readonly timestamp: string;
  readonly state?: string;
  /** The state's Type (Task, Wait, Choice, Pass, Map, Succeed, Fail). */
  readonly stateType?: string;
  readonly error?: string;
  readonly cause?: string;
  /** With `measurePayloads`: the larger of the state's input and output, bytes of JSON (AWS's limit is 256 KB). */
  readonly payloadBytes?: number;
}

/** The end of a local execution, shaped like DescribeExecution's answer. */
export interface ExecutionResult {
  readonly executionArn: string;
  readonly name: string;
  readonly status: 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';
  readonly startDate: string;
  readonly stopDate: string;
  readonly input: unknown;
  readonly output?: unknown;
  readonly error?: string;
  readonly cause?: string;
  /** The names of the states entered, in order (Map iterations included). */
  readonly statesEntered: string[];
  readonly events: ExecutionEvent[];
}

export interface RunOptions {
  readonly name: string;
  /** Milliseconds to wait in the named Wait states instead of their Seconds/SecondsPath (tests only). */
  readonly waitOverridesMs?: Readonly<Record<string, number>>;
  /** Milliseconds between Retry attempts instead of the ASL's back-off (tests only). */
  readonly retryOverridesMs?: Readonly<Record<string, number>>;
  /** Called as each event happens: progress display. */
  readonly onEvent?: (event: ExecutionEvent) => void;
  /** Called with each state's input as it is entered (Map iterations included): tests record real states. */
  readonly onStateEntered?: (state: string, input: unknown) => void;
  readonly region?: string;
  readonly accountId?: string;
  /** Stops the execution as StopExecution does: no Catch runs, the status is ABORTED. */
  readonly signal?: AbortSignal;
  /** `$$.Execution.RedriveCount` (0 unless this is a redrive). */
  readonly redriveCount?: number;
  /** The execution's start (default: now): the local runner persists it before the run begins. */
  readonly startDate?: Date;
  /** Record each entered/exited state's payload size in its event (`payloadBytes`): benchmarks and tests. */
  readonly measurePayloads?: boolean;
  /**
   * The task tokens of `.waitForTaskToken` states (the local cloud's, answered by its SFN endpoint). Required when
   * the execution enters such a state.
   */
  readonly taskTokens?: TaskTokens;
}

type Json = Parameters<StateMachine['run']>[0];
/** The library's event log entry (its type is not exported). */
type EventLog = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

/** Serverless's logical id of a function: `checkRollout` -> `CheckRolloutLambdaFunction`. */
export function logicalId(functionName: string): string {
  const normalized = functionName.replace(/-/g, 'Dash').replace(/_/g, 'Underscore');
  return `${normalized.charAt(0).toUpperCase()}${normalized.slice(1)}LambdaFunction`;
}

/** `handler: src/handlers/backup.handler` per function, from serverless.yml. */
export function readFunctions(serverlessFile: string): Record<string, { file: string; exportName: string }> {
  const doc = parseYaml(readFileSync(serverlessFile, 'utf8')) as { functions?: Record<string, { handler?: string }> };
  const out: Record<string, { file: string; exportName: string }> = {};
  for (const [name, fn] of Object.entries(doc.functions ?? {})) {
    const handler = fn.handler;
    if (!handler) throw new Error(`serverless.yml: function ${name} has no handler`);
    const dot = handler.lastIndexOf('.');
    out[logicalId(name)] = {
      file: path.resolve(path.dirname(serverlessFile), `${handler.slice(0, dot)}.ts`),
      exportName: handler.slice(dot + 1),
    };
  }
  return out;
}

interface TaskRef {
  readonly state: string;
  readonly logicalId: string;
  /** `arn:aws:states:::lambda:invoke.waitForTaskToken`: the function is called with the Payload, the state waits. */
  readonly callback: boolean;
}

/** The Lambda service integration whose state waits for SendTaskSuccess / SendTaskFailure. */
export const LAMBDA_CALLBACK = 'arn:aws:states:::lambda:invoke.waitForTaskToken';

/**
 * What `$$.Task.Token` reads in the local runner: one context serves the whole execution, so it holds a marker that
 * the callback state replaces with a token of its own in the Payload it sends.
 */
const TOKEN_MARKER = 'rollgate-local-task-token-marker';

type GetAtt = { 'Fn::GetAtt'?: [string, string] };

/**
 * Every Task state (Map iterators included) that calls a serverless.yml function: a Resource of
 * `{"Fn::GetAtt": [X, "Arn"]}`, or the callback integration with `Parameters.FunctionName` of that form. Rewrites
 * the reference to the function's ARN.
 */
function collectTasks(states: Record<string, Record<string, unknown>>, arnOf: (id: string) => string, out: TaskRef[]) {
  for (const [name, state] of Object.entries(states)) {
    const resource = state.Resource as GetAtt | string | undefined;
    if (state.Type === 'Task' && resource && typeof resource === 'object' && resource['Fn::GetAtt']) {
      const id = resource['Fn::GetAtt'][0];
      out.push({ state: name, logicalId: id, callback: false });
      state.Resource = arnOf(id);
    }
    const params = state.Parameters as { FunctionName?: GetAtt | string } | undefined;
    if (state.Type === 'Task' && resource === LAMBDA_CALLBACK) {
      const fn = params?.FunctionName;
      if (!fn || typeof fn !== 'object' || !fn['Fn::GetAtt']) {
        throw new Error(
          `state ${name}: ${LAMBDA_CALLBACK} needs Parameters.FunctionName as {"Fn::GetAtt": [X, "Arn"]}`,
        );
      }
      const id = fn['Fn::GetAtt'][0];
      out.push({ state: name, logicalId: id, callback: true });
      (params as { FunctionName: string }).FunctionName = arnOf(id);
      exposeTimeoutPath(state);
    }
    const nested = (state.ItemProcessor ?? state.Iterator) as
      | { States?: Record<string, Record<string, unknown>> }
      | undefined;
    if (nested?.States) collectTasks(nested.States, arnOf, out);
    for (const branch of (state.Branches as { States: Record<string, Record<string, unknown>> }[] | undefined) ?? []) {
      collectTasks(branch.States, arnOf, out);
    }
  }
}

/**
 * The deploy state machine, run in-process by aws-local-stepfunctions: the very same ASL file as on AWS, each
 * `Fn::GetAtt` Lambda mapped to its handler from serverless.yml, called with a JSON round trip as Lambda does.
 */
export class LocalStateMachine {
  private readonly machine: StateMachine;
  private readonly handlers: Record<string, LocalHandler>;
  /** The states that wait for a task token. */
  private readonly callbacks: ReadonlySet<string>;

  private constructor(machine: StateMachine, handlers: Record<string, LocalHandler>, callbacks: ReadonlySet<string>) {
    this.machine = machine;
    this.handlers = handlers;
    this.callbacks = callbacks;
  }

  /**
   * Builds the machine (validation costs ~100 ms: build once, run many). Handler modules are imported here, so the
   * environment they read at cold start (ARTIFACTS_BUCKET, ROLLGATE_CONFIG, AWS_ENDPOINT_URL_*) must be set before.
   */
  static async load(options: {
    readonly aslFile: string;
    readonly serverlessFile: string;
    /** Replace a function's handler (by logical id), e.g. to inject a fault in a test. */
    readonly overrides?: Readonly<Record<string, LocalHandler>>;
  }): Promise<LocalStateMachine> {
    const definition = JSON.parse(readFileSync(options.aslFile, 'utf8')) as {
      States: Record<string, Record<string, unknown>>;
    };
    const functions = readFunctions(options.serverlessFile);
    const tasks: TaskRef[] = [];
    collectTasks(
      definition.States,
      (id) => `arn:aws:lambda:us-east-1:000000000000:function:rollgate-local-${id}`,
      tasks,
    );
    const byFunction = new Map<string, LocalHandler>();
    const handlers: Record<string, LocalHandler> = {};
    for (const task of tasks) {
      let fn = options.overrides?.[task.logicalId] ?? byFunction.get(task.logicalId);
      if (!fn) {
        const ref = functions[task.logicalId];
        if (!ref) throw new Error(`state ${task.state}: function ${task.logicalId} is not defined in serverless.yml`);
        fn = await loadHandler(ref, task.logicalId);
        byFunction.set(task.logicalId, fn);
      }
      handlers[task.state] = fn;
    }
    const machine = new StateMachine(definition as unknown as StateMachineDefinition);
    return new LocalStateMachine(machine, handlers, new Set(tasks.filter((t) => t.callback).map((t) => t.state)));
  }

  /** Runs one execution to its end; never throws for a failed execution (see `status`). */
  async run(input: unknown, options: RunOptions): Promise<ExecutionResult> {
    const region = options.region ?? 'us-east-1';
    const account = options.accountId ?? '000000000000';
    const executionArn = localExecutionArn(options.name, region, account);
    const startDate = (options.startDate ?? new Date()).toISOString();
    // Task calls in flight: an aborted execution's Lambda runs to its end (as on AWS); its effects land before run returns
    const inFlight = new Set<Promise<unknown>>();
    const track = (call: Promise<Json>) => {
      inFlight.add(call);
      call.then(
        () => inFlight.delete(call),
        () => inFlight.delete(call),
      );
      return call;
    };
    // the fault switch (ROLLGATE_LOCAL_FAULTS=Lambda:<State>=throw...): the Lambda fails before or after its handler
    const failed = new Set<string>();
    const invoke = (state: string, call: () => Promise<unknown>) =>
      track(
        (async () => {
          const fault = lambdaFault(state, failed);
          if (fault === 'before') throw injectedFault(state, fault);
          const out = (await call()) as Json;
          if (fault === 'after' || fault === 'retry') throw injectedFault(state, fault);
          return out;
        })(),
      );
    const taskResourceLocalHandlers = Object.fromEntries(
      Object.entries(this.handlers).map(([state, fn]) => [
        state,
        this.callbacks.has(state)
          ? (i: unknown) => invoke(state, () => callbackTask(state, fn, i, executionArn, options.taskTokens))
          : (i: unknown) => invoke(state, () => fn(i)),
      ]),
    );
    const execution = this.machine.run(input as Json, {
      overrides: {
        taskResourceLocalHandlers,
        ...(options.waitOverridesMs ? { waitTimeOverrides: { ...options.waitOverridesMs } } : {}),
        ...(options.retryOverridesMs ? { retryIntervalOverrides: { ...options.retryOverridesMs } } : {}),
      },
      context: {
        Execution: {
          Id: executionArn,
          Name: options.name,
          Input: input as Json,
          StartTime: startDate,
          RedriveCount: options.redriveCount ?? 0,
        },
        StateMachine: {
          Id: executionArn.replace(':execution:', ':stateMachine:').replace(/:[^:]+$/, ''),
          Name: stateMachineName('local'),
        },
        Task: { Token: TOKEN_MARKER },
      },
    });
    if (options.signal?.aborted) execution.abort();
    options.signal?.addEventListener('abort', () => execution.abort(), { once: true });
    const events: ExecutionEvent[] = [];
    const statesEntered: string[] = [];
    const drain = (async () => {
      for await (const ev of execution.eventLogs) {
        const e = options.measurePayloads ? { ...toEvent(ev), payloadBytes: payloadBytes(ev) } : toEvent(ev);
        events.push(e);
        if (ev.type === 'StateEntered') {
          statesEntered.push(ev.state.name);
          options.onStateEntered?.(ev.state.name, ev.state.input);
        }
        options.onEvent?.(e);
      }
    })();
    let result: Omit<ExecutionResult, 'events' | 'statesEntered'>;
    const base = { executionArn, name: options.name, startDate, input };
    try {
      const output = await execution.result;
      result = { ...base, status: 'SUCCEEDED', stopDate: new Date().toISOString(), output };
    } catch (err) {
      const failure = (err as { cause?: { name?: string; message?: string } }).cause;
      const name = (err as Error).name;
      result = {
        ...base,
        status:
          name === 'ExecutionAbortedError' ? 'ABORTED' : name === 'ExecutionTimeoutError' ? 'TIMED_OUT' : 'FAILED',
        stopDate: new Date().toISOString(),
        error: failure?.name ?? name,
        cause: failure?.message ?? (err as Error).message,
      };
    }
    await drain;
    // Its callback states wait no more: a late SendTaskSuccess is refused as Step Functions refuses it.
    options.taskTokens?.expire(executionArn);
    if (result.status === 'ABORTED') await settle([...inFlight], ABORTED_TASKS_MS);
    return { ...result, statesEntered, events };
  }
}

/**
 * A `.waitForTaskToken` Lambda state: a fresh token in place of `$$.Task.Token` in the Payload, the function called
 * with that Payload (its answer is dropped, as the integration drops it), then the state's result is what
 * SendTaskSuccess sends for the token (or the state fails as SendTaskFailure says). The state's TimeoutSeconds is
 * the library's.
 */
async function callbackTask(
  state: string,
  fn: LocalHandler,
  input: unknown,
  executionArn: string,
  tokens: TaskTokens | undefined,
): Promise<unknown> {
  if (tokens === undefined) {
    throw new Error(`state ${state} waits for a task token: run the execution with the local cloud's taskTokens`);
  }
  const issued = tokens.issue(executionArn, state);
  const payload = JSON.parse(
    JSON.stringify((input as { Payload?: unknown } | null)?.Payload ?? {}, (_key, value: unknown) =>
      value === TOKEN_MARKER ? issued.token : value,
    ),
  ) as unknown;
  // the library drops a timed-out state's promise: the token's own end (at the execution's end) is then unheard
  issued.result.catch(() => undefined);
  await fn(payload);
  return issued.result;
}

/** How long an aborted run waits for the Task calls it left in flight (the longest, a load test, takes seconds). */
const ABORTED_TASKS_MS = 60_000;

/** Resolves when every promise has settled, or after `ms`. */
async function settle(calls: readonly Promise<unknown>[], ms: number): Promise<void> {
  if (calls.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled(calls),
    new Promise((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

/** The ARN of a local execution, as DescribeExecution names it. */
export function localExecutionArn(name: string, region = 'us-east-1', account = '000000000000'): string {
  return `arn:aws:states:${region}:${account}:execution:${stateMachineName('local')}:${name}`;
}

/**
 * Step Functions reads a Task's `TimeoutSecondsPath` from the state's input; aws-local-stepfunctions reads it from
 * the input after `Parameters`. For a callback state (whose function gets `Payload` alone), the local copy of its
 * Parameters also carries the value at that path (`$.target.gateTimeoutSeconds` -> `target.gateTimeoutSeconds.$`),
 * so the library finds what Step Functions would.
 */
function exposeTimeoutPath(state: Record<string, unknown>): void {
  const path = state.TimeoutSecondsPath;
  if (typeof path !== 'string' || !/^\$(\.[A-Za-z0-9_]+)+$/.test(path)) return;
  const keys = path.split('.').slice(1);
  let at = state.Parameters as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) {
    const next = (at[key] ?? {}) as Record<string, unknown>;
    at[key] = next;
    at = next;
  }
  at[`${keys.at(-1)}.$`] = path;
}

/** The larger of an event's state input and output, bytes of JSON (0 for events without a state payload). */
function payloadBytes(ev: EventLog): number {
  if (!('state' in ev)) return 0;
  const state = ev.state as { input?: unknown; output?: unknown };
  const size = (v: unknown) => (v === undefined ? 0 : Buffer.byteLength(JSON.stringify(v)));
  return Math.max(size(state.input), size(state.output));
}

function toEvent(ev: EventLog): ExecutionEvent {
  const base = { type: ev.type, timestamp: new Date(ev.timestamp).toISOString() };
  const state = 'state' in ev ? { state: ev.state.name, stateType: ev.state.type } : {};
  const error = 'Error' in ev ? { error: ev.Error, cause: String(ev.Cause) } : {};
  return { ...base, ...state, ...error };
}

/** Imports a function's handler (from serverless.yml's `handler:`) and wraps it as the Lambda service calls it. */
export async function loadHandler(
  ref: { file: string; exportName: string },
  functionName: string,
): Promise<LocalHandler> {
  const mod = (await import(pathToFileURL(ref.file).href)) as Record<string, unknown>;
  const exported = mod[ref.exportName];
  if (typeof exported !== 'function') throw new Error(`${ref.file} does not export ${ref.exportName}`);
  return lambdaInvoker(functionName, exported as (event: unknown, context: unknown) => Promise<unknown>);
}

/** Calls a Lambda handler as the Lambda service would: JSON in, JSON out, a context object, errors by name. */
export function lambdaInvoker(
  functionName: string,
  handler: (event: unknown, context: unknown) => Promise<unknown>,
): LocalHandler {
  return async (input) => {
    const started = Date.now();
    const context = {
      functionName,
      functionVersion: '$LATEST',
      awsRequestId: crypto.randomUUID(),
      invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
      memoryLimitInMB: '1024',
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, 900_000 - (Date.now() - started)),
    };
    const output = await handler(JSON.parse(JSON.stringify(input)), context);
    return output === undefined ? null : JSON.parse(JSON.stringify(output));
  };
}
