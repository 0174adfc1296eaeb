/**
 * rollgate's local ECR API: an HTTP endpoint on 127.0.0.1 speaking the AWS JSON 1.1 protocol
 * (`X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Op>`), so `@aws-sdk/client-ecr` pointed at it (or
 * `AWS_ENDPOINT_URL_ECR`) works unchanged. It implements DescribeImages only, over the local registry's file
 * (local/registry.ts), which it re-reads on every call: another process may push meanwhile.
 *
 * Differences from ECR, by construction of the local registry: a re-push of a tag replaces its entry, so the digest
 * it pointed to disappears instead of staying behind untagged (`tagStatus: UNTAGGED` finds nothing); every image is
 * ACTIVE (none archived); there are no sizes, scans or pull times.
 */
import { AwsError, startAwsJsonEndpoint } from './aws-json.ts';
import { LocalRegistry, type PushedImage } from './registry.ts';

const TARGET_PREFIX = 'AmazonEC2ContainerRegistry_V20150921.';
/** DescribeImages: "between 1 and 1000 ... If this parameter is not used, returns up to 100 results". */
const DEFAULT_MAX_RESULTS = 100;
const MAX_MAX_RESULTS = 1000;
/** What `docker push` of a single-platform image records. */
const MANIFEST_MEDIA_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';
const ARTIFACT_MEDIA_TYPE = 'application/vnd.docker.container.image.v1+json';

export interface StartEcrOptions {
  /** The local registry's JSON file (see local/registry.ts); it need not exist yet. */
  readonly registryFile: string;
  /** The registry's region (log line only: the SDK's region never changes an answer). */
  readonly region: string;
  /** The registry id (12-digit account) reported as `registryId`; a request naming another registry finds nothing. */
  readonly accountId: string;
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  readonly port?: number;
  readonly log?: (line: string) => void;
}

export interface LocalEcr {
  /** `http://127.0.0.1:<port>`: the value for `AWS_ENDPOINT_URL_ECR` or a client's `endpoint`. */
  readonly endpoint: string;
  /** Stops the endpoint. Idempotent. */
  close(): Promise<void>;
}

/** One image as DescribeImages returns it on the wire (timestamps in epoch seconds). */
interface WireImageDetail {
  registryId: string;
  repositoryName: string;
  imageDigest: string;
  imageTags?: string[];
  /** Epoch seconds, fractional (the SDK turns it into a Date). */
  imagePushedAt: number;
  imageManifestMediaType: string;
  artifactMediaType: string;
  imageStatus: 'ACTIVE';
}

/** Starts the local ECR endpoint. */
export async function startEcr(options: StartEcrOptions): Promise<LocalEcr> {
  const log = options.log ?? (() => undefined);
  const registry = new LocalRegistry(options.registryFile);
  const server = await startAwsJsonEndpoint(
    {
      service: 'ECR',
      targetPrefix: TARGET_PREFIX,
      operations: {
        DescribeImages: async (input) => describeImages(input, await registry.list(), options.accountId),
      },
    },
    { port: options.port ?? 0, log },
  );
  log(
    `ecr: endpoint ${server.endpoint} (registry ${options.accountId}, ${options.region}) over ${options.registryFile}`,
  );

  let closing: Promise<void> | undefined;
  return {
    endpoint: server.endpoint,
    close: () => {
      closing ??= server.close(true);
      return closing;
    },
  };
}

function invalid(message: string): AwsError {
  return new AwsError('InvalidParameterException', message);
}

/** The images of one repository, one per digest with all its tags, oldest push first (ties: by digest). */
function imagesOf(pushes: readonly PushedImage[], repository: string, registryId: string): WireImageDetail[] {
  const byDigest = new Map<string, WireImageDetail>();
  for (const push of pushes) {
    if (push.repository !== repository) continue;
    const pushedAt = Date.parse(push.pushedAt) / 1000;
    const seen = byDigest.get(push.digest);
    if (seen === undefined) {
      byDigest.set(push.digest, {
        registryId,
        repositoryName: repository,
        imageDigest: push.digest,
        imageTags: [push.tag],
        imagePushedAt: pushedAt,
        imageManifestMediaType: MANIFEST_MEDIA_TYPE,
        artifactMediaType: ARTIFACT_MEDIA_TYPE,
        imageStatus: 'ACTIVE',
      });
    } else {
      seen.imageTags?.push(push.tag);
      // ECR keeps an image's first push time when another tag is pushed onto the same manifest.
      seen.imagePushedAt = Math.min(seen.imagePushedAt, pushedAt);
    }
  }
  return [...byDigest.values()].sort(
    (a, b) => a.imagePushedAt - b.imagePushedAt || (a.imageDigest < b.imageDigest ? -1 : 1),
  );
}

/**
 * The opaque nextToken: the sort key of the last image returned. Keyset paging, so a push between two pages never
 * shifts or repeats what the next page returns (new pushes sort last).
 */
interface PageToken {
  repository: string;
  pushedAt: number;
  digest: string;
}

