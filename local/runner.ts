import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { RollgateConfig } from '../src/config/schema.ts';
import { type AuditRecord, auditImage, auditRecord, type Outcome, readAuditRecord } from '../src/core/audit.ts';
import { executionName, type ImageRef, reportKeys, reportPrefixOf } from '../src/core/naming.ts';
import { inputImage, parseInput, triggerOrUnknown } from '../src/core/normalize.ts';
import { oneLine } from '../src/core/text.ts';
import { eventsFile, LOCAL_BUCKET, type LocalCloud, startLocalCloud } from './cloud.ts';
import { formatEvent, readEvents } from './eventbridge.ts';
import { executionsDir, listExecutions, type StoredExecution, storedExecution } from './history.ts';
import { writeJsonAtomic } from './registry.ts';
import {
  type ExecutionEvent,
  type ExecutionResult,
  type LocalHandler,
  LocalStateMachine,
  loadHandler,
  localExecutionArn,
  readFunctions,
} from './state-machine.ts';
import { interruptedExecutions, ProgressFile } from './unfinished.ts';

/** The files the local runner uses, relative to the repository root. */
export const ASL_FILE = 'statemachines/deploy.asl.json';
export const SERVERLESS_FILE = 'serverless.yml';

/** The execution name for an input: readable, unique (repository, tag, short digest, time). */
export function nameFor(input: unknown, at: Date): string {
  return executionName(inputImage(input), at);
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
      const runner = new LocalRunner(cloud, machine, options.config);
      runner.recovered = await runner.recover();
      return runner;
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
      /** Each state's input as it is entered (tests: what a Task state received). */
      readonly onStateEntered?: (state: string, input: unknown) => void;
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
    const region = this.cloud.spec.region;
    const startDate = new Date();
    const progress = await ProgressFile.start(this.cloud.stateDir, {
      name,
      executionArn: localExecutionArn(name, region, this.cloud.spec.accountId),
      startDate: startDate.toISOString(),
      input,
    });
    const interrupt = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, interrupt.signal]) : interrupt.signal;
    const done = (async () => {
      const result = await this.machine.run(input, {
        name,
        region,
        accountId: this.cloud.spec.accountId,
        startDate,
        taskTokens: this.cloud.taskTokens,
        onEvent: (e) => {
          if (e.type === 'StateEntered' && e.state) progress.entered(e.state);
          options.onEvent?.(e);
        },
        signal,
        ...(options.redriveCount ? { redriveCount: options.redriveCount } : {}),
        ...(options.onStateEntered ? { onStateEntered: options.onStateEntered } : {}),
      });
      await progress.flush();
      const by = this.#interruptedBy;
      // interrupted by a signal to rollgate, not stopped by an operator: resolved as a failed run (rolled back)
      return this.finish(result.status === 'ABORTED' && by ? interruptedResult(result, by) : result, options);
    })();
    this.#current = { interrupt, done };
    try {
      return await done;
    } finally {
      this.#current = undefined;
    }
  }

  #current: { readonly interrupt: AbortController; readonly done: Promise<StoredExecution> } | undefined;
  #interruptedBy: string | undefined;

  /**
   * Interrupts the running execution (Ctrl-C, SIGTERM): it stops where it is, and is resolved as the status-change
   * rule resolves a failed one (lock released, audit record written, a revision it deployed rolled back, waited for).
   * Resolves with its stored end, or undefined when none was running.
   */
  interrupt(signal: string): Promise<StoredExecution | undefined> {
    this.#interruptedBy ??= signal;
    const current = this.#current;
    if (!current) return Promise.resolve(undefined);
    current.interrupt.abort();
    return current.done;
  }

  /** Executions found unfinished when the local cloud started (their process gone), now resolved. */
  recovered: StoredExecution[] = [];

  /** Resolves every interrupted execution of the state directory (see interruptedExecutions). */
  private async recover(): Promise<StoredExecution[]> {
    const out: StoredExecution[] = [];
    for (const u of interruptedExecutions(this.cloud.stateDir)) {
      out.push(
        await this.finish({
          executionArn: u.executionArn,
          name: u.name,
          status: 'FAILED',
          startDate: u.startDate,
          stopDate: new Date().toISOString(),
          input: u.input,
          error: 'RollgateInterrupted',
          cause: `the rollgate process running it (pid ${u.pid}) ended in state ${u.statesEntered.at(-1) ?? 'none'} before the execution did`,
          statesEntered: [...u.statesEntered],
          events: [],
        }),
      );
    }
    return out;
  }

  /**
   * The end of a run: the status-change rule for an unsuccessful one (as on AWS), its audit record (or one built from
   * the run), its report, and the stored execution that replaces its progress file.
   */
  private async finish(
    result: ExecutionResult,
    options: { readonly statusChangeRule?: boolean; readonly redriveCount?: number } = {},
  ): Promise<StoredExecution> {
    const { name } = result;
    // What kept the execution's end from the audit trail in S3: said loudly, and the record is kept here
    const unrecorded: string[] = [];
    const why = (err: unknown) => oneLine((err as Error).message || (err as Error).name || String(err), 160);
    // AWS's rule fires for every ended execution (rollgate's own Fail states included; SUCCEEDED for a failed Record)
    if (options.statusChangeRule !== false) {
      await this.statusChanged(result).catch((err) => unrecorded.push(`the status-change handler failed: ${why(err)}`));
    }
    const written = await this.readAudit(result.startDate, name).catch((err) => {
      unrecorded.push(`its audit record could not be read from S3: ${why(err)}`);
      return undefined;
    });
    if (written === undefined && unrecorded.length === 0) unrecorded.push('its Record state could not write it');
    const record = written ?? recordFromRun(result);
    if (result.error === 'RollgateInterrupted' && record.cluster && record.service) {
      // the rollback the rule started is ECS's to finish: wait for it, so what serves afterwards is known
      await this.cloud.ecs.waitForSteadyState(record.cluster, record.service, 60_000).catch(() => undefined);
    }
    const reportFile = record.reportKey ? await this.downloadReport(record.reportKey, name) : undefined;
    const stored = storedExecution(result, record, {
      reportFile,
      redriveCount: options.redriveCount,
      ...(written
        ? {}
        : {
            unrecorded: `the audit trail in S3 has no record of it (${unrecorded.join('; ')}): this record is kept in ${this.cloud.stateDir} only`,
          }),
    });
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

  /** What the EventBridge rule on ended executions does on AWS: call the executionEnded function. */
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
        output: result.status === 'SUCCEEDED' ? JSON.stringify(result.output ?? null) : null,
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
  async eventsOf(executionName: string, warn?: (problem: string) => void): Promise<string[]> {
    const events = await readEvents(eventsFile(this.cloud.stateDir), warn);
    return events.filter((e) => e.detail?.executionName === executionName).map(formatEvent);
  }

  /** The audit record an execution wrote, read back from S3. */
  async readAudit(startedAt: string, name: string): Promise<AuditRecord | undefined> {
    return readAuditRecord({ s3: this.s3, bucket: LOCAL_BUCKET }, { startedAt, name });
  }

  /** Copies a load report's files (report.json, report.html, summary.md) out of S3, for a browser to open. */
  private async downloadReport(reportKey: string, name: string): Promise<string | undefined> {
    const dir = path.join(this.cloud.stateDir, 'reports', name);
    await mkdir(dir, { recursive: true });
    try {
      for (const key of Object.values(reportKeys(reportPrefixOf(reportKey)))) {
        await writeFile(path.join(dir, key.slice(key.lastIndexOf('/') + 1)), await this.readObject(key));
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

/** An execution aborted because rollgate itself was interrupted: a failure outside rollgate's paths, not a StopExecution. */
function interruptedResult(result: ExecutionResult, signal: string): ExecutionResult {
  return {
    ...result,
    status: 'FAILED',
    error: 'RollgateInterrupted',
    cause: `${signal}: rollgate was interrupted in state ${result.statesEntered.at(-1) ?? 'none'}`,
  };
}

/**
 * The record of a run that wrote none (its Record state could not reach S3, and no status-change handler ran): from
 * the run's own end, as the status-change handler builds one on AWS.
 */
export function recordFromRun(result: ExecutionResult): AuditRecord {
  let image: AuditRecord['image'];
  try {
    image = auditImage(inputImage(result.input));
  } catch {
    image = undefined;
  }
  const outcome: Outcome =
    result.status === 'SUCCEEDED' ? 'DEPLOYED' : result.error === 'DeploymentRolledBack' ? 'ROLLED_BACK' : 'FAILED';
  return auditRecord(
    {
      executionName: result.name,
      executionId: result.executionArn,
      outcome,
      ...(result.error ? { error: result.error } : {}),
      reason: result.cause ?? result.error ?? '',
      trigger: triggerOrUnknown(result.input),
      ...(image ? { image } : {}),
      startedAt: result.startDate,
    },
    new Date(result.stopDate),
  );
}
