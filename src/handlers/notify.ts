import { notifyInputSchema, publishRollbackEvent } from '../core/notify.ts';
import { eventBridge } from '../runtime/clients.ts';
import { lambda } from '../runtime/handler.ts';

/** `EVENT_BUS_NAME` (name or ARN), read once at cold start; optional: the account's default bus otherwise. */
const busName = process.env.EVENT_BUS_NAME?.trim() || 'default';

/** Notify: publishes the rollback event for a DeploymentRolledBack or RollbackFailed end (see NotifyInput). */
export const handler = lambda({ name: 'Notify', schema: notifyInputSchema }, (input) =>
  publishRollbackEvent({ ...input, eventBridge, busName }),
);
