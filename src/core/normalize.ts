import { z } from 'zod';
import { formatIssues } from '../config/load.ts';
import type { RollgateConfig, Target } from '../config/schema.ts';
import { InvalidInputError } from './errors.ts';
import {
  displayImage,
  ECR_DIGEST,
  ECR_REPOSITORY,
  ECR_TAG,
  ecrRegistry,
  type ImageRef,
  matchesGlob,
} from './naming.ts';
import { oneLine } from './text.ts';

/** The execution's identity, from the context object (`$$.Execution`, kept by the Start Pass state as `$.execution`). */
export const executionInfoSchema = z.object({
  /** The execution ARN (`$$.Execution.Id`). */
  id: z.string().min(1),
  name: z.string().min(1),
  /** ISO 8601 (`$$.Execution.StartTime`). */
  startedAt: z.string().min(1),
});
export type ExecutionInfo = Readonly<z.output<typeof executionInfoSchema>>;

/** What started the execution (`$.trigger`; a redrive is recorded by Record from `$$.Execution.RedriveCount`). */
export const triggerSchema = z.object({
  type: z.enum(['push', 'manual']),
  eventId: z.string().exactOptional(),
  eventTime: z.string().exactOptional(),
  reason: z.string().exactOptional(),
  force: z.boolean().exactOptional(),
  /** Who started a manual run, when the input says (`rollgate start` sets it). */
  startedBy: z.string().exactOptional(),
});

/** The image to deploy (`$.image`). */
export const jobImageSchema = z.object({
  repository: z.string().min(1),
  tag: z.string().exactOptional(),
  digest: z.string().exactOptional(),
  /** The registry host from the push event, when known (`<account>.dkr.ecr.<region>.amazonaws.com`). */
  registry: z.string().exactOptional(),
  /** `repo:tag (sha256:abcdef012345)`, for messages and the lock. */
  display: z.string().min(1),
});

/**
 * The normalized job every later state reads (the state machine's `$` after Normalize).
 * `decision` is what the `ShouldDeploy` Choice state branches on.
 */
export interface Job {
  readonly decision: 'DEPLOY' | 'IGNORE';
  /** Why: for IGNORE the reason it was ignored; for DEPLOY a one-line description. */
  readonly reason: string;
  readonly execution: ExecutionInfo;
  readonly trigger: Readonly<z.output<typeof triggerSchema>>;
  /** Deploy even when the image already runs (manual input `"force": true`); the AlreadyDeployed Choice reads it. */
  readonly force: boolean;
  readonly image: Readonly<z.output<typeof jobImageSchema>>;
  /** The resolved target; absent when nothing matched. */
  readonly target?: Target;
  /** Whether the load test runs for this image (the target has `load` and the tag matches its `load.tags`). */
  readonly loadTest: boolean;
}

/** Step Functions' largest execution input (StartExecution refuses more): 256 KiB of UTF-8. */
export const MAX_INPUT_BYTES = 256 * 1024;

const digest = z.string().regex(ECR_DIGEST, 'a digest "sha256:" + 64 lowercase hex digits');
const tag = z
  .string()
  .regex(ECR_TAG, 'an image tag: 1-128 of letters, digits, "_", "." and "-", not starting with "." or "-"');
const repository = z
  .string()
  .regex(ECR_REPOSITORY, 'an ECR repository name: 2-256 of a-z 0-9 and "." "_" "-" "/" (e.g. "team/web-app")');
/** A short free-text field of the event (ids, times, regions, enums): bounded so a reason never quotes megabytes. */
const word = (max: number) => z.string().min(1).max(max);

/** The EventBridge event ECR sends (Amazon ECR user guide, "Amazon ECR events and EventBridge"). */
const ecrEventSchema = z.object({
  version: word(16),
  id: word(128),
  'detail-type': z.literal('ECR Image Action', { error: '"ECR Image Action"' }),
  source: z.literal('aws.ecr', { error: '"aws.ecr"' }),
  account: z.string().regex(/^\d{12}$/, 'a 12-digit account id'),
  time: word(64),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, 'an AWS region such as "us-west-2"'),
  resources: z.array(z.unknown()),
  detail: z.object({
    result: word(32),
    'repository-name': repository,
    'image-digest': digest.optional(),
    'action-type': word(32),
    'image-tag': tag.optional(),
  }),
});

