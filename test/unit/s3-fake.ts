import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import type { mockClient } from 'aws-sdk-client-mock';

type S3Mock = ReturnType<typeof mockClient>;

/**
 * An in-memory bucket behind an S3 mock: PutObject, GetObject (NoSuchKey when absent), HeadObject and ListObjectsV2
 * by prefix, as the gate bridge and the deploy use them. Returns the objects, by key.
 */
export function memoryBucket(s3Mock: S3Mock): Map<string, string> {
  const objects = new Map<string, string>();
  s3Mock.on(PutObjectCommand).callsFake((input: { Key: string; Body: unknown }) => {
    objects.set(input.Key, String(input.Body));
    return {};
  });
  s3Mock.on(GetObjectCommand).callsFake((input: { Key: string }) => {
    const body = objects.get(input.Key);
    if (body === undefined) throw new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} });
    return { Body: { transformToString: async () => body } };
  });
  s3Mock.on(HeadObjectCommand).callsFake((input: { Key: string }) => {
    if (!objects.has(input.Key)) throw Object.assign(new Error('NotFound'), { name: 'NotFound' });
    return {};
  });
  s3Mock.on(ListObjectsV2Command).callsFake((input: { Prefix?: string }) => ({
    Contents: [...objects.keys()]
      .filter((k) => k.startsWith(input.Prefix ?? ''))
      .sort()
      .map((Key) => ({ Key })),
    IsTruncated: false,
  }));
  return objects;
}
