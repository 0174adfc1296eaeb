/**
 * Every S3 key and resource name rollgate builds or parses, in one place.
 */

/** `backups/<cluster>/<service>/<execution>.json`: the task definition that ran before this execution. */
export function backupKey(cluster: string, service: string, executionName: string): string {
  return `backups/${cluster}/${service}/${executionName}.json`;
}

/**
 * `audit/dt=YYYY-MM-DD/<execution>.json`: one record per execution, partitioned by the UTC day it started so that
 * Athena (Hive-style partition `dt`) scans only the days asked for.
 */
export function auditKey(startedAt: string, executionName: string): string {
  return `audit/dt=${startedAt.slice(0, 10)}/${executionName}.json`;
}

/** `reports/<cluster>/<service>/<execution>/`: the load test report files. */
export function reportPrefix(cluster: string, service: string, executionName: string): string {
  return `reports/${cluster}/${service}/${executionName}/`;
}

/** The image reference parts rollgate works with. */
export interface ImageRef {
  readonly repository: string;
  readonly tag?: string | undefined;
  readonly digest?: string | undefined;
}

/** `repo:tag@sha256:..` reads worst; show `repo:tag (sha256:abcdef012345)` in tables and messages. */
export function displayImage(image: ImageRef): string {
  const short = image.digest ? image.digest.slice(0, 19) : undefined;
  if (image.tag && short) return `${image.repository}:${image.tag} (${short})`;
  if (image.tag) return `${image.repository}:${image.tag}`;
  return `${image.repository}@${image.digest ?? '?'}`;
}

/** A short form of an image reference for messages: `host/team/web@sha256:0123456789ab...` -> `team/web@sha256:0123456789ab`. */
export function shortImage(image: string): string {
  const host = registryHost(image);
  const rest = host ? image.slice(host.length + 1) : image;
  return rest.replace(/@sha256:([a-f0-9]{12})[a-f0-9]*$/, '@sha256:$1');
}

/**
 * The registry host of an image reference, by Docker's rule: the first path component is a host when it has a dot,
 * a colon, or is `localhost`. `123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1` -> that host; `web:1` -> undefined.
 */
export function registryHost(image: string): string | undefined {
  const slash = image.indexOf('/');
  if (slash < 0) return undefined;
  const first = image.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first : undefined;
}

/** The ECR registry host of an account and region. */
export function ecrRegistry(account: string, region: string): string {
  return `${account}.dkr.ecr.${region}.amazonaws.com`;
}

/**
 * The image to deploy: pinned by digest when known (what runs is exactly what was pushed), else by tag.
 * `registry` is the host to use (from the push event), else the host of the image running now.
 */
export function imageUri(image: ImageRef, registry: string | undefined): string {
  const ref = image.digest ? `@${image.digest}` : `:${image.tag ?? 'latest'}`;
  return `${registry ? `${registry}/` : ''}${image.repository}${ref}`;
}

/** The tag of an image reference (`host/repo:tag` -> `tag`), or undefined when it is pinned by digest only. */
export function tagOf(image: string): string | undefined {
  if (image.includes('@')) return undefined;
  const lastSlash = image.lastIndexOf('/');
  const colon = image.indexOf(':', lastSlash + 1);
  return colon < 0 ? undefined : image.slice(colon + 1);
}

/** Glob match for tags: `*` any run of characters, `?` exactly one; everything else literal. */
export function matchesGlob(value: string, glob: string): boolean {
  const pattern = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${pattern}$`).test(value);
}

/**
 * A readable, unique Step Functions execution name: `<repository>-<tag>-<digest8>-<yyyymmddThhmmssZ>-<rand4>`,
 * restricted to the characters and 80-character length Step Functions allows.
 */
export function executionName(image: ImageRef, at: Date, random: () => number = Math.random): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const digest = image.digest ? image.digest.replace(/^sha256:/, '').slice(0, 8) : undefined;
  const suffix = Math.floor(random() * 0x10000)
    .toString(16)
    .padStart(4, '0');
  const parts = [image.repository.replace(/\//g, '.'), image.tag, digest].filter((p): p is string => Boolean(p));
  const head = parts.join('-').replace(/[^A-Za-z0-9_.-]/g, '_');
  const tail = `-${stamp}-${suffix}`;
  return `${head.slice(0, 80 - tail.length)}${tail}`;
}
