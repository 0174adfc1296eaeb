import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { RollgateConfig } from '../src/config/schema.ts';
import type { ImageRef } from '../src/core/naming.ts';
import { auditKey, executionName } from '../src/core/naming.ts';
import { parseInput } from '../src/core/normalize.ts';
import type { AuditRecord, Outcome } from '../src/core/record.ts';
import { eventsFile, LOCAL_BUCKET, type LocalCloud, startLocalCloud } from './cloud.ts';
import { formatEvent, readEvents } from './eventbridge.ts';
import { writeJsonAtomic } from './registry.ts';
import {
  type ExecutionEvent,
  type ExecutionResult,
  type LocalHandler,
  LocalStateMachine,
  loadHandler,
  readFunctions,
} from './state-machine.ts';

/** The files the local runner uses, relative to the repository root. */
export const ASL_FILE = 'statemachines/deploy.asl.json';
export const SERVERLESS_FILE = 'serverless.yml';

/**
 * What `rollgate run --json` prints and `rollgate history` lists: one line of the audit trail.
 * Built from the audit record the execution wrote to S3, so local and AWS history read the same thing.
 */
export interface RunSummary {
  readonly executionName: string;
  readonly outcome: Outcome;
  readonly reason: string;
  readonly image: string;
  readonly trigger: string;
  /** When the image was pushed (the push event's time), for lead time. */
  readonly pushedAt?: string;
  readonly status: ExecutionResult['status'];
  readonly error?: string;
  readonly target?: string;
  readonly service?: string;
  readonly previousImage?: string;
  readonly report?: string;
  /** The load test report, downloaded from the local S3 to `<stateDir>/reports/<execution>/report.html`. */
  readonly reportFile?: string;
  readonly backupKey?: string;
  readonly auditKey?: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly durationMs: number;
}

/** One execution as persisted under `.rollgate/executions/<name>.json`: the summary, the event log, input, output. */
export interface StoredExecution extends ExecutionResult {
  readonly summary: RunSummary;
  /** How many times it was redriven (0 or absent: never). */
  readonly redriveCount?: number;
}

function executionsDir(stateDir: string): string {
  return path.join(stateDir, 'executions');
}

