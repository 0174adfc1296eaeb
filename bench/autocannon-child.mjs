// Runs autocannon programmatically in its own process and prints {requests, cpuSec, loadSec, ...} as JSON, where
// cpuSec is this process's user+system CPU during the run (module loading excluded) and loadSec how long autocannon
// itself says the load ran. That is not always `duration`: autocannon stops at the first of its 1 s sampling ticks
// that finds the duration timer fired, and at saturation here the 10th tick tends to come first, so a 10 s run loads
// the target for 11 s (its own `duration` field says 11) and counts 11 s of responses.
import autocannon from 'autocannon';

const { url, connections, durationSec, rate } = JSON.parse(process.argv[2] ?? '{}');
const run = (duration) => autocannon({ url, connections, duration, ...(rate ? { overallRate: rate } : {}) });
await run(1); // warm-up: JIT, lazily loaded modules; not measured
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const result = await run(durationSec);
const cpu = process.cpuUsage(cpu0);
const seconds = (performance.now() - t0) / 1000;
const responses = result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'];
process.stdout.write(
  `${JSON.stringify({
    tool: 'autocannon',
    requests: responses,
    errors: result.errors + result.timeouts + result.non2xx,
    cpuSec: (cpu.user + cpu.system) / 1e6,
    wallSec: seconds,
    loadSec: result.duration,
    achieved: responses / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
  })}\n`,
);
