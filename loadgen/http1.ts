/**
 * A minimal HTTP/1.1 client connection for the load generator's hot path: one keep-alive socket, at most one request
 * in flight, the request bytes built once, responses parsed in place from the socket's read buffer.
 *
 * Why not undici: at 1000 req/s undici's per-request machinery (Request object, header validation, wasm parser
 * callbacks, a setImmediate before each write on a reused socket, per-request timers) cost ~2.4x the CPU of
 * autocannon's raw sockets on the benchmark machine (bench/loadgen.ts). This does what autocannon and wrk do.
 *
 * Responses: status line and headers (content-length, transfer-encoding, connection), then a body delimited by
 * content-length, chunked encoding, or the end of the connection; none for HEAD, 1xx, 204 and 304. 1xx responses
 * (other than 101) are skipped. Anything malformed fails the request and closes the connection. Timeouts are the
 * caller's: it calls `destroy` with an error (one sweep for all connections instead of a timer per request).
 */
import net from 'node:net';
import tls from 'node:tls';
import { LoadInputError } from './errors.ts';

/** What a connection reports; the engine's per-connection slot implements it (no closure per request). */
export interface ResponseHandler {
  onStatus(status: number): void;
  onBodyBytes(n: number): void;
  /** `now` is performance.now() as the response ended (one clock read per request, shared with the engine). */
  onComplete(now: number): void;
  onError(err: Error): void;
}

export interface Target {
  host: string;
  port: number;
  secure: boolean;
  /** The whole request: request line, headers, empty line. */
  request: Buffer;
  head: boolean;
}

/** Builds the target of a URL: the request bytes once, as undici would send them (host first, keep-alive). */
export function buildTarget(url: URL, method: string, headers: Record<string, string>): Target {
  const secure = url.protocol === 'https:';
  const port = url.port ? Number(url.port) : secure ? 443 : 80;
  let text = `${method} ${url.pathname}${url.search} HTTP/1.1\r\n`;
  const names = Object.keys(headers).map((n) => n.toLowerCase());
  if (!names.includes('host')) text += `host: ${url.host}\r\n`;
  if (!names.includes('connection')) text += 'connection: keep-alive\r\n';
  for (const [name, value] of Object.entries(headers)) {
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) {
      throw new LoadInputError(`headers must have token names, got ${JSON.stringify(name)}`);
    }
    if (/[\r\n\0]/.test(value)) throw new LoadInputError(`headers.${name} must not contain CR, LF or NUL`);
    text += `${name}: ${value}\r\n`;
  }
  const bodyless = method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || method === 'TRACE';
  if (!bodyless && !names.includes('content-length')) text += 'content-length: 0\r\n';
  text += '\r\n';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port, secure, request: Buffer.from(text, 'latin1'), head: method === 'HEAD' };
}

/** An error with a `code` that classifyError maps to a kind. */
export function codedError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

// Parser phases.
const HEAD = 0;
const BODY_LENGTH = 1;
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3;
const CHUNK_DATA_END = 4;
const TRAILERS = 5;
const BODY_UNTIL_CLOSE = 6;

const CR = 13;
const LF = 10;
const MAX_HEAD_BYTES = 64 * 1024;
/**
 * An idle connection is not reused after this long: servers close idle keep-alive connections (Node's default after
 * 5 s), and a request written as the close arrives would fail as a reset. undici does the same (4 s by default).
 */
const IDLE_REUSE_MS = 4000;

/** One read buffer for every plain-TCP socket of the process: a read is parsed before the next one is made. */
let sharedReadBuffer: Buffer | undefined;

export class Connection {
  /** Performance.now() when the current request was handed to the connection (timeouts count from it). */
  sentAt = 0;
  busy = false;
  /** Performance.now() when the last response ended. */
  #idleSince = 0;
  #socket: net.Socket | undefined;
  #connected = false;
  #phase = HEAD;
  /** Bytes of an incomplete status line and headers carried over from the previous read. */
  #partial: Buffer | undefined;
  #remaining = 0;
  #keepAlive = true;
  /** Chunk-size line and trailer scanning: bytes seen on the current line. */
  #lineBytes = 0;
  #chunkSize = 0;
  #chunkSizeDigits = 0;
  #inExtension = false;

  constructor(
    readonly target: Target,
    readonly handler: ResponseHandler,
  ) {}

