import type { GateHook } from '../core/service-deployments.ts';
import { getRequiredEnv } from './env.ts';

/**
 * The lifecycle hook Deploy puts on a progressive deployment: GATE_HOOK_FUNCTION_ARN (the GateHook Lambda) and
 * ECS_HOOK_ROLE_ARN (the role ECS invokes it with). Read on first use, so that a rolling-only setup needs neither.
 */
export function gateHookFromEnv(env: NodeJS.ProcessEnv = process.env): GateHook {
  return {
    functionArn: getRequiredEnv('GATE_HOOK_FUNCTION_ARN', env),
    roleArn: getRequiredEnv('ECS_HOOK_ROLE_ARN', env),
  };
}
