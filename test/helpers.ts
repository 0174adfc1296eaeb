import { readFileSync } from 'node:fs';
import { parseConfig } from '../src/config/load.ts';
import type { RollgateConfig, Target } from '../src/config/schema.ts';

/** An ECR event fixture from test/fixtures/events/ecr, as a fresh object to derive variants from. */
export function ecrEvent(name: 'push' | 'push-failed' | 'delete'): Record<string, unknown> & {
  detail: Record<string, unknown>;
} {
  return JSON.parse(readFileSync(new URL(`./fixtures/events/ecr/${name}.json`, import.meta.url), 'utf8'));
}

/** A minimal valid config with one target (demo-app -> demo/demo-app, container web), overridable per test. */
export function testConfig(
  overrides: { health?: Record<string, unknown>; target?: Record<string, unknown> } = {},
): RollgateConfig {
  return parseConfig({
    version: 1,
    targets: [
      {
        name: 'demo-app',
        repository: 'demo-app',
        tags: ['v*'],
        excludeTags: ['*-rc*'],
        cluster: 'demo',
        service: 'demo-app',
        container: 'web',
        rollout: { deadlineSeconds: 60, initialWaitSeconds: 1, maxWaitSeconds: 4, backoffRate: 2 },
        health: {
          url: 'http://127.0.0.1:9/health',
          settleSeconds: 0,
          intervalSeconds: 0.1,
          consecutiveSuccesses: 2,
          deadlineSeconds: 2,
          timeoutMs: 500,
          ...overrides.health,
        },
        ...overrides.target,
      },
    ],
  });
}

/** The one target of testConfig(). */
export function testTarget(overrides: Parameters<typeof testConfig>[0] = {}): Target {
  const target = testConfig(overrides).targets[0];
  if (!target) throw new Error('testConfig has no target');
  return target;
}

/** The states an execution enters when CheckImage refuses its image: nothing after it but the FAILED record. */
/** A target with only the required fields (the config tests' starting point). */
export const MINIMAL_TARGET = {
  name: 'web',
  repository: 'team/web',
  cluster: 'prod',
  service: 'web',
  container: 'app',
  health: { url: 'https://web.example.com/health' },
};

export const IMAGE_NOT_FOUND_PATH = ['Start', 'Normalize', 'ShouldDeploy', 'CheckImage', 'RecordFailed', 'Failed'];
