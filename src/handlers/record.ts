import { z } from 'zod';
import { targetSchema } from '../config/schema.ts';
import { backupResultSchema } from '../core/backup.ts';
import { lockStateSchema } from '../core/lock.ts';
import { executionInfoSchema, jobImageSchema, triggerSchema } from '../core/normalize.ts';
import { probeResultSchema } from '../core/probe-health.ts';
import { record } from '../core/record.ts';
import { registerResultSchema } from '../core/register.ts';
import { ddb, s3 } from '../runtime/clients.ts';
import { getRequiredEnv } from '../runtime/env.ts';
import { lambda } from '../runtime/handler.ts';

const bucket = getRequiredEnv('ARTIFACTS_BUCKET');
const table = getRequiredEnv('LOCK_TABLE');

/** A Catch's error output (`$.failure`, `$.rollbackFailure`), or a Pass state's made-up one (ASL_ERRORS). */
const caughtErrorSchema = z.object({ Error: z.string().min(1), Cause: z.string().exactOptional() });

/**
 * The parts of the execution state (`$`) the audit record is built from, each there when the execution got that far;
 * the rest of `$` is dropped. Only `execution` is always there (the Start Pass state writes it).
 */
const executionStateSchema = z.object({
  execution: executionInfoSchema,
  /** On a Normalize failure the raw input is all there is. */
  input: z.unknown().exactOptional(),
  reason: z.string().exactOptional(),
  trigger: triggerSchema.exactOptional(),
  image: jobImageSchema.exactOptional(),
  target: targetSchema.exactOptional(),
  /** AcquireLock's last answer (why an execution was superseded, rejected or a duplicate). */
  lock: lockStateSchema.exactOptional(),
  /** Inspect's answer (why an execution found its image already deployed). */
  current: z.object({ reason: z.string() }).exactOptional(),
  backup: backupResultSchema.exactOptional(),
  release: registerResultSchema.exactOptional(),
  health: probeResultSchema.exactOptional(),
  /** AggregateLoad's outcome; if it failed, the raw worker results (an array) are there instead: nothing to read. */
  load: z
    .union([
      z.object({
        reportKey: z.string().exactOptional(),
        htmlKey: z.string().exactOptional(),
        passed: z.boolean().exactOptional(),
        reason: z.string().exactOptional(),
        judge: z
          .object({
            verdict: z.enum(['Pass', 'Marginal', 'Fail', 'NoData', 'Skipped']),
            comparison: z.enum(['paired', 'across-time', 'none']),
            score: z.number().nullable(),
            reason: z.string(),
          })
          .exactOptional(),
      }),
      z.array(z.unknown()).transform(() => ({})),
    ])
    .exactOptional(),
  failure: caughtErrorSchema.exactOptional(),
  rollbackFailure: caughtErrorSchema.exactOptional(),
});

/** Each Record* state passes its terminal path and the whole execution state. */
const recordInput = z.object({
  path: z.enum(['DEPLOYED', 'ALREADY_DEPLOYED', 'IGNORED', 'ROLLED_BACK', 'ROLLBACK_FAILED', 'FAILED']),
  state: executionStateSchema,
  /** `$$.Execution.RedriveCount`: 0, or how many times the execution was redriven. */
  redriveCount: z.number().int().min(0).exactOptional(),
});

export const handler = lambda({ name: 'Record', schema: recordInput }, ({ path, state, redriveCount }) =>
  record({ s3, bucket, path, state, lock: { ddb, table }, ...(redriveCount ? { redriveCount } : {}) }),
);
