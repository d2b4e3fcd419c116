/**
 * Retrying the initial snapshot load of a reader (router or shard node): try once now, then every
 * `intervalMs` until an attempt succeeds or the loop is stopped.
 */

/** A running load loop. */
export interface LoadLoop {
  /** Resolves when the first attempt has finished (whether it succeeded or not). */
  firstAttempt: Promise<void>;
  /** Cancels further attempts. */
  stop(): void;
}

/**
 * Starts the loop. `attempt` resolves true on success and false on a failure it has already
 * logged; it must not throw.
 */
export function startLoadLoop(attempt: () => Promise<boolean>, intervalMs: number): LoadLoop {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const retry = async (): Promise<void> => {
    if (stopped) return;
    if (!(await attempt()) && !stopped) timer = setTimeout(retry, intervalMs);
  };
  const firstAttempt = (async () => {
    if (!(await attempt()) && !stopped) timer = setTimeout(retry, intervalMs);
  })();
  return {
    firstAttempt,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
