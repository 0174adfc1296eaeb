import { createHash } from 'node:crypto';
import { type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { type ECRClient, type ImageDetail, paginateDescribeImages } from '@aws-sdk/client-ecr';
import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { Target } from '../config/schema.ts';
import { displayImage, executionName, matchesGlob, PUSH_SEEN_SK, pushSeenPk } from './naming.ts';

/**
 * The missed-push check. ECR delivers push events on a best-effort basis; a scheduled check (per target, off unless
 * the target sets `missedPushCheck: true`) looks for the newest pushed image that matches the target's tag filters
 * and that no execution ever attempted, and hands it to the pipeline as the push event ECR would have sent.
 *
 * "Attempted" means the lock table has the push's `push#<repository>:<tag>@<digest>` / `seen` item (written by
 * AcquireLock, see lock.ts), whatever that execution's outcome: an image that was rolled back is never retried.
 * Only the newest matching image matters: older ones are superseded by it, attempted or not.
 */

/** An image found in ECR: the push the check is about. */
export interface MissedImage {
  readonly repository: string;
  readonly tag: string;
  /** `sha256:` + hex. */
  readonly digest: string;
  /** ISO 8601 (ms precision), from DescribeImages' `imagePushedAt`. */
  readonly pushedAt: string;
}

/**
 * An EventBridge "ECR Image Action" event, shaped exactly like ECR's (Amazon ECR user guide, "Amazon ECR events and
 * EventBridge"): what Normalize's parseInput accepts as a push.
 */
export interface EcrPushEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': 'ECR Image Action';
  readonly source: 'aws.ecr';
  /** The registry id (12-digit account) the image was pushed to. */
  readonly account: string;
  /** The push time, ISO 8601 with second precision (`2019-11-16T01:54:34Z`). */
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: {
    readonly result: 'SUCCESS';
    readonly 'repository-name': string;
    readonly 'image-digest': string;
    readonly 'action-type': 'PUSH';
    readonly 'image-tag': string;
  };
}

/** The check found an unattempted push: start an execution with `input` (see {@link startMissedPush}). */
export interface MissedPushStart {
  readonly status: 'START';
  readonly image: MissedImage;
  readonly input: EcrPushEvent;
  readonly reason: string;
}

/** Nothing to start; `image` is the newest matching image when there is one. */
export interface MissedPushNone {
  readonly status: 'NONE';
  readonly reason: string;
  readonly image?: MissedImage;
}

export type MissedPushResult = MissedPushStart | MissedPushNone;

export interface FindMissedPushParams {
  /** DescribeImages; its region is the event's `region`. */
  readonly ecr: ECRClient;
  /** The lock table (GetItem). */
  readonly ddb: DynamoDBClient;
  readonly table: string;
  /** The target; the check runs only when it sets `missedPushCheck: true`. */
  readonly target: Pick<Target, 'name' | 'repository' | 'tags' | 'excludeTags'>;
  readonly now?: () => Date;
  /**
   * A newest image pushed less than this many seconds ago is left to its own push event, which normally arrives
   * within seconds (the lock would ignore a second execution of it anyway, as a duplicate). Default 300.
   */
  readonly minAgeSeconds?: number;
  /**
   * A newest image pushed longer ago than this is not started: lock.ts keeps `seen` items for 7 days (the table's
   * TTL), so beyond that "never attempted" cannot be told from "attempted and rolled back". Default 6 days.
   */
  readonly maxAgeSeconds?: number;
}

const DEFAULT_MIN_AGE_SECONDS = 300;
/** One day less than lock.ts's 7-day `seen` retention: a margin for clocks and for the execution's start. */
const DEFAULT_MAX_AGE_SECONDS = 6 * 86_400;
/** DescribeImages' largest page. */
const PAGE_SIZE = 1000;

/** The lock table's key for a push already handled (lock.ts writes it in AcquireLock). */
export function pushSeenKey(image: Pick<MissedImage, 'repository' | 'tag' | 'digest'>): {
  pk: { S: string };
  sk: { S: string };
} {
  return { pk: { S: pushSeenPk(image) }, sk: { S: PUSH_SEEN_SK } };
}

