import middy from '@middy/core';
import { findMissedPush, type MissedPushResult, startMissedPush } from '../core/missed-push.ts';
import { ddb, ecr, sfn } from '../runtime/clients.ts';
import { configFromEnv } from '../runtime/config.ts';
import { getRequiredEnv } from '../runtime/env.ts';

const config = configFromEnv();
const table = getRequiredEnv('LOCK_TABLE');
const stateMachineArn = getRequiredEnv('STATE_MACHINE_ARN');

/** What the scheduled check found for each target with `missedPushCheck`, and the executions it started. */
export interface CheckResult {
  readonly targets: {
    readonly target: string;
    readonly status: MissedPushResult['status'];
    readonly reason: string;
    readonly executionArn?: string;
  }[];
}

/** Scheduled (EventBridge rate rule, enabled when a target has `missedPushCheck: true`). */
export const handler = middy<unknown, CheckResult>().handler(async () => {
  const targets: CheckResult['targets'][number][] = [];
  for (const target of config.targets.filter((t) => t.missedPushCheck)) {
    const found = await findMissedPush({ ecr, ddb, table, target });
    if (found.status === 'START') {
      const started = await startMissedPush({ sfn, stateMachineArn, found });
      targets.push({
        target: target.name,
        status: found.status,
        reason: found.reason,
        executionArn: started.executionArn,
      });
    } else {
      targets.push({ target: target.name, status: found.status, reason: found.reason });
    }
  }
  return { targets };
});
