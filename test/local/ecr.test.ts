import path from 'node:path';
import {
  DescribeImagesCommand,
  type DescribeImagesCommandInput,
  ECRClient,
  type ImageDetail,
  ListImagesCommand,
  paginateDescribeImages,
} from '@aws-sdk/client-ecr';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type LocalEcr, startEcr } from '../../local/ecr.ts';
import { imageDigest, LocalRegistry } from '../../local/registry.ts';
import { tempDir } from './support.ts';

const ACCOUNT = '123456789012';
const T0 = Date.parse('2026-03-01T10:00:00.000Z');

let tmp: ReturnType<typeof tempDir>;
let registry: LocalRegistry;
let ecr: LocalEcr | undefined;
let client: ECRClient;

async function errorOf(promise: Promise<unknown>): Promise<{ name: string; message: string; $metadata?: object }> {
  try {
    await promise;
  } catch (error) {
    return error as { name: string; message: string };
  }
  throw new Error('expected the call to fail');
}

/** Pushes `repository:tag` as if at T0 + `minutes`. */
async function pushAt(minutes: number, repository: string, tag: string, digest?: string): Promise<string> {
  vi.setSystemTime(T0 + minutes * 60_000);
  return registry.pushImage(repository, tag, digest);
}

const describe_ = (input: DescribeImagesCommandInput) => client.send(new DescribeImagesCommand(input));

