import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { describeStrategy, gatesOf } from '../../src/config/progressive.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { MINIMAL_TARGET } from '../helpers.ts';

const target = MINIMAL_TARGET;

function messageOf(extra: Record<string, unknown>): string {
  try {
    parseConfig({ version: 1, targets: [{ ...target, ...extra }] }, 'rollgate.config.yml');
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

/** A target with `extra`, waiting at most 15 min for the lock (an hour, the default, leaves no room for gates). */
function parsed(extra: Record<string, unknown>) {
  const t = parseConfig({ version: 1, targets: [{ ...target, lock: { maxWaitSeconds: 900 }, ...extra }] }).targets[0];
  if (!t) throw new Error('no target');
  return t;
}

describe('progressive delivery config', () => {
  it('defaults to rolling with no gates, as before', () => {
    const t = parsed({});
    expect(t.strategy).toBe('rolling');
    expect(t.bakeMinutes).toBe(0);
    expect(t.gateTimeoutSeconds).toBe(900);
    expect(gatesOf(t)).toEqual([]);
    expect(describeStrategy(t)).toBe('strategy rolling');
    // a canary with ECS's defaults fits the state machine's timeout once the lock wait leaves room for its gates
    expect(gatesOf(parsed({ strategy: 'canary', lock: { maxWaitSeconds: 900 } }))).toHaveLength(2);
    expect(messageOf({ strategy: 'canary' })).toContain('+ 2 gate(s) x (gateTimeoutSeconds');
  });

  it('lists the gates of each strategy', () => {
    const route = { testRoute: { header: { name: 'x-canary', value: '1' } } };
    expect(gatesOf(parsed({ strategy: 'blue-green', ...route }))).toEqual([
      { stage: 'test', percent: 100 },
      { stage: 'production', percent: 100 },
    ]);
    expect(gatesOf(parsed({ strategy: 'canary', canary: { percent: 10, bakeMinutes: 1 } }))).toEqual([
      { stage: 'production', percent: 10 },
      { stage: 'production', percent: 100 },
    ]);
    expect(
      gatesOf(
        parsed({ strategy: 'linear', linear: { stepPercent: 33.3, bakeMinutes: 1 }, gateTimeoutSeconds: 120 }),
      ).map((g) => g.percent),
    ).toEqual([33.3, 66.6, 99.9, 100]);
    expect(describeStrategy(parsed({ strategy: 'canary', canary: { percent: 10, bakeMinutes: 1 }, ...route }))).toBe(
      'strategy canary: 10% (1 min each), then 100%; bake 0 min; test route header x-canary: 1; gates wait 900 s',
    );
  });

  it.each([
    [{ strategy: 'canary', canary: { percent: 0 } }, 'targets[0].canary.percent: got 0, expected number to be >=0.1'],
    [{ strategy: 'canary', canary: { percent: 100.5 } }, 'targets[0].canary.percent: got 100.5'],
    [
      { strategy: 'canary', canary: { percent: 10.05 } },
      'targets[0].canary.percent: got 10.05, expected a multiple of 0.1',
    ],
    [{ strategy: 'linear', linear: { stepPercent: 2 } }, 'targets[0].linear.stepPercent: got 2'],
    [{ strategy: 'linear', linear: { bakeMinutes: 1441 } }, 'targets[0].linear.bakeMinutes: got 1441'],
    [{ strategy: 'blue-green' }, 'targets[0].testRoute: missing, expected a test route for strategy blue-green'],
    [{ strategy: 'teal' }, 'targets[0].strategy: got "teal", expected one of "rolling"|"blue-green"|"canary"|"linear"'],
    [
      { strategy: 'linear', canary: { percent: 5 } },
      'targets[0].canary: invalid, expected no canary section with strategy linear',
    ],
    [{ strategy: 'canary', testRoute: {} }, 'targets[0].testRoute: invalid, expected url (the test listener)'],
    [
      { strategy: 'canary', testRoute: { url: 'http://127.0.0.1:9091/health' } },
      'targets[0].testRoute.url: got "http://127.0.0.1:9091/health", expected the test listener as scheme://host:port',
    ],
    [
      { strategy: 'canary', testRoute: { header: { name: 'x canary', value: '1' } } },
      'targets[0].testRoute.header.name: got "x canary", expected an HTTP header name',
    ],
    [
      { testRoute: { url: 'http://127.0.0.1:9091' } },
      'targets[0].testRoute: invalid, expected no testRoute with strategy rolling',
    ],
    [{ bakeMinutes: 5 }, 'targets[0].bakeMinutes: got 5, expected bakeMinutes 0 with strategy rolling'],
    [{ strategy: 'canary', gateTimeoutSeconds: 0 }, 'targets[0].gateTimeoutSeconds: got 0'],
    [
      { strategy: 'canary', canary: { bakeMinutes: 5 }, gateTimeoutSeconds: 300 },
      "targets[0].gateTimeoutSeconds: got 300, expected at least 360 s: ECS reaches the next gate only after the step's bake (300 s)",
    ],
  ])('refuses %j naming the field', (extra, expected) => {
    expect(messageOf(extra)).toContain(expected);
  });

  it('refuses bakes and gates that outlast the state machine timeout', () => {
    const message = messageOf({
      strategy: 'linear',
      linear: { stepPercent: 10, bakeMinutes: 30 },
      bakeMinutes: 10,
      gateTimeoutSeconds: 1900,
    });
    expect(message).toContain('targets[0]: invalid, expected deadlines adding up to at most 7200 s');
    expect(message).toContain('+ 10 gate(s) x (gateTimeoutSeconds + health.deadlineSeconds + load.durationSeconds)');
    expect(message).toContain('+ bakeMinutes x 60 (600 s) is 26460 s');
    // the same target with short bakes fits
    expect(parsed({ strategy: 'linear', linear: { stepPercent: 50, bakeMinutes: 1 } }).strategy).toBe('linear');
  });

  it("checks the test route against the local service's test listener and header", () => {
    const local = (service: Record<string, unknown>) => ({
      region: 'us-east-1',
      images: { web: { command: ['node', 'x.js'] } },
      clusters: [
        {
          name: 'prod',
          services: [
            {
              name: 'web',
              taskDefinitionFamily: 'web',
              container: 'app',
              image: 'web:v1',
              loadBalancerPort: 18080,
              ...service,
            },
          ],
        },
      ],
    });
    const config = (testRoute: unknown, service: Record<string, unknown>) => ({
      version: 1,
      targets: [{ ...target, strategy: 'canary', testRoute, lock: { maxWaitSeconds: 600 } }],
      local: local(service),
    });
    const problems = (testRoute: unknown, service: Record<string, unknown>) => {
      try {
        parseConfig(config(testRoute, service));
        return '';
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(
      problems(
        { url: 'http://127.0.0.1:18081', header: { name: 'X-Canary', value: '1' } },
        {
          testListenerPort: 18081,
          testHeader: { name: 'x-canary', value: '1' },
        },
      ),
    ).toBe('');
    expect(
      problems({ header: { name: 'x-canary', value: '1' } }, { testHeader: { name: 'x-canary', value: '2' } }),
    ).toContain("targets[0].testRoute.header: invalid, expected the local service's testHeader (x-canary: 2)");
    expect(problems({ url: 'http://127.0.0.1:18082' }, { testListenerPort: 18081 })).toContain(
      'targets[0].testRoute.url: got "http://127.0.0.1:18082", expected a URL on the local service\'s testListenerPort (18081)',
    );
  });
});