/** Local executions, newest first. */
export function listExecutions(stateDir: string): StoredExecution[] {
  let files: string[];
  try {
    files = readdirSync(executionsDir(stateDir)).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  return files
    .map((f) => JSON.parse(readFileSync(path.join(executionsDir(stateDir), f), 'utf8')) as StoredExecution)
    .sort((a, b) => b.startDate.localeCompare(a.startDate));
}

/** The execution name for an input: readable, unique (repository, tag, short digest, time). */
export function nameFor(input: unknown, at: Date): string {
  const parsed = parseInput(input);
  if (parsed.kind === 'push') {
    const d = parsed.event.detail;
    return executionName({ repository: d['repository-name'], tag: d['image-tag'], digest: d['image-digest'] }, at);
  }
  return executionName(parsed.input, at);
}

/** A local cloud plus the state machine, ready to run executions one after the other. */
export class LocalRunner {
  readonly cloud: LocalCloud;
  readonly machine: LocalStateMachine;
  readonly config: RollgateConfig;
  private readonly s3: S3Client;

  private constructor(cloud: LocalCloud, machine: LocalStateMachine, config: RollgateConfig) {
    this.config = config;
    this.cloud = cloud;
    this.machine = machine;
    this.s3 = new S3Client({
      endpoint: cloud.s3.endpoint,
      region: cloud.spec.region,
      forcePathStyle: true,
      credentials: { accessKeyId: cloud.s3.accessKeyId, secretAccessKey: cloud.s3.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /**
   * Starts the local cloud and loads the state machine. The handlers read their environment at import (cold
   * start), so it is set on this process first: this is the only difference between local and AWS.
   */
  static async open(options: {
    readonly config: RollgateConfig;
    readonly configSource: string;
    readonly stateDir: string;
    readonly log?: (line: string) => void;
  }): Promise<LocalRunner> {
    const cloud = await startLocalCloud(options);
    try {
      delete process.env.AWS_PROFILE;
      delete process.env.AWS_SESSION_TOKEN;
      Object.assign(process.env, cloud.env);
      const machine = await LocalStateMachine.load({ aslFile: ASL_FILE, serverlessFile: SERVERLESS_FILE });
      return new LocalRunner(cloud, machine, options.config);
    } catch (err) {
      await cloud.stop();
      throw err;
    }
  }

  /**
   * Runs one execution. For an ECR push event the pushed image is first recorded in the local registry (the local
   * ECR), with the event's digest, so the task can start from it.
   */
  async run(
    input: unknown,
    options: {
      readonly onEvent?: (e: ExecutionEvent) => void;
      readonly name?: string;
      /** StopExecution: aborts the execution (no Catch runs). */
      readonly signal?: AbortSignal;
      /**
       * After an abort, deliver the "Step Functions Execution Status Change" event to the executionEnded function as
       * the EventBridge rule does on AWS (default). false: as if rollgate itself died with it; only the lease frees the lock.
       */
      readonly statusChangeRule?: boolean;
      /** `$$.Execution.RedriveCount` for a redrive. */
      readonly redriveCount?: number;
    } = {},
  ): Promise<StoredExecution> {
    const parsed = parseInput(input);
    if (parsed.kind === 'push') {
      const d = parsed.event.detail;
      if (d['action-type'] === 'PUSH' && d.result === 'SUCCESS' && d['image-tag']) {
        await this.cloud.registry.pushImage(d['repository-name'], d['image-tag'], d['image-digest']);
      }
    } else {
      await this.pushManualTag(parsed.input);
    }
    const name = options.name ?? nameFor(input, new Date());
    const result = await this.machine.run(input, {
      name,
      region: this.cloud.spec.region,
      accountId: this.cloud.spec.accountId,
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.redriveCount ? { redriveCount: options.redriveCount } : {}),
    });
    // AWS's rule fires for every ABORTED, TIMED_OUT and FAILED execution (rollgate's own Fail states included)
    if (result.status !== 'SUCCEEDED' && options.statusChangeRule !== false) {
      await this.statusChanged(result);
    }
    const audit = await this.readAudit(result.startDate, name);
    const reportFile = audit?.reportKey ? await this.downloadReport(audit.reportKey, name) : undefined;
    const summary = summarize(result, audit);
    const stored: StoredExecution = {
      ...result,
      summary: reportFile ? { ...summary, reportFile } : summary,
      ...(options.redriveCount ? { redriveCount: options.redriveCount } : {}),
    };
    await mkdir(executionsDir(this.cloud.stateDir), { recursive: true });
    await writeJsonAtomic(path.join(executionsDir(this.cloud.stateDir), `${name}.json`), stored);
    return stored;
  }

  /**
   * The local registry lets a task start from any tag of an image in the config's `images` (as if every tag had
   * been pushed long ago, see LocalRegistry's requirePush): a manual run of such a tag, by tag alone, records that
   * push first, so the local ECR's DescribeImages (CheckImage) finds what the local ECS would run. A manual input
   * that names a digest is never pushed: that digest must already be in the registry, as on ECR.
   */
  private async pushManualTag(input: ImageRef): Promise<void> {
    const { repository, tag, digest } = input;
    if (tag === undefined || digest !== undefined || this.cloud.spec.images[repository] === undefined) return;
    const pushed = await this.cloud.registry.list();
    if (pushed.some((i) => i.repository === repository && i.tag === tag)) return;
    await this.cloud.registry.pushImage(repository, tag);
  }

  /**
   * Re-runs a stored execution under its own name with its own input: every task checks what the execution already
   * did (the backup, the registered revision, the deployment), so this has the effect of Step Functions' redrive.
   */
  async redrive(
    name: string,
    options: { readonly onEvent?: (e: ExecutionEvent) => void } = {},
  ): Promise<StoredExecution> {
    const stored = listExecutions(this.cloud.stateDir).find((e) => e.name === name);
    if (!stored) throw new Error(`no local execution named ${name} in ${this.cloud.stateDir}`);
    if (stored.status === 'SUCCEEDED')
      throw new Error(`execution ${name} succeeded; only a failed, aborted or timed-out execution is redriven`);
    const redriveCount = (stored.summary.trigger === 'redrive' ? (stored.redriveCount ?? 1) : 0) + 1;
    const done = await this.run(stored.input, { ...options, name, redriveCount });
    return done;
  }

  /** What the EventBridge rule on ABORTED / TIMED_OUT executions does on AWS: call the executionEnded function. */
  private async statusChanged(result: ExecutionResult): Promise<void> {
    this.executionEnded ??= await loadHandler(
      readFunctions(SERVERLESS_FILE).ExecutionEndedLambdaFunction ?? { file: '', exportName: '' },
      'ExecutionEndedLambdaFunction',
    );
    await this.executionEnded({
      version: '0',
      id: crypto.randomUUID(),
      'detail-type': 'Step Functions Execution Status Change',
      source: 'aws.states',
      account: this.cloud.spec.accountId,
      time: result.stopDate,
      region: this.cloud.spec.region,
      resources: [result.executionArn],
      detail: {
        executionArn: result.executionArn,
        stateMachineArn: result.executionArn.replace(':execution:', ':stateMachine:').replace(/:[^:]+$/, ''),
        name: result.name,
        status: result.status,
        startDate: Date.parse(result.startDate),
        stopDate: Date.parse(result.stopDate),
        input: JSON.stringify(result.input),
        output: null,
      },
    });
  }

  private executionEnded: LocalHandler | undefined;

  /**
   * The scheduled missed-push check, run once: for each target with `missedPushCheck`, the newest pushed image never
   * attempted (local ECR + lock table), and with `start` an execution for it, as the scheduled Lambda does on AWS.
   */
  async checkMissedPushes(options: { readonly start: boolean; readonly minAgeSeconds?: number }) {
    const { ECRClient } = await import('@aws-sdk/client-ecr');
    const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
    const { checkMissedPushes } = await import('../src/core/missed-push.ts');
    const ecr = new ECRClient({});
    const ddb = new DynamoDBClient({});
    try {
      const checked = await checkMissedPushes({
        ecr,
        ddb,
        table: this.cloud.env.LOCK_TABLE ?? '',
        targets: this.config.targets,
        ...(options.minAgeSeconds !== undefined ? { minAgeSeconds: options.minAgeSeconds } : {}),
        ...(options.start ? { start: (found) => this.run(found.input) } : {}),
      });
      return checked.map(({ started, ...check }) => ({ ...check, ...(started ? { execution: started } : {}) }));
    } finally {
      ecr.destroy();
      ddb.destroy();
    }
  }

  /** The events rollgate published for an execution (rollback notifications), one line each. */
  async eventsOf(executionName: string): Promise<string[]> {
    const events = await readEvents(eventsFile(this.cloud.stateDir));
    return events.filter((e) => e.detail?.executionName === executionName).map(formatEvent);
  }

  /** The audit record an execution wrote, read back from S3. */
  async readAudit(startedAt: string, name: string): Promise<AuditRecord | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: LOCAL_BUCKET, Key: auditKey(startedAt, name) }));
      return JSON.parse((await out.Body?.transformToString()) ?? '') as AuditRecord;
    } catch {
      return undefined;
    }
  }

  /** Copies a load report's files (report.json, report.html, summary.md) out of S3, for a browser to open. */
  private async downloadReport(reportKey: string, name: string): Promise<string | undefined> {
    const prefix = reportKey.slice(0, reportKey.lastIndexOf('/') + 1);
    const dir = path.join(this.cloud.stateDir, 'reports', name);
    await mkdir(dir, { recursive: true });
    try {
      for (const file of ['report.json', 'report.html', 'summary.md']) {
        await writeFile(path.join(dir, file), await this.readObject(`${prefix}${file}`));
      }
    } catch {
      return undefined;
    }
    return path.join(dir, 'report.html');
  }

  /** Reads an object from the local artifacts bucket (backups, reports). */
  async readObject(key: string): Promise<string> {
    const out = await this.s3.send(new GetObjectCommand({ Bucket: LOCAL_BUCKET, Key: key }));
    return (await out.Body?.transformToString()) ?? '';
  }

  async close(): Promise<void> {
    this.s3.destroy();
    await this.cloud.stop();
  }
}

