import { describe, expect, it } from 'vitest';
import { faultSwitch } from '../../local/aws-json.ts';
import { FAULTS_ENV, injectedFault, lambdaFault } from '../../local/faults.ts';

/** ROLLGATE_LOCAL_FAULTS: off unless set, comma-separated entries, each read by the local part it names. */
describe('the local fault switches', () => {
  const env = (value?: string) => (value === undefined ? {} : { [FAULTS_ENV]: value });

  it('are off unless the variable names the state or the service', () => {
    expect(lambdaFault('Deploy', new Set(), env())).toBeUndefined();
    expect(lambdaFault('Deploy', new Set(), env('Lambda:Backup=throw,ECS:throttle=1/2'))).toBeUndefined();
    expect(faultSwitch('ECS', env('Lambda:Deploy=throw'))()).toBeUndefined();
  });

  it('throw fails every call, throw-once the first of each execution, throw-after once the handler ran, retry-after once with a retried error', () => {
    const failed = new Set<string>();
    const value = env(' ECS:throttle=1/2 , Lambda:Deploy=throw , Lambda:Probe=throw-once,Lambda:Record=throw-after');
    expect([lambdaFault('Deploy', failed, value), lambdaFault('Deploy', failed, value)]).toEqual(['before', 'before']);
    expect([lambdaFault('Probe', failed, value), lambdaFault('Probe', failed, value)]).toEqual(['before', undefined]);
    expect(lambdaFault('Probe', new Set(), value)).toBe('before'); // another execution's first call
    expect(lambdaFault('Record', failed, value)).toBe('after');
    expect(injectedFault('Record', 'after')).toMatchObject({ name: 'InjectedFault' });
    const retry = env('Lambda:Deploy=retry-after');
    const once = new Set<string>();
    expect([lambdaFault('Deploy', once, retry), lambdaFault('Deploy', once, retry)]).toEqual(['retry', undefined]);
    expect(injectedFault('Deploy', 'retry')).toMatchObject({ name: 'Lambda.ServiceException' });
    // the ECS entry still works beside the others
    const ecs = faultSwitch('ECS', value);
    expect([ecs()?.name, ecs(), ecs()?.name]).toEqual(['ThrottlingException', undefined, 'ThrottlingException']);
  });

  it('ignores an entry it does not understand', () => {
    expect(lambdaFault('Deploy', new Set(), env('Lambda:Deploy=explode'))).toBeUndefined();
  });
});
