/**
 * "Rollback is an event": when an execution ends in `DeploymentRolledBack` or `RollbackFailed`, rollgate publishes
 * one EventBridge event (source `rollgate`) that users route to chat or paging with an ordinary rule, e.g.
 * `{"source": ["rollgate"], "detail-type": ["Rollback Failed"]}`.
 */
import { type EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { z } from 'zod';
import type { Outcome, Summary } from './audit.ts';
import { EventPublishFailedError, InvalidInputError } from './errors.ts';
import { executionInfoSchema } from './normalize.ts';

/** The `source` of every event rollgate publishes. */
export const EVENT_SOURCE = 'rollgate';

/** The `detail-type` of each rollback event, by how the execution ended (the Fail state's Error). */
export const DETAIL_TYPES = {
  DeploymentRolledBack: 'Deployment Rolled Back',
  RollbackFailed: 'Rollback Failed',
} as const;

export type RollbackDetailType = (typeof DETAIL_TYPES)[keyof typeof DETAIL_TYPES];

/** Version of the `detail` shape; an incompatible change bumps the suffix. */
export const EVENT_SCHEMA = 'rollgate.event.v1';

/**
 * PutEvents fails an entry over 256 KB (Time, Source, DetailType, Detail and Resources, UTF-8). The only unbounded
 * field is `reason` (it carries a caught error's cause), so it is clipped: 4096 characters are at most ~24 KB of JSON
 * even if every one is escaped as `\uXXXX`.
 */
const MAX_REASON_CHARS = 4096;

/** Every outcome (audit.ts's `Outcome`): Notify rejects all but the rollback ones itself, with a clear error. */
const outcomes = [
  'DEPLOYED',
  'ALREADY_DEPLOYED',
  'ROLLED_BACK',
  'IGNORED',
  'FAILED',
] as const satisfies readonly Outcome[];

/**
 * The Record state's output (`$.summary`). On the `*Unrecorded` paths (the audit record could not be written) only
 * `outcome`, `reason` (and `error`) are there, so everything else is optional; the execution's name then comes from
 * `execution`.
 */
export const notifySummarySchema = z.object({
  outcome: z.enum(outcomes),
  reason: z.string(),
  executionName: z.string().exactOptional(),
  error: z.string().exactOptional(),
  image: z.string().exactOptional(),
  target: z.string().exactOptional(),
  auditKey: z.string().exactOptional(),
  report: z.string().exactOptional(),
});
export type NotifySummary = Readonly<z.output<typeof notifySummarySchema>>;

/**
 * The Notify handler's input: one object the ASL builds with Parameters from the execution state `$` after a
 * RecordRolledBack / RecordRollbackFailed state (and their `*Unrecorded` fallbacks):
 *
 * ```json
 * "Parameters": {
 *   "summary.$": "$.summary",
 *   "execution.$": "$.execution",
 *   "target.$": "$.target",
 *   "backup.$": "$.backup",
 *   "release.$": "$.release"
 * }
 * ```
 *
 * `target`, `backup` and `release` are optional here, but a JSONPath in Parameters that matches nothing fails the
 * state (`States.Runtime`); on both rollback paths they are always set (a rollback needs a backup and a release).
 */
export const notifyInputSchema = z.object({
  /** `$.summary`: what Record returned (or the `*Unrecorded` Pass state's `{outcome, reason}`). */
  summary: notifySummarySchema,
  /** `$.execution`: `id` is the execution ARN (`$$.Execution.Id`), `startedAt` ISO 8601. */
  execution: executionInfoSchema,
  /** `$.target`: the config target; only `name`, `cluster` and `service` are read. */
  target: z.object({ name: z.string(), cluster: z.string(), service: z.string() }).exactOptional(),
  /** `$.backup`: `image` is the image that ran before (what the rollback restores), `key` the backup's S3 key. */
  backup: z.object({ image: z.string(), key: z.string() }).exactOptional(),
  /** `$.release`: `image` is the new image URI, the one that failed. */
  release: z.object({ image: z.string() }).exactOptional(),
});
export type NotifyInput = Readonly<z.output<typeof notifyInputSchema>>;

/**
 * The event's `detail`: everything a chat message or a page needs without opening the console. Optional fields are
 * absent (never null) when the execution did not get that far or the audit record was not written.
 */
export interface RollbackEventDetail {
  readonly schema: typeof EVENT_SCHEMA;
  /** The summary's outcome: ROLLED_BACK, or FAILED for a failed rollback. */
  readonly outcome: Summary['outcome'];
  /** `<cluster>/<service>`, e.g. `demo/demo-app`. */
  readonly service?: string;
  readonly cluster?: string;
  readonly serviceName?: string;
  /** The config target's name. */
  readonly target?: string;
  /** The image that failed its gate: the new revision's image URI (pinned by digest when known). */
  readonly failedImage?: string;
  /** The image that ran before: what the rollback restored (Deployment Rolled Back) or tried to (Rollback Failed). */
  readonly previousImage?: string;
  /** Why, in one sentence: the summary's reason (clipped to 4096 characters). */
  readonly reason: string;
  /** The error name, e.g. `HealthCheckFailedError`, `SloViolated`, `RollbackFailed`. */
  readonly error?: string;
  /** S3 keys in the artifacts bucket. */
  readonly reportKey?: string;
  readonly auditKey?: string;
  readonly backupKey?: string;
  readonly executionName: string;
  readonly executionArn: string;
  /** ISO 8601. */
  readonly startedAt: string;
  /** The execution in the Step Functions console; absent when the ARN is not a Step Functions ARN. */
  readonly consoleUrl?: string;
}

/** Which rollback event a summary calls for, or an InvalidInputError for an execution that did not end in one. */
export function rollbackDetailType(summary: NotifySummary): RollbackDetailType {
  if (summary.outcome === 'ROLLED_BACK') return DETAIL_TYPES.DeploymentRolledBack;
  if (summary.outcome === 'FAILED' && summary.error === 'RollbackFailed') return DETAIL_TYPES.RollbackFailed;
  throw new InvalidInputError(
    `no rollback event for an execution that ended ${summary.outcome}${summary.error ? ` (${summary.error})` : ''}: ` +
      'only ROLLED_BACK, or FAILED with error RollbackFailed, publish one',
  );
}

/** Console hosts by ARN partition; an unknown partition gets no link rather than a wrong one. */
const CONSOLE_HOSTS: Readonly<Record<string, (region: string) => string>> = {
  aws: (region) => `${region}.console.aws.amazon.com`,
  'aws-cn': (region) => `${region}.console.amazonaws.cn`,
  'aws-us-gov': (region) => `${region}.console.amazonaws-us-gov.com`,
};

/**
 * The Step Functions console page of an execution, region and partition parsed from its ARN
 * (`arn:aws:states:<region>:<account>:execution:<machine>:<name>`); undefined for anything else.
 */
export function executionConsoleUrl(executionArn: string): string | undefined {
  const [arn, partition, service, region, , resource] = executionArn.split(':');
  if (arn !== 'arn' || service !== 'states' || resource !== 'execution' || !region || !partition) return undefined;
  const host = CONSOLE_HOSTS[partition];
  if (!host) return undefined;
  return `https://${host(region)}/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The event's detail for a rollback summary. Pure; throws InvalidInputError when the summary is not a rollback. */
export function rollbackEventDetail(input: NotifyInput): RollbackEventDetail {
  const { summary, execution, target, backup, release } = input;
  rollbackDetailType(summary);
  const consoleUrl = executionConsoleUrl(execution.id);
  const failedImage = release?.image ?? summary.image;
  return {
    schema: EVENT_SCHEMA,
    outcome: summary.outcome,
    ...(target
      ? {
          service: `${target.cluster}/${target.service}`,
          cluster: target.cluster,
          serviceName: target.service,
          target: target.name,
        }
      : summary.target
        ? { target: summary.target }
        : {}),
    ...(failedImage ? { failedImage } : {}),
    ...(backup ? { previousImage: backup.image } : {}),
    reason: clip(summary.reason, MAX_REASON_CHARS),
    ...(summary.error ? { error: summary.error } : {}),
    ...(summary.report ? { reportKey: summary.report } : {}),
    ...(summary.auditKey ? { auditKey: summary.auditKey } : {}),
    ...(backup ? { backupKey: backup.key } : {}),
    executionName: summary.executionName ?? execution.name,
    executionArn: execution.id,
    startedAt: execution.startedAt,
    ...(consoleUrl ? { consoleUrl } : {}),
  };
}

/** Where and when the event is published. */
export interface EventContext {
  /** Event bus name or ARN (`default` for the account's default bus). */
  readonly busName: string;
  /** The event's time (EventBridge keeps second precision). */
  readonly time: Date;
}

/**
 * The PutEvents entry for a rollback: source `rollgate`, detail-type `Deployment Rolled Back` or `Rollback Failed`,
 * the execution ARN as the event's resource. Pure; throws InvalidInputError for DEPLOYED, IGNORED or a FAILED
 * execution whose rollback did not fail (those end without a rollback and publish nothing).
 */
export function rollbackEvent(input: NotifyInput, context: EventContext): PutEventsRequestEntry {
  const detailType = rollbackDetailType(input.summary);
  return {
    Source: EVENT_SOURCE,
    DetailType: detailType,
    Detail: JSON.stringify(rollbackEventDetail(input)),
    Resources: executionConsoleUrl(input.execution.id) ? [input.execution.id] : [],
    Time: context.time,
    EventBusName: context.busName,
  };
}

export interface PublishRollbackEventParams extends NotifyInput {
  readonly eventBridge: EventBridgeClient;
  readonly busName: string;
  readonly now?: () => Date;
}

/** What Notify returns (the ASL may keep it as `$.notification`). */
export interface PublishedEvent {
  readonly eventId: string;
  readonly detailType: RollbackDetailType;
  readonly busName: string;
}

/**
 * Publishes the rollback event with PutEvents. PutEvents answers 200 even when it rejects an entry, so
 * `FailedEntryCount` is checked: a rejected entry throws EventPublishFailedError. SDK errors (throttling, access
 * denied) propagate unchanged for the ASL's Retry/Catch.
 */
export async function publishRollbackEvent(params: PublishRollbackEventParams): Promise<PublishedEvent> {
  const { eventBridge, busName, now, ...input } = params;
  const detailType = rollbackDetailType(input.summary);
  const entry = rollbackEvent(input, { busName, time: now?.() ?? new Date() });
  const out = await eventBridge.send(new PutEventsCommand({ Entries: [entry] }));
  const result = out.Entries?.[0];
  if ((out.FailedEntryCount ?? 0) > 0 || result?.ErrorCode || !result?.EventId) {
    throw new EventPublishFailedError(
      `EventBridge rejected the "${detailType}" event on bus ${busName}: ` +
        `${result?.ErrorCode ?? 'no error code'}: ${result?.ErrorMessage ?? 'no event id returned'}`,
    );
  }
  return { eventId: result.EventId, detailType, busName };
}