/**
 * Finds the newest image of the target's repository whose tag matches the target's `tags` and none of its
 * `excludeTags`, and says whether to start an execution for it. Newest by `imagePushedAt`; ties by the larger
 * digest (deterministic). When that image carries several matching tags, it was attempted if any of them was; the
 * tag started is the greatest in numeric collation (`v2.10` over `v2.9`).
 */
export async function findMissedPush(params: FindMissedPushParams): Promise<MissedPushResult> {
  const { ecr, ddb, table, target } = params;
  const now = params.now?.() ?? new Date();
  if ((target as { missedPushCheck?: boolean }).missedPushCheck !== true) {
    return { status: 'NONE', reason: `the missed-push check is off for ${target.name} (missedPushCheck: true)` };
  }
  const filters = `${target.tags.join(', ')}${target.excludeTags.length ? ` except ${target.excludeTags.join(', ')}` : ''}`;

  let images: ImageDetail[];
  try {
    images = await describeTaggedImages(ecr, target.repository);
  } catch (err) {
    if ((err as Error).name === 'RepositoryNotFoundException') {
      return { status: 'NONE', reason: `repository ${target.repository} not found: ${(err as Error).message}` };
    }
    throw err;
  }

  const candidates = images
    .flatMap((detail) => {
      const tags = matchingTags(detail.imageTags ?? [], target);
      const [tag] = tags;
      return tag === undefined || detail.imageDigest === undefined
        ? []
        : [{ detail, digest: detail.imageDigest, tag, tags }];
    })
    .sort((a, b) => pushedMs(b.detail) - pushedMs(a.detail) || compare(b.digest, a.digest));
  const newest = candidates[0];
  if (newest === undefined) {
    return {
      status: 'NONE',
      reason: `none of the ${images.length} tagged images of ${target.repository} matches the tag filters of ${target.name} (${filters})`,
    };
  }

  const { detail, tag, tags } = newest;
  const image: MissedImage = {
    repository: target.repository,
    tag,
    digest: newest.digest,
    pushedAt: new Date(pushedMs(detail)).toISOString(),
  };
  const display = displayImage(image);
  const older = candidates.length - 1;
  const superseded = older > 0 ? `; the ${older} older matching image(s) are superseded by it` : '';
  const ageSeconds = (now.getTime() - pushedMs(detail)) / 1000;

  for (const t of tags) {
    const seen = await ddb.send(
      new GetItemCommand({ TableName: table, Key: pushSeenKey({ ...image, tag: t }), ConsistentRead: true }),
    );
    if (seen.Item !== undefined) {
      const by = seen.Item.execution?.S;
      return {
        status: 'NONE',
        image,
        reason: `the newest matching image ${displayImage({ ...image, tag: t })} was already attempted${by ? ` by execution ${by}` : ''} (whatever its outcome, it is not retried)${superseded}`,
      };
    }
  }

  const minAge = params.minAgeSeconds ?? DEFAULT_MIN_AGE_SECONDS;
  if (ageSeconds < minAge) {
    return {
      status: 'NONE',
      image,
      reason: `the newest matching image ${display} was pushed ${Math.max(0, Math.round(ageSeconds))} s ago: its push event gets ${minAge} s to arrive first${superseded}`,
    };
  }
  const maxAge = params.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS;
  if (ageSeconds > maxAge) {
    return {
      status: 'NONE',
      image,
      reason: `the newest matching image ${display} was pushed at ${image.pushedAt}, more than ${formatSeconds(maxAge)} ago: the lock table no longer tells whether it was attempted, so it is not started (start it by hand if it should deploy)${superseded}`,
    };
  }

  if (detail.registryId === undefined || !/^\d{12}$/.test(detail.registryId)) {
    throw new Error(`DescribeImages returned no registryId for ${display}`);
  }
  const region = await ecr.config.region();
  return {
    status: 'START',
    image,
    input: pushEvent(image, detail.registryId, region),
    reason: `the newest matching image ${display}, pushed at ${image.pushedAt}, was never attempted (its push event was missed): starting it${superseded}`,
  };
}

/** What the check found for one target, and what `start` returned when it started an execution. */
export interface TargetCheck<S> {
  readonly target: string;
  readonly status: MissedPushResult['status'];
  readonly reason: string;
  readonly started?: S;
}

