import { DescribeImagesCommand } from '@aws-sdk/client-ecr';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readEvents } from '../../local/eventbridge.ts';
import type { ExecutionResult } from '../../local/state-machine.ts';
import { ecrEvent, IMAGE_NOT_FOUND_PATH } from '../helpers.ts';
import { mutated } from '../property/arbitraries.ts';
import { NEW_TD, OLD_TD } from '../unit/aws-fixtures.ts';
import { PUSHED_DIGEST } from './fake-aws.ts';
import { deployPath, type Harness, lockPath, rollbackPath, startHarness, summaryOf } from './harness.ts';

/**
 * The deploy state machine run as a program: the real ASL file and the real handlers in aws-local-stepfunctions,
 * with ECS, ECR and S3 behind aws-sdk-client-mock and a real HTTP health endpoint (see harness.ts).
 */

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

beforeEach(async () => {
  await h.reset();
});

/** Runs of the random-input property below (the report quotes it). */
const PROPERTY_RUNS = 60;

describe('deploy state machine', () => {
  it('deploys a good push: backup, register, deploy, wait, probe, record', async () => {
    h.aws.behaviour.checksToSettle = 2;
    const result = await h.run(ecrEvent('push'));
    expect(result.status).toBe('SUCCEEDED');
    expect(result.statesEntered).toEqual([
      ...deployPath,
      'WaitForRollout',
      'CheckRollout',
      'RolloutDone',
      'Settle',
      'ProbeHealth',
      'LoadTestWanted',
      'RecordDeployed',
      'Deployed',
    ]);
    expect(summaryOf(result)).toMatchObject({
      outcome: 'DEPLOYED',
      image: 'demo-app:v2 (sha256:7f5b2640fe6f)',
      target: 'demo-app',
    });
    expect(h.aws.current()).toBe(NEW_TD);
    expect(h.aws.updateServiceCalls()).toEqual([NEW_TD]);
    expect(h.aws.registered()[0]?.containerDefinitions?.[0]?.image).toBe(
      '123456789012.dkr.ecr.us-west-2.amazonaws.com/demo-app@sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd12345678',
    );
    expect(h.aws.objects.has(`backups/demo/demo-app/${result.name}.json`)).toBe(true);
    expect(h.auditOf(result)).toMatchObject({
      outcome: 'DEPLOYED',
      previousTaskDefinitionArn: OLD_TD,
      newTaskDefinitionArn: NEW_TD,
      trigger: { type: 'push' },
    });
  });

  it.each([
    [
      'an unknown repository',
      { ...ecrEvent('push'), detail: { ...ecrEvent('push').detail, 'repository-name': 'nope' } },
      'no target for repository nope',
    ],
    ['a tag outside the filters', { repository: 'demo-app', tag: 'latest' }, 'tag latest matches no target'],
    ['a failed push', ecrEvent('push-failed'), 'the push did not succeed'],
  ])('ignores %s, touching nothing, and records why', async (_what, input, reason) => {
    const result = await h.run(input);
    expect(result.status).toBe('SUCCEEDED');
    expect(result.statesEntered).toEqual(['Start', 'Normalize', 'ShouldDeploy', 'RecordIgnored', 'Ignored']);
    expect(summaryOf(result)).toMatchObject({ outcome: 'IGNORED', reason: expect.stringContaining(reason) });
    expect(h.aws.ecsMock.calls()).toHaveLength(0);
    expect(h.auditOf(result)).toMatchObject({ outcome: 'IGNORED' });
  });

  it('rolls back when ECS reports the rollout FAILED', async () => {
    h.aws.behaviour.newRollout = 'FAILED';
    const result = await h.run(ecrEvent('push'));
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('DeploymentRolledBack');
    expect(result.cause).toMatch(/^rollout failed: ECS reports the rollout FAILED: ECS deployment circuit breaker/);
    expect(result.statesEntered).toEqual([...deployPath, 'RolloutFailed', ...rollbackPath]);
    expect(h.aws.updateServiceCalls()).toEqual([NEW_TD, OLD_TD]);
    expect(h.aws.current()).toBe(OLD_TD);
    expect(h.auditOf(result)).toMatchObject({ outcome: 'ROLLED_BACK', error: 'RolloutFailed' });
  });

  it('follows the rollback ECS started itself instead of starting another', async () => {
    h.aws.behaviour.newRollout = 'ECS_ROLLBACK';
    const result = await h.run(ecrEvent('push'));
    expect(result.error).toBe('DeploymentRolledBack');
    expect(result.cause).toContain('circuit breaker: rolling back to deploymentId ecs-svc/1');
    expect(h.aws.updateServiceCalls()).toEqual([NEW_TD]);
    expect(h.aws.current()).toBe(OLD_TD);
  });

  it('rolls back when the health check fails, and probes the restored version', async () => {
    h.unhealthy.add(NEW_TD);
    const result = await h.run({ repository: 'demo-app', tag: 'v3', reason: 'manual test' });
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('DeploymentRolledBack');
    expect(result.statesEntered).toEqual([...deployPath, 'Settle', 'ProbeHealth', ...rollbackPath]);
    expect(result.cause).toMatch(/^health check failed: http:\/\/127\.0\.0\.1:\d+\/health was not healthy within 1 s/);
    expect(h.aws.current()).toBe(OLD_TD);
    const events = await readEvents(h.eventsFile);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      source: 'rollgate',
      'detail-type': 'Deployment Rolled Back',
      detail: { service: 'demo/demo-app', error: 'HealthCheckFailedError', executionName: result.name },
    });
    expect(h.auditOf(result)).toMatchObject({
      outcome: 'ROLLED_BACK',
      error: 'HealthCheckFailedError',
      trigger: { type: 'manual', reason: 'manual test' },
    });
  });

  it('ends in RollbackFailed when the rollback itself fails', async () => {
    h.unhealthy.add(NEW_TD);
    h.aws.behaviour.rollbackRejects = true;
    const result = await h.run(ecrEvent('push'));
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('RollbackFailed');
    expect(result.statesEntered.slice(-4)).toEqual([
      'Rollback',
      'RecordRollbackFailed',
      'NotifyRollbackFailed',
      'RollbackFailed',
    ]);
    const [event] = await readEvents(h.eventsFile);
    expect(event).toMatchObject({
      source: 'rollgate',
      'detail-type': 'Rollback Failed',
      detail: { service: 'demo/demo-app', error: 'RollbackFailed', executionName: result.name },
    });
    expect(result.cause).toMatch(
      /^rollback failed: AccessDeniedException: User is not authorized.*original failure: health check failed/,
    );
    expect(h.auditOf(result)).toMatchObject({ outcome: 'FAILED', error: 'RollbackFailed' });
  });

  it('ends in RollbackFailed when the restored version is not healthy either', async () => {
    h.unhealthy.add(NEW_TD);
    h.unhealthy.add(OLD_TD);
    const result = await h.run(ecrEvent('push'));
    expect(result.error).toBe('RollbackFailed');
    expect(result.statesEntered.slice(-4)).toEqual([
      'ProbeRollback',
      'RecordRollbackFailed',
      'NotifyRollbackFailed',
      'RollbackFailed',
    ]);
  });

  it('rolls back on an unexpected error after the deploy began, with the cause recorded', async () => {
    h.aws.behaviour.describeErrors = [Object.assign(new Error('Unexpected token < in JSON'), { name: 'SyntaxError' })];
    const result = await h.run(ecrEvent('push'));
    expect(result.error).toBe('DeploymentRolledBack');
    expect(result.statesEntered).toEqual([...deployPath.slice(0, -1), ...rollbackPath]);
    expect(result.cause).toBe('SyntaxError: Unexpected token < in JSON; rolled back to demo-app:v1');
    expect(h.auditOf(result)).toMatchObject({ outcome: 'ROLLED_BACK', error: 'SyntaxError' });
  });

  it('retries a throttled ECS call in the ASL and still deploys', async () => {
    h.aws.behaviour.describeErrors = [Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' })];
    const result = await h.run(ecrEvent('push'));
    expect(result.status).toBe('SUCCEEDED');
    expect(result.events.filter((e) => e.type === 'StateRetried').map((e) => e.state)).toEqual(['CheckRollout']);
  });

  it('fails fast on malformed input with a named error, deploying nothing', async () => {
    const result = await h.run({ repository: 'demo-app' });
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('InvalidInputError');
    expect(result.cause).toContain('expected a "tag" or a "digest"');
    expect(result.statesEntered).toEqual(['Start', 'Normalize', 'RecordFailed', 'Failed']);
    expect(h.aws.ecsMock.calls()).toHaveLength(0);
    expect(h.auditOf(result)).toMatchObject({ outcome: 'FAILED', error: 'InvalidInputError' });
  });

  describe('CheckImage: never deploys an image that is not in ECR', () => {
    const neverPushed = `sha256:${'deadbeef'.repeat(8)}`;

    /** FAILED at CheckImage: no lock taken, no ECS call, no backup, the reason recorded. */
    function expectNothingTouched(result: ExecutionResult, cause: RegExp) {
      expect(result.status).toBe('FAILED');
      expect(result.error).toBe('ImageNotFoundError');
      expect(result.cause).toMatch(cause);
      expect(result.statesEntered).toEqual(IMAGE_NOT_FOUND_PATH);
      expect(h.aws.ecsMock.calls()).toHaveLength(0);
      expect([...h.aws.objects.keys()].filter((k) => !k.startsWith('audit/'))).toEqual([]);
      expect(h.auditOf(result)).toMatchObject({ outcome: 'FAILED', error: 'ImageNotFoundError' });
    }

    it('fails a manual digest that was never pushed, touching nothing', async () => {
      const result = await h.run({ repository: 'demo-app', digest: neverPushed });
      expectNothingTouched(result, /ECR has no image with digest sha256:deadbeefdead in repository demo-app/);
    });

    it('fails a tag and a digest that name different images, saying where the tag points', async () => {
      const result = await h.run({ repository: 'demo-app', tag: 'v3', digest: PUSHED_DIGEST });
      expectNothingTouched(
        result,
        /^ImageNotFoundError: demo-app: tag v3 points at sha256:333333333333, not at sha256:7f5b2640fe6f \(the input's digest\)/,
      );
    });

    it('fails a tag that is not in ECR', async () => {
      const result = await h.run({ repository: 'demo-app', tag: 'v9' });
      expectNothingTouched(result, /ECR has no image with tag v9 in repository demo-app/);
    });

    it('fails a push whose digest ECR no longer has (deleted since), touching nothing', async () => {
      h.aws.images.splice(0);
      const result = await h.run(ecrEvent('push'));
      expectNothingTouched(result, /ECR has no image with digest sha256:7f5b2640fe6f/);
    });

    it('looks the image up by digest (or the tag, without one) and keeps what ECR said in the state', async () => {
      const result = await h.run(ecrEvent('push'));
      expect(result.status).toBe('SUCCEEDED');
      const calls = h.aws.ecrMock.commandCalls(DescribeImagesCommand).map((c) => c.args[0].input);
      expect(calls).toEqual([{ repositoryName: 'demo-app', imageIds: [{ imageDigest: PUSHED_DIGEST }] }]);
      expect((result.output as { imageCheck: unknown }).imageCheck).toMatchObject({
        digest: PUSHED_DIGEST,
        tags: ['v2'],
        pushedAt: '2026-11-20T10:00:00.000Z',
      });
    });

    it('retries a throttled DescribeImages in the ASL', async () => {
      h.aws.ecrMock
        .on(DescribeImagesCommand)
        .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))
        .resolves({ imageDetails: [{ imageDigest: PUSHED_DIGEST, imageTags: ['v2'] }] });
      const result = await h.run(ecrEvent('push'));
      expect(result.status).toBe('SUCCEEDED');
      expect(result.events.filter((e) => e.type === 'StateRetried').map((e) => e.state)).toEqual(['CheckImage']);
    });
  });

  it(`never registers or deploys an image from an input ECR would refuse or does not have (${PROPERTY_RUNS} random inputs)`, async () => {
    let ran = 0;
    let deployed = 0;
    await fc.assert(
      fc.asyncProperty(
        // the valid push as it is, now and then, so that the deploy path is exercised too
        fc.oneof(
          mutated(ecrEvent('push')),
          mutated({ repository: 'demo-app', tag: 'v3' }),
          fc.constant(ecrEvent('push')),
        ),
        async (input) => {
          await h.reset();
          ran++;
          const result = await h.run(input);
          const registered = h.aws.registered().map((t) => t.containerDefinitions?.[0]?.image ?? '');
          if (registered.length === 0) {
            expect(h.aws.updateServiceCalls()).toEqual([]);
            return;
          }
          deployed++;
          // something was deployed: the input was valid and ECR had the very image that was registered
          expect(result.statesEntered).toContain('CheckImage');
          const known = h.aws.images.flatMap((i) => [`@${i.digest}`, ...i.tags.map((t) => `:${t}`)]);
          for (const image of registered) {
            expect(
              known.some((k) => image.endsWith(k)),
              image,
            ).toBe(true);
          }
        },
      ),
      { numRuns: PROPERTY_RUNS },
    );
    expect(ran).toBeGreaterThanOrEqual(PROPERTY_RUNS);
    expect(deployed).toBeGreaterThan(0);
  }, 120_000);

  it('never deploys when the backup cannot be written', async () => {
    h.aws.behaviour.backupWriteFails = true;
    const result = await h.run(ecrEvent('push'));
    expect(result.error).toBe('BackupFailedError');
    expect(result.statesEntered).toEqual([...lockPath, 'Backup', 'RecordFailed', 'Failed']);
    expect(result.cause).toContain('(nothing was changed)');
    expect(h.aws.updateServiceCalls()).toEqual([]);
    expect(h.aws.registered()).toEqual([]);
  });

  it('load tests a matching tag after the health check and deploys when the SLOs hold, with the report in S3', async () => {
    const result = await h.run({ repository: 'demo-app', tag: 'v4' });
    expect(result.status).toBe('SUCCEEDED');
    expect(result.statesEntered.slice(-12)).toEqual([
      'ProbeHealth',
      'LoadTestWanted',
      'PlanLoad',
      'GenerateLoad',
      'GenerateGroup',
      'Generate',
      'Generate',
      'MergeGroup',
      'AggregateLoad',
      'LoadPassed',
      'RecordDeployed',
      'Deployed',
    ]);
    const summary = summaryOf(result);
    expect(summary).toMatchObject({ outcome: 'DEPLOYED', reason: expect.stringContaining('load test met its SLOs') });
    const reportKey = `reports/demo/demo-app/${result.name}/report.json`;
    expect(summary.report).toBe(reportKey);
    const report = JSON.parse(h.aws.objects.get(reportKey) ?? '{}');
    expect(report).toMatchObject({ schema: 'rollgate.loadtest.v1', workers: 2, slo: { passed: true } });
    expect(report.requests.total).toBeGreaterThanOrEqual(30);
    expect(h.aws.objects.get(`reports/demo/demo-app/${result.name}/report.html`)).toContain('<html');
    expect(h.auditOf(result)).toMatchObject({
      reportKey,
      reportHtmlKey: `reports/demo/demo-app/${result.name}/report.html`,
    });
  });

  it('rolls back when the load test violates the SLOs, with the violations as the cause', async () => {
    h.slow.add(NEW_TD);
    const result = await h.run({ repository: 'demo-app', tag: 'v4-slow' });
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('DeploymentRolledBack');
    expect(result.statesEntered).toContain('SloViolated');
    expect(result.statesEntered.slice(-rollbackPath.length)).toEqual(rollbackPath);
    // 4 connections at 300 ms each cannot carry 40 req/s: the open model reports the queueing too (p95 >= 300 ms)
    expect(result.cause).toMatch(/^SLO gate failed: p95 latency \d{3,}(\.\d)? ms exceeds 100 ms/);
    expect(h.aws.current()).toBe(OLD_TD);
    expect(h.auditOf(result)).toMatchObject({
      outcome: 'ROLLED_BACK',
      error: 'SloViolated',
      reportKey: expect.stringContaining('report.json'),
    });
  });

  it('rolls back a version that answers no load-test request, with a latency-only SLO', async () => {
    h.hung.add(NEW_TD);
    const result = await h.run({ repository: 'demo-app', tag: 'v4-hung' });
    expect(result.error).toBe('DeploymentRolledBack');
    expect(result.statesEntered).toContain('SloViolated');
    expect(result.cause).toMatch(/^SLO gate failed: no request was answered \(\d+ failed\)/);
    expect(h.aws.current()).toBe(OLD_TD);
  });

  it('rolls back on an inconclusive load test (the default), saying the generator could not keep up', async () => {
    h.stalled.add(NEW_TD);
    const result = await h.run({ repository: 'demo-app', tag: 'v4-stalled' });
    expect(result.error).toBe('DeploymentRolledBack');
    expect(result.statesEntered).toContain('LoadInconclusive');
    expect(result.statesEntered).not.toContain('SloViolated');
    expect(result.cause).toMatch(
      /^SLO gate inconclusive: the load generator could not keep up \(all 24 connections it may open were busy/,
    );
    expect(h.aws.current()).toBe(OLD_TD);
    expect(h.auditOf(result)).toMatchObject({ outcome: 'ROLLED_BACK', error: 'LoadInconclusive' });
  });

  it('does not touch a service whose lock another execution holds by the time it deploys (a redrive resuming late)', async () => {
    h.aws.behaviour.onRegister = async () => {
      // the lock expired and another execution took it while this one was between AcquireLock and Deploy
      await h.holdLock('intruder', 'demo-app:v9');
    };
    const result = await h.run(ecrEvent('push'));
    expect(result.error).toBe('LockLostError');
    expect(result.statesEntered.slice(-4)).toEqual(['Register', 'Deploy', 'RecordFailed', 'Failed']);
    expect(result.cause).toContain('is locked by execution intruder (demo-app:v9)');
    expect(h.aws.updateServiceCalls()).toEqual([]);
  });
});
