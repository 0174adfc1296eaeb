/**
 * How often the judge and the fixed-SLO gate fail a version, on the local cloud at the demo's load (`npx tsx
 * bench/judge.ts`, by hand): rollgate.config.yml's `checkout` alone (blue/green with a test listener, 30 req/s for 3 s
 * at each gate, `load.judge: { baseline: paired }`, the demo app answering in 40 ms), through the whole pipeline.
 * - A/A: BENCH_RUNS pushes of the running code under new tags (v10, v11, ...): the same version against itself.
 * - 20% slower: BENCH_RUNS pushes of `-slower20` tags (48 ms for 40 ms). One that gets deployed is a miss, and the
 *   running code is put back (a plain tag deployed, not counted), so each one is compared with the 40 ms version.
 * Both verdicts are read from the same paired run: the test gate's report (its `slo` and `judge`), so the two gates
 * are compared on identical data. Prints one line per run and the counts; BENCH_OUT (JSON) keeps every figure.
 * BENCH_RUNS (default 20), BENCH_PHASES (default "aa,slow").
 */
import { writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parse, stringify } from 'yaml';
import { pushEvent } from '../cli/commands/demo.ts';
import type { LoadReport } from '../loadgen/types.ts';
import { LOCAL_BUCKET } from '../local/cloud.ts';
import { freePort } from '../test/free-port.ts';

const runs = Number(process.env.BENCH_RUNS ?? 20);
const phases = (process.env.BENCH_PHASES ?? 'aa,slow').split(',');

// rollgate.config.yml's checkout alone, every listener on a free port
const dir = await mkdtemp(path.join(tmpdir(), 'rollgate-bench-judge-'));
const doc = parse(await readFile('rollgate.config.yml', 'utf8'));
doc.targets = doc.targets.filter((t: { name: string }) => t.name === 'checkout');
for (const c of doc.local.clusters) c.services = c.services.filter((s: { name: string }) => s.name === 'checkout');
let text = stringify(doc);
for (const svc of doc.local.clusters[0].services) {
  for (const key of ['loadBalancerPort', 'testListenerPort']) {
    const port = svc[key] as number;
    text = text.replaceAll(String(port), String(await freePort()));
  }
}
const configFile = path.join(dir, 'rollgate.config.yml');
await writeFile(configFile, text);

const { LocalRunner } = await import('../local/runner.ts');
const { loadConfigFile } = await import('../src/config/load.ts');
const runner = await LocalRunner.open({
  config: loadConfigFile(configFile),
  configSource: configFile,
  stateDir: path.join(dir, 'state'),
});
const s3 = new S3Client({
  endpoint: runner.cloud.s3.endpoint,
  region: runner.cloud.spec.region,
  forcePathStyle: true,
  credentials: { accessKeyId: runner.cloud.s3.accessKeyId, secretAccessKey: runner.cloud.s3.secretAccessKey },
});

interface Row {
  phase: string;
  tag: string;
  outcome: string;
  judge: string;
  slo: string;
  p50: { baseline: number; candidate: number } | null;
  hlMs: number | null;
  p: number | null;
  seconds: number;
}
const rows: Row[] = [];
const started = Date.now();
try {
  let n = 10;
  for (const phase of phases) {
    for (let i = 0; i < runs; i++, n++) {
      const tag = phase === 'aa' ? `v${n}` : `v${n}-slower20`;
      const t0 = Date.now();
      const digest = await runner.cloud.registry.pushImage('checkout', tag);
      const stored = await runner.run(pushEvent(runner, 'checkout', tag, digest));
      const key = `reports/demo/checkout/${stored.summary.executionName}/gates/POST_TEST_TRAFFIC_SHIFT-100/report.json`;
      let report: LoadReport | undefined;
      try {
        const out = await s3.send(new GetObjectCommand({ Bucket: LOCAL_BUCKET, Key: key }));
        report = JSON.parse((await out.Body?.transformToString()) ?? '') as LoadReport;
      } catch {
        report = undefined; // the deploy never reached the test gate's load test
      }
      const latency = report?.judge?.metrics[0];
      const row: Row = {
        phase,
        tag,
        outcome: stored.summary.outcome,
        judge: report?.judge?.verdict ?? 'none',
        slo: report?.slo.verdict ?? 'none',
        p50: report?.baseline ? { baseline: report.baseline.latencyMs.p50, candidate: report.latencyMs.p50 } : null,
        hlMs: latency?.shift?.estimate ?? null,
        p: latency?.p ?? null,
        seconds: (Date.now() - t0) / 1000,
      };
      rows.push(row);
      if (phase !== 'aa' && stored.summary.outcome === 'DEPLOYED') {
        // missed: put the 40 ms code back in production, so the next one is compared with it again
        const back = `v${n}-restore`;
        await runner.run(pushEvent(runner, 'checkout', back, await runner.cloud.registry.pushImage('checkout', back)));
      }
      console.log(
        `${phase.padEnd(4)} ${tag.padEnd(14)} ${row.outcome.padEnd(11)} judge ${row.judge.padEnd(8)} slo ${row.slo.padEnd(12)} ` +
          `p50 ${row.p50 ? `${row.p50.baseline.toFixed(1)} -> ${row.p50.candidate.toFixed(1)} ms` : '?'}  HL ${row.hlMs?.toFixed(2) ?? '?'} ms  p ${row.p?.toExponential(1) ?? '?'}  ${row.seconds.toFixed(1)} s`,
      );
    }
  }
} finally {
  s3.destroy();
  await runner.close();
  await rm(dir, { recursive: true, force: true });
}

const count = (phase: string, gate: 'judge' | 'slo') =>
  rows.filter((r) => r.phase === phase && (gate === 'judge' ? r.judge !== 'Pass' : r.slo !== 'pass')).length;
const of = (phase: string) => rows.filter((r) => r.phase === phase).length;
console.log(`\n${((Date.now() - started) / 1000).toFixed(0)} s in all`);
for (const phase of phases) {
  const what = phase === 'aa' ? 'A/A (same version), failed' : '20% slower, caught (failed)';
  console.log(
    `${what}: judge ${count(phase, 'judge')}/${of(phase)}, fixed-SLO gate ${count(phase, 'slo')}/${of(phase)}`,
  );
}
if (process.env.BENCH_OUT) writeFileSync(process.env.BENCH_OUT, `${JSON.stringify(rows, null, 2)}\n`);
