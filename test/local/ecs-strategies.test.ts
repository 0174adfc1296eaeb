import { describe, expect, it } from 'vitest';
import {
  hookPayload,
  hooksAt,
  type PlanStep,
  parseStrategy,
  planDeployment,
  planRollback,
  readHookAnswer,
  weightsFor,
} from '../../local/ecs/strategies.ts';

const HOOK = 'arn:aws:lambda:us-east-1:123456789012:function:rollgate-hook';
const ROLE = 'arn:aws:iam::123456789012:role/ecs-hook';

/** The plan as `STAGE[test%|prod%|bake]` strings: one line per step, easy to read in a table. */
const show = (plan: PlanStep[]) =>
  plan.map(
    (s) =>
      `${s.stage}${s.testPercent === undefined ? '' : ` test=${s.testPercent}`}${s.productionPercent === undefined ? '' : ` prod=${s.productionPercent}`}${s.bakeMinutes === undefined ? '' : ` bake=${s.bakeMinutes}`}`,
  );

const HEAD = [
  'RECONCILE_SERVICE',
  'PRE_SCALE_UP',
  'SCALE_UP',
  'POST_SCALE_UP',
  'TEST_TRAFFIC_SHIFT test=100',
  'POST_TEST_TRAFFIC_SHIFT',
];

describe('planDeployment', () => {
  it.each([
    {
      title: 'blue/green shifts production at once, then bakes',
      dc: { strategy: 'BLUE_GREEN', bakeTimeInMinutes: 5 },
      tail: [
        'PRE_PRODUCTION_TRAFFIC_SHIFT',
        'PRODUCTION_TRAFFIC_SHIFT prod=100',
        'POST_PRODUCTION_TRAFFIC_SHIFT',
        'BAKE_TIME bake=5',
        'CLEAN_UP',
      ],
    },
    {
      title: 'canary shifts canaryPercent, bakes, then the rest',
      dc: { strategy: 'CANARY', canaryConfiguration: { canaryPercent: 10, canaryBakeTimeInMinutes: 2 } },
      tail: [
        'PRE_PRODUCTION_TRAFFIC_SHIFT',
        'PRODUCTION_TRAFFIC_SHIFT prod=10 bake=2',
        'PRE_PRODUCTION_TRAFFIC_SHIFT',
        'PRODUCTION_TRAFFIC_SHIFT prod=100',
        'POST_PRODUCTION_TRAFFIC_SHIFT',
        'BAKE_TIME',
        'CLEAN_UP',
      ],
    },
    {
      title: 'canary defaults to 5% baked 10 minutes',
      dc: { strategy: 'CANARY' },
      tail: [
        'PRE_PRODUCTION_TRAFFIC_SHIFT',
        'PRODUCTION_TRAFFIC_SHIFT prod=5 bake=10',
        'PRE_PRODUCTION_TRAFFIC_SHIFT',
        'PRODUCTION_TRAFFIC_SHIFT prod=100',
        'POST_PRODUCTION_TRAFFIC_SHIFT',
        'BAKE_TIME',
        'CLEAN_UP',
      ],
    },
    {
      title: 'linear walks stepPercent steps with no bake after 100',
      dc: { strategy: 'LINEAR', linearConfiguration: { stepPercent: 30, stepBakeTimeInMinutes: 1 } },
      tail: [
        'PRE_PRODUCTION_TRAFFIC_SHIFT',
        'PRODUCTION_TRAFFIC_SHIFT prod=30 bake=1',
        'PRE_PRODUCTION_TRAFFIC_SHIFT',
        'PRODUCTION_TRAFFIC_SHIFT prod=60 bake=1',
        'PRE_PRODUCTION_TRAFFIC_SHIFT',
        'PRODUCTION_TRAFFIC_SHIFT prod=90 bake=1',
        'PRE_PRODUCTION_TRAFFIC_SHIFT',
        'PRODUCTION_TRAFFIC_SHIFT prod=100',
        'POST_PRODUCTION_TRAFFIC_SHIFT',
        'BAKE_TIME',
        'CLEAN_UP',
      ],
    },
  ])('$title', ({ dc, tail }) => {
    expect(show(planDeployment(parseStrategy(dc)))).toEqual([...HEAD, ...tail]);
  });

  it('adds linear steps in tenths, so 3.3% steps end exactly at 100', () => {
    const plan = planDeployment(parseStrategy({ strategy: 'LINEAR', linearConfiguration: { stepPercent: 3.3 } }));
    const shares = plan.filter((s) => s.stage === 'PRODUCTION_TRAFFIC_SHIFT').map((s) => s.productionPercent);
    expect(shares).toHaveLength(31);
    expect(shares[1]).toBe(6.6);
    expect(shares.at(-2)).toBe(99);
    expect(shares.at(-1)).toBe(100);
  });

  it('rolls back production first, then test traffic', () => {
    expect(show(planRollback())).toEqual(['PRODUCTION_TRAFFIC_SHIFT prod=0', 'TEST_TRAFFIC_SHIFT test=0']);
  });
});

