/**
 * The local Step Functions callback API: the task tokens of the local runner's `.waitForTaskToken` states, and an
 * endpoint (AWS JSON 1.0, `AWSStepFunctions.` targets) that answers `SendTaskSuccess`, `SendTaskFailure` and
 * `SendTaskHeartbeat` for them, so the handlers that wake an execution (ECS lifecycle hooks) use the real SFN client
 * pointed here by `AWS_ENDPOINT_URL_SFN`, as on AWS.
 *
 * A token is issued when a callback Task state is entered (the runner passes it to the function as `$$.Task.Token`)
 * and settled once: by SendTaskSuccess (the state's result is the parsed `output`), by SendTaskFailure (the state
 * fails with `error` / `cause`, which its Catch can match), or by the end of its execution. A second answer for a
 * settled token is refused with TaskTimedOut, as Step Functions refuses it; a token it never issued, InvalidToken.
 */
import { randomBytes } from 'node:crypto';
import { AwsError, type AwsJsonEndpoint, type AwsJsonInput, startAwsJsonEndpoint } from './aws-json.ts';

/** What a callback state's task fails with: the name its Catch matches, and the cause. */
export class TaskFailure extends Error {
  override readonly cause: string;
  constructor(error: string, cause: string) {
    super(cause);
    this.name = error;
    this.cause = cause;
  }
}

interface Waiting {
  readonly executionArn: string;
  readonly state: string;
  resolve(output: unknown): void;
  reject(error: Error): void;
  heartbeats: number;
}

/** A token the runner issued: hand `token` to the function, await `result` for the state's output. */
export interface IssuedToken {
  readonly token: string;
  readonly result: Promise<unknown>;
}

/** The task tokens of running executions, in this process. */
export class TaskTokens {
  readonly #waiting = new Map<string, Waiting>();
  readonly #settled = new Set<string>();

  /** A fresh token for a callback state entered by `executionArn`. */
  issue(executionArn: string, state: string): IssuedToken {
    // As opaque as Step Functions' own: the execution cannot be read from it, only looked up.
    const token = `rollgate-local-${randomBytes(24).toString('base64url')}`;
    let resolve!: (output: unknown) => void;
    let reject!: (error: Error) => void;
    const result = new Promise<unknown>((ok, fail) => {
      resolve = ok;
      reject = fail;
    });
    // A state that timed out or an execution that was aborted leaves nobody awaiting: never an unhandled rejection.
    result.catch(() => undefined);
    this.#waiting.set(token, { executionArn, state, resolve, reject, heartbeats: 0 });
    return { token, result };
  }

  /** Tokens still waiting for an answer (tests and progress). */
  pending(executionArn?: string): Array<{ token: string; state: string; executionArn: string }> {
    return [...this.#waiting]
      .filter(([, w]) => executionArn === undefined || w.executionArn === executionArn)
      .map(([token, w]) => ({ token, state: w.state, executionArn: w.executionArn }));
  }

  succeed(token: string, output: unknown): void {
    this.#take(token).resolve(output);
  }

  fail(token: string, error: string, cause: string): void {
    this.#take(token).reject(new TaskFailure(error, cause));
  }

  heartbeat(token: string): void {
    this.#find(token).heartbeats += 1;
  }

  /** Settles every token of an execution that ended (its states no longer wait): later answers get TaskTimedOut. */
  expire(executionArn: string): void {
    for (const [token, w] of this.#waiting) {
      if (w.executionArn !== executionArn) continue;
      this.#take(token).reject(new TaskFailure('States.Timeout', 'the execution ended before the task was answered'));
    }
  }

  #find(token: string): Waiting {
    const waiting = this.#waiting.get(token);
    if (waiting !== undefined) return waiting;
    if (this.#settled.has(token)) {
      throw new AwsError('TaskTimedOut', 'Task Timed Out: the task of this token is no longer waiting.');
    }
    throw new AwsError('InvalidToken', `Invalid Token: ${JSON.stringify(token.slice(0, 80))} was not issued here.`);
  }

  #take(token: string): Waiting {
    const waiting = this.#find(token);
    this.#waiting.delete(token);
    this.#settled.add(token);
    return waiting;
  }
}

const MAX_OUTPUT = 256 * 1024;

function stringField(input: AwsJsonInput, field: string, required: boolean, max: number): string | undefined {
  const value = input[field];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || (required && value.length === 0)) {
    throw new AwsError('ValidationException', `${field} must be a non-empty string.`);
  }
  if (value.length > max) {
    throw new AwsError('ValidationException', `${field} must be at most ${max} characters, got ${value.length}.`);
  }
  return value;
}

/** The callback operations on a token registry. */
function sfnOperations(tokens: TaskTokens) {
  const token = (input: AwsJsonInput) => stringField(input, 'taskToken', true, 2048) as string;
  return {
    SendTaskSuccess: (input: AwsJsonInput) => {
      const text = stringField(input, 'output', true, MAX_OUTPUT) as string;
      let output: unknown;
      try {
        output = JSON.parse(text);
      } catch {
        throw new AwsError('InvalidOutput', 'output must be valid JSON.');
      }
      tokens.succeed(token(input), output);
      return {};
    },
    SendTaskFailure: (input: AwsJsonInput) => {
      const error = stringField(input, 'error', false, 256) ?? '';
      const cause = stringField(input, 'cause', false, 32_768) ?? '';
      tokens.fail(token(input), error, cause);
      return {};
    },
    SendTaskHeartbeat: (input: AwsJsonInput) => {
      tokens.heartbeat(token(input));
      return {};
    },
  };
}

/** Starts the endpoint on 127.0.0.1 (port 0: a free one). */
export function startSfn(options: {
  readonly tokens: TaskTokens;
  readonly port?: number;
  readonly log?: (line: string) => void;
}): Promise<AwsJsonEndpoint> {
  return startAwsJsonEndpoint(
    {
      service: 'StepFunctions',
      targetPrefix: 'AWSStepFunctions.',
      jsonVersion: '1.0',
      operations: sfnOperations(options.tokens),
    },
    { port: options.port ?? 0, ...(options.log ? { log: options.log } : {}) },
  );
}