beforeAll(async () => {
  tmp = tempDir();
  const registryFile = path.join(tmp.dir, '.rollgate', 'registry.json');
  registry = new LocalRegistry(registryFile);
  vi.useFakeTimers({ toFake: ['Date'] });
  try {
    await pushAt(0, 'demo-app', 'v1');
    await pushAt(1, 'demo-app', 'v2');
    // a second tag on the v2 manifest, pushed later: one image with both tags, first push time kept
    await pushAt(2, 'demo-app', 'latest', imageDigest('demo-app', 'v2'));
    for (let i = 0; i < 5; i++) await pushAt(10 + i, 'team/paged', `build-${i}`);
    for (const tag of ['a', 'b', 'c']) await pushAt(20, 'same-instant', tag);
  } finally {
    vi.useRealTimers();
  }
  ecr = await startEcr({ registryFile, region: 'eu-west-1', accountId: ACCOUNT, port: 0 });
  client = new ECRClient({
    endpoint: ecr.endpoint,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  client?.destroy();
  await ecr?.close();
  tmp?.remove();
});

describe('local ECR DescribeImages', () => {
  it('describes every image of a repository through the real SDK, one detail per digest with all its tags', async () => {
    const out = await describe_({ repositoryName: 'demo-app' });
    expect(out.nextToken).toBeUndefined();
    expect(out.imageDetails).toEqual<ImageDetail[]>([
      {
        registryId: ACCOUNT,
        repositoryName: 'demo-app',
        imageDigest: imageDigest('demo-app', 'v1'),
        imageTags: ['v1'],
        imagePushedAt: new Date(T0),
        imageManifestMediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        artifactMediaType: 'application/vnd.docker.container.image.v1+json',
        imageStatus: 'ACTIVE',
      },
      {
        registryId: ACCOUNT,
        repositoryName: 'demo-app',
        imageDigest: imageDigest('demo-app', 'v2'),
        imageTags: ['v2', 'latest'],
        imagePushedAt: new Date(T0 + 60_000),
        imageManifestMediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        artifactMediaType: 'application/vnd.docker.container.image.v1+json',
        imageStatus: 'ACTIVE',
      },
    ]);
  });

  it('re-reads the registry file on every call: a push from another process shows at once', async () => {
    const other = new LocalRegistry(registry.file);
    const digest = await other.pushImage('fresh-app', 'v9');
    const out = await describe_({ repositoryName: 'fresh-app' });
    expect(out.imageDetails?.map((d) => [d.imageDigest, d.imageTags])).toEqual([[digest, ['v9']]]);
  });

  it.each([
    ['TAGGED', 2],
    ['ANY', 2],
    // a re-push replaces a tag's entry locally: no digest is ever left untagged
    ['UNTAGGED', 0],
  ] as const)('filters tagStatus %s', async (tagStatus, count) => {
    const out = await describe_({ repositoryName: 'demo-app', filter: { tagStatus } });
    expect(out.imageDetails).toHaveLength(count);
  });

  it('describes the images named by tag, by digest, or both, each image once', async () => {
    const v2 = imageDigest('demo-app', 'v2');
    const out = await describe_({
      repositoryName: 'demo-app',
      imageIds: [
        { imageTag: 'latest' },
        { imageDigest: v2 },
        { imageTag: 'v1', imageDigest: imageDigest('demo-app', 'v1') },
      ],
    });
    expect(out.imageDetails?.map((d) => d.imageTags)).toEqual([['v2', 'latest'], ['v1']]);
  });

  it('pages with maxResults and nextToken, oldest push first', async () => {
    const pages: (string[] | undefined)[] = [];
    let nextToken: string | undefined;
    do {
      const out = await describe_({ repositoryName: 'team/paged', maxResults: 2, ...(nextToken ? { nextToken } : {}) });
      pages.push(out.imageDetails?.flatMap((d) => d.imageTags ?? []));
      nextToken = out.nextToken;
    } while (nextToken);
    expect(pages).toEqual([['build-0', 'build-1'], ['build-2', 'build-3'], ['build-4']]);
  });

  it('pages through images pushed at the same instant by digest, none repeated or skipped', async () => {
    const digests: string[] = [];
    for await (const page of paginateDescribeImages({ client, pageSize: 1 }, { repositoryName: 'same-instant' })) {
      digests.push(...(page.imageDetails ?? []).map((d) => d.imageDigest ?? ''));
    }
    expect(digests).toEqual(['a', 'b', 'c'].map((t) => imageDigest('same-instant', t)).sort());
  });

  it('keeps a page sequence stable when a push lands between two pages', async () => {
    const first = await describe_({ repositoryName: 'team/paged', maxResults: 3 });
    await registry.pushImage('team/paged', 'build-late');
    const rest: string[] = [];
    for await (const page of paginateDescribeImages(
      { client, pageSize: 1 },
      { repositoryName: 'team/paged', ...(first.nextToken ? { nextToken: first.nextToken } : {}) },
    )) {
      rest.push(...(page.imageDetails ?? []).flatMap((d) => d.imageTags ?? []));
    }
    expect(first.imageDetails?.flatMap((d) => d.imageTags)).toEqual(['build-0', 'build-1', 'build-2']);
    expect(rest).toEqual(['build-3', 'build-4', 'build-late']);
  });

  it('answers a repository with no pushes with RepositoryNotFoundException', async () => {
    const err = await errorOf(describe_({ repositoryName: 'never-pushed' }));
    expect(err.name).toBe('RepositoryNotFoundException');
    expect(err.message).toBe(
      `The repository with name 'never-pushed' does not exist in the registry with id '${ACCOUNT}'`,
    );
    const other = await errorOf(describe_({ repositoryName: 'demo-app', registryId: '210987654321' }));
    expect(other.name).toBe('RepositoryNotFoundException');
  });

  it.each([
    [{ imageTag: 'v404' }, "imageTag:'v404'"],
    [{ imageDigest: `sha256:${'0'.repeat(64)}` }, `imageDigest:'sha256:${'0'.repeat(64)}'`],
    // both given, naming two different images
    [{ imageTag: 'v1', imageDigest: imageDigest('demo-app', 'v2') }, "imageTag:'v1'"],
  ])('answers an unknown image id %j with ImageNotFoundException', async (imageId, text) => {
    const err = await errorOf(describe_({ repositoryName: 'demo-app', imageIds: [{ imageTag: 'v1' }, imageId] }));
    expect(err.name).toBe('ImageNotFoundException');
    expect(err.message).toContain(text);
  });

  it.each<[string, DescribeImagesCommandInput]>([
    ['no repositoryName', { repositoryName: undefined }],
    ['maxResults 0', { repositoryName: 'demo-app', maxResults: 0 }],
    ['maxResults 1001', { repositoryName: 'demo-app', maxResults: 1001 }],
    ['imageIds with maxResults', { repositoryName: 'demo-app', imageIds: [{ imageTag: 'v1' }], maxResults: 5 }],
    ['a nextToken from nowhere', { repositoryName: 'demo-app', nextToken: 'bm9wZQ' }],
    ['a nextToken of another repository', { repositoryName: 'demo-app', nextToken: 'eyJyZXBvc2l0b3J5IjoieCJ9' }],
    ['an unknown tagStatus', { repositoryName: 'demo-app', filter: { tagStatus: 'SOME' as 'ANY' } }],
  ])('rejects %s with InvalidParameterException', async (_, input) => {
    const err = await errorOf(describe_(input));
    expect(err.name).toBe('InvalidParameterException');
  });

  it('answers any other operation with a 400 UnknownOperationException', async () => {
    const err = await errorOf(client.send(new ListImagesCommand({ repositoryName: 'demo-app' })));
    expect(err.name).toBe('UnknownOperationException');
    expect(err.$metadata).toMatchObject({ httpStatusCode: 400 });
  });
});
