import { DescribeImagesCommand, type ECRClient, type ImageDetail, type ImageIdentifier } from '@aws-sdk/client-ecr';
import { ImageNotFoundError, messageOf } from './errors.ts';
import { displayImage, type ImageRef } from './naming.ts';

/**
 * CheckImage's output (`$.imageCheck`): the image the execution deploys, as ECR has it. Read by nothing that
 * decides; kept in the execution's state and audit trail as evidence of what was found before anything changed.
 */
export interface ImageCheck {
  /** The image's digest in ECR (`sha256:` + 64 hex): the input's digest, or the tag's current one. */
  readonly digest: string;
  /** Every tag ECR lists on that image. */
  readonly tags: readonly string[];
  /** ISO 8601, from DescribeImages' `imagePushedAt`, when ECR says. */
  readonly pushedAt?: string;
  readonly reason: string;
}

export interface CheckImageParams {
  /** DescribeImages on the target's repository, in the stack's own registry (account and region). */
  readonly ecr: ECRClient;
  readonly image: ImageRef;
}

/** ECR's answers that mean "there is no such image": the repository or the image is not there. */
const NOT_FOUND = new Set(['ImageNotFoundException', 'RepositoryNotFoundException']);

/** A short digest for messages: `sha256:` + 12 hex. */
const short = (digest: string) => digest.slice(0, 19);

/**
 * Looks the image up in ECR before anything is touched: by digest when the input has one, else by tag. A missing
 * image, or a tag that ECR says is on another image than the input's digest, throws ImageNotFoundError naming
 * both; the state machine ends FAILED with no backup, no task definition and no UpdateService.
 */
export async function checkImage(params: CheckImageParams): Promise<ImageCheck> {
  const { ecr, image } = params;
  const shown = displayImage(image);
  const byDigest = image.digest !== undefined;
  if (!byDigest && image.tag === undefined) {
    throw new ImageNotFoundError(`${shown}: neither a tag nor a digest to look up in ECR`);
  }
  const id: ImageIdentifier = byDigest ? { imageDigest: image.digest } : { imageTag: image.tag };
  const found = await describeOne(ecr, image.repository, id, shown);
  const digest = found.imageDigest ?? '';
  const tags = found.imageTags ?? [];
  if (byDigest && image.tag !== undefined && !tags.includes(image.tag)) {
    // The digest exists but the tag is elsewhere (or nowhere): say where the tag points, if anywhere.
    const tagged = await describeOne(ecr, image.repository, { imageTag: image.tag }, shown).catch((err: unknown) =>
      err instanceof ImageNotFoundError ? undefined : Promise.reject(err),
    );
    const where = tagged?.imageDigest ? `points at ${short(tagged.imageDigest)}` : 'is not in ECR';
    throw new ImageNotFoundError(
      `${image.repository}: tag ${image.tag} ${where}, not at ${short(digest)} (the input's digest): ` +
        'the tag and the digest name different images',
    );
  }
  const pushedAt = found.imagePushedAt ? new Date(found.imagePushedAt).toISOString() : undefined;
  return {
    digest,
    tags,
    ...(pushedAt ? { pushedAt } : {}),
    reason: `${shown} is in ECR (${short(digest)}${tags.length ? `, tags ${tags.join(', ')}` : ', untagged'})`,
  };
}

/** DescribeImages for one image id; ECR's not-found answers become ImageNotFoundError. */
async function describeOne(ecr: ECRClient, repository: string, id: ImageIdentifier, shown: string) {
  let details: ImageDetail[];
  try {
    const out = await ecr.send(new DescribeImagesCommand({ repositoryName: repository, imageIds: [id] }));
    details = out.imageDetails ?? [];
  } catch (err) {
    if (err instanceof Error && NOT_FOUND.has(err.name)) {
      const what = id.imageDigest ? `digest ${short(id.imageDigest)}` : `tag ${id.imageTag}`;
      throw new ImageNotFoundError(
        `${shown}: ECR has no image with ${what} in repository ${repository} (${err.name}: ${messageOf(err)})`,
        { cause: err },
      );
    }
    throw err;
  }
  const detail = details.find((d) => d.imageDigest !== undefined);
  if (detail === undefined) {
    const what = id.imageDigest ? `digest ${short(id.imageDigest)}` : `tag ${id.imageTag}`;
    throw new ImageNotFoundError(`${shown}: ECR lists no image with ${what} in ${repository}`);
  }
  return detail;
}
