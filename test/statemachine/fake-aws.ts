import { DeleteItemCommand, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DescribeImagesCommand, ECRClient, ImageNotFoundException } from '@aws-sdk/client-ecr';
import {
  type Deployment,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  type TaskDefinition,
  UpdateServiceCommand,
  type UpdateServiceCommandInput,
} from '@aws-sdk/client-ecs';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { OLD_TD, service, taskDefinition } from '../unit/aws-fixtures.ts';

/** The push fixture's image (test/fixtures/events/ecr/push.json). */
export const PUSHED_DIGEST = 'sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd12345678';

/** The images the fake ECR has in demo-app by default: the push fixture's, and the tags manual inputs name. */
function defaultImages(): { digest: string; tags: string[] }[] {
  const digest = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
  return [
    { digest: PUSHED_DIGEST, tags: ['v2'] },
    { digest: digest(3), tags: ['v3'] },
    { digest: digest(4), tags: ['v4'] },
    { digest: digest(5), tags: ['v4-slow'] },
    { digest: digest(6), tags: ['v4-hung'] },
    { digest: digest(7), tags: ['v4-stalled'] },
  ];
}

/** How the fake ECS treats the next rollouts. */
export interface EcsBehaviour {
  /** Checks a rollout stays IN_PROGRESS before it settles. */
  checksToSettle: number;
  /** The outcome of a rollout to a new revision: COMPLETED, FAILED (circuit breaker), or ECS rolling it back itself. */
  newRollout: 'COMPLETED' | 'FAILED' | 'ECS_ROLLBACK';
  /** Make UpdateService back to the old revision fail (a rollback that cannot happen). */
  rollbackRejects: boolean;
  /** Errors thrown by the next DescribeServices calls made while a rollout is in progress, in order. */
  describeErrors: Error[];
  /** Make writing the backup object fail. */
  backupWriteFails: boolean;
  /** Make writing audit records fail (the `*Unrecorded` paths). */
  auditWriteFails: boolean;
  /** The outcome of a rollout back to the old revision (a rollback): COMPLETED, or FAILED (circuit breaker). */
  oldRollout: 'COMPLETED' | 'FAILED';
  /** Runs when a task definition is registered (e.g. to let another execution take the lock meanwhile). */
  onRegister?: (() => Promise<void>) | undefined;
  /**
   * Runs on an UpdateService with a BLUE_GREEN / CANARY / LINEAR strategy (fake-strategy.ts walks it) and returns the
   * service deployment's ARN (the answer's `currentServiceDeployment`).
   */
  onProgressive?: ((input: UpdateServiceCommandInput) => string) | undefined;
}

/**
 * A stateful stand-in for ECS and S3 behind aws-sdk-client-mock, so the state machine's handlers run unmodified
 * with their real SDK clients: revisions, deployments that settle after a few checks, an object store.
 */