describe('parseStrategy', () => {
  it('defaults to ROLLING with no hooks', () => {
    expect(parseStrategy(undefined)).toEqual({ strategy: 'ROLLING', bakeTimeInMinutes: 0, lifecycleHooks: [] });
  });

  it('keeps the hooks and finds them by stage', () => {
    const config = parseStrategy({
      strategy: 'BLUE_GREEN',
      lifecycleHooks: [
        {
          hookTargetArn: HOOK,
          roleArn: ROLE,
          lifecycleStages: ['POST_TEST_TRAFFIC_SHIFT', 'PRODUCTION_TRAFFIC_SHIFT'],
        },
      ],
    });
    expect(hooksAt(config, 'POST_TEST_TRAFFIC_SHIFT')).toHaveLength(1);
    expect(hooksAt(config, 'POST_SCALE_UP')).toHaveLength(0);
  });

  it.each([
    {
      dc: { strategy: 'RED_BLACK' },
      message: 'strategy must be ROLLING, BLUE_GREEN, CANARY or LINEAR, got "RED_BLACK"',
    },
    {
      dc: { strategy: 'CANARY', canaryConfiguration: { canaryPercent: 0 } },
      message: 'canaryPercent must be a number from 0.1 to 100, got 0',
    },
    {
      dc: { strategy: 'CANARY', canaryConfiguration: { canaryPercent: 10.05 } },
      message: 'canaryPercent must be a multiple of 0.1, got 10.05',
    },
    {
      dc: { strategy: 'LINEAR', linearConfiguration: { stepPercent: 2 } },
      message: 'stepPercent must be a number from 3 to 100, got 2',
    },
    {
      dc: { strategy: 'BLUE_GREEN', bakeTimeInMinutes: 1441 },
      message: 'bakeTimeInMinutes must be an integer from 0 to 1440 minutes, got 1441',
    },
    {
      dc: { strategy: 'LINEAR', linearConfiguration: { stepBakeTimeInMinutes: -1 } },
      message: 'stepBakeTimeInMinutes must be an integer from 0 to 1440 minutes, got -1',
    },
    {
      dc: {
        strategy: 'BLUE_GREEN',
        lifecycleHooks: [{ hookTargetArn: 'nope', roleArn: ROLE, lifecycleStages: ['PRE_SCALE_UP'] }],
      },
      message: 'lifecycleHooks[0].hookTargetArn must be a Lambda function ARN, got "nope"',
    },
    {
      dc: {
        strategy: 'BLUE_GREEN',
        lifecycleHooks: [{ hookTargetArn: HOOK, roleArn: ROLE, lifecycleStages: ['SCALE_UP'] }],
      },
      message: 'lifecycleStages: "SCALE_UP" is not one of RECONCILE_SERVICE',
    },
    {
      dc: { strategy: 'BLUE_GREEN', lifecycleHooks: [{ hookTargetArn: HOOK, lifecycleStages: ['PRE_SCALE_UP'] }] },
      message: 'lifecycleHooks[0].roleArn must be an IAM role ARN',
    },
  ])('rejects $dc with InvalidParameterException naming the field', ({ dc, message }) => {
    expect(() => parseStrategy(dc)).toThrow(
      expect.objectContaining({ name: 'InvalidParameterException', message: expect.stringContaining(message) }),
    );
  });
});

describe('weightsFor', () => {
  it.each([
    { percent: 0, weights: { blue: 1, green: 0 } },
    { percent: 10, weights: { blue: 900, green: 100 } },
    { percent: 0.1, weights: { blue: 999, green: 1 } },
    { percent: 33.3, weights: { blue: 667, green: 333 } },
    { percent: 100, weights: { blue: 0, green: 1 } },
  ])('gives green $percent% as $weights', ({ percent, weights }) => {
    expect(weightsFor(percent)).toEqual(weights);
  });
});

describe('hooks', () => {
  it('sends the stage, the service deployment, the target revision and the weights by revision ARN', () => {
    expect(
      hookPayload({
        serviceArn: 'svc',
        serviceDeploymentArn: 'sd',
        executionId: 'x-1',
        lifecycleStage: 'PRODUCTION_TRAFFIC_SHIFT',
        blueRevisionArn: 'rev-blue',
        greenRevisionArn: 'rev-green',
        testPercent: 100,
        productionPercent: 10,
        hookDetails: { gate: 'x' },
      }),
    ).toEqual({
      executionDetails: {
        serviceArn: 'svc',
        targetServiceRevisionArn: 'rev-green',
        testTrafficWeights: { 'rev-blue': 0, 'rev-green': 100 },
        productionTrafficWeights: { 'rev-blue': 90, 'rev-green': 10 },
      },
      executionId: 'x-1',
      lifecycleStage: 'PRODUCTION_TRAFFIC_SHIFT',
      resourceArn: 'sd',
      hookDetails: { gate: 'x' },
    });
  });

  it.each([
    { answer: { payload: { hookStatus: 'SUCCEEDED' } }, verdict: { status: 'SUCCEEDED' } },
    {
      answer: { payload: { hookStatus: 'FAILED' } },
      verdict: { status: 'FAILED', reason: 'the hook answered FAILED' },
    },
    {
      answer: { payload: { hookStatus: 'IN_PROGRESS', callBackDelay: 5, hookDetails: { n: 1 } } },
      verdict: { status: 'IN_PROGRESS', callBackDelaySeconds: 5, hookDetails: { n: 1 } },
    },
    {
      answer: { payload: { hookStatus: 'IN_PROGRESS' } },
      verdict: { status: 'IN_PROGRESS', callBackDelaySeconds: 30 },
    },
    {
      answer: { payload: { ok: true } },
      verdict: { status: 'FAILED', reason: 'the hook returned no valid hookStatus: {"ok":true}' },
    },
    { answer: { payload: null }, verdict: { status: 'FAILED', reason: 'the hook returned no valid hookStatus: null' } },
    {
      answer: { functionError: 'Unhandled', payload: { errorType: 'GateError', errorMessage: 'p99 too high' } },
      verdict: { status: 'FAILED', reason: 'the hook failed (Unhandled): GateError: p99 too high' },
    },
  ])('reads $answer as $verdict', ({ answer, verdict }) => {
    expect(readHookAnswer(answer)).toEqual(verdict);
  });
});
