import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { imageDigest, LocalRegistry, parseImageUri } from '../../local/registry.ts';
import { tempDir } from './support.ts';

const images = { 'demo-app': { command: ['node', 'examples/demo-app/server.js'] } };
const ECR = '123456789012.dkr.ecr.us-east-1.amazonaws.com';

describe('parseImageUri', () => {
  it.each([
    ['demo-app:v1', { repository: 'demo-app', tag: 'v1' }],
    ['demo-app', { repository: 'demo-app' }],
    [`${ECR}/demo-app:v2-crash`, { registry: ECR, repository: 'demo-app', tag: 'v2-crash' }],
    [
      `${ECR}/team/demo-app@sha256:${'a'.repeat(64)}`,
      { registry: ECR, repository: 'team/demo-app', digest: `sha256:${'a'.repeat(64)}` },
    ],
    ['localhost:5000/demo-app:v1', { registry: 'localhost:5000', repository: 'demo-app', tag: 'v1' }],
  ])('parses %s', (uri, expected) => {
    expect(parseImageUri(uri)).toEqual(expected);
  });

  it.each(['', 'Demo-App:v1', 'demo-app@sha256:short', 'demo app:v1', 'demo-app:'])('rejects %j', (uri) => {
    expect(parseImageUri(uri)).toBeUndefined();
  });
});

describe('LocalRegistry', () => {
  let tmp: ReturnType<typeof tempDir>;
  let registry: LocalRegistry;
  beforeEach(() => {
    tmp = tempDir();
    registry = new LocalRegistry(path.join(tmp.dir, 'registry.json'));
  });
  afterEach(() => tmp.remove());

  it('records pushes with a deterministic digest, or the one given', async () => {
    const digest = await registry.pushImage('demo-app', 'v2');
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(digest).toBe(imageDigest('demo-app', 'v2'));
    const given = `sha256:${'b'.repeat(64)}`;
    expect(await registry.pushImage('demo-app', 'v3', given)).toBe(given);
    await expect(registry.pushImage('demo-app', 'v4', 'sha256:nope')).rejects.toThrow(/digest/);
    const file = JSON.parse(readFileSync(registry.file, 'utf8'));
    expect(file.images).toEqual([
      expect.objectContaining({ repository: 'demo-app', tag: 'v2', digest }),
      expect.objectContaining({ repository: 'demo-app', tag: 'v3', digest: given, pushedAt: expect.any(String) }),
    ]);
  });

  it('resolves a tag (pushed or not) and a pushed digest back to its tag, with the command', async () => {
    const digest = await registry.pushImage('demo-app', 'v2');
    expect(await registry.resolveImage('demo-app:v9', images)).toEqual({
      ok: true,
      repository: 'demo-app',
      tag: 'v9',
      command: images['demo-app'].command,
    });
    expect(await registry.resolveImage(`${ECR}/demo-app@${digest}`, images)).toEqual({
      ok: true,
      repository: 'demo-app',
      tag: 'v2',
      digest,
      command: images['demo-app'].command,
    });
    expect(await registry.resolveImage(`${ECR}/demo-app:v2`, images)).toMatchObject({ ok: true, tag: 'v2', digest });
  });

  it('explains failures like ECS: CannotPullContainerError', async () => {
    const unknownDigest = await registry.resolveImage(`${ECR}/demo-app@sha256:${'c'.repeat(64)}`, images);
    const unknownRepo = await registry.resolveImage(`${ECR}/other:v1`, images);
    const invalid = await registry.resolveImage('not an image', images);
    for (const result of [unknownDigest, unknownRepo, invalid]) {
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason).toMatch(/^CannotPullContainerError: /);
    }
    const strict = new LocalRegistry(registry.file, { requirePush: true });
    expect((await strict.resolveImage('demo-app:v9', images)).ok).toBe(false);
    await strict.pushImage('demo-app', 'v9');
    expect((await strict.resolveImage('demo-app:v9', images)).ok).toBe(true);
  });

  it('serializes concurrent pushes without losing one', async () => {
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((tag) => registry.pushImage('demo-app', tag)));
    expect((await registry.list()).map((i) => i.tag).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });
});
