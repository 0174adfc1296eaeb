import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { oneLine } from '../src/core/text.ts';

/** The local DynamoDB: dynalite (a DynamoDB-compatible server) on 127.0.0.1, with the lock table. */
export interface LocalDynamo {
  readonly endpoint: string;
  close(): Promise<void>;
}

/**
 * Starts dynalite and creates the lock table (unless it exists) with the same key schema as serverless.yml's
 * LockTable. With `directory`, the data persists there (LevelDB), as a DynamoDB table does between executions: the
 * duplicate-delivery marks and the lock of an execution whose process died are still there for the next command.
 */
export async function startDynamo(options: {
  table: string;
  region: string;
  /** Where the data lives; in memory when absent. */
  directory?: string;
}): Promise<LocalDynamo> {
  if (options.directory) await mkdir(options.directory, { recursive: true });
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.directory ? { path: options.directory } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
    });
  const client = new DynamoDBClient({
    endpoint,
    region: options.region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    await client.send(
      new CreateTableCommand({
        TableName: options.table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    );
  } catch (err) {
    if ((err as Error).name !== 'ResourceInUseException') {
      await close();
      if (!options.directory) throw err;
      throw new Error(
        `the local DynamoDB data in ${options.directory} cannot be used (${oneLine((err as Error).message, 120)}): remove that directory (the deploy locks and duplicate-delivery marks), or rollgate reset clears every local state`,
        { cause: err },
      );
    }
  } finally {
    client.destroy();
  }
  return { endpoint, close };
}
