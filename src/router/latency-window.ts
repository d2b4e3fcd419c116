/**
 * A small rolling window of recent latencies (ms) with quantiles, one per shard node; used to
 * pick a node's hedge delay (its observed p95).
 */

/** The last `size` latency samples of one node, in ms. */
export class LatencyWindow {
  private readonly samples: number[] = [];
  private next = 0;

  /** @param size how many recent samples to keep (>= 1). */
  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`latency window size must be an integer >= 1, got ${size}`);
  }

  /** Number of samples held (<= size). */
  get count(): number {
    return this.samples.length;
  }

  /** Adds a sample, replacing the oldest once the window is full. @param ms latency in ms. */
  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    if (this.samples.length < this.size) this.samples.push(ms);
    else this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.size;
  }

  /**
   * The `q` quantile (0..1, nearest-rank) of the held samples in ms, or undefined when empty.
   */
  quantile(q: number): number | undefined {
    if (this.samples.length === 0) return undefined;
    const sorted = [...this.samples].sort((a, b) => a - b);
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
    return sorted[rank];
  }
}
