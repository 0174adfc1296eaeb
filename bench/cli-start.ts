/**
 * How long the rollgate command takes to start: the median of 5 wall times (after one unmeasured warm-up run) for
 * `node bin/rollgate.js --help` and `node bin/rollgate.js validate`. Targets (issue 14): --help <= 0.3 s,
 * validate <= 0.5 s.
 *
 *   npx tsx bench/cli-start.ts [--root DIR] [--runs N]
 *
 * `--root` measures another checkout (e.g. main before a change) with the same method.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { root: { type: 'string', default: '.' }, runs: { type: 'string', default: '5' } },
  strict: true,
});
const root = path.resolve(values.root);
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: got "${values.runs}", expected a whole number >= 1`);

function wallMs(args: readonly string[]): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [path.join(root, 'bin/rollgate.js'), ...args], { cwd: root, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`rollgate ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

const targets: readonly { readonly args: readonly string[]; readonly limitMs: number }[] = [
  { args: ['--help'], limitMs: 300 },
  { args: ['validate'], limitMs: 500 },
];
let ok = true;
for (const { args, limitMs } of targets) {
  wallMs(args); // warm the file system cache and any build step
  const times = Array.from({ length: runs }, () => wallMs(args));
  const m = median(times);
  ok &&= m <= limitMs;
  process.stdout.write(
    `rollgate ${args.join(' ').padEnd(8)} median ${m.toFixed(0).padStart(5)} ms of ${runs} (${times.map((t) => t.toFixed(0)).join(', ')}); target <= ${limitMs} ms ${m <= limitMs ? 'met' : 'MISSED'}\n`,
  );
}
process.exitCode = ok ? 0 : 1;
