/**
 * The pipeline's load stage at 1000 workers (`npm run bench:aggregate`): how long it takes from the last worker's
 * result in S3 (the local s3rver, local/s3.ts) to the merged report and verdict, and the largest state payload of the
 * run (Step Functions allows 256 KB). The pipeline merges in two levels: each group of 40 workers' MergeGroup (in
 * parallel Lambdas on AWS) reads and merges its 40 results into one object, then AggregateLoad reads the 25 groups'
 * objects, merges them and writes the report. The figure that counts is the critical path: the slowest group's merge
 * plus AggregateLoad. The single-level merge (AggregateLoad reading all 1000 results) is timed too, for comparison.
 *
 * s3rver runs in a process of its own (bench/s3-child.ts), as S3 is not in the Lambda's process either: in one process
 * its request handling and the SDK client's share one thread, and reading took 2.3-4 s instead of the time of the
 * client's side alone.
 *
 * The load stage of statemachines/deploy.asl.json runs in aws-local-stepfunctions (test/statemachine/load-stage.ts)
 * with the real PlanLoad and AggregateLoad handlers. GenerateLoad is a stand-in that writes one real worker's result
 * (a measured run, its timeline stretched to the longest shard, 600 s, so each result is as large as a real one gets)
 * renumbered for each worker, as the real handler writes its own. The execution name has the 80 characters Step
 * Functions allows at most, so the result keys the state holds are as long as they get.
 *
 * Then the cores (src/core/load-test.ts `mergeLoadGroup` and `aggregateLoad`, what the Lambdas run) are timed on their
 * own, BENCH_ROUNDS times (default 3), against the same 1000 objects: the 25 group merges one after another (each
 * timed alone, as each Lambda runs alone), then AggregateLoad over the 25 merged objects; and AggregateLoad over the
 * 1000 results directly.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { runWorker } from '../loadgen/engine.ts';
import type { WorkerResult } from '../loadgen/types.ts';
import { loadSchema } from '../src/config/schema.ts';
import { aggregateLoad, mergeLoadGroup } from '../src/core/load-test.ts';
import { startServer } from '../test/loadgen/helpers.ts';
import { standInGenerator, writeLoadStageAsl } from '../test/statemachine/load-stage.ts';

const WORKERS = 1000;
const SHARD_SEC = 600;
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);

/** `result` as a SHARD_SEC-second worker's would look: its per-second columns repeated to that length. */
function stretch(result: WorkerResult): WorkerResult {
  const t = result.timeline;
  const col = (c: number[]) => Array.from({ length: SHARD_SEC }, (_, i) => c[i % c.length] ?? 0);
  return {
    ...result,
    durationSec: SHARD_SEC,
    timeline: {
      sent: col(t.sent),
      completed: col(t.completed),
      errors: col(t.errors),
      dropped: col(t.dropped),
      p99Us: col(t.p99Us),
    },
  };
}

