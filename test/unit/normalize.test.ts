import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/core/errors.ts';
import { normalize, parseInputText } from '../../src/core/normalize.ts';
import { ecrEvent, testConfig } from '../helpers.ts';

const execution = {
  id: 'arn:aws:states:us-east-1:1:execution:m:e1',
  name: 'e1',
  startedAt: '2026-11-22T10:00:00.000Z',
};
const config = testConfig();

function withDetail(overrides: Record<string, unknown>) {
  const event = ecrEvent('push');
  event.detail = { ...event.detail, ...overrides };
  return event;
}

describe('normalize', () => {
  it('deploys a successful push of a matching tag, pinned by digest, with the ECR registry of the event', () => {
    const job = normalize({ config, input: ecrEvent('push'), execution });
    expect(job.decision).toBe('DEPLOY');
    expect(job.target?.service).toBe('demo-app');
    expect(job.image).toEqual({
      repository: 'demo-app',
      tag: 'v2',
      digest: 'sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd12345678',
      registry: '123456789012.dkr.ecr.us-west-2.amazonaws.com',
      display: 'demo-app:v2 (sha256:7f5b2640fe6f)',
    });
    expect(job.trigger).toEqual({
      type: 'push',
      eventId: '13cde686-328b-6117-af20-0e5566167482',
      eventTime: '2019-11-16T01:54:34Z',
    });
    expect(job.execution).toEqual(execution);
  });

  it.each([
    ['an unknown repository', withDetail({ 'repository-name': 'other' }), 'no target for repository other'],
    ['a tag outside the filters', withDetail({ 'image-tag': 'latest' }), 'tag latest matches no target'],
    ['an excluded tag', withDetail({ 'image-tag': 'v3-rc1' }), 'tag v3-rc1 matches no target'],
    ['a failed push', ecrEvent('push-failed'), 'the push did not succeed (result FAILURE)'],
    ['a delete', ecrEvent('delete'), 'not a push (action-type DELETE)'],
    ['an untagged push', withDetail({ 'image-tag': undefined }), 'untagged push'],
  ])('ignores %s with the reason', (_what, input, reason) => {
    const job = normalize({ config, input, execution });
    expect(job.decision).toBe('IGNORE');
    expect(job.reason).toContain(reason);
    expect(job.target).toBeUndefined();
  });

  it('accepts a manual input by tag, with reason and force', () => {
    const job = normalize({
      config,
      input: { repository: 'demo-app', tag: 'v7', reason: 're-run', force: true },
      execution,
    });
    expect(job.decision).toBe('DEPLOY');
    expect(job.trigger).toEqual({ type: 'manual', reason: 're-run', force: true });
    expect(job.image.display).toBe('demo-app:v7');
  });

  it('accepts a manual input by digest alone (the operator named the image)', () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const job = normalize({ config, input: { repository: 'demo-app', digest }, execution });
    expect(job.decision).toBe('DEPLOY');
    expect(job.image).toMatchObject({ repository: 'demo-app', digest });
  });

  it('marks the load test only for targets with load settings whose tags match', () => {
    const withLoad = testConfig({
      target: { load: { url: 'http://127.0.0.1:9/', rate: 10, durationSeconds: 1, tags: ['v*-perf', 'v4*'] } },
    });
    expect(normalize({ config: withLoad, input: { repository: 'demo-app', tag: 'v4-slow' }, execution }).loadTest).toBe(
      true,
    );
    expect(normalize({ config: withLoad, input: { repository: 'demo-app', tag: 'v2' }, execution }).loadTest).toBe(
      false,
    );
    expect(normalize({ config, input: { repository: 'demo-app', tag: 'v4' }, execution }).loadTest).toBe(false);
  });

  it.each([
    ['null', null, 'execution input must be a JSON object'],
    ['an array', [], 'got an array'],
    ['a string', 'deploy please', 'got string'],
    [
      'a manual input without tag or digest',
      { repository: 'demo-app' },
      'tag: missing, expected a "tag" or a "digest"',
    ],
    ['a manual input with a typo', { repository: 'demo-app', tga: 'v2' }, 'unknown field(s) tga'],
    [
      'a bad digest',
      { repository: 'demo-app', digest: 'md5:1' },
      'digest: got "md5:1", expected a digest "sha256:" + 64',
    ],
    [
      'an event from another source',
      { ...ecrEvent('push'), source: 'aws.s3' },
      'source: got "aws.s3", expected "aws.ecr"',
    ],
    ['an event without detail', { ...ecrEvent('push'), detail: undefined }, 'detail: missing'],
  ])('rejects %s with a named error saying what is wrong', (_what, input, message) => {
    let caught: unknown;
    try {
      normalize({ config, input, execution });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidInputError);
    expect((caught as Error).name).toBe('InvalidInputError');
    expect((caught as Error).message).toContain(message);
  });
});

