import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { MINIMAL_TARGET } from '../helpers.ts';

const target = MINIMAL_TARGET;

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('fills defaults for a minimal target', () => {
    const config = parseConfig({ version: 1, targets: [target] });
    const t = config.targets[0];
    expect(t?.tags).toEqual(['*']);
    expect(t?.rollout).toEqual({ deadlineSeconds: 900, initialWaitSeconds: 5, maxWaitSeconds: 30, backoffRate: 1.5 });
    expect(t?.health).toMatchObject({ expectStatus: 200, consecutiveSuccesses: 3, settleSeconds: 10 });
  });

  it('names the field, the value and what was expected', () => {
    const err = errorOf(() =>
      parseConfig({ version: 1, targets: [{ ...target, health: { url: 'ftp://x/health' } }] }, 'rollgate.config.yml'),
    );
    expect(err.message).toContain('invalid rollgate.config.yml');
    expect(err.message).toContain('targets[0].health.url: got "ftp://x/health", expected an http:// or https:// URL');
  });

  it.each([
    [{ ...target, rollout: { initialWaitSeconds: 60, maxWaitSeconds: 10 } }, 'targets[0].rollout.maxWaitSeconds'],
    [
      { ...target, repository: 'Not A Repo' },
      'targets[0].repository: got "Not A Repo", expected an ECR repository name',
    ],
    [{ ...target, colour: 'blue' }, 'targets[0]: unknown field(s) colour'],
    [
      { ...target, health: { url: 'http://x/h', consecutiveSuccesses: 0 } },
      'targets[0].health.consecutiveSuccesses: got 0',
    ],
  ])('rejects a bad target (%#)', (bad, expected) => {
    expect(errorOf(() => parseConfig({ version: 1, targets: [bad] })).message).toContain(expected);
  });

  it('rejects a load test that cannot be planned within Lambda and Step Functions limits', () => {
    const load = { url: 'https://web.example.com/', rate: 100, durationSeconds: 1200, workers: 2 };
    expect(errorOf(() => parseConfig({ version: 1, targets: [{ ...target, load }] })).message).toMatch(
      /targets\[0\]\.load: .*a plan that fits: durationSec 1200 is longer than one load-generator Lambda may run/,
    );
  });

  it('rejects deadlines that add up past the state machine timeout (no Catch would run)', () => {
    const slow = { ...target, rollout: { deadlineSeconds: 3600 } };
    expect(errorOf(() => parseConfig({ version: 1, targets: [slow] })).message).toContain(
      'lock.maxWaitSeconds + 2 x (rollout.deadlineSeconds + health.settleSeconds + health.deadlineSeconds) + load.durationSeconds is 11060 s',
    );
  });

  it('rejects two targets for one service', () => {
    const err = errorOf(() => parseConfig({ version: 1, targets: [target, { ...target, name: 'web2' }] }));
    expect(err.message).toContain('targets[1].service');
    expect(err.message).toContain('prod/web is already the target of targets[0]');
  });

  it('reports a missing field as missing', () => {
    const { container: _drop, ...noContainer } = target;
    expect(errorOf(() => parseConfig({ version: 1, targets: [noContainer] })).message).toContain(
      'targets[0].container: missing',
    );
  });
});

describe('loadConfigFile', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rollgate-config-'));

  it('loads the repository config', () => {
    const config = loadConfigFile('rollgate.config.yml');
    expect(config.targets.map((t) => t.name)).toContain('demo-app');
    expect(config.local?.clusters[0]?.services[0]?.loadBalancerPort).toBe(18080);
  });

  it('names the file when it is missing or not YAML', () => {
    expect(errorOf(() => loadConfigFile(path.join(dir, 'nope.yml'))).message).toMatch(
      /cannot read config file .*nope\.yml: ENOENT/,
    );
    const bad = path.join(dir, 'bad.yml');
    writeFileSync(bad, 'version: 1\ntargets: [\n');
    expect(errorOf(() => loadConfigFile(bad)).message).toContain(`${bad} is not valid YAML`);
  });
});

describe('config values bounded to what AWS accepts', () => {
  const health = target.health;
  it.each([
    [
      'a 5 MB versionHeader',
      { ...target, health: { ...health, versionHeader: 'x'.repeat(5 * 1024 * 1024) } },
      /targets\[0\]\.health\.versionHeader: got "x{79}…" \(5242880 characters\), expected an HTTP header name: 1-40/,
    ],
    [
      'a header name with a space',
      { ...target, health: { ...health, versionHeader: 'X Version' } },
      /versionHeader: got "X Version", expected an HTTP header name/,
    ],
    [
      'a header name with a control character',
      { ...target, health: { ...health, versionHeader: 'X-\u001b[2J' } },
      /versionHeader: got "X-\\u001b\[2J", expected/,
    ],
    [
      'a 5 MB load URL',
      {
        ...target,
        load: { url: `https://web.example.com/${'a'.repeat(5 * 1024 * 1024)}`, rate: 1, durationSeconds: 1 },
      },
      /targets\[0\]\.load\.url: got "https:\/\/web\.example\.com\/a+…" \(5242904 characters\), expected a URL of at most 2048/,
    ],
    [
      'a health URL over 2048 characters',
      { ...target, health: { url: `https://web.example.com/${'h'.repeat(2048)}` } },
      /targets\[0\]\.health\.url: .*expected a URL of at most 2048 characters/,
    ],
    [
      'a tag glob with a slash',
      { ...target, tags: ['v*/x'] },
      /targets\[0\]\.tags\[0\]: got "v\*\/x", expected a tag glob/,
    ],
    ['a container name with a dot', { ...target, container: 'app.v1' }, /targets\[0\]\.container: got "app\.v1"/],
    [
      'a service name with a space',
      { ...target, service: 'my web' },
      /targets\[0\]\.service: got "my web", expected an ECS service name/,
    ],
  ])('refuses %s, naming the field and cutting the value', (_what, bad, expected) => {
    const message = errorOf(() => parseConfig({ version: 1, targets: [bad] })).message;
    expect(message).toMatch(expected);
    expect(message.length).toBeLessThan(2_000);
  });

  it('accepts the limits themselves: a 40-character header name, a 2048-character URL, a service ARN', () => {
    const url = `https://web.example.com/${'h'.repeat(2048 - 24)}`;
    expect(url).toHaveLength(2048);
    const config = parseConfig({
      version: 1,
      targets: [
        {
          ...target,
          service: 'arn:aws:ecs:eu-west-1:123456789012:service/prod/web',
          health: { url, versionHeader: `X-${'v'.repeat(38)}` },
        },
      ],
    });
    expect(config.targets[0]?.health.versionHeader).toHaveLength(40);
  });

  it('lists at most 20 problems and 10 unknown field names, saying how many more', () => {
    const extra = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`field${i}`, i]));
    const targets = Array.from({ length: 25 }, (_, i) => ({
      ...target,
      name: `t${i}`,
      service: `s${i}`,
      container: '',
    }));
    const message = errorOf(() => parseConfig({ version: 1, targets: [{ ...target, ...extra }, ...targets] })).message;
    expect(message).toContain(
      'unknown field(s) field0, field1, field2, field3, field4, field5, field6, field7, field8, field9 and 20 more',
    );
    expect(message).toMatch(/\.\.\. and \d+ more problem\(s\)$/);
    expect(message.split('\n').length).toBe(22);
  });
});