/** What an operator types into the Step Functions console (or `rollgate run`). */
const manualSchema = z
  .object({
    repository,
    tag: tag.optional(),
    digest: digest.optional(),
    reason: z.string().max(500).optional(),
    force: z.boolean().optional(),
    startedBy: z.string().max(200).optional(),
  })
  .strict()
  .refine((m) => m.tag !== undefined || m.digest !== undefined, { message: 'a "tag" or a "digest"', path: ['tag'] });

type EcrEvent = z.output<typeof ecrEventSchema>;
type ManualInput = z.output<typeof manualSchema>;

/** Parses the raw execution input; throws InvalidInputError saying what is wrong and what was expected. */
export function parseInput(input: unknown): { kind: 'push'; event: EcrEvent } | { kind: 'manual'; input: ManualInput } {
  const bytes = inputBytes(input);
  if (bytes > MAX_INPUT_BYTES) {
    throw new InvalidInputError(
      `execution input is ${bytes} bytes: Step Functions accepts at most ${MAX_INPUT_BYTES} (256 KiB); an ECR push event is under 1 KiB`,
    );
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new InvalidInputError(
      `execution input must be a JSON object (an ECR push event or {"repository": "...", "tag": "..."}), got ${
        input === null ? 'null' : Array.isArray(input) ? 'an array' : typeof input
      }`,
    );
  }
  const looksLikeEvent = 'detail-type' in input || 'source' in input || 'detail' in input;
  if (looksLikeEvent) {
    const parsed = ecrEventSchema.safeParse(input);
    if (!parsed.success) {
      throw new InvalidInputError(`not a valid ECR image event:\n${formatIssues(parsed.error.issues, input)}`);
    }
    return { kind: 'push', event: parsed.data };
  }
  const parsed = manualSchema.safeParse(input);
  if (!parsed.success) {
    throw new InvalidInputError(
      `not a valid manual input (expected {"repository": "...", "tag": "..." | "digest": "sha256:...", "reason"?, "force"?, "startedBy"?}):\n${formatIssues(parsed.error.issues, input)}`,
    );
  }
  return { kind: 'manual', input: parsed.data };
}

/**
 * An execution input from its JSON text, as `rollgate run --event FILE` reads it: at most 256 KiB (Step Functions'
 * limit, checked before parsing), a UTF-8 byte order mark ignored (editors on Windows write one), a syntax error
 * reported with the parser's message made printable. `source` names where the text came from in messages.
 */
export function parseInputText(text: string, source: string): unknown {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_INPUT_BYTES + 3) {
    throw new InvalidInputError(
      `${oneLine(source)} is ${bytes} bytes: Step Functions accepts at most ${MAX_INPUT_BYTES} (256 KiB) of execution input`,
    );
  }
  const json = text.startsWith('\ufeff') ? text.slice(1) : text;
  try {
    return JSON.parse(json);
  } catch (err) {
    throw new InvalidInputError(`${oneLine(source)} is not valid JSON: ${oneLine((err as Error).message)}`);
  }
}

/** The UTF-8 size of the input as Step Functions would receive it (its JSON text). */
export function inputBytes(input: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(input) ?? '', 'utf8');
  } catch {
    // not representable as JSON (a cycle, a BigInt): not an input Step Functions could have been given
    return Number.POSITIVE_INFINITY;
  }
}

/**
 * What started an execution, from its input: the push event (its id and time), or the manual input (reason, force,
 * who started it). Throws as parseInput does for an input that is neither.
 */
export function triggerOf(input: unknown): Job['trigger'] {
  const parsed = parseInput(input);
  if (parsed.kind === 'push') return { type: 'push', eventId: parsed.event.id, eventTime: parsed.event.time };
  const m = parsed.input;
  return {
    type: 'manual',
    ...(m.reason ? { reason: m.reason } : {}),
    ...(m.force ? { force: true } : {}),
    ...(m.startedBy ? { startedBy: m.startedBy } : {}),
  };
}

