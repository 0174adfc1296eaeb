import { z } from 'zod';
import { checkMissedPushes, type MissedPushResult, startMissedPush } from '../core/missed-push.ts';
import { ddb, ecr, sfn } from '../runtime/clients.ts';
import { configFromEnv } from '../runtime/config.ts';
import { getRequiredEnv } from '../runtime/env.ts';
import { lambda } from '../runtime/handler.ts';

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

/**
 * Scheduled (EventBridge rate rule, enabled when a target has `missedPushCheck: true`). The scheduled event carries
 * nothing this reads (what to check is in the config), so any payload is accepted; no execution runs it.
 */
export const handler = lambda(
  { name: 'CheckMissedPushes', schema: z.unknown(), logKeys: () => ({}) },
  async (): Promise<CheckResult> => {
    const checked = await checkMissedPushes({
      ecr,
      ddb,
      table,
      targets: config.targets,
      start: (found) => startMissedPush({ sfn, stateMachineArn, found }),
    });
    return {
      targets: checked.map(({ started, ...check }) => ({
        ...check,
        ...(started === undefined ? {} : { executionArn: started.executionArn }),
      })),
    };
  },
);
