import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { Io } from '../../cli/io.ts';
import { main } from '../../cli/main.ts';
import { freePort } from '../e2e/env.ts';
import { nastyString, RAW_CONTROL } from './arbitraries.ts';

/**
 * Every command's argument parsing fed random and mutated command lines (fast-check), in process through `main`:
 * never an uncaught exception, only the exit codes README documents, never a control character raw on the terminal
 * nor a megabyte of echo. Nothing it could start is real: the config files do not exist or are invalid, state dirs
 * are temp dirs, load test URLs are invalid, and the AWS clients point at a closed port on 127.0.0.1.
 */

const RUNS = 3000;
const DOCUMENTED = [0, 1, 2, 3, 4, 130, 143];

const dir = mkdtempSync(path.join(tmpdir(), 'rollgate-cli-prop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const badConfig = path.join(dir, 'bad.yml');
writeFileSync(badConfig, 'version: 1\ntargets:\n  - name: "\u001b[2J"\n    repository: Demo-App\n');
const eventFile = path.join(dir, 'event.json');
writeFileSync(eventFile, '\ufeff{"repository":"Demo-App","tag":"../../etc"}');
const ansiFile = path.join(dir, 'ansi.json');
writeFileSync(ansiFile, '\u001b[2J\u001b[Hnot json');

const COMMANDS = [
  'demo',
  'run',
  'check-missed',
  'loadtest',
  'reset',
  'history',
  'metrics',
  'validate',
  'start',
  'redrive',
];

const FLAGS = [
  '--config',
  '--state-dir',
  '--json',
  '--quiet',
  '--help',
  '-h',
  '--event',
  '--service',
  '--limit',
  '--since',
  '--until',
  '--aws',
  '--bucket',
  '--state-machine-arn',
  '--repository',
  '--tag',
  '--digest',
  '--reason',
  '--force',
  '--started-by',
  '--start',
  '--min-age',
  '--url',
  '--rate',
  '--duration',
  '--workers',
  '--connections',
  '--out',
  '--p95',
  '--nope',
];

/** Values that exist, nearly exist, or are nasty; never a usable config or a reachable load test URL. */
const VALUES = fc.oneof(
  nastyString,
  fc.constantFrom(
    badConfig,
    path.join(dir, 'missing.yml'),
    eventFile,
    ansiFile,
    '-',
    path.join(dir, 'state'),
    '0',
    '-1',
    '50',
    '1e9',
    'NaN',
    '30d',
    '2026-13-45',
    'demo-app',
    'v2',
    `sha256:${'ab'.repeat(32)}`,
    'arn:aws:states:us-east-1:123456789012:stateMachine:rollgate-deploy-dev',
    'arn:aws:states:us-east-1:123456789012:execution:rollgate-deploy-dev:x',
    'my-bucket',
    'ftp://127.0.0.1:9/',
    'not a url',
  ),
);

/**
 * The flags that name a directory a command writes or wipes (`reset` removes its state dir) always get a temp dir:
 * a random `--state-dir .` must never reach a real directory.
 */
const WRITES = new Set(['--state-dir', '--out']);
function safe(tokens: string[]): string[] {
  return tokens
    .filter((t) => ![...WRITES].some((flag) => t.startsWith(`${flag}=`)))
    .map((t, i, all) => (WRITES.has(all[i - 1] ?? '') ? path.join(dir, 'state') : t));
}

const argv = fc.tuple(
  fc.oneof(fc.constantFrom(...COMMANDS), nastyString),
  fc.array(fc.oneof(fc.constantFrom(...FLAGS), VALUES), { maxLength: 8 }).map(safe),
);

/** Command lines that get past the flag parser: each command's own valid usage (AWS ones hit a closed port). */
const SMA = 'arn:aws:states:us-east-1:123456789012:stateMachine:rollgate-deploy-dev';
const VALID: string[][] = [
  ['start', '--repository', 'demo-app', '--tag', 'v2', '--reason', 'r', '--state-machine-arn', SMA],
  ['start', '--repository', 'demo-app', '--digest', `sha256:${'ab'.repeat(32)}`, '--state-machine-arn', SMA, '--json'],
  ['redrive', 'arn:aws:states:us-east-1:123456789012:execution:rollgate-deploy-dev:x'],
  ['history', '--json', '--limit', '5', '--service', 'demo-app'],
  ['history', '--aws', '--bucket', 'my-bucket', '--since', '30d'],
  ['metrics', '--since', '30d', '--until', '2026-11-30', '--json'],
  ['metrics', '--aws', '--bucket', 'my-bucket'],
  ['run', '--event', eventFile, '--json'],
  ['run', '--event', ansiFile],
  ['validate', '--config', badConfig],
  ['check-missed', '--start', '--min-age', '60'],
  ['loadtest', '--url', 'ftp://127.0.0.1:9/', '--rate', '10', '--duration', '1'],
  ['demo', '--quiet'],
  ['reset'],
];

/** A valid command line with one token replaced by a nasty value, deleted, or a nasty token inserted. */
const mutatedLine = fc
  .tuple(
    fc.constantFrom(...VALID),
    fc.nat(),
    fc.oneof(fc.constant<'replace'>('replace'), fc.constant<'delete'>('delete'), fc.constant<'insert'>('insert')),
    fc.oneof(VALUES, fc.constantFrom(...FLAGS)),
  )
  .map(([line, at, edit, value]): [string, string[]] => {
    const [command = '', ...args] = line;
    const i = args.length === 0 ? 0 : at % args.length;
    const next = [...args];
    if (edit === 'replace' && next.length > 0) next[i] = value;
    else if (edit === 'delete') next.splice(i, 1);
    else next.splice(i, 0, value);
    return [command, safe(next)];
  });

/** An Io that keeps what the command wrote. */
function captureIo(): Io & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout: (t: string) => {
      io.out += t;
    },
    stderr: (t: string) => {
      io.err += t;
    },
    isTty: false,
    env: { ROLLGATE_CONFIG_FILE: path.join(dir, 'missing.yml'), ROLLGATE_STATE_DIR: path.join(dir, 'state') },
    now: () => new Date('2026-12-01T00:00:00Z'),
  };
  return io;
}

describe('every command under random command lines (fast-check)', () => {
  it(`exits with a documented code, never throws, never echoes raw control characters (${RUNS} runs)`, async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const aws = {
      region: 'us-east-1',
      endpoint: closed,
      maxAttempts: 1,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    };
    const clients = { s3: new S3Client({ ...aws, forcePathStyle: true }), sfn: new SFNClient(aws) };
    const codes = new Map<number, number>();
    let ran = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.oneof(argv, mutatedLine), async ([command, args]) => {
          ran++;
          const io = captureIo();
          const code = await main([command, ...args], io, clients);
          codes.set(code, (codes.get(code) ?? 0) + 1);
          expect(DOCUMENTED).toContain(code);
          expect(io.err).not.toMatch(RAW_CONTROL);
          expect(io.err.length).toBeLessThan(20_000);
          if (code === 0) expect(io.err).toBe('');
        }),
        { numRuns: RUNS },
      );
    } finally {
      clients.s3.destroy();
      clients.sfn.destroy();
    }
    expect(ran).toBeGreaterThanOrEqual(RUNS);
    // both sides were exercised: help and empty histories (0) as well as refusals (2)
    expect(codes.get(0)).toBeGreaterThan(0);
    expect(codes.get(2)).toBeGreaterThan(0);
    expect(codes.get(1)).toBeGreaterThan(0);
  }, 300_000);
});
