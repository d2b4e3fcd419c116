/**
 * Coalescing of a re-read (a poll of an object, a listing) so that the run answering each call
 * started after the call: a caller that has just written something and asks for a re-read
 * (Refresh right after `alias set`, or right after a publish) never gets the answer of a run that
 * began before its write. A call while a run is in flight waits for it and then starts one more;
 * every call arriving meanwhile shares that one, so at most one run is in flight and one waits.
 */
export class FreshRun<T> {
  private running: Promise<T> | undefined;
  private queued: Promise<T> | undefined;

  /** @param operation the re-read; its promise settles once per run. */
  constructor(private readonly operation: () => Promise<T>) {}

  /**
   * The result of a run of the operation that started at or after this call (rejects when that
   * run rejects).
   */
  run(): Promise<T> {
    const running = this.running;
    if (running === undefined) return this.start();
    const next = (): Promise<T> => {
      this.queued = undefined;
      // A run started after `running` ended also started after every call queued here.
      return this.running ?? this.start();
    };
    this.queued ??= running.then(next, next);
    return this.queued;
  }

  private start(): Promise<T> {
    const p = this.operation().finally(() => {
      if (this.running === p) this.running = undefined;
    });
    this.running = p;
    return p;
  }
}