/** {@link triggerOf}, or `unknown` for an input that is neither a push event nor a manual input. */
export function triggerOrUnknown(input: unknown): Job['trigger'] | { readonly type: 'unknown' } {
  try {
    return triggerOf(input);
  } catch {
    return { type: 'unknown' };
  }
}

export interface NormalizeParams {
  readonly config: RollgateConfig;
  readonly input: unknown;
  readonly execution: ExecutionInfo;
}

/** Decides deploy or ignore for an execution input. Pure: no AWS calls. */
export function normalize({ config, input, execution }: NormalizeParams): Job {
  const parsed = parseInput(input);
  if (parsed.kind === 'push') {
    const { event } = parsed;
    const d = event.detail;
    const image = {
      repository: d['repository-name'],
      ...(d['image-tag'] ? { tag: d['image-tag'] } : {}),
      ...(d['image-digest'] ? { digest: d['image-digest'] } : {}),
      registry: ecrRegistry(event.account, event.region),
    };
    const trigger = triggerOf(input);
    const base = { execution, trigger, image: { ...image, display: displayImage(image) }, force: false };
    if (d['action-type'] !== 'PUSH') {
      return {
        ...base,
        decision: 'IGNORE',
        reason: `not a push (action-type ${oneLine(d['action-type'])})`,
        loadTest: false,
      };
    }
    if (d.result !== 'SUCCESS') {
      return {
        ...base,
        decision: 'IGNORE',
        reason: `the push did not succeed (result ${oneLine(d.result)})`,
        loadTest: false,
      };
    }
    if (!image.tag) {
      return { ...base, decision: 'IGNORE', reason: 'untagged push: tag filters cannot match', loadTest: false };
    }
    return decide(config, base, image.tag, false);
  }
  const m = parsed.input;
  const image = {
    repository: m.repository,
    ...(m.tag ? { tag: m.tag } : {}),
    ...(m.digest ? { digest: m.digest } : {}),
  };
  const trigger = triggerOf(input);
  return decide(
    config,
    { execution, trigger, image: { ...image, display: displayImage(image) }, force: m.force === true },
    m.tag,
    true,
  );
}

function decide(
  config: RollgateConfig,
  base: Pick<Job, 'execution' | 'trigger' | 'image' | 'force'>,
  tag: string | undefined,
  manual: boolean,
): Job {
  const repo = base.image.repository;
  const candidates = config.targets.filter((t) => t.repository === repo);
  if (candidates.length === 0) {
    return {
      ...base,
      decision: 'IGNORE',
      reason: `no target for repository ${repo} (configured: ${config.targets.map((t) => t.repository).join(', ')})`,
      loadTest: false,
    };
  }
  // A manual run by digest has no tag to filter on: the operator named the image explicitly.
  const target =
    tag === undefined && manual
      ? candidates[0]
      : candidates.find(
          (t) =>
            tag !== undefined &&
            t.tags.some((g) => matchesGlob(tag, g)) &&
            !t.excludeTags.some((g) => matchesGlob(tag, g)),
        );
  if (!target) {
    const filters = candidates.map(
      (t) => `${t.name}: ${t.tags.join(', ')}${t.excludeTags.length ? ` except ${t.excludeTags.join(', ')}` : ''}`,
    );
    return {
      ...base,
      decision: 'IGNORE',
      reason: `tag ${tag} matches no target's tag filters (${filters.join('; ')})`,
      loadTest: false,
    };
  }
  const loadTest =
    target.load !== undefined && (tag === undefined || target.load.tags.some((g) => matchesGlob(tag, g)));
  return {
    ...base,
    decision: 'DEPLOY',
    reason: `deploy ${base.image.display} to ${target.cluster}/${target.service} (${target.name})`,
    target,
    loadTest,
  };
}

/** The image an execution input asks for (repository, tag, digest); throws InvalidInputError like parseInput. */
export function inputImage(input: unknown): ImageRef {
  const parsed = parseInput(input);
  if (parsed.kind === 'manual') return parsed.input;
  const d = parsed.event.detail;
  return { repository: d['repository-name'], tag: d['image-tag'], digest: d['image-digest'] };
}
