import type { CodeDeployGateEvent } from '../config/codedeploy.ts';
import { codeDeployHookEventSchema, onCodeDeployHook } from '../core/codedeploy-hook.ts';
import { codeDeploy, s3, sfn } from '../runtime/clients.ts';
import { getRequiredEnv } from '../runtime/env.ts';
import { lambda } from '../runtime/handler.ts';

const bucket = getRequiredEnv('ARTIFACTS_BUCKET');

/**
 * The CodeDeploy lifecycle hook of one gate event: CodeDeploy invokes it with `{ DeploymentId,
 * LifecycleEventHookExecutionId }` and nothing says which event, so each event has its own function (serverless.yml
 * codeDeployAfterAllowTestTraffic, codeDeployBeforeAllowTraffic, codeDeployAfterAllowTraffic) and export here.
 * It records the hook, wakes the execution parked in AwaitGate, and returns (src/core/codedeploy-hook.ts); the
 * verdict is reported by JudgeGate or Rollback.
 */
function hook(lifecycleEvent: CodeDeployGateEvent) {
  return lambda(
    {
      name: `CodeDeploy${lifecycleEvent}`,
      schema: codeDeployHookEventSchema,
      logKeys: () => ({ stateName: `CodeDeploy${lifecycleEvent}` }),
    },
    (event) => onCodeDeployHook({ s3, bucket, sfn, codeDeploy, event, lifecycleEvent }),
  );
}

export const afterAllowTestTraffic = hook('AfterAllowTestTraffic');
export const beforeAllowTraffic = hook('BeforeAllowTraffic');
export const afterAllowTraffic = hook('AfterAllowTraffic');
