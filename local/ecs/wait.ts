/** Polls `done` every 50 ms: resolves when it returns true, rejects when it throws or after `timeoutMs`. */
export async function pollUntil(done: () => boolean, timeoutMs: number, timedOut: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(timedOut());
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
