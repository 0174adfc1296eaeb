import { z } from 'zod';
import type { HealthSpec } from '../config/schema.ts';
import { HealthCheckFailedError, messageOf } from './errors.ts';

/** ProbeHealth's output (`$.health` / `$.rollbackHealth`). */
export const probeResultSchema = z.object({
  status: z.literal('HEALTHY'),
  url: z.string().min(1),
  attempts: z.number().int().min(0),
  consecutiveSuccesses: z.number().int().min(0),
  elapsedMs: z.number().min(0),
});
export type ProbeResult = Readonly<z.output<typeof probeResultSchema>>;

export interface ProbeParams {
  readonly health: HealthSpec;
  /** When set with `health.versionHeader`, a success also needs that header to equal this (the image tag). */
  readonly expectVersion?: string | undefined;
  /** Extra request headers (a gate's header route). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Probes the health URL until `consecutiveSuccesses` answers in a row are as expected, or throws
 * HealthCheckFailedError at the deadline with the last failure. Each request has its own timeout.
 */
export async function probeHealth(params: ProbeParams): Promise<ProbeResult> {
  const { health, expectVersion } = params;
  const doFetch = params.fetch ?? fetch;
  const sleep = params.sleep ?? delay;
  const now = params.now ?? Date.now;
  const start = now();
  const deadline = start + health.deadlineSeconds * 1000;
  let attempts = 0;
  let streak = 0;
  let lastFailure = 'no probe finished';
  const failures = new Map<string, number>();
  for (;;) {
    attempts++;
    const failure = await probeOnce(doFetch, health, expectVersion, params.headers);
    if (failure === undefined) {
      streak++;
      if (streak >= health.consecutiveSuccesses) {
        return { status: 'HEALTHY', url: health.url, attempts, consecutiveSuccesses: streak, elapsedMs: now() - start };
      }
    } else {
      streak = 0;
      lastFailure = failure;
      failures.set(failure, (failures.get(failure) ?? 0) + 1);
    }
    if (now() + health.intervalSeconds * 1000 > deadline) break;
    await sleep(health.intervalSeconds * 1000);
  }
  const seen = [...failures].map(([what, n]) => `${n}x ${what}`).join('; ');
  throw new HealthCheckFailedError(
    `${health.url} was not healthy within ${health.deadlineSeconds} s: ${streak}/${health.consecutiveSuccesses} consecutive successes after ${attempts} probes; last failure: ${lastFailure}${seen ? ` (seen: ${seen})` : ''}`,
  );
}

/** One probe: undefined when it passed, else what was wrong. */
async function probeOnce(
  doFetch: typeof fetch,
  health: HealthSpec,
  expectVersion?: string,
  headers: Readonly<Record<string, string>> = {},
): Promise<string | undefined> {
  try {
    const res = await doFetch(health.url, {
      signal: AbortSignal.timeout(health.timeoutMs),
      headers: { ...headers, 'user-agent': 'rollgate-health-probe' },
    });
    await res.arrayBuffer().catch(() => undefined);
    if (res.status !== health.expectStatus) return `HTTP ${res.status} (expected ${health.expectStatus})`;
    if (health.versionHeader && expectVersion !== undefined) {
      const served = res.headers.get(health.versionHeader);
      if (served !== expectVersion) {
        return `${health.versionHeader} is ${served === null ? 'missing' : `"${served}"`} (expected "${expectVersion}")`;
      }
    }
    return undefined;
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    if (e.name === 'TimeoutError') return `timed out after ${health.timeoutMs} ms`;
    // fetch wraps network errors: "fetch failed" with the useful part (ECONNREFUSED, ...) in its cause
    return e.cause?.code ?? (e.cause?.message ? `${e.message}: ${e.cause.message}` : messageOf(err));
  }
}
