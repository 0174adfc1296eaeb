/**
 * The load stage of statemachines/deploy.asl.json on its own (test/statemachine/load-map.test.ts and
 * bench/aggregate-load.ts): PlanLoad, the GenerateLoad Map and AggregateLoad unchanged, the states they lead to
 * replaced by ends that name them, and a stand-in GenerateLoad that writes a real worker result to S3.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { WorkerResult } from '../../loadgen/types.ts';

/** Writes the load stage's ASL to `file` and returns the path. */
export function writeLoadStageAsl(file: string): string {
  const deploy = JSON.parse(readFileSync('statemachines/deploy.asl.json', 'utf8')) as {
    States: Record<string, unknown>;
  };
  const pick = ['PlanLoad', 'GenerateLoad', 'AggregateLoad', 'LoadPassed'];
  const states: Record<string, unknown> = Object.fromEntries(pick.map((name) => [name, deploy.States[name]]));
  states.RecordDeployed = { Type: 'Succeed' };
  // a gate's load test (progressive delivery) passes to its verdict: not entered here, no $.gate
  states.JudgeGate = { Type: 'Succeed' };
  // What the deploy machine would roll back on ends the run with it as the cause.
  states.SloViolated = { Type: 'Fail', Error: 'SloViolated', CausePath: '$.load.reason' };
  states.LoadInconclusive = { Type: 'Fail', Error: 'LoadInconclusive', CausePath: '$.load.reason' };
  states.JudgeFailed = { Type: 'Fail', Error: 'JudgeFailed', CausePath: '$.load.reason' };
  states.Rollback = { Type: 'Fail', Error: 'Rollback', CausePath: '$.failure.Cause' };
  writeFileSync(file, JSON.stringify({ StartAt: 'PlanLoad', States: states }));
  return file;
}

/**
 * A GenerateLoad stand-in: writes `template` (one real worker's result) renumbered to the worker's key, as the real
 * handler does, and returns the key. With `barrier`, each first waits until `barrier` workers have started (at most
 * 30 s), so a run only gets through if the Map runs that many at once.
 */
export function standInGenerator(params: {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly template: WorkerResult;
  readonly barrier?: number;
}): { handler: (input: unknown) => Promise<string>; started: () => number } {
  let started = 0;
  let release: () => void = () => {};
  const everyone = new Promise<void>((resolve) => {
    release = resolve;
  });
  const handler = async (input: unknown): Promise<string> => {
    const { workerIndex, resultPrefix } = input as { workerIndex: number; resultPrefix: string };
    started++;
    if (params.barrier !== undefined) {
      if (started === params.barrier) release();
      await Promise.race([everyone, new Promise((r) => setTimeout(r, 30_000))]);
    }
    const key = `${resultPrefix}${workerIndex}.json`;
    const body = JSON.stringify({ ...params.template, workerIndex });
    await params.s3.send(new PutObjectCommand({ Bucket: params.bucket, Key: key, Body: body }));
    return key;
  };
  return { handler, started: () => started };
}
