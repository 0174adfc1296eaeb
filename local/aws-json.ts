/**
 * The HTTP plumbing every local AWS JSON 1.1 endpoint shares (ECS, EventBridge, ECR): listening on 127.0.0.1,
 * replying with the protocol's content type and request id, reading a bounded body.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** An AWS JSON 1.1 error: `__type` is the name the SDK gives the thrown error. */
export class AwsError extends Error {
  readonly status: number;
  constructor(name: string, message: string, status = 400) {
    super(message);
    this.name = name;
    this.status = status;
  }
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

/** A JSON 1.1 answer; for an error, `body` is `{ __type, message }` and the SDK maps `__type` to the error's name. */
export function replyJson(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
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

/**
 * The operation a request names (`X-Amz-Target: <prefix><Op>`), when it is a POST for this service and one of
 * `implemented`; else the AwsError the SDK would get from AWS for an unknown operation.
 */
export function awsOperation(
  req: IncomingMessage,
  prefix: string,
  implemented: readonly string[],
  service: string,
): string {
  if (req.method !== 'POST') throw new AwsError('UnknownOperationException', `${req.method} is not supported.`);
  const target = req.headers['x-amz-target'];
  if (typeof target !== 'string' || !target.startsWith(prefix)) {
    throw new AwsError('UnknownOperationException', `Unknown X-Amz-Target: ${String(target)}`);
  }
  const op = target.slice(prefix.length);
  if (!implemented.includes(op))
    throw new AwsError('UnknownOperationException', `The local ${service} does not implement ${op}.`);
  return op;
}
