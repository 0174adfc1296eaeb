/**
 * The one AWS JSON 1.1 front end every local endpoint shares (ECS, ECR, EventBridge; CodeDeploy and Lambda-style
 * endpoints add themselves the same way). An endpoint is a target prefix and a table of operations:
 *
 * ```ts
 * const ecr = await startAwsJsonEndpoint({
 *   service: 'ECR',
 *   targetPrefix: 'AmazonEC2ContainerRegistry_V20150921.',
 *   operations: { DescribeImages: (input) => describeImages(input) },
 * }, { port: 0, log });
 * ```
 *
 * The front end owns the protocol: POST with `X-Amz-Target: <prefix><Op>`, a bounded JSON object body, answers with
 * the protocol's content type and a request id, and errors as `{ "__type": name, "message": ... }` plus the
 * `x-amzn-errortype` header, which the AWS SDK turns into an exception whose `name` is `name`. An operation throws an
 * {@link AwsError} for a client fault; anything else it throws is logged and answered as the endpoint's internal error.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { faultEntries } from './faults.ts';

/** An AWS JSON 1.1 error: `__type` is the name the SDK gives the thrown error. */
export class AwsError extends Error {
  readonly status: number;
  constructor(name: string, message: string, status = 400) {
    super(message);
    this.name = name;
    this.status = status;
  }
}

/** A request body, parsed: always a JSON object. */
export type AwsJsonInput = Record<string, unknown>;

/** One operation: the parsed body (and the request, for its headers) in, the answer's body out. */
export type AwsJsonOperation = (input: AwsJsonInput, req: IncomingMessage) => unknown | Promise<unknown>;

export interface AwsJsonEndpointSpec {
  /** The service's name in messages and log lines (`ECS`, `ECR`, `EventBridge`). */
  readonly service: string;
  /** The part of `X-Amz-Target` before the operation name, dot included (`AWSEvents.`). */
  readonly targetPrefix: string;
  /** Operation name -> implementation; any other name answers UnknownOperationException. */
  readonly operations: Readonly<Record<string, AwsJsonOperation>>;
  /** Bodies beyond this many bytes are not buffered. Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /** The answer to a body over `maxBodyBytes`. Default SerializationException "Request body too large.". */
  readonly tooLarge?: () => AwsError;
  /** The name of the 500 answered for an unexpected error (ECS: ServerException). Default ServerException. */
  readonly internalError?: string;
  /** The protocol's version, in the answers' content type: `1.1` (default; ECS, ECR, EventBridge) or `1.0` (SFN). */
  readonly jsonVersion?: '1.0' | '1.1';
  /** Called for every well-formed request (known operation or not), before the operation runs. */
  readonly onCall?: (op: string, input: AwsJsonInput) => void;
}

export interface AwsJsonEndpoint {
  /** `http://127.0.0.1:<port>`: the value for `AWS_ENDPOINT_URL_<SERVICE>` or a client's `endpoint`. */
  readonly endpoint: string;
  /**
   * Stops accepting and resolves when the server has closed. `force` ends every connection at once; otherwise only
   * the idle ones, so an answer being written still arrives.
   */
  close(force: boolean): Promise<void>;
}

const DEFAULT_MAX_BODY = 1024 * 1024;

