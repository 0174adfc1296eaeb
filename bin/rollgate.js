#!/usr/bin/env node
// The rollgate command. It runs the bundle `npm ci` builds (scripts/build-cli.mjs, dist/) when that bundle is newer
// than every source file it was built from, and otherwise the TypeScript sources through tsx's loader: a fresh clone
// needs no build step of its own, and a stale bundle never runs old code.
import { readFileSync, statSync } from 'node:fs';

// The Lambdas run on nodejs22.x; locally Node 20 is supported on purpose, and the SDK's notice about its future
// Node 22 requirement (the lock file pins versions that run on 20) would only clutter the demo's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const root = new URL('../', import.meta.url);

/** Whether dist/ holds a bundle built after the last change to any of its source files. */
function bundleIsCurrent() {
  try {
    const { builtAtMs, inputs } = JSON.parse(readFileSync(new URL('dist/inputs.json', root), 'utf8'));
    return inputs.length > 0 && inputs.every((file) => statSync(new URL(file, root)).mtimeMs < builtAtMs);
  } catch {
    return false; // no bundle, or a source file it was built from is gone
  }
}

let entry;
if (process.env.ROLLGATE_SOURCES !== '1' && bundleIsCurrent()) {
  entry = await import('../dist/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  globalThis[Symbol.for('rollgate.tsx')] = true;
  entry = await import('../cli/main.ts');
}
await entry.run();