const dir = mkdtempSync(path.join(tmpdir(), 'rollgate-bench-agg-'));
const child = spawn(process.execPath, ['--import', 'tsx', 'bench/s3-child.ts', path.join(dir, 's3')], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const [firstLine] = (await once(child.stdout, 'data')) as [Buffer];
const s3 = { endpoint: firstLine.toString().trim(), accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const target = await startServer((_req, res) => setTimeout(() => res.end('ok'), 2));
process.env.AWS_ENDPOINT_URL_S3 = s3.endpoint;
process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
process.env.AWS_REGION = 'us-east-1';
// as the local cloud sets it: the handlers' JSON log lines stay out of the bench's figures
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.ARTIFACTS_BUCKET = 'artifacts';
const client = new S3Client({
  endpoint: s3.endpoint,
  forcePathStyle: true,
  region: 'us-east-1',
  credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});

try {
  const measured = await runWorker({ url: target.url, rate: 200, durationSec: 3, connections: 4, warmupSec: 0.5 });
  const template = stretch(measured);
  const resultBytes = Buffer.byteLength(JSON.stringify(template));
  const generator = standInGenerator({ s3: client, bucket: 'artifacts', template });
  const { LocalStateMachine } = await import('../local/state-machine.ts');
  const machine = await LocalStateMachine.load({
    aslFile: writeLoadStageAsl(path.join(dir, 'load-stage.asl.json')),
    serverlessFile: 'serverless.yml',
    overrides: { GenerateLoadLambdaFunction: generator.handler },
  });
  const load = loadSchema.parse({
    url: target.url,
    rate: 2 * WORKERS,
    durationSeconds: SHARD_SEC,
    workers: WORKERS,
    slo: { p95Ms: 500 },
  });
  const name = `deploy-${'x'.repeat(73)}`; // 80 characters, Step Functions' longest execution name
  const input = {
    target: { cluster: 'production-cluster', service: 'checkout-service', load },
    execution: { name, id: `arn:aws:states:us-east-1:123456789012:execution:rollgate-deploy-prod:${name}` },
  };
  const run = await machine.run(input, { name, measurePayloads: true });
  if (run.status !== 'SUCCEEDED') throw new Error(`the load stage ended ${run.status}: ${run.error} ${run.cause}`);
  let largest = { bytes: 0, state: '' };
  for (const e of run.events) {
    if ((e.payloadBytes ?? 0) > largest.bytes) largest = { bytes: e.payloadBytes ?? 0, state: e.state ?? '' };
  }
  const at = (type: string) => run.events.find((e) => e.type === type && e.state === 'AggregateLoad')?.timestamp;
  const inMachineMs = Date.parse(at('StateExited') ?? '') - Date.parse(at('StateEntered') ?? '');

  const prefix = `load-results/${name}/`;
  const keys = Array.from({ length: WORKERS }, (_, i) => `${prefix}${i}.json`);
  const groups = Array.from({ length: WORKERS / 40 }, (_, g) => keys.slice(g * 40, g * 40 + 40));
  const ms = (n: number) => `${Math.round(n)} ms`;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const timed = async <T>(fn: () => Promise<T>): Promise<{ value: T; ms: number; cpuMs: number }> => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const value = await fn();
    const cpu = process.cpuUsage(cpu0);
    return { value, ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
  };
  const critical: number[] = [];
  const finals: number[] = [];
  const slowestGroups: number[] = [];
  const groupMedians: number[] = [];
  const direct: number[] = [];
  const directCpu: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const groupTimes: number[] = [];
    const groupKeys: string[] = [];
    for (const group of groups) {
      const merged = await timed(() =>
        mergeLoadGroup({ s3: client, bucket: 'artifacts', resultKeys: group, resultPrefix: prefix }),
      );
      groupTimes.push(merged.ms);
      groupKeys.push(merged.value);
    }
    const final = await timed(() =>
      aggregateLoad({
        s3: client,
        bucket: 'artifacts',
        resultKeys: groupKeys,
        resultPrefix: prefix,
        load,
        reportPrefix: `reports/bench/tree-${r}/`,
      }),
    );
    if (final.value.requests.total !== WORKERS * measured.requests.total) throw new Error('the merge lost requests');
    const slowest = Math.max(...groupTimes);
    slowestGroups.push(slowest);
    groupMedians.push(median(groupTimes));
    finals.push(final.ms);
    critical.push(slowest + final.ms);
    const flat = await timed(() =>
      aggregateLoad({
        s3: client,
        bucket: 'artifacts',
        resultKeys: [keys],
        resultPrefix: prefix,
        load,
        reportPrefix: `reports/bench/flat-${r}/`,
      }),
    );
    if (flat.value.requests.total !== final.value.requests.total) throw new Error('the two merges disagree');
    direct.push(flat.ms);
    directCpu.push(flat.cpuMs);
  }
  console.log(
    `1000 workers' results (${Math.round(resultBytes / 1024)} KB each, ${SHARD_SEC} s timelines) from s3rver:`,
  );
  console.log(`  the load stage's AggregateLoad state in the local runner: ${ms(inMachineMs)}`);
  console.log(
    `  two-level merge, ${rounds} rounds: critical path (slowest group merge + AggregateLoad of 25) median ` +
      `${ms(median(critical))} (${critical.map(ms).join(', ')}); group merge of 40: median ${ms(median(groupMedians))}, ` +
      `slowest ${slowestGroups.map(ms).join(', ')}; AggregateLoad of 25 merged groups ${finals.map(ms).join(', ')}`,
  );
  console.log(
    `  single-level AggregateLoad of 1000 results, for comparison: median ${ms(median(direct))} ` +
      `(${direct.map(ms).join(', ')}; CPU of this process ${directCpu.map(ms).join(', ')}); ` +
      `ratio to the two-level critical path ${(median(direct) / median(critical)).toFixed(1)}x`,
  );
  console.log(`  largest state payload: ${(largest.bytes / 1024).toFixed(1)} KB (${largest.state}), limit 256 KB`);
} finally {
  client.destroy();
  await target.close();
  child.stdin.end();
  await once(child, 'exit');
  rmSync(dir, { recursive: true, force: true });
}