function encodeToken(token: PageToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeToken(value: unknown, repository: string): PageToken {
  try {
    const token = JSON.parse(Buffer.from(String(value), 'base64url').toString('utf8')) as Partial<PageToken>;
    if (
      token.repository === repository &&
      typeof token.pushedAt === 'number' &&
      typeof token.digest === 'string' &&
      token.digest !== ''
    ) {
      return token as PageToken;
    }
  } catch {
    // fall through
  }
  throw invalid("Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid NextToken'");
}

function describeImages(
  input: Record<string, unknown>,
  pushes: readonly PushedImage[],
  accountId: string,
): { imageDetails: WireImageDetail[]; nextToken?: string } {
  const repository = input.repositoryName;
  if (typeof repository !== 'string' || repository === '') {
    throw invalid(
      "1 validation error detected: Value null at 'repositoryName' failed to satisfy constraint: Member must not be null",
    );
  }
  const registryId = input.registryId ?? accountId;
  if (typeof registryId !== 'string' || !/^\d{12}$/.test(registryId)) {
    throw invalid(
      `1 validation error detected: Value '${String(registryId)}' at 'registryId' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9]{12}`,
    );
  }
  const images = registryId === accountId ? imagesOf(pushes, repository, registryId) : [];
  if (images.length === 0) {
    throw new AwsError(
      'RepositoryNotFoundException',
      `The repository with name '${repository}' does not exist in the registry with id '${registryId}'`,
    );
  }

  const filter = (input.filter ?? {}) as Record<string, unknown>;
  const tagStatus = filter.tagStatus ?? 'ANY';
  if (tagStatus !== 'TAGGED' && tagStatus !== 'UNTAGGED' && tagStatus !== 'ANY') {
    throw invalid(
      `1 validation error detected: Value '${String(tagStatus)}' at 'filter.tagStatus' failed to satisfy constraint: Member must satisfy enum value set: [ANY, TAGGED, UNTAGGED]`,
    );
  }
  const imageStatus = filter.imageStatus ?? 'ACTIVE';
  if (imageStatus !== 'ACTIVE' && imageStatus !== 'ARCHIVED' && imageStatus !== 'ACTIVATING' && imageStatus !== 'ANY') {
    throw invalid(
      `1 validation error detected: Value '${String(imageStatus)}' at 'filter.imageStatus' failed to satisfy constraint: Member must satisfy enum value set: [ACTIVE, ARCHIVED, ACTIVATING, ANY]`,
    );
  }

  if (input.imageIds !== undefined) {
    if (input.maxResults !== undefined || input.nextToken !== undefined) {
      throw invalid('maxResults and nextToken cannot be used when you specify images with imageIds.');
    }
    return { imageDetails: byImageIds(input.imageIds, images, repository, registryId) };
  }

  const maxResults = input.maxResults ?? DEFAULT_MAX_RESULTS;
  if (
    typeof maxResults !== 'number' ||
    !Number.isInteger(maxResults) ||
    maxResults < 1 ||
    maxResults > MAX_MAX_RESULTS
  ) {
    throw invalid(
      `1 validation error detected: Value '${String(maxResults)}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and ${MAX_MAX_RESULTS}`,
    );
  }
  let matching = images.filter((i) =>
    tagStatus === 'TAGGED'
      ? (i.imageTags?.length ?? 0) > 0
      : tagStatus === 'UNTAGGED'
        ? (i.imageTags?.length ?? 0) === 0
        : true,
  );
  if (imageStatus === 'ARCHIVED' || imageStatus === 'ACTIVATING') matching = [];
  if (input.nextToken !== undefined && input.nextToken !== null) {
    const after = decodeToken(input.nextToken, repository);
    matching = matching.filter(
      (i) => i.imagePushedAt > after.pushedAt || (i.imagePushedAt === after.pushedAt && i.imageDigest > after.digest),
    );
  }
  const page = matching.slice(0, maxResults);
  const last = page.at(-1);
  return {
    imageDetails: page,
    ...(matching.length > maxResults && last
      ? { nextToken: encodeToken({ repository, pushedAt: last.imagePushedAt, digest: last.imageDigest }) }
      : {}),
  };
}

/** The images named by imageIds (tag, digest, or both: both must name the same image), each image once. */
function byImageIds(
  imageIds: unknown,
  images: readonly WireImageDetail[],
  repository: string,
  registryId: string,
): WireImageDetail[] {
  if (!Array.isArray(imageIds) || imageIds.length < 1 || imageIds.length > 100) {
    throw invalid(
      "1 validation error detected: Value at 'imageIds' failed to satisfy constraint: Member must have length between 1 and 100",
    );
  }
  const found: WireImageDetail[] = [];
  for (const id of imageIds as unknown[]) {
    const { imageTag, imageDigest } = (typeof id === 'object' && id !== null ? id : {}) as Record<string, unknown>;
    if (typeof imageTag !== 'string' && typeof imageDigest !== 'string') {
      throw invalid("Invalid parameter at 'imageIds': an image id needs an imageTag or an imageDigest.");
    }
    const image = images.find(
      (i) =>
        (imageDigest === undefined || i.imageDigest === imageDigest) &&
        (imageTag === undefined || (i.imageTags ?? []).includes(String(imageTag))),
    );
    if (image === undefined) {
      throw new AwsError(
        'ImageNotFoundException',
        `The image with imageId {imageDigest:'${imageDigest ?? 'null'}', imageTag:'${imageTag ?? 'null'}'} does not exist within the repository with name '${repository}' in the registry with id '${registryId}'`,
      );
    }
    if (!found.includes(image)) found.push(image);
  }
  return found;
}
