import { readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { CODEDEPLOY_GATE_EVENTS } from '../src/config/codedeploy.ts';
import type { RollgateConfig } from '../src/config/schema.ts';
import { ConfigError } from '../src/core/errors.ts';
import { codeDeployHookEnv } from '../src/core/naming.ts';
import { type LocalCodeDeploy, startCodeDeploy } from './codedeploy/server.ts';
import { type LocalDynamo, startDynamo } from './dynamodb.ts';
import { startEcr } from './ecr.ts';
import { startEcs } from './ecs/server.ts';
import { startEventBridge } from './eventbridge.ts';
import { type LocalLambda, localFunctionArn, startLambda } from './lambda.ts';
import { LocalRegistry, writeJsonAtomic } from './registry.ts';
import { type LocalS3, startS3 } from './s3.ts';
import { startSfn, TaskTokens } from './sfn.ts';
import type { LocalCloudSpec } from './types.ts';

/** The bucket the local cloud creates for backups, audit records and reports (ARTIFACTS_BUCKET). */
export const LOCAL_BUCKET = 'rollgate-artifacts';
/** The deploy lock table the local cloud creates (LOCK_TABLE). */
export const LOCAL_LOCK_TABLE = 'rollgate-locks';

type Ecs = Awaited<ReturnType<typeof startEcs>>;

/** The running local cloud: S3, ECS with its tasks and load balancers, the image registry. */
export interface LocalCloud {
  readonly stateDir: string;
  readonly spec: LocalCloudSpec;
  readonly s3: LocalS3;
  readonly ecs: Ecs;
  /** CodeDeploy: the deployments of the config's CODE_DEPLOY services (state under `<stateDir>/codedeploy/`). */
  readonly codeDeploy: LocalCodeDeploy;
  readonly registry: LocalRegistry;
  /** The lock table's DynamoDB (data under `<stateDir>/dynamodb/`). */
  readonly dynamo: LocalDynamo;
  /** The Lambda endpoint: serverless.yml's functions by the Invoke protocol (ECS lifecycle hooks call it). */
  readonly lambda: LocalLambda;
  /** The task tokens of the runner's callback states, answered by the local SFN endpoint (AWS_ENDPOINT_URL_SFN). */
  readonly taskTokens: TaskTokens;
  /** The environment the handlers run with: endpoints, dummy credentials, bucket, config. */
  readonly env: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

/** The local section of the config, or a ConfigError saying it is needed. */
export function localSpec(config: RollgateConfig, source: string): LocalCloudSpec {
  if (!config.local) {
    throw new ConfigError(`${source} has no "local:" section: the local cloud needs the images and services to start`);
  }
  const { region, accountId, images, clusters, minuteMs } = config.local;
  return {
    region,
    accountId,
    images,
    minuteMs,
    clusters: clusters.map((c) => ({
      name: c.name,
      services: c.services.map(({ executionRoleArn, taskRoleArn, testListenerPort, testHeader, ...s }) => ({
        ...s,
        ...(executionRoleArn ? { executionRoleArn } : {}),
        ...(taskRoleArn ? { taskRoleArn } : {}),
        ...(testListenerPort === undefined ? {} : { testListenerPort }),
        ...(testHeader === undefined ? {} : { testHeader }),
      })),
    })),
  };
}

/** Where the local EventBridge writes the events rollgate publishes (one JSON per line). */
export function eventsFile(stateDir: string): string {
  return path.join(stateDir, 'events.jsonl');
}

/** `.rollgate/cloud.pid` while a local cloud runs on a state directory: one at a time. */
function lockFile(stateDir: string): string {
  return path.join(stateDir, 'cloud.pid');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A process's identity beyond its pid, which the system reuses: its start time (clock ticks since boot, field 22 of
 * Linux's /proc/<pid>/stat). Undefined where there is no /proc.
 */
export function processIdentity(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** True when `pid` is alive and still the process `identity` was taken from (no identity: alive is enough). */
export function isSameProcess(pid: number, identity: string | undefined): boolean {
  if (!isAlive(pid)) return false;
  const now = processIdentity(pid);
  return identity === undefined || now === undefined || now === identity;
}

/** What cloud.pid holds: the rollgate process running the local cloud and its identity. */
interface CloudOwner {
  readonly pid: number;
  readonly identity?: string | undefined;
  readonly stateDir?: string;
}

function readOwner(file: string): CloudOwner | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
  try {
    const owner = JSON.parse(text) as Partial<CloudOwner> | number | null;
    if (typeof owner === 'number') return { pid: owner }; // written by an older rollgate: a bare pid
    if (owner && Number.isInteger(owner.pid) && (owner.pid ?? 0) > 0) return owner as CloudOwner;
  } catch {
    // garbage: nobody can be identified by it
  }
  return undefined;
}

/**
 * The pid of the rollgate process running a local cloud on this state directory, if any. A cloud.pid whose process
 * is gone, or was replaced by another process under the same pid, or that names no process at all, is stale: the
 * caller may overwrite it.
 */
export function runningCloudPid(stateDir: string): number | undefined {
  const owner = readOwner(lockFile(stateDir));
  if (owner === undefined || owner.pid === process.pid) return undefined;
  if (owner.identity === undefined) {
    // a bare pid: only a node process (rollgate runs on node) can be the rollgate that wrote it
    if (!isAlive(owner.pid)) return undefined;
    try {
      return readFileSync(`/proc/${owner.pid}/cmdline`, 'utf8').includes('node') ? owner.pid : undefined;
    } catch {
      return owner.pid;
    }
  }
  return isSameProcess(owner.pid, owner.identity) ? owner.pid : undefined;
}

/**
 * Starts the local cloud on a state directory: s3rver, the ECS endpoint (which restores its services and starts
 * their tasks and load balancers), DynamoDB, EventBridge, ECR, the Lambda endpoint, and the local image registry. Everything it starts, `stop()` releases.
 */
export async function startLocalCloud(options: {
  readonly config: RollgateConfig;
  readonly configSource: string;
  readonly stateDir: string;
  /** The functions the Lambda endpoint serves. Default `serverless.yml` (in the working directory). */
  readonly serverlessFile?: string;
  /**
   * How long a "minute" of an ECS strategy deployment's bake lasts, in ms (a hook's callBackDelay scales alike).
   * Default: the config's `local.minuteMs` (1000).
   */
  readonly minuteMs?: number;
  readonly log?: (line: string) => void;
}): Promise<LocalCloud> {
  const { config, configSource, stateDir } = options;
  const spec = localSpec(config, configSource);
  const other = runningCloudPid(stateDir);
  if (other !== undefined) {
    throw new ConfigError(
      `another rollgate (pid ${other}) is running the local cloud on ${stateDir}; wait for it or stop it first (if pid ${other} is not a rollgate, remove ${lockFile(stateDir)})`,
    );
  }
  await mkdir(stateDir, { recursive: true });
  // a stale cloud.pid (its process gone or not a rollgate) is overwritten here
  await writeJsonAtomic(lockFile(stateDir), {
    pid: process.pid,
    identity: processIdentity(process.pid),
    stateDir: path.resolve(stateDir),
  } satisfies CloudOwner);
  const started: { close(): Promise<void> }[] = [];
  const stop = async () => {
    for (const part of started.reverse()) await part.close().catch(() => undefined);
    started.length = 0;
    await rm(lockFile(stateDir), { force: true });
  };
  try {
    const s3 = await startS3({ directory: path.join(stateDir, 's3'), buckets: [LOCAL_BUCKET] });
    started.push(s3);
    // Before ECS: its lifecycle hooks are invoked through the Lambda endpoint.
    const lambda = await startLambda({
      serverlessFile: options.serverlessFile ?? 'serverless.yml',
      region: spec.region,
      accountId: spec.accountId,
      ...(options.log ? { log: options.log } : {}),
    });
    started.push(lambda);
    const registryFile = path.join(stateDir, 'registry.json');
    const registry = new LocalRegistry(registryFile);
    await registry.list(); // a corrupt registry is named now, not as tasks that cannot start a minute later
    const ecs = await startEcs({
      spec,
      stateDir: path.join(stateDir, 'ecs'),
      registryFile,
      port: 0,
      lambdaEndpoint: lambda.endpoint,
      ...(options.minuteMs === undefined ? {} : { minuteMs: options.minuteMs }),
      ...(options.log ? { log: options.log } : {}),
    });
    started.push(ecs);
    const codeDeploy = await startCodeDeploy({
      spec,
      stateDir: path.join(stateDir, 'codedeploy'),
      ecs: ecs.codeDeploy,
      lambdaEndpoint: lambda.endpoint,
      minuteMs: options.minuteMs ?? spec.minuteMs ?? 1000,
      ...(options.log ? { log: options.log } : {}),
    });
    started.push(codeDeploy);
    const dynamo = await startDynamo({
      table: LOCAL_LOCK_TABLE,
      region: spec.region,
      directory: path.join(stateDir, 'dynamodb'),
    });
    started.push(dynamo);
    const eventBridge = await startEventBridge({
      file: eventsFile(stateDir),
      port: 0,
      region: spec.region,
      account: spec.accountId,
    });
    started.push(eventBridge);
    const ecr = await startEcr({ registryFile, region: spec.region, accountId: spec.accountId, port: 0 });
    started.push(ecr);
    const taskTokens = new TaskTokens();
    const sfn = await startSfn({ tokens: taskTokens, ...(options.log ? { log: options.log } : {}) });
    started.push({ close: () => sfn.close(true) });
    const env = {
      AWS_REGION: spec.region,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_ECS: ecs.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_EVENTBRIDGE: eventBridge.endpoint,
      AWS_ENDPOINT_URL_ECR: ecr.endpoint,
      AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint,
      AWS_ENDPOINT_URL_SFN: sfn.endpoint,
      AWS_ENDPOINT_URL_CODEDEPLOY: codeDeploy.endpoint,
      // What Deploy names in a progressive deployment's lifecycle hook: the local hook function, a role for ECS.
      GATE_HOOK_FUNCTION_ARN: localFunctionArn('gateHook', spec.region, spec.accountId),
      ECS_HOOK_ROLE_ARN: `arn:aws:iam::${spec.accountId}:role/rollgate-local-EcsHookInvokeRole`,
      // What Deploy names in a CodeDeploy deployment's AppSpec Hooks: the local hook function of each gate event.
      ...Object.fromEntries(
        CODEDEPLOY_GATE_EVENTS.map((e) => [
          codeDeployHookEnv(e),
          localFunctionArn(`codeDeploy${e}`, spec.region, spec.accountId),
        ]),
      ),
      ARTIFACTS_BUCKET: LOCAL_BUCKET,
      LOCK_TABLE: LOCAL_LOCK_TABLE,
      ROLLGATE_CONFIG: JSON.stringify(config),
      // the handlers' Powertools logs would mix with the CLI's output: off unless asked for
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'SILENT',
    };
    return { stateDir, spec, s3, ecs, codeDeploy, dynamo, registry, lambda, taskTokens, env, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
