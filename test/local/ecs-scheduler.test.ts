import { describe, expect, it } from 'vitest';
import type { DeploymentRecord } from '../../local/ecs/model.ts';
import {
  circuitBreakerThreshold,
  deploymentId,
  FRESH_MEMORY,
  launchBackoffMs,
  restoredDeployments,
  type ServiceView,
  schedule,
  startDeployment,
  type TaskView,
  taskFailed,
} from '../../local/ecs/scheduler.ts';

// The scheduler's rules as tables: no processes, no timers; the clock is a number.
const NOW = 1_000_000;

function deployment(id: string, overrides: Partial<DeploymentRecord> = {}): DeploymentRecord {
  return {
    id,
    status: 'PRIMARY',
    taskDefinition: `td:${id}`,
    failedTasks: 0,
    createdAt: 0,
    updatedAt: 0,
    rolloutState: 'IN_PROGRESS',
    rolloutStateReason: '',
    ...overrides,
  };
}

/** `new`, the PRIMARY (IN_PROGRESS unless said), over `old` (ACTIVE, COMPLETED before). */
function service(
  desiredCount: number,
  minimumHealthyPercent: number,
  maximumPercent: number,
  overrides: Partial<ServiceView> = {},
): ServiceView {
  return {
    desiredCount,
    deploymentConfiguration: {
      minimumHealthyPercent,
      maximumPercent,
      deploymentCircuitBreaker: { enable: true, rollback: true },
    },
    deployments: [deployment('new'), deployment('old', { status: 'ACTIVE', rolloutState: 'COMPLETED' })],
    lastCompleted: { deploymentId: 'old', taskDefinition: 'td:old' },
    ...overrides,
  };
}

/**
 * Tasks from a compact spec: `old:R` a RUNNING old task, `new:P` a PENDING new one, `new:S` a STOPPED one, `old:D` a
 * RUNNING one already asked to stop (DEACTIVATING). Ids are `<deployment>-<index>`; createdAt is the index.
 */
function tasks(...specs: string[]): TaskView[] {
  const status = { R: 'RUNNING', P: 'PENDING', S: 'STOPPED', D: 'DEACTIVATING' } as const;
  return specs.map((spec, index) => {
    const [deploymentId = '', code = 'R'] = spec.split(':');
    const lastStatus = status[code as keyof typeof status];
    return {
      id: `${deploymentId}-${index}`,
      deploymentId,
      lastStatus,
      desiredStatus: code === 'S' || code === 'D' ? 'STOPPED' : 'RUNNING',
      createdAt: index,
    };
  });
}

const launched = (d: ReturnType<typeof schedule>) =>
  d.actions.flatMap((a) => (a.type === 'launch' ? [a.count] : [])).reduce((x, y) => x + y, 0);
const stopped = (d: ReturnType<typeof schedule>) => d.actions.flatMap((a) => (a.type === 'stop' ? a.taskIds : []));
const kinds = (d: ReturnType<typeof schedule>) => d.actions.map((a) => a.type);

