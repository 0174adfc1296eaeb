// Runs autocannon programmatically in its own process and prints {requests, cpuSec, durationSec} as JSON, where
// cpuSec is this process's user+system CPU during the run (module loading excluded).
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
    achieved: responses / durationSec,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
  })}\n`,
);