  /** Sends the request (connecting first if needed). The handler hears of it exactly once unless destroyed silently. */
  send(now: number): void {
    this.busy = true;
    this.sentAt = now;
    this.#resetParser();
    if (this.#socket !== undefined && this.#connected && now - this.#idleSince > IDLE_REUSE_MS) this.destroy(undefined);
    if (this.#socket === undefined) this.#connect();
    else if (this.#connected) this.#socket.write(this.target.request);
  }

  /** Closes the connection; a request in flight fails with `err`. */
  destroy(err: Error | undefined): void {
    const socket = this.#socket;
    this.#socket = undefined;
    this.#connected = false;
    socket?.destroy();
    if (this.busy && err !== undefined) this.#fail(err);
  }

  #connect(): void {
    const { host, port, secure } = this.target;
    let socket: net.Socket;
    if (secure) {
      socket = tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ALPNProtocols: ['http/1.1'] });
      socket.on('data', (chunk: Buffer) => {
        if (this.#socket === socket) this.#parse(chunk, 0, chunk.length);
      });
    } else {
      sharedReadBuffer ??= Buffer.allocUnsafe(64 * 1024);
      socket = net.connect({
        host,
        port,
        noDelay: true,
        onread: {
          buffer: sharedReadBuffer,
          callback: (n: number, buf: Uint8Array): boolean => {
            if (this.#socket === socket) this.#parse(buf as Buffer, 0, n);
            return true;
          },
        },
      });
    }
    this.#socket = socket;
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      if (this.#socket !== socket) return;
      this.#connected = true;
      if (this.busy) socket.write(this.target.request);
    });
    socket.on('error', (err: Error) => {
      if (this.#socket === socket) this.destroy(err);
    });
    socket.on('close', () => {
      if (this.#socket !== socket) return;
      if (this.busy && this.#phase === BODY_UNTIL_CLOSE) {
        this.#socket = undefined;
        this.#connected = false;
        this.#complete();
      } else {
        this.destroy(codedError('the server closed the connection', 'ECONNRESET'));
      }
    });
  }

  #resetParser(): void {
    this.#phase = HEAD;
    this.#partial = undefined;
  }

  #fail(err: Error): void {
    this.busy = false;
    this.handler.onError(err);
  }

  /** Fails the request and closes the connection; returns -1 (the parse functions' "stop"). */
  #protocolError(message: string): number {
    this.destroy(codedError(`invalid HTTP response: ${message}`, 'HPE_INVALID'));
    return -1;
  }