describe('schedule: rolling replacement', () => {
  it.each([
    // desired, min%, max%, tasks, launches, stops: why
    [2, 100, 200, ['old:R', 'old:R'], 2, [], 'max 200%: two new tasks start, no old one may stop before'],
    [2, 50, 100, ['old:R', 'old:R'], 0, ['old-0'], 'max 100%: no room; min 50% lets one old task go first'],
    [4, 50, 150, ['old:R', 'old:R', 'old:R', 'old:R'], 2, ['old-0', 'old-1'], 'room for 2, 2 old may stop'],
    [2, 100, 200, ['old:R', 'old:R', 'new:R', 'new:R'], 0, ['old-0', 'old-1'], 'new tasks run: the old ones go'],
    [2, 100, 200, ['old:R', 'old:R', 'new:R', 'new:P'], 0, ['old-0'], 'only as many old stop as new run'],
    [2, 0, 100, ['old:R', 'old:R'], 0, ['old-0', 'old-1'], 'min 0%: every old task may stop at once'],
    [2, 100, 200, ['old:P', 'old:R', 'old:R'], 1, ['old-0'], 'old tasks not yet running stop at once'],
    [3, 100, 200, ['new:R', 'new:R'], 1, [], 'a task that died is replaced'],
    [1, 100, 200, ['new:P', 'new:R', 'new:R'], 0, ['new-0', 'new-2'], 'scale in: pending first, then the newest'],
    [0, 100, 200, ['new:R'], 0, ['new-0'], 'scale to zero'],
  ] as const)(
    'desired %i, minimumHealthyPercent %i, maximumPercent %i, tasks %j: launch %i, stop %j (%s)',
    (desired, min, max, spec, launches, stops, _why) => {
      const decision = schedule({
        service: service(desired, min, max),
        tasks: tasks(...spec),
        memory: FRESH_MEMORY,
        now: NOW,
      });
      expect(launched(decision)).toBe(launches);
      expect(stopped(decision)).toEqual(stops);
    },
  );

  it.each([
    [2, 100, 200],
    [4, 50, 150],
    [3, 0, 100],
    [10, 90, 110],
  ])(
    'never wants more than maximumPercent nor fewer RUNNING than minimumHealthyPercent (desired %i, minimumHealthyPercent %i, maximumPercent %i)',
    (desired, min, max) => {
      // Run the rollout to its end: launched tasks come up RUNNING, stopped ones go away.
      let current = tasks(...Array.from({ length: desired }, () => 'old:R'));
      let next = 0;
      for (let pass = 0; pass < 50; pass++) {
        const decision = schedule({
          service: service(desired, min, max),
          tasks: current,
          memory: FRESH_MEMORY,
          now: NOW,
        });
        const stops = new Set(stopped(decision));
        current = current.filter((t) => !stops.has(t.id));
        expect(current.filter((t) => t.lastStatus === 'RUNNING').length).toBeGreaterThanOrEqual(
          Math.ceil((desired * min) / 100),
        );
        for (let i = 0; i < launched(decision); i++) {
          current.push({
            id: `n${next++}`,
            deploymentId: 'new',
            lastStatus: 'RUNNING',
            desiredStatus: 'RUNNING',
            createdAt: 100 + next,
          });
        }
        expect(current.length).toBeLessThanOrEqual(Math.floor((desired * max) / 100));
        if (kinds(decision).includes('complete')) break;
      }
      expect(current.map((t) => t.deploymentId)).toEqual(Array.from({ length: desired }, () => 'new'));
    },
  );

  it('holds launches until the back-off after failed tasks has passed', () => {
    const input = { service: service(2, 100, 200), tasks: tasks('old:R', 'old:R') };
    expect(launched(schedule({ ...input, memory: { ...FRESH_MEMORY, nextLaunchAt: NOW + 1 }, now: NOW }))).toBe(0);
    expect(launched(schedule({ ...input, memory: { ...FRESH_MEMORY, nextLaunchAt: NOW }, now: NOW }))).toBe(2);
  });

  it('leaves the old tasks serving under a FAILED primary: no launch, no stop', () => {
    const svc = service(2, 100, 200, { deployments: [deployment('new', { rolloutState: 'FAILED' })] });
    const decision = schedule({ service: svc, tasks: tasks('old:R', 'old:R'), memory: FRESH_MEMORY, now: NOW });
    expect(decision).toEqual({ actions: [], steady: false });
  });
});

