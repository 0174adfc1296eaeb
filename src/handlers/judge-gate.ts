import { z } from 'zod';
import { gateSchema, judgeGate } from '../core/gates.ts';
import { codeDeploy, s3 } from '../runtime/clients.ts';
import { getRequiredEnv } from '../runtime/env.ts';
import { lambda } from '../runtime/handler.ts';

const bucket = getRequiredEnv('ARTIFACTS_BUCKET');

const judgeGateInput = z.object({ executionName: z.string().min(1), gate: gateSchema });

/**
 * The gate's probes and load test passed: its PASS verdict, which the hook gives ECS (SUCCEEDED); a CodeDeploy hook's
 * gate is reported Succeeded (PutLifecycleEventHookExecutionStatus).
 */
export const handler = lambda({ name: 'JudgeGate', schema: judgeGateInput }, ({ executionName, gate }) =>
  judgeGate({ s3, bucket, executionName, gate, codeDeploy }),
);
