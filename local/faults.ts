/**
 * The local cloud's fault switches, for the fault suite and demos: off unless `ROLLGATE_LOCAL_FAULTS` is set. Read by
 * the local endpoints and the local Lambda invoker only, never by a handler (src/ never reads this variable).
 *
 * The value is a comma-separated list of entries:
 * - `ECS:throttle=3/10`: of every 10 calls to the local ECS, the first 3 answer ThrottlingException (see
 *   aws-json.ts's faultSwitch);
 * - `Lambda:<State>=throw`: the Lambda a Task state of the state machine invokes throws an unexpected error (an
 *   `Error` named `InjectedFault`, which no Retry lists) each time that state calls it, before the handler runs;
 * - `Lambda:<State>=throw-once`: the same, on that state's first call of each execution only;
 * - `Lambda:<State>=throw-after`: the handler runs (its effects land), then the call fails all the same, as a Lambda
 *   that crashes or times out after its last AWS call does;
 * - `Lambda:<State>=retry-after`: the handler runs, then the call fails once per execution with Lambda's own
 *   `Lambda.ServiceException`, which the state's Retry retries: the handler runs a second time with the same input,
 *   as after a Lambda service error that hid a call that went through (the idempotency case).
 */

export const FAULTS_ENV = 'ROLLGATE_LOCAL_FAULTS';

/** The entries of the switch (`service:setting`), spaces trimmed, empty ones dropped. */
export function faultEntries(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env[FAULTS_ENV] ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
}

/** The error an injected Lambda fault throws: what a handler's unexpected bug looks like to Step Functions. */
export class InjectedFault extends Error {
  override readonly name = 'InjectedFault';
}

/**
 * When a Task state's Lambda call fails: before its handler runs, or after (its effects landed), with an error no
 * Retry lists, or (`retry`) after, with one the state's Retry retries.
 */
export type LambdaFault = 'before' | 'after' | 'retry' | undefined;

/**
 * The Lambda fault of a Task state's call, checked at each call (the variable is read then, so a test may change it
 * between executions). `failed` is the execution's own memory of the states it already failed (for `throw-once`).
 */
export function lambdaFault(state: string, failed: Set<string>, env: NodeJS.ProcessEnv = process.env): LambdaFault {
  for (const entry of faultEntries(env)) {
    const match = /^Lambda:([A-Za-z0-9_-]+)=(throw|throw-once|throw-after|retry-after)$/.exec(entry);
    if (!match || match[1] !== state) continue;
    if ((match[2] === 'throw-once' || match[2] === 'retry-after') && failed.has(state)) continue;
    failed.add(state);
    return match[2] === 'throw-after' ? 'after' : match[2] === 'retry-after' ? 'retry' : 'before';
  }
  return undefined;
}

/** The error of an injected fault (`retry`: named as Lambda's service error, which TASK_RETRY retries). */
export function injectedFault(state: string, fault: Exclude<LambdaFault, undefined>): Error {
  if (fault === 'retry') {
    return Object.assign(
      new Error(`${FAULTS_ENV}: Lambda answered a service error after the handler of ${state} ran`),
      {
        name: 'Lambda.ServiceException',
      },
    );
  }
  return new InjectedFault(
    `${FAULTS_ENV}: the Lambda of state ${state} failed (${fault === 'after' ? 'after its handler ran' : 'before its handler ran'})`,
  );
}
