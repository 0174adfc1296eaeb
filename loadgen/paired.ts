/**
 * Paired load, for the judge: one worker runs two engines, the candidate's route and the baseline's, from the same
 * moment (`Engine.run`'s `t0`) on the same schedule, so request i goes to both routes at the same instant from the
 * same process. Whatever disturbs the machine, the network or the generator during the run disturbs both alike.
 */
import { performance } from 'node:perf_hooks';
import { Engine } from './engine.ts';
import { LoadInputError } from './errors.ts';
import type { BaselineRoute, WorkerOptions, WorkerResult } from './types.ts';
import { type ResolvedShard, resolveShard } from './validate.ts';
import { workerResult } from './worker-result.ts';

/**
 * Runs `opts` (the candidate) and the same shard against `baseline` together.
 * @returns the candidate's result with the baseline's in `baseline`.
 * @throws LoadInputError when an option or the baseline route is invalid (the message names it).
 */
export async function runPairedWorker(opts: WorkerOptions & { baseline: BaselineRoute }): Promise<WorkerResult> {
  const { baseline, onProgress, signal, ...shard } = opts;
  const candidate = new Engine(resolveShard(shard), onProgress);
  const base = new Engine(baselineShard(shard, baseline), undefined);
  try {
    if (!signal?.aborted) await Promise.all([candidate.openConnections(), base.openConnections()]);
    const t0 = performance.now();
    await Promise.all([candidate.run(signal, t0), base.run(signal, t0)]);
    return { ...workerResult(candidate), baseline: workerResult(base) };
  } finally {
    candidate.close();
    base.close();
  }
}

/** The shard sent to the baseline: the candidate's but for the route; an error names `baseline.<field>`. */
function baselineShard(shard: Omit<WorkerOptions, 'onProgress' | 'signal'>, baseline: BaselineRoute): ResolvedShard {
  if (typeof baseline !== 'object' || baseline === null) {
    throw new LoadInputError(`baseline must be an object with url (and headers), got ${JSON.stringify(baseline)}`);
  }
  try {
    return resolveShard({ ...shard, url: baseline.url, headers: baseline.headers ?? {} });
  } catch (err) {
    if (err instanceof LoadInputError) throw new LoadInputError(`baseline.${err.message}`);
    throw err;
  }
}
