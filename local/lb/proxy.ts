/**
 * The reverse-proxy step of the local ALB: forwards one request to one target with the headers an ALB adds, and
 * answers 502 when the target fails before responding (or cuts the response when it fails mid-body).
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { RequestOutcome, Target } from './target-group.ts';

// RFC 9110 7.6.1: never forwarded; plus the names listed in Connection.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

function stripHopByHop(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const listed = new Set<string>();
  const connection = headers.connection;
  for (const value of Array.isArray(connection) ? connection : connection === undefined ? [] : [connection]) {
    for (const name of value.split(',')) listed.add(name.trim().toLowerCase());
  }
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(lower) || listed.has(lower)) continue;
    out[lower] = value;
  }
  return out;
}

/** Answers a request the load balancer itself refuses (no target group, no target). */
export function answerFromLoadBalancer(res: ServerResponse, status: 502 | 503, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
  res.end(`${text}\n`);
}

/**
 * Forwards `req` to `target` and streams the answer to `res`. Resolves with the status the client got, `failed` when
 * the target failed mid-body (the answer was cut), or `aborted` when the client went away first.
 */
export async function forward(
  target: Target,
  req: IncomingMessage,
  res: ServerResponse,
  options: { signal: AbortSignal; listenerPort: number; requestTimeoutMs: number },
): Promise<RequestOutcome> {
  const { signal, requestTimeoutMs } = options;
  const headers = stripHopByHop(req.headers);
  const clientIp = req.socket.remoteAddress ?? '';
  const prior = req.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = prior === undefined ? clientIp : `${String(prior)}, ${clientIp}`;
  headers['x-forwarded-proto'] = 'http';
  headers['x-forwarded-port'] = String(options.listenerPort);
  const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  try {
    const upstream = await target.pool.request({
      method: (req.method ?? 'GET') as 'GET',
      path: req.url ?? '/',
      headers,
      body: hasBody ? req : null,
      signal,
      headersTimeout: requestTimeoutMs,
      bodyTimeout: requestTimeoutMs,
    });
    res.writeHead(upstream.statusCode, stripHopByHop(upstream.headers) as OutgoingHttpHeaders);
    await pipeline(upstream.body, res);
    return upstream.statusCode;
  } catch (error) {
    if (signal.aborted) return 'aborted';
    if (!res.headersSent) {
      answerFromLoadBalancer(res, 502, '502 Bad Gateway');
      return 502;
    }
    // The status line is out: cut the connection so the client sees a broken response, not a short one.
    res.destroy(error as Error);
    return 'failed';
  }
}
