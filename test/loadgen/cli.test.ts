import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadtestCommand, parseLoadtestArgs } from '../../loadgen/cli.ts';
import { captureIo, type LocalServer, startServer } from './helpers.ts';

describe('loadtestCommand', () => {
  let server: LocalServer;
  let dir: string;
  beforeAll(async () => {
    server = await startServer((_req, res) => res.end('ok'));
    dir = await mkdtemp(join(tmpdir(), 'rollgate-cli-'));
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    [
      ['--url', 'http://127.0.0.1:9/', '--rate', 'fast', '--duration', '5'],
      '--rate must be a number of requests per second > 0, got "fast"',
    ],
    [
      ['--url', 'http://127.0.0.1:9/', '--rate', '10', '--duration', '0'],
      '--duration must be a number of seconds > 0, got "0"',
    ],
    [
      ['--url', 'http://127.0.0.1:9/', '--rate', '10', '--duration', '5', '--connections', '2.5'],
      '--connections must be an integer from 1 to 10000, got "2.5"',
    ],
    [
      ['--url', 'http://127.0.0.1:9/', '--rate', '10', '--duration', '5', '--timeout', '-3'],
      '--timeout must be an integer number of milliseconds >= 1, got "-3"',
    ],
    [
      ['--url', 'localhost:8080', '--rate', '10', '--duration', '5'],
      '--url must be an absolute http:// or https:// URL, got "localhost:8080"',
    ],
    [['--rate', '10', '--duration', '5'], '--url is required'],
    [['--url', 'http://127.0.0.1:9/', '--duration', '5'], '--rate is required'],
    [
      ['--url', 'http://127.0.0.1:9/', '--rate', '10', '--duration', '5', '--max-error-rate', '5'],
      '--max-error-rate must be a fraction from 0 to 1',
    ],
    [['--url', 'http://127.0.0.1:9/', '--rate', '10', '--duratoin', '5'], "Unknown option '--duratoin'"],
  ])('returns 2 with a message naming the flag, the value and what was expected: %j', async (argv, message) => {
    const io = captureIo();
    expect(await loadtestCommand(argv, io)).toBe(2);
    expect(io.err).toContain(message);
    expect(io.err.startsWith('rollgate loadtest: ')).toBe(true);
    expect(io.err).not.toMatch(/\n\s+at /); // no stack trace
    expect(io.out).toBe('');
  });

  it('defaults the report directory to reports/loadtest-<timestamp>/', () => {
    const args = parseLoadtestArgs(
      ['--url', 'http://127.0.0.1:9/', '--rate', '5', '--duration', '1'],
      new Date('2026-03-04T05:06:07.890Z'),
    );
    expect(args).toMatchObject({
      outDir: 'reports/loadtest-2026-03-04T05-06-07Z',
      connections: 10,
      workers: 1,
      json: false,
    });
  });

  it('runs, shows progress on stderr, prints the JSON report with --json, writes the files, exits 3 on an SLO violation', async () => {
    const io = captureIo();
    const out = join(dir, 'run');
    const code = await loadtestCommand(
      [
        '--url',
        server.url,
        '--rate',
        '100',
        '--duration',
        '2',
        '--warmup',
        '0',
        '--json',
        '--out',
        out,
        '--p99',
        '0.001',
      ],
      io,
    );
    expect(code).toBe(3);
    const report = JSON.parse(io.out);
    expect(report).toMatchObject({ schema: 'rollgate.loadtest.v1', requests: { total: 200, errors: 0 } });
    expect(report.slo.violations[0].message).toMatch(/^p99 latency [\d.]+ ms exceeds 0 ms$/);
    expect(io.err).toMatch(
      /\[\s*1\/2 s\] sent \d+ {2}rate \d+\/s {2}errors 0 {2}dropped 0 {2}conns \d+ {2}p99 [\d.]+ ms/,
    );
    expect(JSON.parse(await readFile(join(out, 'report.json'), 'utf8'))).toEqual(report);
  });

  it('prints a human summary and exits 0 when no SLO is given (the default error-rate limit held)', async () => {
    const io = captureIo();
    const code = await loadtestCommand(
      ['--url', server.url, '--rate', '50', '--duration', '1', '--warmup', '0', '--out', join(dir, 'h')],
      io,
    );
    expect(code).toBe(0);
    expect(io.out).toContain('PASS: every SLO held.');
    expect(io.out).toMatch(/latency {4}p50 [\d.]+ {2}p90 .* ms \(of 50 answered\)/);
    expect(io.out).toMatch(/conns {6}\d+ used of \d+ allowed/);
    expect(io.out).toContain(join(dir, 'h', 'report.html'));
  });
});