export function fakeAws() {
  const ecsMock = mockClient(ECSClient);
  const s3Mock = mockClient(S3Client);
  const ecrMock = mockClient(ECRClient);
  /** The demo-app repository of the fake ECR. */
  const images = defaultImages();
  const objects = new Map<string, string>();
  const defaults = (): EcsBehaviour => ({
    checksToSettle: 1,
    newRollout: 'COMPLETED',
    rollbackRejects: false,
    describeErrors: [],
    backupWriteFails: false,
    auditWriteFails: false,
    oldRollout: 'COMPLETED',
    onRegister: undefined,
    onProgressive: undefined,
  });
  const behaviour = defaults();
  const revisions: TaskDefinition[] = [taskDefinition()];
  let deployments: Deployment[] = [];
  let checks = 0;
  let counter = 1000;

  const reset = () => {
    ecsMock.reset();
    s3Mock.reset();
    ecrMock.reset();
    images.splice(0, images.length, ...defaultImages());
    objects.clear();
    Object.assign(behaviour, defaults());
    revisions.splice(1);
    deployments = [
      {
        id: 'ecs-svc/1',
        status: 'PRIMARY',
        taskDefinition: OLD_TD,
        desiredCount: 2,
        runningCount: 2,
        rolloutState: 'COMPLETED',
      },
    ];
    checks = 0;

    ecrMock.on(DescribeImagesCommand).callsFake((i) => {
      const id = i.imageIds?.[0] ?? {};
      const found = images.find(
        (img) =>
          i.repositoryName === 'demo-app' &&
          (id.imageDigest === undefined || img.digest === id.imageDigest) &&
          (id.imageTag === undefined || img.tags.includes(id.imageTag)),
      );
      if (!found) {
        throw new ImageNotFoundException({
          message: `The image with imageId ${JSON.stringify(id)} does not exist`,
          $metadata: {},
        });
      }
      return {
        imageDetails: [
          {
            repositoryName: 'demo-app',
            imageDigest: found.digest,
            imageTags: found.tags,
            imagePushedAt: new Date('2026-11-20T10:00:00Z'),
          },
        ],
      };
    });
    s3Mock.on(PutObjectCommand).callsFake((i) => {
      if (
        (behaviour.backupWriteFails && i.Key?.startsWith('backups/')) ||
        (behaviour.auditWriteFails && i.Key?.startsWith('audit/'))
      ) {
        throw Object.assign(new Error('Access Denied'), { name: 'AccessDenied' });
      }
      objects.set(i.Key, String(i.Body));
      return {};
    });
    s3Mock.on(GetObjectCommand).callsFake((i) => {
      const body = objects.get(i.Key);
      if (body === undefined) throw new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} });
      return { Body: { transformToString: async () => body } } as never;
    });
    s3Mock.on(HeadObjectCommand).callsFake((i) => {
      if (!objects.has(i.Key)) throw Object.assign(new Error('NotFound'), { name: 'NotFound' });
      return {};
    });
    s3Mock.on(ListObjectsV2Command).callsFake((i) => ({
      Contents: [...objects.keys()]
        .filter((k) => k.startsWith(i.Prefix ?? ''))
        .sort()
        .map((Key) => ({ Key })),
      IsTruncated: false,
    }));

    ecsMock.on(DescribeTaskDefinitionCommand).callsFake((i) => ({
      taskDefinition: revisions.find((t) => t.taskDefinitionArn === i.taskDefinition),
      tags: [],
    }));
    ecsMock.on(RegisterTaskDefinitionCommand).callsFake(async (i) => {
      await behaviour.onRegister?.();
      const arn = OLD_TD.replace(/:\d+$/, `:${7 + revisions.length}`);
      revisions.push({ ...i, taskDefinitionArn: arn, revision: 7 + revisions.length });
      return { taskDefinition: { taskDefinitionArn: arn } };
    });
    ecsMock.on(UpdateServiceCommand).callsFake((i) => {
      if (i.taskDefinition === OLD_TD && behaviour.rollbackRejects) {
        throw Object.assign(new Error('User is not authorized to perform ecs:UpdateService'), {
          name: 'AccessDeniedException',
        });
      }
      for (const d of deployments) d.status = 'ACTIVE';
      deployments.unshift({
        id: `ecs-svc/${++counter}`,
        status: 'PRIMARY',
        taskDefinition: i.taskDefinition,
        desiredCount: 2,
        runningCount: 0,
        rolloutState: 'IN_PROGRESS',
      });
      checks = 0;
      const strategy = i.deploymentConfiguration?.strategy;
      const arn = strategy && strategy !== 'ROLLING' ? behaviour.onProgressive?.(i) : undefined;
      return {
        service: { ...service(structuredClone(deployments)), ...(arn ? { currentServiceDeployment: arn } : {}) },
      };
    });
    ecsMock.on(DescribeServicesCommand).callsFake(() => {
      const primary = deployments[0];
      const err = primary?.rolloutState === 'IN_PROGRESS' ? behaviour.describeErrors.shift() : undefined;
      if (err) throw err;
      if (primary?.rolloutState === 'IN_PROGRESS' && ++checks >= behaviour.checksToSettle) {
        const outcome = primary.taskDefinition === OLD_TD ? behaviour.oldRollout : behaviour.newRollout;
        if (outcome === 'COMPLETED') {
          Object.assign(primary, { rolloutState: 'COMPLETED', runningCount: 2 });
          deployments = [primary];
        } else if (outcome === 'FAILED') {
          Object.assign(primary, {
            rolloutState: 'FAILED',
            rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.',
            failedTasks: 3,
          });
        } else {
          Object.assign(primary, {
            status: 'ACTIVE',
            rolloutState: 'FAILED',
            rolloutStateReason: 'ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1',
          });
          deployments.unshift({
            id: `ecs-svc/${++counter}`,
            status: 'PRIMARY',
            taskDefinition: OLD_TD,
            desiredCount: 2,
            runningCount: 2,
            rolloutState: 'COMPLETED',
          });
        }
      }
      return { services: [service(structuredClone(deployments))] };
    });
  };
  reset();

  return {
    ecsMock,
    s3Mock,
    ecrMock,
    images,
    objects,
    behaviour,
    reset,
    /** The service runs `taskDefinition` alone, settled (a progressive deployment finished or rolled back). */
    settleTo(taskDefinition: string) {
      deployments = [
        {
          id: `ecs-svc/${++counter}`,
          status: 'PRIMARY',
          taskDefinition,
          desiredCount: 2,
          runningCount: 2,
          rolloutState: 'COMPLETED',
        },
      ];
    },
    /** The task definition the service's PRIMARY deployment runs now. */
    current: () => deployments.find((d) => d.status === 'PRIMARY')?.taskDefinition,
    updateServiceCalls: () => ecsMock.commandCalls(UpdateServiceCommand).map((c) => c.args[0].input.taskDefinition),
    registered: () => revisions.slice(1),
  };
}

/** Empties a table of the local DynamoDB between tests (locks, waiters, duplicate-push marks). */
export async function clearTable(endpoint: string, table: string): Promise<void> {
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  try {
    const { Items = [] } = await client.send(new ScanCommand({ TableName: table }));
    for (const item of Items) {
      await client.send(
        new DeleteItemCommand({ TableName: table, Key: { pk: item.pk ?? { S: '' }, sk: item.sk ?? { S: '' } } }),
      );
    }
  } finally {
    client.destroy();
  }
}
