// The demo service rollgate deploys. Plain Node, no dependencies, so a task starts in well under 100 ms.
//
// Environment: PORT (required), IMAGE_TAG (the version it reports; default "dev"), HOST (default 127.0.0.1).
// Argument: --work-ms N: every request but /health takes N ms (a timer, no CPU), a service time to compare versions by.
// The tag's ending picks a fault, for demos and tests:
//   -unhealthy  GET /health answers 500 (the port opens and / works: only a health probe notices)
//   -crash      exits with code 1 right after start, before listening
//   -slow       adds 300 ms to every request but /health
//   -errors     answers 10% of the requests but /health with 500
//   -flaky      answers half of the requests but /health with 500 (every other one: a canary's share is exact)
//   -slowerNN   takes NN% longer than --work-ms (-slower alone: 25%): slower than the running version, yet far
//               below any fixed latency limit; what the judge (load.judge) catches and fixed SLOs miss
// It exits cleanly on SIGTERM/SIGINT (stops accepting, finishes in-flight requests) and when its stdin closes, so a
// parent that dies, even by SIGKILL, leaves no orphan behind.
import { createServer } from 'node:http';

const version = process.env.IMAGE_TAG || 'dev';
const host = process.env.HOST || '127.0.0.1';
const port = Number(process.env.PORT);

const log = (message) => console.log(`${new Date().toISOString()} demo-app ${version} pid=${process.pid} ${message}`);

if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`demo-app: PORT must be a TCP port, got ${JSON.stringify(process.env.PORT)}`);
  process.exit(2);
}
if (version.endsWith('-crash')) {
  log('fault -crash: exiting before listening');
  process.exit(1);
}

const unhealthy = version.endsWith('-unhealthy');
const slow = version.endsWith('-slow');
const errors = version.endsWith('-errors');
const flaky = version.endsWith('-flaky');
const workArg = process.argv.indexOf('--work-ms');
const workMs = workArg > 0 ? Number(process.argv[workArg + 1]) : 0;
if (!(Number.isFinite(workMs) && workMs >= 0)) {
  console.error(`demo-app: --work-ms must be a number of milliseconds >= 0, got ${process.argv[workArg + 1]}`);
  process.exit(2);
}
const slower = /-slower(\d*)$/.exec(version);
const serviceMs = workMs * (slower ? 1 + Number(slower[1] || 25) / 100 : 1);
let served = 0;

let stopping = false;

const send = (res, status, body) => {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    'x-app-version': version,
    'cache-control': 'no-store',
    // While stopping, every answer closes its connection so close() is not held up by keep-alive sockets.
    ...(stopping ? { connection: 'close' } : {}),
  });
  res.end(payload);
};

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/health') {
    if (unhealthy) send(res, 500, { status: 'unhealthy', version });
    else send(res, 200, { status: 'ok', version });
    return;
  }
  const answer = () => {
    served++;
    if (errors && Math.random() < 0.1) {
      send(res, 500, { error: 'injected fault (-errors)', version });
    } else if (flaky && served % 2 === 0) {
      send(res, 500, { error: 'injected fault (-flaky)', version });
    } else if (path === '/') {
      send(res, 200, { service: 'demo-app', version, pid: process.pid });
    } else {
      send(res, 404, { error: 'not found', path, version });
    }
  };
  if (slow) setTimeout(answer, 300 + serviceMs);
  else if (serviceMs > 0) setTimeout(answer, serviceMs);
  else answer();
});

const shutdown = (why) => {
  if (stopping) return;
  stopping = true;
  log(`stopping (${why})`);
  // close() stops accepting and waits for in-flight requests; idle keep-alive sockets are closed now.
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  // Requests that take too long do not keep the process: the platform would SIGKILL it anyway.
  setTimeout(() => process.exit(0), 5000).unref();
};

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.stdin.on('end', () => shutdown('stdin closed'));
process.stdin.on('error', () => shutdown('stdin error'));
process.stdin.resume();

server.listen(port, host, () => log(`listening on http://${host}:${port}`));
