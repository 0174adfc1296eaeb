/**
 * Error kinds the reports count. Responses with a status >= 400 are errors too (`http_4xx`, `http_5xx`);
 * 1xx-3xx are successes (a load test of a redirecting URL measures the redirect, it does not follow it).
 */
export type ErrorKind =
  | 'timeout'
  | 'connection_refused'
  | 'connection_reset'
  | 'dns'
  | 'tls'
  | 'http_4xx'
  | 'http_5xx'
  | 'other';

const BY_CODE: Record<string, ErrorKind> = {
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
  UND_ERR_CONNECT_TIMEOUT: 'timeout',
  ETIMEDOUT: 'timeout',
  ECONNREFUSED: 'connection_refused',
  ECONNRESET: 'connection_reset',
  EPIPE: 'connection_reset',
  UND_ERR_SOCKET: 'connection_reset',
  UND_ERR_CLOSED: 'connection_reset',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
};

/**
 * TLS failures: Node's own codes (ERR_TLS_CERT_ALTNAME_INVALID, ERR_SSL_WRONG_VERSION_NUMBER for https:// to a plain
 * port, ...) and OpenSSL's certificate verification codes (UNABLE_TO_VERIFY_LEAF_SIGNATURE, CERT_HAS_EXPIRED,
 * DEPTH_ZERO_SELF_SIGNED_CERT, SELF_SIGNED_CERT_IN_CHAIN, ...).
 */
const TLS_CODE = /^ERR_(?:TLS|SSL)_|CERT|_SIGNATURE/;

/** Maps an undici / Node network error to its kind by `code` (the cause's code for wrapped errors). */
export function classifyError(err: unknown): ErrorKind {
  const code = codeOf(err) ?? codeOf((err as { cause?: unknown } | null)?.cause);
  if (code === undefined) return 'other';
  return BY_CODE[code] ?? (TLS_CODE.test(code) ? 'tls' : 'other');
}

/** `http_4xx` for 400-499, `http_5xx` for 500 and above, undefined for a success (< 400). */
export function classifyStatus(status: number): ErrorKind | undefined {
  if (status < 400) return undefined;
  return status < 500 ? 'http_4xx' : 'http_5xx';
}

function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}
