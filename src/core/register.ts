import {
  type ECSClient,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import type { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { readBackup } from './backup.ts';
import { describeTaskDefinition } from './ecs.ts';
import { TargetNotFoundError } from './errors.ts';
import {
  DIGEST_TAG,
  EXECUTION_TAG,
  type ImageRef,
  imageUri,
  REPOSITORY_TAG,
  registryHost,
  TAG_PREFIX,
  TAG_TAG,
} from './naming.ts';

/** Register's output (the state's `$.release`). */
export const registerResultSchema = z.object({
  taskDefinitionArn: z.string().min(1),
  image: z.string().min(1),
  previousImage: z.string().min(1),
  previousTaskDefinitionArn: z.string().min(1),
  /** True when a retry or redrive found the revision this execution had already registered. */
  reused: z.boolean(),
});
export type RegisterResult = Readonly<z.output<typeof registerResultSchema>>;

export interface RegisterParams {
  readonly ecs: ECSClient;
  readonly s3: S3Client;
  /** Where Backup wrote the running task definition: the new revision is a copy of exactly that. */
  readonly backup: { readonly bucket: string; readonly key: string };
  readonly container: string;
  readonly image: ImageRef & { readonly registry?: string | undefined };
  readonly executionName: string;
}

/** Fields DescribeTaskDefinition returns that RegisterTaskDefinition does not take. */
const READ_ONLY_FIELDS = [
  'taskDefinitionArn',
  'revision',
  'status',
  'requiresAttributes',
  'compatibilities',
  'registeredAt',
  'registeredBy',
  'deregisteredAt',
  'deleteRequestedAt',
] as const satisfies readonly (keyof TaskDefinition)[];

/**
 * Builds the RegisterTaskDefinition input: the backed-up task definition with the target container's image
 * replaced. Pure, exported for tests.
 */
export function registerInput(
  current: TaskDefinition,
  container: string,
  image: string,
  tags: { key: string; value: string }[],
): RegisterTaskDefinitionCommandInput {
  const copy = structuredClone(current) as Record<string, unknown>;
  for (const field of READ_ONLY_FIELDS) delete copy[field];
  const input = copy as unknown as RegisterTaskDefinitionCommandInput;
  const containers = input.containerDefinitions ?? [];
  const target = containers.find((c) => c.name === container);
  if (!target) {
    throw new TargetNotFoundError(
      `container "${container}" not found in task definition ${current.taskDefinitionArn}; it has: ${
        containers.map((c) => c.name).join(', ') || 'no containers'
      }`,
    );
  }
  target.image = image;
  return { ...input, tags };
}

/** Registers the new revision: the running one with the target container's image set to the pushed image. */
export async function register(params: RegisterParams): Promise<RegisterResult> {
  const { ecs, s3, backup, container, image, executionName } = params;
  const doc = await readBackup(s3, backup.bucket, backup.key);
  const uri = imageUri(image, image.registry ?? registryHost(doc.image));
  const previous = {
    previousImage: doc.image,
    previousTaskDefinitionArn: doc.taskDefinition.taskDefinitionArn ?? '',
  };
  // A retry or redrive of this execution must not register a second revision: the family's latest revision is ours
  // when it carries this execution's tag (the lock keeps other rollgate executions off the service meanwhile).
  if (doc.taskDefinition.family) {
    const latest = await describeTaskDefinition(ecs, doc.taskDefinition.family).catch(() => undefined);
    const arn = latest?.taskDefinition.taskDefinitionArn;
    if (arn && latest.tags.some((t) => t.key === EXECUTION_TAG && t.value === executionName)) {
      return { taskDefinitionArn: arn, image: uri, ...previous, reused: true };
    }
  }
  const tags = [
    ...doc.tags.filter((t) => t.key && t.value !== undefined && !t.key.startsWith(TAG_PREFIX)),
    { key: EXECUTION_TAG, value: executionName },
    { key: REPOSITORY_TAG, value: image.repository },
    ...(image.tag ? [{ key: TAG_TAG, value: image.tag }] : []),
    ...(image.digest ? [{ key: DIGEST_TAG, value: image.digest }] : []),
  ].map((t) => ({ key: String(t.key), value: String(t.value) }));
  const out = await ecs.send(
    new RegisterTaskDefinitionCommand(registerInput(doc.taskDefinition, container, uri, tags)),
  );
  const arn = out.taskDefinition?.taskDefinitionArn;
  if (!arn) throw new TargetNotFoundError('RegisterTaskDefinition returned no task definition ARN');
  return { taskDefinitionArn: arn, image: uri, ...previous, reused: false };
}
