import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWorker } from '../../loadgen/engine.ts';
import { type LocalS3, startS3 } from '../../local/s3.ts';
import type { LocalStateMachine as Machine } from '../../local/state-machine.ts';
import { loadSchema } from '../../src/config/schema.ts';
import { type LocalServer, startServer } from '../loadgen/helpers.ts';
import { standInGenerator, writeLoadStageAsl } from './load-stage.ts';

/**
 * The load stage of the deploy state machine at its full size: PlanLoad, the GenerateLoad Map (groups of at most 40
 * workers, each group an inner Map) and AggregateLoad, taken from statemachines/deploy.asl.json unchanged, run by
 * aws-local-stepfunctions with the real PlanLoad and AggregateLoad handlers and the local S3 (s3rver).
 *
 * GenerateLoad is a stand-in here: 1000 real generators in one process take minutes on this machine (they are tested
 * by the deploy state machine test and test/loadgen). Each stand-in writes a real worker result (one measured run,
 * renumbered) to S3 as the real one does, returns its key, and first waits until all 1000 have started: the test can
 * only pass if the Map runs every worker at once (one inline Map alone would run 40 at a time and never get there).
 */

describe('the GenerateLoad Map state with 1000 workers', () => {
  let s3: LocalS3;
  let target: LocalServer;
  let machine: Machine;
  let dir: string;
  let client: S3Client;
  let generator: ReturnType<typeof standInGenerator>;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rollgate-map-'));
    s3 = await startS3({ directory: path.join(dir, 's3'), buckets: ['artifacts'] });
    target = await startServer((_req, res) => res.end('ok'));
    process.env.AWS_ENDPOINT_URL_S3 = s3.endpoint;
    process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
    process.env.AWS_REGION = 'us-east-1';
    process.env.ARTIFACTS_BUCKET = 'artifacts';
    // as the local cloud sets it: the handlers' JSON logs stay out of the test output
    process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
    client = new S3Client({
      endpoint: s3.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    const template = await runWorker({ url: target.url, rate: 1, durationSec: 1, connections: 1, warmupSec: 0 });
    generator = standInGenerator({ s3: client, bucket: 'artifacts', template, barrier: 1000 });
    const { LocalStateMachine } = await import('../../local/state-machine.ts');
    machine = await LocalStateMachine.load({
      aslFile: writeLoadStageAsl(path.join(dir, 'load-stage.asl.json')),
      serverlessFile: 'serverless.yml',
      overrides: { GenerateLoadLambdaFunction: generator.handler },
    });
  });
  afterAll(async () => {
    client?.destroy();
    await target?.close();
    await s3?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs every worker at once, keeps only their keys in the state, and aggregates all 1000 results from S3', async () => {
    const load = loadSchema.parse({
      url: target.url,
      rate: 1000,
      durationSeconds: 1,
      workers: 1000,
      slo: { p95Ms: 1000 },
    });
    const input = { target: { cluster: 'demo', service: 'demo-app', load }, execution: { name: 'map-1000' } };
    const result = await machine.run(input, { name: 'map-1000', measurePayloads: true });
    expect({ status: result.status, error: result.error, cause: result.cause }).toEqual({
      status: 'SUCCEEDED',
      error: undefined,
      cause: undefined,
    });
    expect(generator.started()).toBe(1000);
    // the state holds one key per worker: the largest payload stays well under Step Functions' 256 KB
    expect(Math.max(...result.events.map((e) => e.payloadBytes ?? 0))).toBeLessThan(256 * 1024);
    const entered = result.statesEntered;
    expect(entered.filter((s) => s === 'GenerateGroup')).toHaveLength(25);
    expect(entered.filter((s) => s === 'Generate')).toHaveLength(1000);
    // each group merged its workers' results into one object: AggregateLoad read 25, not 1000
    expect(entered.filter((s) => s === 'MergeGroup')).toHaveLength(25);
    const groups = await client.send(
      new ListObjectsV2Command({ Bucket: 'artifacts', Prefix: 'load-results/map-1000/group-' }),
    );
    expect((groups.Contents ?? []).map((o) => o.Key).sort()).toEqual(
      Array.from({ length: 25 }, (_, g) => `load-results/map-1000/group-${g * 40}-${g * 40 + 39}.json`).sort(),
    );
    expect(entered.slice(-3)).toEqual(['AggregateLoad', 'LoadPassed', 'RecordDeployed']);

    const output = result.output as { load: Record<string, unknown> };
    expect(output.load).toMatchObject({ passed: true, verdict: 'pass', requests: { total: 1000, errors: 0 } });
    const out = await client.send(
      new GetObjectCommand({ Bucket: 'artifacts', Key: 'reports/demo/demo-app/map-1000/report.json' }),
    );
    const report = JSON.parse((await out.Body?.transformToString()) ?? '{}');
    expect(report).toMatchObject({
      workers: 1000,
      requests: { scheduled: 1000, total: 1000, errors: 0 },
      answered: 1000,
    });
    expect(report.perWorker.map((w: { workerIndex: number }) => w.workerIndex)).toEqual(
      Array.from({ length: 1000 }, (_, i) => i),
    );
  });
});
