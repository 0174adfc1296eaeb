import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { e2eEnv, portInUse, processesWithMarker } from './env.ts';

/** The rollgate command as a user runs it: a separate process, its output and exit code. */

let env: Awaited<ReturnType<typeof e2eEnv>>;

beforeAll(async () => {
  env = await e2eEnv();
});

function rollgate(args: string[], input?: string, stateDir = env.stateDir) {
  const res = spawnSync(
    process.execPath,
    ['bin/rollgate.js', ...args, '--config', env.configFile, '--state-dir', stateDir],
    {
      input: input ?? '',
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, NO_COLOR: '1' },
    },
  );
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('rollgate run', () => {
  it('deploys the ECR push fixture and prints the result object', () => {
    const { code, stdout, stderr } = rollgate(['run', '--event', 'test/fixtures/events/ecr/push.json', '--json']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({
      executionName: expect.stringMatching(/^demo-app-v2-7f5b2640-\d{8}T\d{6}Z-[0-9a-f]{4}$/),
      outcome: 'DEPLOYED',
      reason: expect.stringContaining('rollout completed'),
      image: 'demo-app:v2 (sha256:7f5b2640fe6f)',
      trigger: 'push',
    });
    expect(processesWithMarker(env.marker)).toEqual([]);
  });

  it('finds the service where the last run left it, and exits 3 on a rollback', async () => {
    const { code, stdout } = rollgate(
      ['run', '--event', '-', '--json'],
      '{"repository":"demo-app","tag":"v3-unhealthy","reason":"e2e"}',
    );
    expect(code).toBe(3);
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({ outcome: 'ROLLED_BACK', trigger: 'manual', error: 'HealthCheckFailedError' });
    // the previous image is v2, deployed by the first run: the state persisted between commands
    expect(result.previousImage).toBe(
      '123456789012.dkr.ecr.us-west-2.amazonaws.com/demo-app@sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd12345678',
    );
    expect(processesWithMarker(env.marker)).toEqual([]);
    expect(await portInUse(env.port)).toBe(false);
  });

  it.each([
    ['malformed JSON', '{"repository": ', 'is not valid JSON'],
    [
      'an event of the wrong shape',
      '{"source":"aws.ecr","detail-type":"ECR Image Action","detail":{}}',
      'not a valid ECR image event',
    ],
    ['a manual input without a tag', '{"repository":"demo-app"}', 'expected a "tag" or a "digest"'],
  ])('exits 2 on %s, saying what is wrong, and starts nothing', (_what, input, message) => {
    const { code, stderr, stdout } = rollgate(['run', '--event', '-', '--json'], input);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(message);
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  /** The push fixture with some of its detail replaced. */
  const pushWith = (detail: Record<string, string>) => {
    const event = JSON.parse(readFileSync('test/fixtures/events/ecr/push.json', 'utf8'));
    Object.assign(event.detail, detail);
    return JSON.stringify(event);
  };

  it.each([
    ['a tag that climbs directories', pushWith({ 'image-tag': '../../etc' }), 'detail.image-tag: got "../../etc"'],
    ['a tag with a space', pushWith({ 'image-tag': 'v 2' }), 'detail.image-tag: got "v 2"'],
    ['a 300-character tag', pushWith({ 'image-tag': 'v'.repeat(300) }), '…" (300 characters), expected an image tag'],
    ['an uppercase repository', pushWith({ 'repository-name': 'Demo-App' }), 'detail.repository-name: got "Demo-App"'],
    [
      "the AWS documentation's sample digest (60 hex)",
      pushWith({ 'image-digest': 'sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234' }),
      'detail.image-digest: got "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234", expected a digest "sha256:" + 64',
    ],
    ['an ANSI escape instead of JSON', '\u001b[2J\u001b[Hnot json', 'stdin is not valid JSON: '],
    [
      'more than 256 KiB',
      JSON.stringify({ repository: 'demo-app', tag: 'v2', pad: 'x'.repeat(300_000) }),
      'Step Functions accepts at most 262144',
    ],
  ])('exits 2 on an event with %s, naming the field, escaping what it quotes', (_what, input, message) => {
    const { code, stderr, stdout } = rollgate(['run', '--event', '-', '--json'], input);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(message);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence
    expect(stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(stderr.length).toBeLessThan(2_000);
  });

  it('reads an event file that starts with a UTF-8 byte order mark', () => {
    const file = path.join(env.dir, 'bom.json');
    writeFileSync(file, `\ufeff${pushWith({ 'image-tag': 'latest' })}`);
    // a state of their own: the history tests below count the executions of the shared one
    const { code, stdout } = rollgate(['run', '--event', file, '--json'], '', path.join(env.dir, 'other-state'));
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ outcome: 'IGNORED' });
  });

  it('ends FAILED (exit 4) on a digest that was never pushed, naming it, with nothing deployed', () => {
    const digest = `sha256:${'deadbeef'.repeat(8)}`;
    const { code, stdout } = rollgate(
      ['run', '--event', '-', '--json'],
      JSON.stringify({ repository: 'demo-app', digest }),
      path.join(env.dir, 'other-state'),
    );
    expect(code).toBe(4);
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({ outcome: 'FAILED', error: 'ImageNotFoundError' });
    expect(result.reason).toContain('ECR has no image with digest sha256:deadbeefdead in repository demo-app');
    expect(result.backupKey).toBeUndefined();
  });

  it('exits 2 naming the field when the config is invalid', () => {
    const bad = path.join(env.dir, 'bad.yml');
    writeFileSync(bad, 'version: 1\ntargets:\n  - name: x\n    repository: demo-app\n');
    const res = spawnSync(process.execPath, ['bin/rollgate.js', 'validate', '--config', bad], { encoding: 'utf8' });
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('targets[0].cluster: missing');
  });
});

describe('rollgate history', () => {
  it('lists what ran, newest first, with trigger, image, outcome and reason', () => {
    const { code, stdout } = rollgate(['history', '--json']);
    expect(code).toBe(0);
    const rows = JSON.parse(stdout) as {
      trigger: string;
      image: string;
      outcome: string;
      reason: string;
      startedAt: string;
    }[];
    expect(rows.map((r) => [r.trigger, r.outcome])).toEqual([
      ['manual', 'ROLLED_BACK'],
      ['push', 'DEPLOYED'],
    ]);
    expect(rows[0]?.image).toBe('demo-app:v3-unhealthy');
    expect(rows[0]?.reason).toMatch(/^health check failed/);
    expect((rows[0]?.startedAt ?? '') > (rows[1]?.startedAt ?? '')).toBe(true);
    const text = rollgate(['history']);
    expect(text.stdout).toContain('v3-unhealthy');
  });

  it('is wiped by reset', () => {
    expect(rollgate(['reset']).code).toBe(0);
    expect(existsSync(env.stateDir)).toBe(false);
    expect(JSON.parse(rollgate(['history', '--json']).stdout)).toEqual([]);
  });
});

describe('Ctrl-C', () => {
  it('stops the local cloud mid-deploy: exit 130, no process left, the load balancer port free', async () => {
    const child = spawn(
      process.execPath,
      ['bin/rollgate.js', 'demo', '--config', env.configFile, '--state-dir', env.stateDir],
      {
        env: { ...process.env, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    const interrupted = new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        // interrupt once the first deploy is under way
        if (/WaitForRollout/.test(output)) {
          child.stdout.off('data', onData);
          child.stderr.off('data', onData);
          child.kill('SIGINT');
          resolve();
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await interrupted;
    expect(await exited).toBe(130);
    expect(output).toContain('push demo-app:v2');
    expect(processesWithMarker(env.marker)).toEqual([]);
    expect(await portInUse(env.port)).toBe(false);
  }, 90_000);
});
