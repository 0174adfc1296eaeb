import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/core/errors.ts';

const target = {
  name: 'web',
  repository: 'team/web',
  cluster: 'prod',
  service: 'web',
  container: 'app',
  health: { url: 'https://web.example.com/health' },
};

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
