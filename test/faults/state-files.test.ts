import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { processesWithMarker } from '../e2e/env.ts';
import { BROKEN_EXECUTION_FILES, BROKEN_STATE_FILES, OTHER_FAULTS } from './cases.ts';
import { type Env, endState, faultEnv, rollgate } from './support.ts';

/**
 * The local cloud's state files damaged as a crash, a full disk or a careless edit leaves them: each is named in the
 * error with what to do, or skipped and named while the rest is used; never a bare parser message, never a hang.
 */
let env: Env;
let deployed: string;
const PUSH = readFileSync('test/fixtures/events/ecr/push.json', 'utf8');
/** A manual input the target's excludeTags ignore: a whole run, fast. */
const IGNORED = JSON.stringify({ repository: 'demo-app', tag: 'v9-rc1' });

const restore: (() => void)[] = [];
/** Replaces a state file for one test; afterEach puts the original back. */
function damage(file: string, content: string, append = false) {
  const full = path.join(env.stateDir, file);
  const original = existsSync(full) ? readFileSync(full) : undefined;
  restore.push(() => (original === undefined ? rmSync(full) : writeFileSync(full, original)));
  if (append) appendFileSync(full, content);
  else writeFileSync(full, content);
  return full;
}
afterEach(() => {
  for (const undo of restore.splice(0)) undo();
  expect(processesWithMarker(env.marker)).toEqual([]);
});

beforeAll(async () => {
  env = await faultEnv();
  const first = await rollgate(env, ['run', '--event', '-', '--json', '--quiet'], PUSH);
  expect(first.code, first.stderr).toBe(0);
  deployed = JSON.parse(first.stdout).executionName;
});

describe('duplicate delivery', () => {
  it(`${OTHER_FAULTS.duplicate}: the same push delivered twice, as two runs, ends IGNORED the second time`, async () => {
    const second = await rollgate(env, ['run', '--event', '-', '--json', '--quiet'], PUSH);
    expect(second.code).toBe(0);
    const out = JSON.parse(second.stdout);
    expect(out).toMatchObject({
      outcome: 'IGNORED',
      reason: expect.stringContaining(`already handled by execution ${deployed}`),
    });
    const end = await endState(env, out.executionName);
    expect(end).toMatchObject({
      serving: expect.stringContaining('demo-app@sha256:7f5b2640'),
      steady: true,
      backup: false,
      auditRecords: 1,
      locks: [],
      events: [],
    });
  });
});

describe('damaged state files', () => {
  it(`${OTHER_FAULTS.tornEvents}: the run still prints its outcome, and names the file`, async () => {
    const file = damage('events.jsonl', '{"torn', true);
    const run = await rollgate(env, ['run', '--event', '-'], IGNORED);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^IGNORED/);
    expect(run.stderr).toContain(`${file}: 1 unreadable line(s) skipped`);
    expect(run.stderr).toContain('rollgate reset');
  });

  it.each(BROKEN_STATE_FILES)(
    '%s: run exits 1 naming the file and rollgate reset, starting nothing',
    async (_what, file, content, message) => {
      const full = damage(file, content);
      const run = await rollgate(env, ['run', '--event', '-'], IGNORED);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain(`${full} ${message}`);
      expect(run.stderr).toContain('rollgate reset clears it');
      expect(run.stderr).not.toContain('not steady');
    },
  );

  it.each(BROKEN_EXECUTION_FILES)(
    '%s: history and metrics list the others and name the skipped file',
    async (_what, content) => {
      const file = damage(path.join('executions', `${deployed}.json`), content);
      const others = readdirSync(path.join(env.stateDir, 'executions')).length - 1;
      const history = await rollgate(env, ['history', '--json']);
      expect(history.code).toBe(0);
      expect(JSON.parse(history.stdout)).toHaveLength(others);
      expect(history.stderr).toContain(`skipped ${file}: `);
      expect(history.stderr).toContain('1 execution file(s) skipped, the others are listed');
      const metrics = await rollgate(env, ['metrics', '--json']);
      expect(metrics.code).toBe(0);
      expect(metrics.stderr).toContain(`skipped ${file}: `);
    },
  );

  it.each([
    [OTHER_FAULTS.reusedPid, (): string => String(sleeper())],
    [OTHER_FAULTS.garbagePid, (): string => 'garbage'],
  ])('%s: detected as stale; the run goes on', async (_what, content) => {
    writeFileSync(path.join(env.stateDir, 'cloud.pid'), content());
    const run = await rollgate(env, ['run', '--event', '-'], IGNORED);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^IGNORED/);
  });

  it(`${OTHER_FAULTS.resetReusedPid}: detected as stale, the state is wiped`, async () => {
    writeFileSync(path.join(env.stateDir, 'cloud.pid'), String(sleeper()));
    const reset = await rollgate(env, ['reset']);
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stdout).toContain(`removed ${env.stateDir}`);
  });
});

/** A live process that is not a rollgate: a pid a reused cloud.pid could name. */
function sleeper(): number {
  // without the suite's marker: it is not one of rollgate's processes, whose leftovers afterEach looks for
  const { ROLLGATE_TEST_MARKER: _marker, ...env } = process.env;
  const child = spawn('sleep', ['30'], { stdio: 'ignore', env });
  restore.push(() => child.kill());
  return child.pid ?? 0;
}