export interface CheckMissedPushesParams<S> extends Omit<FindMissedPushParams, 'target'> {
  /** Every target of the config; those with `missedPushCheck: true` are checked, in order. */
  readonly targets: readonly Target[];
  /**
   * Starts an execution for a missed push: {@link startMissedPush} on AWS, the local runner's own run locally.
   * Undefined: only report what would start.
   */
  readonly start?: (found: MissedPushStart) => Promise<S>;
}

/**
 * The scheduled check, once: for each target with `missedPushCheck`, {@link findMissedPush}, and `start` for what it
 * finds. One target at a time, so two targets on one repository never start the same push twice.
 */
export async function checkMissedPushes<S>(params: CheckMissedPushesParams<S>): Promise<TargetCheck<S>[]> {
  const { targets, start, ...find } = params;
  const out: TargetCheck<S>[] = [];
  for (const target of targets.filter((t) => t.missedPushCheck)) {
    const found = await findMissedPush({ ...find, target });
    const started = found.status === 'START' && start !== undefined ? await start(found) : undefined;
    out.push({
      target: target.name,
      status: found.status,
      reason: found.reason,
      ...(started === undefined ? {} : { started }),
    });
  }
  return out;
}

/** Every TAGGED image of a repository, all pages. */
async function describeTaggedImages(ecr: ECRClient, repositoryName: string): Promise<ImageDetail[]> {
  const images: ImageDetail[] = [];
  const pages = paginateDescribeImages(
    { client: ecr, pageSize: PAGE_SIZE },
    { repositoryName, filter: { tagStatus: 'TAGGED' } },
  );
  for await (const page of pages) images.push(...(page.imageDetails ?? []));
  return images;
}

/** The tags matching the target's filters, greatest first in numeric collation. */
function matchingTags(tags: readonly string[], target: Pick<Target, 'tags' | 'excludeTags'>): string[] {
  return tags
    .filter((t) => target.tags.some((g) => matchesGlob(t, g)) && !target.excludeTags.some((g) => matchesGlob(t, g)))
    .sort((a, b) => b.localeCompare(a, 'en', { numeric: true }) || compare(b, a));
}

function pushedMs(detail: ImageDetail): number {
  return detail.imagePushedAt?.getTime() ?? 0;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function formatSeconds(seconds: number): string {
  return seconds % 86_400 === 0 ? `${seconds / 86_400} d` : `${seconds} s`;
}

/**
 * The push event ECR would have sent. Its `id` is derived from the push (a UUID-shaped sha256 of
 * repository:tag@digest), so every check that finds the same push hands over the same event, as a redelivery would.
 */
export function pushEvent(image: MissedImage, account: string, region: string): EcrPushEvent {
  return {
    version: '0',
    id: eventId(image),
    'detail-type': 'ECR Image Action',
    source: 'aws.ecr',
    account,
    time: image.pushedAt.replace(/\.\d+Z$/, 'Z'),
    region,
    resources: [],
    detail: {
      result: 'SUCCESS',
      'repository-name': image.repository,
      'image-digest': image.digest,
      'action-type': 'PUSH',
      'image-tag': image.tag,
    },
  };
}

/** A version-8 (custom) UUID from the push's identity. */
function eventId(image: MissedImage): string {
  const hex = createHash('sha256')
    .update(`rollgate-missed-push:${image.repository}:${image.tag}@${image.digest}`)
    .digest('hex')
    .slice(0, 32)
    .split('');
  hex[12] = '8';
  hex[16] = ((Number.parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

export interface StartMissedPushParams {
  readonly sfn: SFNClient;
  readonly stateMachineArn: string;
  readonly found: MissedPushStart;
  readonly now?: () => Date;
}

/**
 * Starts the deploy state machine for a missed push, with the push event as input and a readable unique name
 * ({@link executionName}). The lock still guards it: if the real event arrives too, one of the two ends DUPLICATE.
 */
export async function startMissedPush(
  params: StartMissedPushParams,
): Promise<{ executionName: string; executionArn: string; startDate?: string }> {
  const { sfn, stateMachineArn, found } = params;
  const name = executionName(found.image, params.now?.() ?? new Date());
  const out = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(found.input) }));
  return {
    executionName: name,
    executionArn: out.executionArn ?? '',
    ...(out.startDate ? { startDate: out.startDate.toISOString() } : {}),
  };
}
