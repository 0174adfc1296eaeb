import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { FAULTS_ENV } from '../../local/faults.ts';
import { processesWithMarker } from '../e2e/env.ts';
import { OTHER_FAULTS } from './cases.ts';
import { type Env, endState, faultEnv, rollgate } from './support.ts';

/**
 * The local ECS throttling through a whole deploy: of every 10 calls, the first 3 answer ThrottlingException, a burst
 * longer than the SDK's three attempts, so the state machine's Retry absorbs what the SDK cannot.
 */
let env: Env;
beforeAll(async () => {
  env = await faultEnv();
});

describe('ECS throttling', () => {
  it(`${OTHER_FAULTS.ecsThrottling}: the retries absorb it, the deploy ends DEPLOYED`, async () => {
    const push = readFileSync('test/fixtures/events/ecr/push.json', 'utf8');
    const run = await rollgate(env, ['run', '--event', '-'], push, { [FAULTS_ENV]: 'ECS:throttle=3/10' });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^DEPLOYED/);
    expect(run.stderr).toMatch(/ retried$/m); // a Task state failed with ThrottlingException and was retried
    const name = /execution (\S+) in/.exec(run.stdout)?.[1] ?? '';
    const end = await endState(env, name);
    expect(end).toMatchObject({ steady: true, backup: true, auditRecords: 1, locks: [], events: [] });
    expect(end.serving).toContain('demo-app@sha256:7f5b2640');
    expect(processesWithMarker(env.marker)).toEqual([]);
  }, 120_000);
});