/** The summary of an execution: from its audit record, or from the execution's own end when none was written. */
export function summarize(result: ExecutionResult, audit: AuditRecord | undefined): RunSummary {
  const outcome: Outcome =
    audit?.outcome ??
    (result.status === 'SUCCEEDED' ? 'DEPLOYED' : result.error === 'DeploymentRolledBack' ? 'ROLLED_BACK' : 'FAILED');
  const error = audit?.error ?? result.error;
  return {
    executionName: result.name,
    outcome,
    reason: audit?.reason ?? result.cause ?? result.error ?? '',
    image: audit?.image?.display ?? '?',
    trigger: audit?.trigger.type ?? 'unknown',
    ...(audit?.trigger && 'eventTime' in audit.trigger && audit.trigger.eventTime
      ? { pushedAt: audit.trigger.eventTime }
      : {}),
    status: result.status,
    ...(error ? { error } : {}),
    ...(audit?.target ? { target: audit.target } : {}),
    ...(audit?.service ? { service: `${audit.cluster}/${audit.service}` } : {}),
    ...(audit?.previousImage ? { previousImage: audit.previousImage } : {}),
    ...(audit?.reportKey ? { report: audit.reportKey } : {}),
    ...(audit?.backupKey ? { backupKey: audit.backupKey } : {}),
    ...(audit ? { auditKey: auditKey(audit.startedAt, audit.executionName) } : {}),
    startedAt: result.startDate,
    endedAt: result.stopDate,
    durationMs: Date.parse(result.stopDate) - Date.parse(result.startDate),
  };
}
