import { describe, expect, it } from 'vitest';
import { classifyError, classifyStatus } from '../../loadgen/classify-error.ts';

const coded = (code: string) => Object.assign(new Error(code), { code });

describe('classifyError', () => {
  it.each([
    ['ETIMEDOUT', 'timeout'],
    ['ECONNREFUSED', 'connection_refused'],
    ['ECONNRESET', 'connection_reset'],
    ['EPIPE', 'connection_reset'],
    ['ENOTFOUND', 'dns'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'tls'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'tls'],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'tls'],
    ['CERT_HAS_EXPIRED', 'tls'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'tls'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'tls'],
    ['HPE_INVALID', 'other'],
  ])('maps code %s to %s', (code, kind) => {
    expect(classifyError(coded(code))).toBe(kind);
  });

  it("reads a wrapped error's cause, and calls an error without a code other", () => {
    expect(classifyError(new Error('fetch failed', { cause: coded('ECONNREFUSED') }))).toBe('connection_refused');
    expect(classifyError(new Error('no code'))).toBe('other');
  });
});

describe('classifyStatus', () => {
  it.each([
    [200, undefined],
    [302, undefined],
    [404, 'http_4xx'],
    [503, 'http_5xx'],
  ])('maps %d to %s', (status, kind) => {
    expect(classifyStatus(status)).toBe(kind);
  });
});
