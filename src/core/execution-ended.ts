import type { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ECSClient } from '@aws-sdk/client-ecs';
import type { S3Client } from '@aws-sdk/client-s3';
import { rolloutSchema } from '../config/schema.ts';
import { type AuditRecord, auditImage, auditRecord, auditRecordExists, writeAuditRecord } from './audit.ts';
import { readBackup } from './backup.ts';
import { stopExecutionDeployment } from './codedeploy-hook.ts';
import { describeService, describeTaskDefinition, primaryDeployment } from './ecs.ts';
import { closeGates } from './gates.ts';
import { releaseLock } from './lock.ts';
import { backupKey, EXECUTION_TAG, splitServiceKey } from './naming.ts';
import { inputImage, triggerOrUnknown } from './normalize.ts';
import { type ExecutionState, record, successPath } from './record.ts';
import { rollback } from './rollback.ts';
import { latestServiceDeployment, stopWithRollback } from './service-deployments.ts';

/**
 * The "Step Functions Execution Status Change" event EventBridge sends (the fields used). `startDate`/`stopDate`
 * are epoch milliseconds; `input` is the execution input as a JSON string.
 */
export interface ExecutionStatusChange {
  readonly 'detail-type': string;
  readonly detail: {
    readonly executionArn: string;
    readonly name: string;
    readonly status: string;
    readonly startDate: number;
    readonly stopDate?: number | null;
    readonly input?: string | null;
    /** The execution's output as a JSON string (SUCCEEDED only). */
    readonly output?: string | null;
  };
}

/**
 * An execution stopped from the console, timed out, or failed outside rollgate's own Catch paths runs no Record
 * state: release what it held, and write the audit record it could not. Idempotent (a record already written by
 * the execution itself is kept).
 */
export async function executionEnded(params: {
  readonly ddb: DynamoDBClient;
  readonly table: string;
  readonly s3: S3Client;
  readonly ecs: ECSClient;
  readonly bucket: string;
  readonly event: ExecutionStatusChange;
  /** A CODE_DEPLOY service's deployment is stopped through CodeDeploy. */
  readonly codeDeploy?: CodeDeployClient;
}): Promise<{ released: boolean; recorded: boolean; rolledBack?: string }> {
  const { detail } = params.event;
  if (detail.status === 'SUCCEEDED') return succeededUnrecorded(params);
  if (!['ABORTED', 'TIMED_OUT', 'FAILED'].includes(detail.status)) return { released: false, recorded: false };
  const startedAt = new Date(detail.startDate).toISOString();
  const { released, service } = await releaseLock({
    ddb: params.ddb,
    table: params.table,
    executionName: detail.name,
    startedAt,
  });
  if (await auditRecordExists(params, { startedAt, name: detail.name })) return { released, recorded: false };
  // It ended with no record of its own: past Deploy, the service may run its revision, unverified. A timed-out or
  // failed execution is rolled back here (not awaited: the rollout is ECS's to finish); an aborted one is left as the
  // operator left it, and the record says so.
  const restore =
    service && detail.status !== 'ABORTED' ? await rollbackIfOurs(params, detail.name, service) : undefined;
  const where = service ? splitServiceKey(service) : undefined;
  const image = imageOf(detail.input);
  const record = auditRecord(
    {
      executionName: detail.name,
      executionId: detail.executionArn,
      outcome: 'FAILED',
      error: `Execution${detail.status === 'TIMED_OUT' ? 'TimedOut' : detail.status === 'ABORTED' ? 'Aborted' : 'Failed'}`,
      reason: `the execution ${detail.status.toLowerCase().replace('_', ' ')} outside rollgate's own paths${
        service ? `; its lock on ${service} was ${released ? 'released' : 'already gone'}` : ''
      }${
        restore
          ? `; it had deployed ${restore.from}: rollgate started a rollback to ${restore.to} (not verified: check the service)`
          : '; check the service: a deploy may have been cut short'
      }`,
      trigger: triggerOrUnknown(parseJson(detail.input)),
      ...(where ? { cluster: where.cluster, service: where.service } : {}),
      ...(image ? { image } : {}),
      ...(restore ? { newTaskDefinitionArn: restore.from, previousTaskDefinitionArn: restore.to } : {}),
      startedAt,
    },
    new Date(detail.stopDate ?? Date.now()),
  );
  await writeAuditRecord(params, record);
  return { released, recorded: true, ...(restore ? { rolledBack: restore.to } : {}) };
}

