import { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ECRClient } from '@aws-sdk/client-ecr';
import { ECSClient } from '@aws-sdk/client-ecs';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';

/**
 * The SDK clients, built once per Lambda container with default config, so that `AWS_ENDPOINT_URL_ECS` and
 * `AWS_ENDPOINT_URL_S3` point them at the local cloud and nothing else differs between local and AWS.
 */
export const ecs = new ECSClient({});

/** Services on the CODE_DEPLOY controller (`AWS_ENDPOINT_URL_CODEDEPLOY` points it at the local cloud). */
export const codeDeploy = new CodeDeployClient({});

/**
 * Checksums only when an operation requires them: S3-compatible servers such as s3rver otherwise store streamed
 * uploads with their aws-chunked framing. Real S3 accepts both.
 */
export const s3 = new S3Client({
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
  forcePathStyle: process.env.AWS_ENDPOINT_URL_S3 !== undefined,
});

/** The deploy lock table (`AWS_ENDPOINT_URL_DYNAMODB` points it at the local cloud's DynamoDB). */
export const ddb = new DynamoDBClient({});

/** Rollback events (`AWS_ENDPOINT_URL_EVENTBRIDGE` points it at the local cloud's EventBridge). */
export const eventBridge = new EventBridgeClient({});

/** The missed-push check: what was pushed (`AWS_ENDPOINT_URL_ECR`), and starting executions. */
export const ecr = new ECRClient({});
export const sfn = new SFNClient({});
