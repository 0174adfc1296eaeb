/**
 * A production client for the local cloud: a GET every 10 ms (one at a time, as a steady user would send them) to a
 * service's production URL until stopped, recording who answered each request and when. The demo prints what it saw;
 * the tests assert on it (no request served by a version that failed its gates, none failed, a canary's share).
 */

/** One request the client sent: when (performance.now()), which version answered (`?` when none), its status. */
export interface Answer {
  readonly at: number;
  readonly version: string;
  /** The HTTP status, 0 when no answer came (refused, reset, timed out). */
  readonly status: number;
  /** Why no answer came. */
  readonly error?: string;
}

/** What the client saw, summed up. */
export interface Traffic {
  readonly total: number;
  /** Requests answered with anything but 200, or not answered. */
  readonly failed: number;
  /** Requests answered (whatever the status: a failing version answers too), by version. */
  readonly byVersion: Readonly<Record<string, number>>;
}

export interface ProductionClient {
  /** Every request so far, in the order sent. */
  readonly answers: readonly Answer[];
  /** What each failed request got: `HTTP 503`, or the error. */
  readonly failures: readonly string[];
  /** The versions that answered 200. */
  readonly versions: ReadonlySet<string>;
  total(): number;
  /** Ends the loop after its request in flight; safe to call twice. */
  stop(): Promise<Traffic>;
}

/** The answering version: the demo app's `x-app-version` header, else the body's first line. */
function versionOf(res: Response, body: string): string {
  return res.headers.get('x-app-version') ?? (body.split('\n')[0]?.trim().slice(0, 60) || '?');
}

export function startProductionClient(
  url: string | (() => string),
  options: { readonly intervalMs?: number; readonly timeoutMs?: number } = {},
): ProductionClient {
  const { intervalMs = 10, timeoutMs = 2000 } = options;
  const answers: Answer[] = [];
  const failures: string[] = [];
  const versions = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const at = performance.now();
      try {
        const res = await fetch(typeof url === 'string' ? url : url(), { signal: AbortSignal.timeout(timeoutMs) });
        const body = await res.text();
        const version = versionOf(res, body);
        answers.push({ at, version, status: res.status });
        if (res.status === 200) versions.add(version);
        else failures.push(`HTTP ${res.status}`);
      } catch (error) {
        const message = (error as Error).message;
        answers.push({ at, version: '?', status: 0, error: message });
        failures.push(message);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, intervalMs - (performance.now() - at))));
    }
  })();
  return {
    answers,
    failures,
    versions,
    total: () => answers.length,
    async stop() {
      running = false;
      await loop;
      const byVersion: Record<string, number> = {};
      for (const a of answers) if (a.status > 0) byVersion[a.version] = (byVersion[a.version] ?? 0) + 1;
      return { total: answers.length, failed: failures.length, byVersion };
    },
  };
}
