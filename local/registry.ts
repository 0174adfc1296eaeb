/**
 * The local "ECR": a JSON file of pushed images, and the resolution of an image URI (as a task definition names it)
 * to the command that starts it. No bytes are stored: a local image is a repository name (mapped to a command by the
 * config's `images`) plus a tag (passed to the process as IMAGE_TAG).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isDigest, type ParsedImageRef, parseImageRef } from '../src/core/naming.ts';
import { oneLine } from '../src/core/text.ts';
import type { LocalImageSpec } from './types.ts';

/** One push, as recorded in the registry file. */
export interface PushedImage {
  repository: string;
  tag: string;
  /** `sha256:` + 64 hex. */
  digest: string;
  /** ISO 8601. */
  pushedAt: string;
}

interface RegistryFile {
  images: PushedImage[];
}

/** An image URI split into its parts (naming.ts's one parser). */
export type ImageReference = ParsedImageRef;

export type ResolvedImage =
  | { ok: true; repository: string; tag: string; digest?: string; command: string[] }
  /** `reason` is worded like ECS's stoppedReason, e.g. `CannotPullContainerError: ...`. */
  | { ok: false; reason: string };

/** The digest a local push of `repository:tag` gets: deterministic, so a re-push of the same tag is a no-op. */
export function imageDigest(repository: string, tag: string): string {
  return `sha256:${createHash('sha256').update(`${repository}:${tag}`).digest('hex')}`;
}

/** Parses an image URI (naming.ts's `parseImageRef`): undefined when it is not an image reference at all. */
export const parseImageUri = parseImageRef;

export interface LocalRegistryOptions {
  /**
   * When true, a tag resolves only after it was pushed (like ECR). When false (default), any tag of a repository in
   * the images map resolves, as if every tag existed; digests always need a push.
   */
  requirePush?: boolean;
}

/** The registry file plus resolution. Reads the file on every call, so pushes from another process are seen. */
export class LocalRegistry {
  readonly file: string;
  readonly #requirePush: boolean;
  #writing: Promise<unknown> = Promise.resolve();

  constructor(file: string, options: LocalRegistryOptions = {}) {
    this.file = file;
    this.#requirePush = options.requirePush ?? false;
  }

  /** All pushes, oldest first. */
  async list(): Promise<PushedImage[]> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    let parsed: Partial<RegistryFile> | null;
    try {
      parsed = JSON.parse(text) as Partial<RegistryFile> | null;
    } catch (error) {
      throw new Error(
        `${this.file} is not valid JSON (${oneLine((error as Error).message, 120)}): the local registry is corrupt; rollgate reset clears it`,
      );
    }
    if (!Array.isArray(parsed?.images)) {
      throw new Error(
        `${this.file} is not a local registry ({"images": [...]}, got ${oneLine(text.trim(), 40)}): the local registry is corrupt; rollgate reset clears it`,
      );
    }
    return parsed.images;
  }

  /**
   * Records a push of `repository:tag` and returns its digest: `digest` when given (e.g. from an ECR event),
   * otherwise {@link imageDigest}. A re-push moves the tag (newest push wins).
   */
  pushImage(repository: string, tag: string, digest: string = imageDigest(repository, tag)): Promise<string> {
    if (!isDigest(digest)) return Promise.reject(new Error(`invalid image digest ${digest}: want sha256:<64 hex>`));
    if (parseImageUri(`${repository}:${tag}`)?.repository !== repository) {
      return Promise.reject(new Error(`invalid image reference ${repository}:${tag}`));
    }
    const run = this.#writing.then(async () => {
      const images = (await this.list()).filter((i) => !(i.repository === repository && i.tag === tag));
      images.push({ repository, tag, digest, pushedAt: new Date().toISOString() });
      await writeJsonAtomic(this.file, { images } satisfies RegistryFile);
      return digest;
    });
    this.#writing = run.catch(() => undefined);
    return run;
  }

  /** Resolves a task definition's image to the command that starts it, or explains (ECS-style) why it cannot. */
  async resolveImage(imageUri: string, images: Record<string, LocalImageSpec>): Promise<ResolvedImage> {
    const ref = parseImageUri(imageUri);
    if (ref === undefined) {
      return { ok: false, reason: `CannotPullContainerError: invalid reference format: ${imageUri}` };
    }
    const spec = images[ref.repository];
    if (spec === undefined) {
      return {
        ok: false,
        reason: `CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref ${imageUri}: repository ${ref.repository} not found in the local registry`,
      };
    }
    const pushed = (await this.list()).filter((i) => i.repository === ref.repository);
    if (ref.digest !== undefined) {
      const match = pushed.filter((i) => i.digest === ref.digest).at(-1);
      if (match === undefined) {
        return {
          ok: false,
          reason: `CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref ${imageUri}: not found`,
        };
      }
      return { ok: true, repository: ref.repository, tag: match.tag, digest: match.digest, command: spec.command };
    }
    const tag = ref.tag ?? 'latest';
    const match = pushed.filter((i) => i.tag === tag).at(-1);
    if (match === undefined && this.#requirePush) {
      return {
        ok: false,
        reason: `CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref ${imageUri}: not found`,
      };
    }
    return {
      ok: true,
      repository: ref.repository,
      tag,
      ...(match === undefined ? {} : { digest: match.digest }),
      command: spec.command,
    };
  }
}

/** Writes JSON to a temp file next to `file` and renames it over `file`, so readers never see a half-written file. */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(tmp, file);
}
