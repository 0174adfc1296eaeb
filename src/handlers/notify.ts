import middy from '@middy/core';
import { type NotifyInput, type PublishedEvent, publishRollbackEvent } from '../core/notify.ts';
import { eventBridge } from '../runtime/clients.ts';

/** `EVENT_BUS_NAME` (name or ARN), read once at cold start; optional: the account's default bus otherwise. */
const busName = process.env.EVENT_BUS_NAME?.trim() || 'default';

export type { NotifyInput } from '../core/notify.ts';

/** Notify: publishes the rollback event for a DeploymentRolledBack or RollbackFailed end (see NotifyInput). */
export const handler = middy<NotifyInput, PublishedEvent>().handler(async (input) =>
  publishRollbackEvent({ ...input, eventBridge, busName }),
);
