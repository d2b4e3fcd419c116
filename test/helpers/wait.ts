/**
 * Polling for a condition in tests. Timeouts are safety bounds, never performance assertions.
 */

/** Options of {@link waitFor}. */
export interface WaitOptions {
  /** Give up after this long, ms (default 60,000). */
  timeoutMs?: number;
  /** Poll period, ms (default 50). */
  intervalMs?: number;
  /**
   * Treat a throwing check as "not yet" (e.g. a server that is still starting) and report the
   * last error on timeout; default false: an error fails at once.
   */
  retryOnError?: boolean;
}

/**
 * Polls `check` until it returns true.
 * @throws Error naming `what` (and the last error, with `retryOnError`) after the timeout.
 */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, options: WaitOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      if (!options.retryOnError) throw err;
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError === undefined ? '' : ` (last error: ${String(lastError)})`}`);
}
