// Runs rollgate's generator (loadgen/engine.ts) in its own process and prints {requests, cpuSec, loadSec, ...} as
// JSON, where cpuSec is this process's user+system CPU during the run (module loading excluded) and loadSec how long
// the load ran. bench/loadgen.ts bundles it with esbuild first, as the Generate Lambda is bundled, and runs the bundle
// with plain node.
import { runWorker } from '../loadgen/engine.ts';
import { decodeHistogram } from '../loadgen/histograms.ts';

interface ChildArgs {
  url: string;
  connections: number;
  durationSec: number;
  /** Absent: saturation (a rate far above what the target can take, one request in flight per connection). */
  rate?: number;
  /** Scheduler tick override (experiments); the engine's default otherwise. */
  tickMs?: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as ChildArgs;
const saturate = args.rate === undefined;
const run = (durationSec: number) =>
  runWorker({
    url: args.url,
    connections: args.connections,
    // A fixed set of connections, as autocannon has: the comparison is of CPU per request over the same sockets.
    maxConnections: args.connections,
    durationSec,
    rate: args.rate ?? 1_000_000,
    warmupSec: 0,
    ...(args.tickMs ? { tickMs: args.tickMs } : {}),
    ...(saturate ? { maxInFlight: args.connections } : {}),
  });
await run(1); // warm-up: JIT, lazily loaded modules; not measured
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const result = await run(args.durationSec);
const cpu = process.cpuUsage(cpu0);
const latency = decodeHistogram(result.histograms.latencyUs);
process.stdout.write(
  `${JSON.stringify({
    tool: 'rollgate',
    requests: result.requests.total,
    errors: result.requests.errors,
    cpuSec: (cpu.user + cpu.system) / 1e6,
    wallSec: (performance.now() - t0) / 1000,
    // From the first scheduled request to the last response (durationSec plus the last responses' latency).
    loadSec: result.elapsedSec,
    achieved: result.requests.total / result.elapsedSec,
    p50Ms: latency.getValueAtPercentile(50) / 1000,
    p99Ms: latency.getValueAtPercentile(99) / 1000,
  })}\n`,
);
