/**
 * The fault matrix: every fault the suite injects, by name. The test files build their cases from these lists and
 * docs/faults.md's table has one row per name (test/faults/table.test.ts checks both ways).
 */

/** The stages a `rollgate run` is stopped in, and the state whose entry (in its progress lines) marks the stage. */
export const STAGES = [
  { stage: 'Deploy', state: 'Deploy' },
  { stage: 'the rollout wait', state: 'CheckRollout' },
  { stage: 'the load test', state: 'GenerateLoad' },
  { stage: 'Rollback', state: 'Rollback' },
] as const;

/** The signals, with the exit code rollgate ends with (SIGKILL cannot be handled: the next command resolves it). */
export const SIGNALS = [
  { signal: 'SIGINT', exitCode: 130 },
  { signal: 'SIGTERM', exitCode: 143 },
  { signal: 'SIGKILL', exitCode: undefined },
] as const;

export function interruptFault(signal: string, stage: string): string {
  return `${signal} during ${stage}`;
}

/** State files damaged: [fault name, file under the state dir, content written, what the error says]. */
export const BROKEN_STATE_FILES = [
  ['truncated ecs/ecs-state.json', 'ecs/ecs-state.json', '{"schema":"rollgate.loc', 'is not valid JSON'],
  ['null ecs/ecs-state.json', 'ecs/ecs-state.json', 'null\n', 'is not a rollgate local ECS state'],
  ['garbage registry.json', 'registry.json', 'garbage\n', 'is not valid JSON'],
  ['null registry.json', 'registry.json', 'null\n', 'is not a local registry'],
] as const;

/** One execution file damaged: [fault name, content]. */
export const BROKEN_EXECUTION_FILES = [
  ['truncated executions/*.json', '{"executionArn": "arn:aws:st'],
  ['null executions/*.json', 'null\n'],
] as const;

export const OTHER_FAULTS = {
  duplicate: 'duplicate delivery',
  tornEvents: 'torn line in events.jsonl',
  reusedPid: 'cloud.pid naming a reused pid',
  garbagePid: 'garbage cloud.pid',
  resetReusedPid: 'reset with a cloud.pid naming a reused pid',
  s3AtRecord: 'S3 unavailable at Record',
  s3AtBackup: 'S3 unavailable at Backup',
  dynamoAtLock: 'DynamoDB unavailable at AcquireLock',
  rollbackBroken: 'rollback target broken too',
  ecsThrottling: 'ECS throttling through a whole deploy',
  unverifiedRunning: 'a revision left running unverified',
  pushStorm: '20 pushes of 20 tags in 5 s to one service',
} as const;

/**
 * The Task states whose Lambda is made to throw an unexpected error (ROLLGATE_LOCAL_FAULTS=Lambda:<State>=throw), one
 * case each (test/faults/lambda-faults.test.ts): every Task state of statemachines/deploy.asl.json. A state of the
 * rollback path is reached by a first fault at ProbeHealth; Record states of failure paths by a first fault before
 * them; the gate states on a blue/green service.
 */
export const LAMBDA_FAULT_STATES = [
  'Normalize',
  'CheckImage',
  'AcquireLock',
  'Inspect',
  'Backup',
  'Register',
  'Deploy',
  'CheckRollout',
  'ProbeHealth',
  'PlanLoad',
  'Generate',
  'MergeGroup',
  'AggregateLoad',
  'RecordDeployed',
  'RecordAlreadyDeployed',
  'RecordIgnored',
  'Rollback',
  'CheckRollback',
  'ProbeRollback',
  'RecordRolledBack',
  'NotifyRolledBack',
  'RecordRollbackFailed',
  'NotifyRollbackFailed',
  'RecordFailed',
  // the gates of progressive delivery (a blue/green service): each ends in the rollback of ECS's deployment
  'AwaitGate',
  'ProbeGate',
  'PlanGateLoad',
  'JudgeGate',
  'ProbeBake',
] as const;

export function lambdaFault(state: string): string {
  return `the Lambda of ${state} throws`;
}

/** Every fault name, as docs/faults.md lists them. */
export function allFaults(): string[] {
  return [
    ...SIGNALS.flatMap(({ signal }) => STAGES.map(({ stage }) => interruptFault(signal, stage))),
    ...BROKEN_STATE_FILES.map(([name]) => name),
    ...BROKEN_EXECUTION_FILES.map(([name]) => name),
    ...Object.values(OTHER_FAULTS),
    ...LAMBDA_FAULT_STATES.map(lambdaFault),
  ];
}
