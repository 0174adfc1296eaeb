/**
 * The local Lambda endpoint: the real Invoke protocol (REST, `POST /2015-03-31/functions/{FunctionName}/invocations`)
 * over the functions of serverless.yml, so that what the local cloud calls itself (an ECS lifecycle hook) runs the
 * same handler code as on AWS, through `@aws-sdk/client-lambda` pointed here by `AWS_ENDPOINT_URL_LAMBDA`.
 *
 * FunctionName is a name or an ARN (`arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`); a name is the
 * function's key in serverless.yml (`hook`), its logical id (`HookLambdaFunction`), or the name the local state
 * machine gives it (`rollgate-local-HookLambdaFunction`, see {@link localFunctionArn}). The handler is imported on
 * its first invocation (so the environment it reads at cold start is the one set by then) exactly as the local state
 * machine imports it (`readFunctions` / `loadHandler`).
 *
 * - `X-Amz-Invocation-Type: RequestResponse` (default): 200 with the handler's result as the payload; a handler that
 *   throws gives 200 with `X-Amz-Function-Error: Unhandled` and `{ errorType, errorMessage, trace }`.
 * - `Event`: 202 at once, the handler runs after the answer (its errors are logged).
 * - `DryRun`: 204 when the function exists.
 * - Unknown function: 404 `ResourceNotFoundException`; a payload that is not JSON: 400 `InvalidRequestContentException`.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AwsError, closeServer, listenLocal, readBody } from './aws-json.ts';
import { type LocalHandler, loadHandler, logicalId, readFunctions } from './state-machine.ts';

/** The payload limit of a synchronous invocation (6 MB); an asynchronous one is 256 KB (1 MB since 2025). */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
const LOCAL_NAME_PREFIX = 'rollgate-local-';

/** One invocation the endpoint answered, for tests and the demo's progress output. */
export interface LambdaInvocation {
  /** The function's logical id (`HookLambdaFunction`). */
  function: string;
  invocationType: 'RequestResponse' | 'Event' | 'DryRun';
  payload: unknown;
  /** `ok`, or the error the handler threw (`errorType: errorMessage`). */
  outcome: string;
  at: string;
}

export interface LocalLambda {
  /** `http://127.0.0.1:<port>`: the value for `AWS_ENDPOINT_URL_LAMBDA`. */
  readonly endpoint: string;
  readonly invocations: readonly LambdaInvocation[];
  close(): Promise<void>;
}

export interface StartLambdaOptions {
  /** serverless.yml: its `functions:` are what can be invoked. */
  readonly serverlessFile: string;
  readonly region: string;
  readonly accountId: string;
  /** Replace a function's handler (by logical id), as the local state machine's `overrides`. */
  readonly overrides?: Readonly<Record<string, LocalHandler>>;
  readonly port?: number;
  readonly log?: (line: string) => void;
}

/** The ARN the local cloud gives a function (by its key in serverless.yml), as the local state machine does. */
export function localFunctionArn(functionKey: string, region: string, accountId: string): string {
  return `arn:aws:lambda:${region}:${accountId}:function:${LOCAL_NAME_PREFIX}${logicalId(functionKey)}`;
}

/** The logical id a FunctionName (name or ARN, qualifier allowed) names, or undefined. */
export function resolveFunction(functionName: string, known: ReadonlySet<string>): string | undefined {
  const arn = /^arn:aws[a-z-]*:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$/.exec(functionName);
  const partial = /^[^:]*:function:([^:]+)(?::[^:]+)?$/.exec(functionName);
  let name = arn?.[1] ?? partial?.[1] ?? functionName.split(':')[0] ?? '';
  if (name.startsWith(LOCAL_NAME_PREFIX)) name = name.slice(LOCAL_NAME_PREFIX.length);
  if (known.has(name)) return name;
  const byKey = logicalId(name);
  return known.has(byKey) ? byKey : undefined;
}