  #complete(): void {
    const now = performance.now();
    this.busy = false;
    this.#idleSince = now;
    this.#phase = HEAD;
    if (!this.#keepAlive) {
      const socket = this.#socket;
      this.#socket = undefined;
      this.#connected = false;
      socket?.destroy();
    }
    this.handler.onComplete(now);
  }

  /** Parses `buf[start, end)`; may call the handler, which may send the next request on this connection. */
  #parse(buf: Buffer, start: number, end: number): void {
    const socket = this.#socket;
    let i = start;
    while (i < end && this.#socket === socket) {
      if (!this.busy) {
        this.#protocolError('data with no request outstanding');
        return;
      }
      switch (this.#phase) {
        case HEAD: {
          i = this.#parseHead(buf, i, end);
          if (i < 0) return;
          break;
        }
        case BODY_LENGTH: {
          const n = Math.min(this.#remaining, end - i);
          this.#remaining -= n;
          i += n;
          this.handler.onBodyBytes(n);
          if (this.#remaining === 0) this.#complete();
          break;
        }
        case BODY_UNTIL_CLOSE: {
          this.handler.onBodyBytes(end - i);
          i = end;
          break;
        }
        case CHUNK_DATA: {
          const n = Math.min(this.#remaining, end - i);
          this.#remaining -= n;
          i += n;
          this.handler.onBodyBytes(n);
          if (this.#remaining === 0) {
            this.#phase = CHUNK_DATA_END;
            this.#lineBytes = 0;
          }
          break;
        }
        default: {
          i = this.#parseChunkFraming(buf, i, end);
          if (i < 0) return;
        }
      }
    }
  }

  /** Chunk-size lines, the CRLF after chunk data, and trailers, byte by byte (they are a few bytes each). */
  #parseChunkFraming(buf: Buffer, start: number, end: number): number {
    let i = start;
    while (i < end) {
      const c = buf[i++] as number;
      if (this.#phase === CHUNK_SIZE) {
        if (c === LF) {
          if (this.#chunkSizeDigits === 0) return this.#protocolError('chunk size');
          if (this.#chunkSize === 0) {
            this.#phase = TRAILERS;
            this.#lineBytes = 0;
            continue;
          }
          this.#phase = CHUNK_DATA;
          this.#remaining = this.#chunkSize;
          return i;
        }
        if (c === CR || this.#inExtension) continue;
        if (c === 59 /* ; */) {
          this.#inExtension = true;
          continue;
        }
        const d = hexDigit(c);
        if (d < 0 || this.#chunkSizeDigits >= 12) return this.#protocolError('chunk size');
        this.#chunkSize = this.#chunkSize * 16 + d;
        this.#chunkSizeDigits++;
      } else if (this.#phase === CHUNK_DATA_END) {
        if (c === LF) {
          this.#startChunk();
          return i;
        }
        if (c !== CR) return this.#protocolError('chunk data end');
      } else {
        // TRAILERS: lines until an empty one.
        if (c === LF) {
          if (this.#lineBytes === 0) {
            this.#complete();
            return i;
          }
          this.#lineBytes = 0;
        } else if (c !== CR) {
          this.#lineBytes++;
        }
      }
    }
    return i;
  }

  #startChunk(): void {
    this.#phase = CHUNK_SIZE;
    this.#chunkSize = 0;
    this.#chunkSizeDigits = 0;
    this.#inExtension = false;
  }

  /** Parses a status line and headers; returns the index after them, `end` if incomplete, -1 on error. */
  #parseHead(buf: Buffer, start: number, end: number): number {
    let data = buf;
    let from = start;
    let to = end;
    if (this.#partial !== undefined) {
      data = Buffer.concat([this.#partial, buf.subarray(start, end)]);
      from = 0;
      to = data.length;
    }
    const headEnd = data.indexOf('\r\n\r\n', from, 'latin1');
    if (headEnd < 0 || headEnd + 4 > to) {
      if (to - from > MAX_HEAD_BYTES) return this.#protocolError('headers too large');
      // Keep a copy: `buf` is the shared read buffer, overwritten by the next read.
      this.#partial = Buffer.from(data.subarray(from, to));
      return end;
    }
    const consumed = headEnd + 4 - from - (this.#partial?.length ?? 0);
    this.#partial = undefined;

    // Status line: HTTP/1.x SSS
    if (
      headEnd - from < 12 ||
      data[from] !== 72 /* H */ ||
      data[from + 4] !== 47 /* / */ ||
      data[from + 5] !== 49 /* 1 */ ||
      data[from + 8] !== 32
    ) {
      return this.#protocolError('status line');
    }
    const minor = (data[from + 7] as number) - 48;
    const s0 = (data[from + 9] as number) - 48;
    const s1 = (data[from + 10] as number) - 48;
    const s2 = (data[from + 11] as number) - 48;
    if (s0 < 1 || s0 > 9 || s1 < 0 || s1 > 9 || s2 < 0 || s2 > 9) return this.#protocolError('status code');
    const status = s0 * 100 + s1 * 10 + s2;

    let keepAlive = minor >= 1;
    let chunked = false;
    let length = -1;
    let line = data.indexOf(LF, from) + 1;
    while (line < headEnd + 2) {
      const lineEnd = data.indexOf(LF, line);
      const colon = data.indexOf(58 /* : */, line);
      if (colon < 0 || colon > lineEnd) return this.#protocolError('header line');
      const nameLength = colon - line;
      const first = (data[line] as number) | 0x20;
      if (nameLength === 14 && first === 99 /* c */ && matches(data, line, 'content-length')) {
        const value = parseDecimal(data, colon + 1, lineEnd);
        if (value < 0 || (length >= 0 && value !== length)) return this.#protocolError('content-length');
        length = value;
      } else if (nameLength === 17 && first === 116 /* t */ && matches(data, line, 'transfer-encoding')) {
        chunked = /(?:^|,)\s*chunked\s*$/i.test(data.toString('latin1', colon + 1, lineEnd).trim());
      } else if (nameLength === 10 && first === 99 && matches(data, line, 'connection')) {
        if (containsToken(data, colon + 1, lineEnd, 'close')) keepAlive = false;
        else if (containsToken(data, colon + 1, lineEnd, 'keep-alive')) keepAlive = true;
      }
      line = lineEnd + 1;
    }
    const next = start + consumed;

    if (status < 200 && status !== 101) {
      // Informational: the real response follows.
      return next;
    }
    this.#keepAlive = keepAlive;
    this.handler.onStatus(status);
    if (this.target.head || status === 204 || status === 304 || status === 101) {
      if (status === 101) this.#keepAlive = false;
      this.#complete();
    } else if (chunked) {
      this.#startChunk();
    } else if (length >= 0) {
      this.#remaining = length;
      this.#phase = BODY_LENGTH;
      if (length === 0) this.#complete();
    } else {
      this.#keepAlive = false;
      this.#phase = BODY_UNTIL_CLOSE;
    }
    return next;
  }
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  if (l >= 97 && l <= 102) return l - 87;
  return -1;
}

/** Whether `data` at `at` holds the lower-case ASCII `name`, case-insensitively. */
function matches(data: Buffer, at: number, name: string): boolean {
  for (let k = 0; k < name.length; k++) {
    if (((data[at + k] as number) | 0x20) !== name.charCodeAt(k)) return false;
  }
  return true;
}

/** The decimal number in `data[from, to)` between optional whitespace; -1 if it is not one (at most 15 digits). */
function parseDecimal(data: Buffer, from: number, to: number): number {
  let i = from;
  while (i < to && (data[i] === 32 || data[i] === 9)) i++;
  let end = to;
  while (end > i && (data[end - 1] === 32 || data[end - 1] === 9 || data[end - 1] === CR)) end--;
  if (end === i || end - i > 15) return -1;
  let value = 0;
  for (; i < end; i++) {
    const d = (data[i] as number) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/** Whether `data[from, to)` holds the lower-case ASCII `word`, case-insensitively, anywhere. */
function containsToken(data: Buffer, from: number, to: number, word: string): boolean {
  const first = word.charCodeAt(0);
  for (let i = from; i + word.length <= to; i++) {
    if (((data[i] as number) | 0x20) === first && matches(data, i, word)) return true;
  }
  return false;
}
