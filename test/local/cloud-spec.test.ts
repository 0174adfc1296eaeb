import { describe, expect, it } from 'vitest';
import { localSpec } from '../../local/cloud.ts';
import { parseConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/core/errors.ts';

const target = {
  name: 'web',
  repository: 'demo-app',
  cluster: 'demo',
  service: 'demo-app',
  container: 'web',
  health: { url: 'http://127.0.0.1:18080/health' },
};
const service = {
  name: 'demo-app',
  taskDefinitionFamily: 'demo-app',
  container: 'web',
  image: 'demo-app:v1',
  loadBalancerPort: 18080,
};
const config = (local: Record<string, unknown>, svc: Record<string, unknown> = {}) =>
  parseConfig({
    version: 1,
    targets: [target],
    local: {
      images: { 'demo-app': { command: ['node', 'x.js'] } },
      clusters: [{ name: 'demo', services: [{ ...service, ...svc }] }],
      ...local,
    },
  });

describe('localSpec: the local section as the local cloud reads it', () => {
  it('passes a service test route through, and a "minute" of 1000 ms unless set', () => {
    const spec = localSpec(
      config({}, { testListenerPort: 18081, testHeader: { name: 'x-test', value: '1' } }),
      'rollgate.config.yml',
    );
    expect(spec.minuteMs).toBe(1000);
    expect(spec.clusters[0]?.services[0]).toMatchObject({
      testListenerPort: 18081,
      testHeader: { name: 'x-test', value: '1' },
    });
    expect(localSpec(config({ minuteMs: 250 }), 'x').minuteMs).toBe(250);
    expect(localSpec(config({}), 'x').clusters[0]?.services[0]).not.toHaveProperty('testListenerPort');
  });

  it.each([
    [{}, { testListenerPort: 80 }, 'testListenerPort'],
    [{}, { testHeader: { name: 'x-test' } }, 'testHeader.value'],
    [{ minuteMs: 0 }, {}, 'local.minuteMs'],
  ])('names what cannot work: local %o, service %o', (local, svc, field) => {
    expect(() => config(local, svc)).toThrow(ConfigError);
    expect(() => config(local, svc)).toThrow(field);
  });
});
