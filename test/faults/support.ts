/**
 * The fault suite's harness: the rollgate command as an operator runs it (a separate process, killed or interrupted at
 * a named state), and the end state read from what the local cloud left on disk: which revision serves, the backup,
 * the audit records, the lock table, the published events.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { startDynamo } from '../../local/dynamodb.ts';
import { executionLockPk, LOCK_SK, serviceLockPk } from '../../src/core/naming.ts';
import { e2eEnv } from '../e2e/env.ts';

export type Env = Awaited<ReturnType<typeof e2eEnv>>;

/**
 * A local cloud on a temp state dir with the demo target's waits cut short: the faults, not the waits, are tested.
 * `mutate` changes the config further (the file's own needs).
 */
export function faultEnv(mutate?: (config: Record<string, unknown>) => void): Promise<Env> {
  return e2eEnv((doc) => {
    const target = (doc.targets as Record<string, Record<string, unknown>>[])[0] ?? {};
    target.rollout = { deadlineSeconds: 60, initialWaitSeconds: 1, maxWaitSeconds: 1, backoffRate: 1 };
    Object.assign(target.health as object, { settleSeconds: 0, deadlineSeconds: 6 });
    Object.assign(target.load as object, { durationSeconds: 1 });
    mutate?.(doc);
  });
}

/**
 * The rollgate command, to its end. Asynchronous: concurrent cases must keep watching their own runs meanwhile (a
 * spawnSync would block them all, signals included).
 */
export function rollgate(env: Env, args: string[], input = '', extraEnv: Record<string, string> = {}) {
  const child = spawn(
    process.execPath,
    ['bin/rollgate.js', ...args, '--config', env.configFile, '--state-dir', env.stateDir],
    { env: { ...process.env, NO_COLOR: '1', ...extraEnv }, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  child.stdin.end(input);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/** At most `n` callers at once: the cases run concurrently, but a 2-core machine runs few rollgates well. */
export function limit(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let running = 0;
  const queue: (() => void)[] = [];
  return async (fn) => {
    if (running >= n) await new Promise<void>((resolve) => queue.push(resolve));
    running++;
    try {
      return await fn();
    } finally {
      running--;
      queue.shift()?.();
    }
  };
}

/** `rollgate run` of a manual input, signalled once its progress shows `state` entered; resolves with how it ended. */
export async function interruptRun(env: Env, input: string, state: string, signal: NodeJS.Signals) {
  const child: ChildProcess = spawn(
    process.execPath,
    ['bin/rollgate.js', 'run', '--event', '-', '--config', env.configFile, '--state-dir', env.stateDir],
    { env: { ...process.env, NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  child.stdin?.end(input);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, sig) => resolve({ code, signal: sig })),
  );
  const entered = new RegExp(`^\\s+run\\s+[\\d.]+ m?s\\s+${state}$`, 'm');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${state} not entered in 60 s:\n${stderr}`)), 60_000);
    child.stderr?.on('data', (d) => {
      stderr += d;
      if (entered.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
    ended.then(() => {
      clearTimeout(timer);
      reject(new Error(`rollgate ended before ${state}:\n${stderr}`));
    });
  });
  child.kill(signal);
  const end = await ended;
  const name = /^\s+run\s.*$/m.test(stderr) ? executionNames(env).at(-1) : undefined;
  return { ...end, stdout: () => stdout, stderr: () => stderr, name: name ?? '' };
}

/** Names of the stored or unfinished executions, oldest first (names sort by start time within a second's names). */
export function executionNames(env: Env): string[] {
  const dir = path.join(env.stateDir, 'executions');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as { name: string; startDate: string })
    .sort((a, b) => a.startDate.localeCompare(b.startDate))
    .map((e) => e.name);
}

interface EcsStateFile {
  clusters: Record<
    string,
    { services: Record<string, { deployments: { taskDefinition: string; rolloutState: string }[] }> }
  >;
  taskDefinitions: Record<string, { taskDefinitionArn: string; body: { containerDefinitions: { image: string }[] } }[]>;
}

/** What the local cloud left on disk about the demo service and one execution. */
export async function endState(env: Env, name: string) {
  const ecs = JSON.parse(readFileSync(path.join(env.stateDir, 'ecs', 'ecs-state.json'), 'utf8')) as EcsStateFile;
  const [primary, ...others] = ecs.clusters.demo?.services['demo-app']?.deployments ?? [];
  const td = ecs.taskDefinitions['demo-app']?.find((t) => t.taskDefinitionArn === primary?.taskDefinition);
  const s3 = path.join(env.stateDir, 's3', 'rollgate-artifacts');
  const objects = (dir: string): string[] =>
    existsSync(path.join(s3, dir))
      ? readdirSync(path.join(s3, dir), { recursive: true, encoding: 'utf8' }).filter((f) =>
          f.endsWith('._S3rver_object'),
        )
      : [];
  const stored = JSON.parse(readFileSync(path.join(env.stateDir, 'executions', `${name}.json`), 'utf8'));
  const events = existsSync(path.join(env.stateDir, 'events.jsonl'))
    ? readFileSync(path.join(env.stateDir, 'events.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l.includes(`"executionName":"${name}"`))
        .map((l) => (JSON.parse(l) as { 'detail-type': string })['detail-type'])
    : [];
  return {
    /** The image the service's PRIMARY deployment runs, and whether its rollout is over with no other deployment. */
    serving: td?.body.containerDefinitions[0]?.image,
    steady: primary?.rolloutState === 'COMPLETED' && others.length === 0,
    backup: objects('backups').some((f) => f.includes(name)),
    auditRecords: objects('audit').filter((f) => f.includes(name)).length,
    locks: await locksHeld(env, name),
    events,
    stored: stored as { schema?: string; status: string; summary?: { outcome: string; reason: string } },
  };
}

/** The service's lock holder and the execution's lock marker still in the (persisted) lock table. */
async function locksHeld(env: Env, name: string): Promise<string[]> {
  const dynamo = await startDynamo({
    table: 'rollgate-locks',
    region: 'us-east-1',
    directory: path.join(env.stateDir, 'dynamodb'),
  });
  const ddb = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  try {
    const held: string[] = [];
    for (const pk of [serviceLockPk('demo', 'demo-app'), executionLockPk(name)]) {
      const out = await ddb.send(
        new GetItemCommand({ TableName: 'rollgate-locks', Key: { pk: { S: pk }, sk: { S: LOCK_SK } } }),
      );
      if (out.Item) held.push(`${pk} (${out.Item.execution?.S ?? out.Item.service?.S ?? '?'})`);
    }
    return held;
  } finally {
    ddb.destroy();
    await dynamo.close();
  }
}
