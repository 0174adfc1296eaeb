// Bundles the rollgate command (cli/main.ts and what its commands import) into dist/, so that it starts without
// compiling TypeScript: `npm ci` runs this (the `prepare` script), and `npm run build` after a change. bin/rollgate.js
// runs the bundle only while it is newer than every source file it was built from (dist/inputs.json), and the
// sources through tsx otherwise: a stale bundle never runs old code.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = `${root}dist`;
// Taken before reading any source: a file saved while the build runs counts as newer than the bundle.
const startedAtMs = Date.now();
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: ['cli/main.ts'],
  outdir: 'dist',
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // The AWS SDK and tsx load from node_modules when a command needs them; the rest (zod and yaml: every command that
  // reads the config) is bundled, which loads in about half the CPU time of importing them from node_modules.
  external: ['@aws-sdk/*', 'tsx', 'tsx/*'],
  define: { ROLLGATE_BUNDLE: 'true' },
  // yaml's node build is CommonJS and require()s node builtins: give the ES module chunks a require
  banner: {
    js: "import { createRequire as __rollgateRequire } from 'node:module'; const require = __rollgateRequire(import.meta.url);",
  },
  metafile: true,
  logLevel: 'warning',
});
// The bundled packages are pinned by the lock file: a change there (npm ci, npm install) makes the bundle stale too.
const inputs = [
  ...Object.keys(result.metafile.inputs).filter((f) => !f.startsWith('node_modules/')),
  'package-lock.json',
];
writeFileSync(`${dist}/inputs.json`, `${JSON.stringify({ builtAtMs: startedAtMs, inputs }, null, 2)}\n`);
