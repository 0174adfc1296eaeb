/** Reading an ECS operation's JSON input: each field checked, an InvalidParameterException naming it otherwise. */
import type { AwsError } from '../aws-json.ts';
import type { EcsEngine } from './engine.ts';
import { invalidParameter } from './errors.ts';
import type { Tag } from './model.ts';
import type { ViewContext } from './views.ts';

export type Input = Record<string, unknown>;
/** An operation of the endpoint: the engine and the parsed JSON input in, the JSON output out. */
export type Operation = (engine: EcsEngine, input: Input) => unknown | Promise<unknown>;

export function optString(input: Input, key: string): string | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidParameter(`${key} must be a string.`);
  return v;
}

export function reqString(input: Input, key: string, fault: (message: string) => AwsError = invalidParameter): string {
  const v = optString(input, key);
  if (v === undefined || v === '') throw fault(`${key} must be specified.`);
  return v;
}

export function optInt(input: Input, key: string): number | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw invalidParameter(`${key} must be an integer.`);
  return v;
}

export function optBool(input: Input, key: string): boolean | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalidParameter(`${key} must be a boolean.`);
  return v;
}

export function stringList(input: Input, key: string): string[] {
  const v = input[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
    throw invalidParameter(`${key} must be a list of strings.`);
  return v as string[];
}

export function tags(input: Input): Tag[] {
  const v = input.tags;
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalidParameter('tags must be a list.');
  return v.map((t) => {
    const tag = t as { key?: unknown; value?: unknown };
    if (typeof tag.key !== 'string' || tag.key === '') throw invalidParameter('Tag keys must be non-empty strings.');
    return { key: tag.key, value: typeof tag.value === 'string' ? tag.value : '' };
  });
}

export function ctx(engine: EcsEngine): ViewContext {
  return { region: engine.region, accountId: engine.accountId };
}

/** Pages a list the way ECS does: maxResults (1..100, default 100) and an opaque nextToken. */
export function page<T>(items: T[], input: Input): { items: T[]; nextToken?: string } {
  const max = optInt(input, 'maxResults') ?? 100;
  if (max < 1 || max > 100) throw invalidParameter('maxResults must be between 1 and 100.');
  const token = optString(input, 'nextToken');
  let start = 0;
  if (token !== undefined) {
    start = Number(Buffer.from(token, 'base64url').toString('utf8'));
    if (!Number.isInteger(start) || start < 0) throw invalidParameter('Invalid nextToken.');
  }
  const slice = items.slice(start, start + max);
  const next = start + max < items.length ? Buffer.from(String(start + max)).toString('base64url') : undefined;
  return next === undefined ? { items: slice } : { items: slice, nextToken: next };
}