/**
 * A SUCCEEDED execution whose Record state failed (its Catch went on to the Succeed state, leaving `recordFailure` in
 * the output): the record it could not write, built from its output as Record builds it (lock released, a DEPLOYED
 * revision marked verified). Thrown errors make the rule's delivery retry, then land in the function's errors.
 */
async function succeededUnrecorded(params: {
  readonly ddb: DynamoDBClient;
  readonly table: string;
  readonly s3: S3Client;
  readonly bucket: string;
  readonly event: ExecutionStatusChange;
}): Promise<{ released: boolean; recorded: boolean }> {
  const { detail } = params.event;
  const state = parseJson(detail.output) as
    | (ExecutionState & { readonly recordFailure?: unknown; readonly summary?: unknown })
    | undefined;
  if (!state?.recordFailure || state.summary !== undefined || !state.execution) {
    return { released: false, recorded: false };
  }
  if (await auditRecordExists(params, { startedAt: state.execution.startedAt, name: state.execution.name })) {
    return { released: false, recorded: false };
  }
  const { ddb, table, s3, bucket } = params;
  await record({ s3, bucket, path: successPath(state), state, lock: { ddb, table } });
  return { released: true, recorded: true };
}

/** The image the execution's input asked for, or undefined when the input is unreadable. */
function imageOf(input: string | null | undefined): AuditRecord['image'] {
  try {
    return auditImage(inputImage(parseJson(input) ?? null));
  } catch {
    return undefined;
  }
}

/** Poll timings of the watch `rollback` returns; nothing here waits on it (the rollout is ECS's to finish). */
const UNWATCHED_ROLLOUT = rolloutSchema.parse({});

/**
 * When the service's PRIMARY deployment is the revision this execution registered (tagged rollgate:execution), point
 * it back at the execution's backup with the rollback core. Returns what it restored, or undefined when there was
 * nothing of this execution's to undo (no backup: nothing was changed; another revision runs: rolled back or
 * superseded already).
 */
async function rollbackIfOurs(
  params: {
    readonly s3: S3Client;
    readonly ecs: ECSClient;
    readonly bucket: string;
    readonly codeDeploy?: CodeDeployClient | undefined;
  },
  executionName: string,
  serviceKey: string,
): Promise<{ from: string; to: string } | undefined> {
  const where = splitServiceKey(serviceKey);
  if (!where) return undefined;
  const { cluster, service } = where;
  const backup = await readBackup(params.s3, params.bucket, backupKey(cluster, service, executionName)).catch(
    () => undefined,
  );
  const previous = backup?.taskDefinition.taskDefinitionArn;
  if (!previous) return undefined;
  const svc = await describeService(params.ecs, cluster, service);
  if (svc.deploymentController?.type === 'CODE_DEPLOY') {
    // ECS refuses UpdateService for such a service: the CodeDeploy deployment this execution created (its link) is
    // stopped with its automatic rollback, and its hooks fail; one that already ended is left as it ended.
    const stopped = params.codeDeploy
      ? await stopExecutionDeployment({
          ...params,
          s3: params.s3,
          codeDeploy: params.codeDeploy,
          executionName,
          reason: 'the execution ended',
        })
      : undefined;
    return stopped ? { from: `CodeDeploy deployment ${stopped}`, to: previous } : undefined;
  }
  const primary = primaryDeployment(svc)?.taskDefinition;
  if (!primary || primary === previous) return undefined;
  const { tags } = await describeTaskDefinition(params.ecs, primary);
  if (!tags.some((t) => t.key === EXECUTION_TAG && t.value === executionName)) return undefined;
  const strategy = svc.deploymentConfiguration?.strategy;
  if (strategy && strategy !== 'ROLLING') {
    // ECS's own deployment, gated by this execution: its gates fail (the hook answers FAILED) and a deployment still
    // in progress is stopped with ROLLBACK; one that finished is redeployed to the backup as a rolling update would.
    await closeGates({ s3: params.s3, bucket: params.bucket, executionName, reason: 'the execution ended' });
    const open = await latestServiceDeployment(params.ecs, cluster, service, ['PENDING', 'IN_PROGRESS']);
    if (open) {
      await stopWithRollback(params.ecs, open.arn);
      return { from: primary, to: previous };
    }
  }
  await rollback({ ecs: params.ecs, cluster, service, taskDefinitionArn: previous, rollout: UNWATCHED_ROLLOUT });
  return { from: primary, to: previous };
}

/** A JSON string's value, or undefined when it is missing or not JSON. */
function parseJson(text: string | null | undefined): unknown {
  try {
    return JSON.parse(text ?? 'null') ?? undefined;
  } catch {
    return undefined;
  }
}