/** Starts the endpoint on 127.0.0.1 (port 0, the default, picks a free one). */
export async function startLambda(options: StartLambdaOptions): Promise<LocalLambda> {
  const log = options.log ?? (() => undefined);
  const functions = readFunctions(options.serverlessFile);
  const known = new Set(Object.keys(functions));
  const handlers = new Map<string, Promise<LocalHandler>>();
  const invocations: LambdaInvocation[] = [];

  const handlerOf = (id: string): Promise<LocalHandler> => {
    let handler = handlers.get(id);
    if (handler === undefined) {
      const override = options.overrides?.[id];
      const ref = functions[id];
      handler =
        override !== undefined
          ? Promise.resolve(override)
          : loadHandler(ref as { file: string; exportName: string }, `${LOCAL_NAME_PREFIX}${id}`);
      handlers.set(id, handler);
    }
    return handler;
  };

  const run = async (id: string, invocationType: LambdaInvocation['invocationType'], payload: unknown) => {
    const record: LambdaInvocation = {
      function: id,
      invocationType,
      payload,
      outcome: 'ok',
      at: new Date().toISOString(),
    };
    invocations.push(record);
    try {
      return { result: await (await handlerOf(id))(payload) };
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      record.outcome = `${err.name}: ${err.message}`;
      log(`lambda: ${id} failed: ${record.outcome}`);
      return {
        error: { errorType: err.name, errorMessage: err.message, trace: (err.stack ?? '').split('\n').slice(1) },
      };
    }
  };

  const invoke = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url.pathname);
    if (req.method !== 'POST' || match === null) {
      throw new AwsError(
        'UnknownOperationException',
        `The local Lambda does not implement ${req.method} ${url.pathname}.`,
        404,
      );
    }
    const functionName = decodeURIComponent(match[1] as string);
    const id = resolveFunction(functionName, known);
    if (id === undefined) {
      throw new AwsError(
        'ResourceNotFoundException',
        `Function not found: ${functionName} (serverless.yml defines ${[...known].join(', ')})`,
        404,
      );
    }
    const type = req.headers['x-amz-invocation-type'] ?? 'RequestResponse';
    if (type !== 'RequestResponse' && type !== 'Event' && type !== 'DryRun') {
      throw new AwsError(
        'InvalidParameterValueException',
        `InvocationType ${String(type)} is not valid: expected RequestResponse, Event or DryRun`,
      );
    }
    const text = await readBody(req, MAX_PAYLOAD_BYTES);
    if (text === undefined) {
      throw new AwsError('RequestTooLargeException', `Request must be smaller than ${MAX_PAYLOAD_BYTES} bytes`, 413);
    }
    let payload: unknown;
    try {
      payload = text.trim() === '' ? {} : JSON.parse(text);
    } catch {
      throw new AwsError('InvalidRequestContentException', 'Could not parse request body into json');
    }
    const headers = { 'x-amzn-requestid': randomUUID(), 'x-amz-executed-version': '$LATEST' };
    if (type === 'DryRun') {
      res.writeHead(204, headers).end();
      return;
    }
    if (type === 'Event') {
      res.writeHead(202, headers).end();
      void run(id, type, payload);
      return;
    }
    const outcome = await run(id, type, payload);
    const body = JSON.stringify(outcome.error ?? outcome.result ?? null);
    res.writeHead(200, {
      ...headers,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      ...(outcome.error === undefined ? {} : { 'x-amz-function-error': 'Unhandled' }),
    });
    res.end(body);
  };

  const server = createServer((req, res) => {
    invoke(req, res).catch((error: unknown) => {
      const err =
        error instanceof AwsError
          ? error
          : new AwsError('ServiceException', (error as Error).message ?? String(error), 500);
      if (!(error instanceof AwsError)) log(`lambda: internal error: ${(error as Error).stack ?? String(error)}`);
      const body = JSON.stringify({ Type: err.status < 500 ? 'User' : 'Service', message: err.message });
      res.writeHead(err.status, {
        'content-type': 'application/json',
        'x-amzn-errortype': err.name,
        'x-amzn-requestid': randomUUID(),
      });
      res.end(body);
    });
  });
  try {
    await listenLocal(server, options.port ?? 0);
  } catch (error) {
    throw new Error(
      `cannot start the local Lambda endpoint on 127.0.0.1:${options.port ?? 0}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    invocations,
    close: () => closeServer(server, true),
  };
}