describe('schedule: rolloutState', () => {
  it.each([
    // primary rolloutState, tasks, steady before, actions, steady after
    ['IN_PROGRESS', ['new:R', 'new:R'], false, ['complete', 'steady'], true],
    ['IN_PROGRESS', ['old:S', 'new:R', 'new:R'], false, ['complete', 'steady'], true],
    ['IN_PROGRESS', ['old:D', 'new:R', 'new:R'], false, [], false],
    ['IN_PROGRESS', ['new:R', 'new:P'], false, [], false],
    ['COMPLETED', ['new:R', 'new:R'], false, ['steady'], true],
    ['COMPLETED', ['new:R', 'new:R'], true, [], true],
    ['COMPLETED', ['new:R'], true, ['launch'], false],
    ['FAILED', ['new:R', 'new:R'], false, [], false],
  ] as const)('%s with %j (steady: %s): %j, steady %s', (rolloutState, spec, steady, expected, after) => {
    const svc = service(2, 100, 200, { deployments: [deployment('new', { rolloutState })] });
    const decision = schedule({ service: svc, tasks: tasks(...spec), memory: { ...FRESH_MEMORY, steady }, now: NOW });
    expect(kinds(decision)).toEqual(expected);
    expect(decision.steady).toBe(after);
  });
});

describe('taskFailed: the circuit breaker', () => {
  it.each([
    [1, 3],
    [2, 3],
    [6, 3],
    [7, 4],
    [10, 5],
    [400, 200],
    [1000, 200],
  ])('desired %i: threshold %i', (desired, threshold) => {
    expect(circuitBreakerThreshold(desired)).toBe(threshold);
  });

  it('holds launches 250 ms after a failed task, doubling per consecutive failure up to 5 s', () => {
    expect([1, 2, 5, 6, 20].map(launchBackoffMs)).toEqual([250, 500, 4000, 5000, 5000]);
  });

  const failing = (
    failedTasks: number,
    breaker = { enable: true, rollback: true },
    overrides: Partial<ServiceView> = {},
  ) =>
    service(2, 100, 200, {
      deploymentConfiguration: { minimumHealthyPercent: 100, maximumPercent: 200, deploymentCircuitBreaker: breaker },
      deployments: [
        deployment('new', { failedTasks }),
        deployment('old', { status: 'ACTIVE', rolloutState: 'COMPLETED' }),
      ],
      ...overrides,
    });

  it.each([
    // failed before, breaker, actions: why
    [0, { enable: true, rollback: true }, ['throttle', 'count'], 'below the threshold (3): counted'],
    [2, { enable: true, rollback: true }, ['throttle', 'count', 'fail', 'rollback'], 'the third: FAILED, rolled back'],
    [2, { enable: true, rollback: false }, ['throttle', 'count', 'fail'], 'no rollback: FAILED, left there'],
    [2, { enable: false, rollback: false }, ['throttle', 'count', 'unstable'], 'no breaker: only an event'],
  ] as const)('%i failed, breaker %j: %j (%s)', (failedTasks, breaker, expected, _why) => {
    const actions = taskFailed({
      service: failing(failedTasks, { ...breaker }),
      tasks: tasks('old:R', 'old:R', 'new:P', 'new:S'),
      deploymentId: 'new',
      memory: FRESH_MEMORY,
      now: NOW,
    });
    expect(actions.map((a) => a.type)).toEqual(expected);
    expect(actions).toContainEqual({ type: 'count', deploymentId: 'new', failedTasks: failedTasks + 1 });
  });

  it('rolls back to the last COMPLETED task definition and stops the failed deployment’s tasks', () => {
    const actions = taskFailed({
      service: failing(2),
      tasks: tasks('old:R', 'old:R', 'new:P', 'new:S'),
      deploymentId: 'new',
      memory: { ...FRESH_MEMORY, consecutiveFailures: 2 },
      now: NOW,
    });
    expect(actions).toEqual([
      { type: 'throttle', consecutiveFailures: 3, nextLaunchAt: NOW + 1000 },
      { type: 'count', deploymentId: 'new', failedTasks: 3 },
      { type: 'fail', deploymentId: 'new' },
      { type: 'rollback', to: { deploymentId: 'old', taskDefinition: 'td:old' }, stopTaskIds: ['new-2'] },
    ]);
  });

  it.each([
    ['the deployment is no longer IN_PROGRESS', { rolloutState: 'FAILED' as const }, ['throttle']],
    ['the deployment is not the PRIMARY one', { status: 'ACTIVE' as const }, ['throttle', 'count']],
  ])('only throttles and counts when %s', (_why, overrides, expected) => {
    const svc = failing(2, undefined, {
      deployments: [deployment('newer'), deployment('new', { failedTasks: 2, ...overrides })],
    });
    const actions = taskFailed({ service: svc, tasks: [], deploymentId: 'new', memory: FRESH_MEMORY, now: NOW });
    expect(actions.map((a) => a.type)).toEqual(expected);
  });

  it('does not roll back onto the task definition that failed', () => {
    const svc = failing(2, undefined, { lastCompleted: { deploymentId: 'older', taskDefinition: 'td:new' } });
    const actions = taskFailed({ service: svc, tasks: [], deploymentId: 'new', memory: FRESH_MEMORY, now: NOW });
    expect(actions.map((a) => a.type)).toEqual(['throttle', 'count', 'fail']);
  });

  it('reports "unable to consistently start tasks" once per deployment', () => {
    const svc = failing(5, { enable: false, rollback: false });
    const input = { service: svc, tasks: [], deploymentId: 'new', now: NOW };
    expect(taskFailed({ ...input, memory: { ...FRESH_MEMORY, unstableReported: true } }).map((a) => a.type)).toEqual([
      'throttle',
      'count',
    ]);
  });

  it('ignores a task of a deployment that is gone', () => {
    expect(
      taskFailed({ service: failing(0), tasks: [], deploymentId: 'gone', memory: FRESH_MEMORY, now: NOW }),
    ).toEqual([]);
  });
});

