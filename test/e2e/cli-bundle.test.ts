import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * bin/rollgate.js runs the bundle only while it is newer than every source it was built from: a checkout with a
 * bundle (`bundle`) and sources (`sources`) that each say which one ran.
 */
let dir: string;
const builtAt = Date.parse('2026-06-01T00:00:00.000Z');

function which(): string {
  const res = spawnSync(process.execPath, [path.join(dir, 'bin/rollgate.js')], { encoding: 'utf8', timeout: 60_000 });
  expect(res.stderr).toBe('');
  return res.stdout.trim();
}

function touch(file: string, ms: number): void {
  utimesSync(path.join(dir, file), ms / 1000, ms / 1000);
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'rollgate-bundle-'));
  for (const d of ['bin', 'cli', 'dist', 'src']) mkdirSync(path.join(dir, d));
  symlinkSync(path.resolve('node_modules'), path.join(dir, 'node_modules'), 'dir');
  copyFileSync('bin/rollgate.js', path.join(dir, 'bin/rollgate.js'));
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(
    path.join(dir, 'cli/main.ts'),
    "export async function run(): Promise<void> { console.log('sources'); }\n",
  );
  writeFileSync(path.join(dir, 'src/used.ts'), 'export const used = 1;\n');
  writeFileSync(path.join(dir, 'dist/main.js'), "export async function run() { console.log('bundle'); }\n");
  writeFileSync(
    path.join(dir, 'dist/inputs.json'),
    JSON.stringify({ builtAtMs: builtAt, inputs: ['cli/main.ts', 'src/used.ts'] }),
  );
  touch('cli/main.ts', builtAt - 60_000);
  touch('src/used.ts', builtAt - 60_000);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('bin/rollgate.js', () => {
  it('runs the bundle while it is newer than its sources', () => {
    expect(which()).toBe('bundle');
  });

  it('runs the sources once any of them changed after the build', () => {
    touch('src/used.ts', builtAt + 1000);
    expect(which()).toBe('sources');
    touch('src/used.ts', builtAt - 60_000);
    expect(which()).toBe('bundle');
  });

  it('runs the sources when a file the bundle was built from is gone, or there is no bundle', () => {
    rmSync(path.join(dir, 'src/used.ts'));
    expect(which()).toBe('sources');
    writeFileSync(path.join(dir, 'src/used.ts'), 'export const used = 1;\n');
    touch('src/used.ts', builtAt - 60_000);
    rmSync(path.join(dir, 'dist/inputs.json'));
    expect(which()).toBe('sources');
  });
});

describe('the bundle npm ci builds (scripts/build-cli.mjs)', () => {
  it('prints what the sources print, and exits with the same codes', () => {
    const build = spawnSync(process.execPath, ['scripts/build-cli.mjs'], { encoding: 'utf8', timeout: 120_000 });
    expect(build.stderr).toBe('');
    expect(build.status).toBe(0);
    const bad = path.join(dir, 'bad.yml');
    writeFileSync(bad, 'version: 1\ntargets:\n  - name: x\n    repository: demo-app\n');
    for (const args of [
      ['--help'],
      ['validate'],
      ['validate', '--config', bad],
      ['nope'],
      ['history', '--limit', '0'],
    ]) {
      const run = (sources: boolean) =>
        spawnSync(process.execPath, ['bin/rollgate.js', ...args], {
          encoding: 'utf8',
          timeout: 60_000,
          env: { ...process.env, NO_COLOR: '1', ROLLGATE_SOURCES: sources ? '1' : '0' },
        });
      const fromBundle = run(false);
      const fromSources = run(true);
      expect([fromBundle.status, fromBundle.stdout, fromBundle.stderr], args.join(' ')).toEqual([
        fromSources.status,
        fromSources.stdout,
        fromSources.stderr,
      ]);
    }
  });
});
