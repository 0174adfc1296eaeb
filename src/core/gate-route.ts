import { z } from 'zod';
import type { TestRoute } from '../config/progressive.ts';

/** Where a gate's probes and load test go: another origin (the test listener) and/or extra request headers. */
export const gateRouteSchema = z.object({
  /** `scheme://host:port` replacing that of `health.url` and `load.url` (their paths are kept). */
  origin: z.string().min(1).exactOptional(),
  headers: z.record(z.string(), z.string()).exactOptional(),
});
export type GateRoute = Readonly<z.output<typeof gateRouteSchema>>;

/**
 * The route of a gate: the test gate goes to the test listener (with the header, if any) or, without one, to the
 * production URL with the header; a production step below 100% goes where the header leads, if the target has one,
 * else to production; at 100% everything is production.
 */
export function routeOf(
  gate: { readonly stage: 'test' | 'production'; readonly percent: number },
  testRoute: TestRoute | undefined,
): GateRoute {
  const headers = testRoute?.header ? { headers: { [testRoute.header.name]: testRoute.header.value } } : {};
  if (gate.stage === 'test')
    return { ...(testRoute?.url ? { origin: testRoute.url.replace(/\/$/, '') } : {}), ...headers };
  return gate.percent < 100 ? headers : {};
}

/** A URL sent along a gate's route: the route's origin, the URL's path and query. */
export function routedUrl(url: string, route: GateRoute | undefined): string {
  if (!route?.origin) return url;
  const u = new URL(url);
  return `${route.origin}${u.pathname}${u.search}`;
}
