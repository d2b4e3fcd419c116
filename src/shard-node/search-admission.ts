/**
 * Admission of search work on a shard node: at most `limit` SearchShards calls search at once;
 * later ones wait in FIFO order, and one whose call is cancelled (or whose deadline passes) while
 * waiting leaves the queue without running. Bounds the memory of concurrent answers (each at most
 * `--max-response-bytes`) and the CPU share of searches; Status, Refresh and health are served
 * outside it, so they are never queued behind searches.
 */

/** Default SearchShards calls that search at once on one node. */
export const DEFAULT_SEARCH_CALLS = 4;

interface Waiter {
  start: () => void;
  signal?: AbortSignal;
}

/** A FIFO semaphore of search calls. */
export class SearchAdmission {
  private running = 0;
  private readonly waiting: Waiter[] = [];

  /** @throws RangeError when `limit` is not an integer >= 1. */
  constructor(readonly limit: number = DEFAULT_SEARCH_CALLS) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`search admission limit must be an integer >= 1, got ${limit}`);
  }

  /** Calls searching now. */
  get active(): number {
    return this.running;
  }

  /** Calls waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Runs `work` once a slot is free.
   * @param signal when it aborts before `work` starts, the call leaves the queue and rejects with
   *   the signal's reason (`work` never runs).
   * @returns what `work` returns; rejects with what it throws.
   */
  async run<T>(signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
    signal?.throwIfAborted();
    if (this.running >= this.limit) await this.wait(signal);
    else this.running += 1;
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  /** Waits for a slot handed over by release() (the slot is then already counted). */
  private wait(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        signal,
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.waiting.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next.start(); // the slot passes on
    else this.running -= 1;
  }
}
