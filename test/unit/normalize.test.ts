import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/core/errors.ts';
import { normalize } from '../../src/core/normalize.ts';
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
    ['a bad digest', { repository: 'demo-app', digest: 'md5:1' }, 'expected a digest "sha256:<hex>"'],
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
