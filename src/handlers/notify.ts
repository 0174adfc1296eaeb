import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import middy from '@middy/core';
import { type NotifyInput, type PublishedEvent, publishRollbackEvent } from '../core/notify.ts';

/**
 * Built once per container with default config, so `AWS_ENDPOINT_URL_EVENTBRIDGE` points it at the local endpoint.
 * TODO(lead): move next to `ecs` and `s3` in src/runtime/clients.ts.
 */
const eventBridge = new EventBridgeClient({});

/** `EVENT_BUS_NAME` (name or ARN), read once at cold start; optional: the account's default bus otherwise. */
const busName = process.env.EVENT_BUS_NAME?.trim() || 'default';

export type { NotifyInput } from '../core/notify.ts';

/** Notify: publishes the rollback event for a DeploymentRolledBack or RollbackFailed end (see NotifyInput). */
export const handler = middy<NotifyInput, PublishedEvent>().handler(async (input) =>
  publishRollbackEvent({ ...input, eventBridge, busName }),
);