/** Starts an endpoint on 127.0.0.1 (never another interface); port 0 (default) picks a free one. */
export async function startAwsJsonEndpoint(
  spec: AwsJsonEndpointSpec,
  options: { readonly port?: number; readonly log?: (line: string) => void } = {},
): Promise<AwsJsonEndpoint> {
  const log = options.log ?? (() => undefined);
  const fault = faultSwitch(spec.service);
  const server = createServer((req, res) => {
    void handle(spec, log, req, res, fault);
  });
  try {
    await listenLocal(server, options.port ?? 0);
  } catch (error) {
    throw new Error(
      `cannot start the local ${spec.service} endpoint on 127.0.0.1:${options.port ?? 0}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: (force) => closeServer(server, force),
  };
}

async function handle(
  spec: AwsJsonEndpointSpec,
  log: (line: string) => void,
  req: IncomingMessage,
  res: ServerResponse,
  fault: () => AwsError | undefined,
): Promise<void> {
  try {
    const op = operationName(req, spec.targetPrefix);
    const input = await readInput(req, spec);
    spec.onCall?.(op, input);
    const injected = fault();
    if (injected) throw injected;
    const operation = Object.hasOwn(spec.operations, op) ? spec.operations[op] : undefined;
    if (operation === undefined) {
      throw new AwsError('UnknownOperationException', `The local ${spec.service} does not implement ${op}.`);
    }
    replyJson(res, 200, await operation(input, req), spec.jsonVersion);
  } catch (error) {
    let err: AwsError;
    if (error instanceof AwsError) {
      err = error;
    } else {
      log(`${spec.service.toLowerCase()}: internal error: ${(error as Error).stack ?? String(error)}`);
      err = new AwsError(spec.internalError ?? 'ServerException', (error as Error).message ?? String(error), 500);
    }
    res.setHeader('x-amzn-errortype', err.name);
    replyJson(res, err.status, { __type: err.name, message: err.message }, spec.jsonVersion);
  }
}

/** One call an endpoint received: the operation, its input, when (epoch ms). */
export interface AwsJsonCall {
  readonly op: string;
  readonly input: AwsJsonInput;
  readonly at: number;
}

/** An `onCall` that keeps the last `max` calls, oldest first, in `calls` (what tests read of an endpoint). */
export function callLog(max = 10_000): { calls: AwsJsonCall[]; onCall: (op: string, input: AwsJsonInput) => void } {
  const calls: AwsJsonCall[] = [];
  return {
    calls,
    onCall: (op, input) => {
      calls.push({ op, input, at: Date.now() });
      if (calls.length > max) calls.splice(0, calls.length - max);
    },
  };
}

/**
 * `ROLLGATE_LOCAL_FAULTS=ECS:throttle=3/10` (see faults.ts): of every 10 calls to the local ECS, the first 3 answer
 * ThrottlingException (HTTP 400, "Rate exceeded"), as ECS does past its API rate: bursts longer than the SDK's own
 * retries, so the state machine's Retry has to absorb them too. Read by the local endpoint, never by a handler.
 */
export function faultSwitch(service: string, env: NodeJS.ProcessEnv = process.env): () => AwsError | undefined {
  const match = faultEntries(env)
    .map((e) => /^(\w+):throttle=(\d+)\/(\d+)$/.exec(e))
    .find((m) => m?.[1] === service);
  if (!match) return () => undefined;
  const [burst, every] = [Number(match[2]), Number(match[3])];
  let calls = 0;
  return () => (calls++ % every < burst ? new AwsError('ThrottlingException', 'Rate exceeded') : undefined);
}

/** The operation a request names (`X-Amz-Target: <prefix><Op>`), when it is a POST for this service. */
function operationName(req: IncomingMessage, prefix: string): string {
  if (req.method !== 'POST') throw new AwsError('UnknownOperationException', `${req.method} is not supported.`);
  const target = req.headers['x-amz-target'];
  if (typeof target !== 'string' || !target.startsWith(prefix)) {
    throw new AwsError('UnknownOperationException', `Unknown X-Amz-Target: ${String(target)}`);
  }
  return target.slice(prefix.length);
}

/** The body as a JSON object (an empty body is `{}`). */
async function readInput(req: IncomingMessage, spec: AwsJsonEndpointSpec): Promise<AwsJsonInput> {
  const text = await readBody(req, spec.maxBodyBytes ?? DEFAULT_MAX_BODY);
  if (text === undefined) throw spec.tooLarge?.() ?? new AwsError('SerializationException', 'Request body too large.');
  let input: unknown;
  try {
    input = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw new AwsError('SerializationException', 'Request body is not valid JSON.');
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new AwsError('SerializationException', 'Request body must be a JSON object.');
  }
  return input as AwsJsonInput;
}

/**
 * Closes a local endpoint: stops accepting, ends its connections (all of them with `force`, else the idle ones so an
 * answer being written still arrives), and resolves when the server has closed.
 */
export function closeServer(server: Server, force: boolean): Promise<void> {
  const closed = new Promise<void>((done) => server.close(() => done()));
  if (force) server.closeAllConnections();
  else server.closeIdleConnections();
  return closed;
}

/** Listens on 127.0.0.1 (never another interface); port 0 picks a free one. */
export function listenLocal(server: Server, port: number): Promise<void> {
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', fail);
      done();
    });
  });
}

/** A JSON 1.x answer; for an error, `body` is `{ __type, message }` and the SDK maps `__type` to the error's name. */
function replyJson(res: ServerResponse, status: number, body: unknown, version: '1.0' | '1.1' = '1.1'): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': `application/x-amz-json-${version}`,
    'content-length': Buffer.byteLength(payload),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(payload);
}

/**
 * The body, or undefined when it is larger than `max` bytes (read to the end all the same, so the client gets an
 * answer rather than a reset connection).
 */
export async function readBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= max) chunks.push(chunk as Buffer);
  }
  return size > max ? undefined : Buffer.concat(chunks).toString('utf8');
}
