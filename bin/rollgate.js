#!/usr/bin/env node
// The rollgate command. TypeScript sources run through tsx's loader so a fresh clone needs no build step.
import { register } from 'tsx/esm/api';

// The Lambdas run on nodejs22.x; locally Node 20 is supported on purpose, and the SDK's notice about its future
// Node 22 requirement (the lock file pins versions that run on 20) would only clutter the demo's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

register();
globalThis[Symbol.for('rollgate.tsx')] = true;
const { run } = await import('../cli/main.ts');
await run();