describe("validation at the door: ECR's own rules, in the event and the manual input alike", () => {
  const config = testConfig();
  const execution = { id: 'arn:x', name: 'e', startedAt: '2026-11-22T10:00:00.000Z' };
  const withDetail = (detail: Record<string, unknown>) => {
    const event = ecrEvent('push');
    Object.assign(event.detail, detail);
    return event;
  };
  /** The InvalidInputError message normalize throws for `input`; fails when it throws nothing or something else. */
  const refusal = (input: unknown): string => {
    try {
      normalize({ config, input, execution });
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidInputError);
      return (err as Error).message;
    }
    throw new Error('accepted');
  };

  it.each([
    [
      'a tag that climbs directories',
      { 'image-tag': '../../etc' },
      'detail.image-tag: got "../../etc", expected an image tag',
    ],
    ['a tag with a space', { 'image-tag': 'v 2' }, 'detail.image-tag: got "v 2", expected an image tag'],
    ['a 129-character tag', { 'image-tag': `v${'1'.repeat(128)}` }, 'detail.image-tag: got "v111'],
    ['a tag starting with "-"', { 'image-tag': '-v2' }, 'detail.image-tag: got "-v2"'],
    [
      'an uppercase repository',
      { 'repository-name': 'Demo-App' },
      'detail.repository-name: got "Demo-App", expected an ECR repository name',
    ],
    ['a one-character repository', { 'repository-name': 'd' }, 'detail.repository-name: got "d"'],
    [
      'a repository with an empty path part',
      { 'repository-name': 'team//web' },
      'detail.repository-name: got "team//web"',
    ],
    [
      "the AWS documentation's sample digest (60 hex)",
      { 'image-digest': 'sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234' },
      'detail.image-digest: got "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234", expected a digest "sha256:" + 64',
    ],
    ['an uppercase digest', { 'image-digest': `sha256:${'AB'.repeat(32)}` }, 'detail.image-digest: got "sha256:ABAB'],
  ])('refuses a push event with %s, naming the field', (_what, detail, message) => {
    expect(refusal(withDetail(detail))).toContain(message);
  });

  it.each([
    ['a tag that climbs directories', { tag: '../../etc' }, 'tag: got "../../etc", expected an image tag'],
    ['a 300-character tag', { tag: 'v'.repeat(300) }, 'tag: got "vvvv'],
    [
      'an uppercase repository',
      { repository: 'Demo-App', tag: 'v2' },
      'repository: got "Demo-App", expected an ECR repository name',
    ],
    [
      'a short digest',
      { digest: 'sha256:deadbeef' },
      'digest: got "sha256:deadbeef", expected a digest "sha256:" + 64',
    ],
  ])('refuses a manual input with %s, naming the field', (_what, fields, message) => {
    expect(refusal({ repository: 'demo-app', ...fields })).toContain(message);
  });

  it('accepts the longest tag ECR allows (128) and a 256-character nested repository name', () => {
    const tag = `v${'1'.repeat(127)}`;
    expect(normalize({ config, input: { repository: 'demo-app', tag }, execution }).image.tag).toBe(tag);
    const repository = `${'a'.repeat(127)}/${'b'.repeat(128)}`;
    expect(repository).toHaveLength(256);
    expect(normalize({ config, input: { repository, tag: 'v1' }, execution }).decision).toBe('IGNORE');
    expect(refusal({ repository: `${repository}b`, tag: 'v1' })).toContain('repository: got');
  });

  it('cuts a long value in the message and says how long it was', () => {
    const message = refusal(withDetail({ 'image-tag': 'x'.repeat(5_000) }));
    expect(message).toMatch(/detail\.image-tag: got "x{79}…" \(5000 characters\), expected an image tag/);
    expect(message.length).toBeLessThan(1_000);
  });

  it('never shows a control character raw: ANSI escapes, bidi overrides and DEL come out escaped', () => {
    const message = refusal({ repository: 'demo-app', tag: '\u001b[2J\u202e\u007fv2' });
    expect(message).toContain('tag: got "\\u001b[2J\\u202e\\u007fv2"');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence
    expect(message).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
  });

  it('refuses an input over 256 KiB, as Step Functions would', () => {
    const input = { repository: 'demo-app', tag: 'v2', reason: 'x'.repeat(300), padding: 'y'.repeat(256 * 1024) };
    expect(refusal(input)).toMatch(/^execution input is \d+ bytes: Step Functions accepts at most 262144 \(256 KiB\)/);
  });
});

describe('parseInputText (rollgate run --event FILE)', () => {
  it('reads a file with a UTF-8 byte order mark as if it had none', () => {
    expect(parseInputText('\ufeff{"repository":"demo-app","tag":"v2"}', 'event.json')).toEqual({
      repository: 'demo-app',
      tag: 'v2',
    });
  });

  it('refuses more than 256 KiB before parsing it, as Step Functions would', () => {
    const text = JSON.stringify({ repository: 'demo-app', tag: 'v2', pad: 'x'.repeat(10 * 1024 * 1024) });
    expect(() => parseInputText(text, 'big.json')).toThrow(
      /^big\.json is 10485\d{3} bytes: Step Functions accepts at most 262144 \(256 KiB\) of execution input$/,
    );
  });

  it('names the file and escapes what the JSON parser quotes from it: an ANSI escape never reaches the terminal', () => {
    let message = '';
    try {
      parseInputText('\u001b[2J\u001b[Hhello', 'evil\u001b].json');
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidInputError);
      message = (err as Error).message;
    }
    expect(message).toMatch(/^evil\\u001b\]\.json is not valid JSON: /);
    expect(message).toContain('\\u001b');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence
    expect(message).not.toMatch(/[\u0000-\u001f]/);
  });
});
