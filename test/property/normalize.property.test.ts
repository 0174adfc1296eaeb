import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/core/errors.ts';
import { ECR_DIGEST, ECR_REPOSITORY, ECR_TAG } from '../../src/core/naming.ts';
import { type Job, normalize } from '../../src/core/normalize.ts';
import { ecrEvent, testConfig } from '../helpers.ts';
import { expectSafeRefusal, mutated, nastyString, nastyValue, RAW_CONTROL } from './arbitraries.ts';

/**
 * Normalize fed random and mutated inputs (fast-check). Whatever arrives: never an exception other than
 * InvalidInputError, never a message with a raw control character or a megabyte of echo, never DEPLOY for an image
 * reference ECR would refuse, and the target (with the health and load URLs the probes and load generators use) is
 * always one of the config's, never anything from the input.
 */

/** Runs per property (the report quotes these). */
const RUNS = { randomJson: 2000, pushEvents: 2000, manualInputs: 2000, badFields: 1000 } as const;

const config = testConfig({
  target: {
    load: { url: 'http://127.0.0.1:9/load', rate: 10, durationSeconds: 1, tags: ['v*'] },
  },
});
const execution = {
  id: 'arn:aws:states:us-east-1:123456789012:execution:m:e',
  name: 'e',
  startedAt: '2026-11-22T10:00:00Z',
};
const configUrls = new Set(config.targets.flatMap((t) => [t.health.url, ...(t.load ? [t.load.url] : [])]));

let calls = 0;
/** Normalize, and the invariants every outcome must keep; returns the job, or undefined when it was refused. */
function checked(input: unknown): Job | undefined {
  calls++;
  let job: Job;
  try {
    job = normalize({ config, input, execution });
  } catch (err) {
    expectSafeRefusal(err, InvalidInputError, 5_000);
    return undefined;
  }
  expect(job.reason).not.toMatch(RAW_CONTROL);
  expect(job.reason.length).toBeLessThan(5_000);
  if (job.decision === 'DEPLOY') {
    expect(job.image.repository).toMatch(ECR_REPOSITORY);
    if (job.image.tag !== undefined) expect(job.image.tag).toMatch(ECR_TAG);
    if (job.image.digest !== undefined) expect(job.image.digest).toMatch(ECR_DIGEST);
    expect(job.image.tag !== undefined || job.image.digest !== undefined).toBe(true);
    // the target is the config's own object: the probe and load URLs cannot come from the input
    expect(config.targets).toContain(job.target);
    expect(configUrls).toContain(job.target?.health.url);
  } else {
    expect(job.target).toBeUndefined();
  }
  return job;
}

const manual = { repository: 'demo-app', tag: 'v2', reason: 'r', force: false, startedBy: 'me' };

describe('Normalize under random and mutated input (fast-check)', () => {
  it(`keeps its invariants for ${RUNS.randomJson} random JSON values`, () => {
    const before = calls;
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), nastyValue, fc.dictionary(nastyString, nastyValue)), (input) => {
        checked(input);
      }),
      { numRuns: RUNS.randomJson },
    );
    expect(calls - before).toBeGreaterThanOrEqual(RUNS.randomJson);
  });

  it(`keeps its invariants for ${RUNS.pushEvents} mutated push events`, () => {
    const before = calls;
    let deployed = 0;
    fc.assert(
      fc.property(mutated(ecrEvent('push')), (input) => {
        if (checked(input)?.decision === 'DEPLOY') deployed++;
      }),
      { numRuns: RUNS.pushEvents },
    );
    expect(calls - before).toBeGreaterThanOrEqual(RUNS.pushEvents);
    // the mutations leave some events valid: the DEPLOY branch was exercised too
    expect(deployed).toBeGreaterThan(0);
  });

  it(`keeps its invariants for ${RUNS.manualInputs} mutated manual inputs`, () => {
    const before = calls;
    fc.assert(
      fc.property(mutated(manual), (input) => {
        checked(input);
      }),
      { numRuns: RUNS.manualInputs },
    );
    expect(calls - before).toBeGreaterThanOrEqual(RUNS.manualInputs);
  });

  it(`refuses every tag, digest or repository ECR would refuse (${RUNS.badFields} runs each)`, () => {
    const refused = (input: unknown) => {
      expect(checked(input)).toBeUndefined();
    };
    fc.assert(
      fc.property(
        nastyString.filter((s) => !ECR_TAG.test(s)),
        (tag) => {
          refused({ repository: 'demo-app', tag });
          const event = ecrEvent('push');
          event.detail['image-tag'] = tag;
          refused(event);
        },
      ),
      { numRuns: RUNS.badFields },
    );
    fc.assert(
      fc.property(
        nastyString.filter((s) => !ECR_DIGEST.test(s)),
        (digest) => {
          refused({ repository: 'demo-app', digest });
        },
      ),
      { numRuns: RUNS.badFields },
    );
    fc.assert(
      fc.property(
        nastyString.filter((s) => !ECR_REPOSITORY.test(s)),
        (repository) => {
          refused({ repository, tag: 'v2' });
          const event = ecrEvent('push');
          event.detail['repository-name'] = repository;
          refused(event);
        },
      ),
      { numRuns: RUNS.badFields },
    );
  });
});

describe('where the probe and load URLs come from', () => {
  const asl = JSON.parse(readFileSync('statemachines/deploy.asl.json', 'utf8')) as {
    States: Record<
      string,
      {
        Parameters?: Record<string, unknown>;
        ResultPath?: unknown;
        ItemsPath?: string;
        ItemSelector?: Record<string, unknown>;
      }
    >;
  };

  it("feeds the prober and the load generators only the config's target ($.target, which Normalize sets)", () => {
    // Normalize has no ResultPath: its output (the job) replaces the whole state, so $.target is the config's.
    expect(asl.States.Normalize?.ResultPath).toBeUndefined();
    expect(asl.States.ProbeHealth?.Parameters?.['health.$']).toBe('$.target.health');
    expect(asl.States.ProbeRollback?.Parameters?.['health.$']).toBe('$.target.health');
    expect(asl.States.PlanLoad?.Parameters?.['load.$']).toBe('$.target.load');
    // the Map's groups carry only worker indices; every worker's URL is the plan's one shard, from $.target.load
    expect(asl.States.GenerateLoad?.ItemsPath).toBe('$.loadPlan.groups');
    expect(asl.States.GenerateLoad?.ItemSelector?.['shard.$']).toBe('$.loadPlan.shard');
    // and no later state writes $.target
    for (const [name, state] of Object.entries(asl.States)) {
      if (name !== 'Normalize') expect(state.ResultPath, name).not.toBe('$.target');
    }
  });
});
