import { CODEDEPLOY_GATE_EVENTS } from '../config/codedeploy.ts';
import type { CodeDeployHooks } from '../core/codedeploy.ts';
import { codeDeployHookEnv } from '../core/naming.ts';
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

/**
 * The hook Lambdas Deploy names in a CodeDeploy deployment's AppSpec, one per gate event (serverless.yml's
 * codeDeployAfterAllowTestTraffic, ...). Read on first use, so that a setup without CodeDeploy targets needs none.
 */
export function codeDeployHooksFromEnv(env: NodeJS.ProcessEnv = process.env): CodeDeployHooks {
  return Object.fromEntries(
    CODEDEPLOY_GATE_EVENTS.map((event) => [event, getRequiredEnv(codeDeployHookEnv(event), env)]),
  ) as CodeDeployHooks;
}