describe('deployments: PRIMARY and ACTIVE', () => {
  it('a new deployment is PRIMARY and IN_PROGRESS; every other one becomes ACTIVE', () => {
    const before = [deployment('b', { rolloutState: 'IN_PROGRESS' }), deployment('a', { status: 'ACTIVE' })];
    const after = startDeployment(before, { id: 'c', taskDefinition: 'td:c', now: NOW });
    expect(after.map((d) => [d.id, d.status, d.rolloutState])).toEqual([
      ['c', 'PRIMARY', 'IN_PROGRESS'],
      ['b', 'ACTIVE', 'IN_PROGRESS'],
      ['a', 'ACTIVE', 'IN_PROGRESS'],
    ]);
    expect(after[0]).toMatchObject({
      failedTasks: 0,
      createdAt: NOW,
      rolloutStateReason: 'ECS deployment c in progress.',
    });
    expect(before[0]?.status).toBe('PRIMARY');
  });

  it('a rollback deployment carries its reason', () => {
    const [rollback] = startDeployment([], { id: 'r', taskDefinition: 'td:a', now: NOW, reason: 'rolling back' });
    expect(rollback?.rolloutStateReason).toBe('rolling back');
  });

  it.each([
    ['COMPLETED', 'COMPLETED', 2],
    ['IN_PROGRESS', 'IN_PROGRESS', 0],
    ['FAILED', 'IN_PROGRESS', 0],
  ] as const)('after a restart a %s PRIMARY is %s with %i failed tasks, alone', (state, restored, failed) => {
    const after = restoredDeployments(
      [deployment('p', { rolloutState: state, failedTasks: 2 }), deployment('o', { status: 'ACTIVE' })],
      NOW,
    );
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ id: 'p', rolloutState: restored, failedTasks: failed });
  });

  it('deployment ids are 19 digits, increasing with the clock and the counter', () => {
    const a = deploymentId(1_700_000_000_000, 1);
    const b = deploymentId(1_700_000_000_000, 2);
    const c = deploymentId(1_700_000_000_001, 1);
    expect(a).toMatch(/^ecs-svc\/\d{19}$/);
    expect(BigInt(a.slice(8)) < BigInt(b.slice(8))).toBe(true);
    expect(BigInt(b.slice(8)) < BigInt(c.slice(8))).toBe(true);
  });
});
