import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy, { type MiddlewareObj, type MiddyfiedHandler } from '@middy/core';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { formatIssues } from '../config/load.ts';
import { InvalidPayloadError } from '../core/errors.ts';

/**
 * The one logger of every rollgate Lambda: Powertools, structured JSON on stdout (CloudWatch Logs), one line per
 * call, each with the Lambda context (function name, request id, cold start) and, for the duration of an invocation,
 * `executionName` and `stateName`, so that Logs Insights follows one deploy across functions:
 * `filter executionName = "..." | sort @timestamp`.
 *
 * Level: `POWERTOOLS_LOG_LEVEL` (default INFO; Lambda's own log level control, `AWS_LAMBDA_LOG_LEVEL`, wins when set).
 * The local cloud sets it to SILENT, so the handlers it runs in the CLI's process keep stdout and stderr for the
 * CLI's own output.
 */
export const logger = new Logger({ serviceName: 'rollgate' });

/**
 * What every Task state passes to its Lambda beside the payload, so that every log line names the execution and
 * the state (`$$.State.Name` is not in the local runner's context object, so the state name is a literal):
 * `"log": {"execution.$": "$$.Execution.Name", "state": "Backup"}`.
 */
export const logContextSchema = z.object({ execution: z.string().min(1), state: z.string().min(1) }).strict();

/** The keys added to every log line of one invocation. */
export interface LogKeys {
  readonly executionName?: string;
  readonly stateName?: string;
}

export interface HandlerOptions<S extends z.ZodType> {
  /** The function's name in messages (`Backup`, `CheckRollout`). */
  readonly name: string;
  /** The payload schema; the handler receives its output, so its input type is inferred from it. */
  readonly schema: S;
  /**
   * For a Lambda that no Task state invokes (an EventBridge rule's target): its log keys, read from the parsed
   * event. Without it the event must carry the Task's `log` object ({@link logContextSchema}).
   */
  readonly logKeys?: (input: z.output<S>) => LogKeys;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses the event with the schema (and takes the `log` object off it); throws InvalidPayloadError naming each field. */
function parsePayload<S extends z.ZodType>(options: HandlerOptions<S>): MiddlewareObj<unknown> {
  const invalid = (issues: readonly z.core.$ZodIssue[], input: unknown) =>
    new InvalidPayloadError(`${options.name}: the payload does not match its schema:\n${formatIssues(issues, input)}`);
  return {
    before: (request) => {
      let payload = request.event;
      if (!options.logKeys) {
        const { log, ...rest } = isRecord(payload) ? payload : {};
        const parsedLog = logContextSchema.safeParse(log);
        if (!parsedLog.success) throw invalid(parsedLog.error.issues.map(underLog), { log });
        logger.appendKeys({ executionName: parsedLog.data.execution, stateName: parsedLog.data.state });
        payload = rest;
      }
      const parsed = options.schema.safeParse(payload);
      if (!parsed.success) throw invalid(parsed.error.issues, payload);
      if (options.logKeys) logger.appendKeys({ ...options.logKeys(parsed.data) });
      request.event = parsed.data;
    },
  };
}

function underLog(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  return { ...issue, path: ['log', ...issue.path] };
}

/** One line when the invocation ends: its duration, or the error (name, message, stack) it failed with. */
function logOutcome(): MiddlewareObj<unknown> {
  // by request: the local runner calls one handler for several Map iterations at once
  const started = new WeakMap<object, number>();
  const durationMs = (request: object) => Math.round(performance.now() - (started.get(request) ?? performance.now()));
  return {
    before: (request) => {
      started.set(request, performance.now());
    },
    after: (request) => {
      logger.info('succeeded', { durationMs: durationMs(request) });
    },
    onError: (request) => {
      logger.error('failed', { durationMs: durationMs(request), error: request.error });
    },
  };
}

/**
 * The middy stack of every rollgate Lambda: Powertools Logger with the Lambda context and the execution and state
 * names on every line, the payload parsed with the handler's schema, one line for the outcome. The handler gets the
 * parsed payload and returns plain data for the next state:
 *
 * ```ts
 * const backupInput = z.object({ cluster: z.string(), ... });
 * export const handler = lambda({ name: 'Backup', schema: backupInput }, (input) => backup({ ecs, s3, ...input }));
 * ```
 */
export function lambda<S extends z.ZodType, R>(
  options: HandlerOptions<S>,
  fn: (input: z.output<S>, context: Context) => Promise<R> | R,
): RollgateHandler<S, R> {
  const handler = middy<unknown, R>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logOutcome())
    .use(parsePayload(options))
    // parsePayload replaced the event with the schema's output
    .handler(async (event, context) => fn(event as z.output<S>, context));
  return Object.assign(handler, { schema: options.schema, taskPayload: !options.logKeys });
}

/** A handler built by {@link lambda}: its payload schema is there for the contract test to check the ASL against. */
export type RollgateHandler<S extends z.ZodType, R> = MiddyfiedHandler<unknown, R> & {
  readonly schema: S;
  /** True when a Task state invokes it: the event carries the `log` object beside the payload. */
  readonly taskPayload: boolean;
};
