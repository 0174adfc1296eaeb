import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import S3rver from 's3rver';

/** The local S3: s3rver on 127.0.0.1 with its objects in a directory (persisted between commands). */
export interface LocalS3 {
  readonly endpoint: string;
  /** s3rver's fixed credentials. */
  readonly accessKeyId: 'S3RVER';
  readonly secretAccessKey: 'S3RVER';
  close(): Promise<void>;
}

export async function startS3(options: { directory: string; buckets: string[]; port?: number }): Promise<LocalS3> {
  await mkdir(options.directory, { recursive: true });
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    directory: options.directory,
    silent: true,
    configureBuckets: options.buckets.map((name) => ({ name, configs: [] })),
  });
  const address = (await server.run()) as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    close: () => new Promise<void>((resolve, reject) => server.close((err?: Error) => (err ? reject(err) : resolve()))),
  };
}
