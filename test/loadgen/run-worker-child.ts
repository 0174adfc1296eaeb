// Runs one shard with runWorker in a process of its own and prints the result as one JSON line: for tests that need a
// process-wide setting, such as NODE_EXTRA_CA_CERTS (read once, at start-up). Started with `node --import tsx`.
import { runWorker } from '../../loadgen/engine.ts';

const result = await runWorker(JSON.parse(process.argv[2] ?? '{}'));
process.stdout.write(`${JSON.stringify(result)}\n`);
