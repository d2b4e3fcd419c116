/**
 * A small rolling window of recent latencies (ms) with quantiles, one per shard node; used to
 * pick a node's hedge delay (its observed p95).
 *
 * The samples are kept twice: in arrival order (a ring, to know which sample rolls out) and
 * sorted (updated by binary search and one block move per sample), so recording costs O(size)
 * and a quantile, read on every node call, costs O(1) instead of a sort of the window.
 */

/** The last `size` latency samples of one node, in ms. */
export class LatencyWindow {
  /** Samples in arrival order; slot `next` is the oldest once the window is full. */
  private readonly ring: Float64Array;
  /** The same samples, ascending, in `sorted[0..length)`. */
  private readonly sorted: Float64Array;
  private length = 0;
  private next = 0;

  /**
   * @param size how many recent samples to keep (>= 1).
   * @throws RangeError when `size` is not an integer >= 1.
   */
  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`latency window size must be an integer >= 1, got ${size}`);
    this.ring = new Float64Array(size);
    this.sorted = new Float64Array(size);
  }

  /** Number of samples held (<= size). */
  get count(): number {
    return this.length;
  }

  /**
   * Adds a sample, replacing the oldest once the window is full. Non-finite or negative values
   * are ignored. @param ms latency in ms.
   */
  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const s = this.sorted;
    if (this.length === this.size) {
      // Remove the oldest sample from the sorted copy (any equal value will do).
      const i = this.lowerBound(this.ring[this.next]);
      s.copyWithin(i, i + 1, this.length);
      this.length -= 1;
    }
    const j = this.lowerBound(ms);
    s.copyWithin(j + 1, j, this.length);
    s[j] = ms;
    this.length += 1;
    this.ring[this.next] = ms;
    this.next = (this.next + 1) % this.size;
  }

  /**
   * The `q` quantile (0..1, nearest-rank: the ceil(q * count)-th smallest sample) of the held
   * samples in ms, or undefined when empty. O(1).
   */
  quantile(q: number): number | undefined {
    if (this.length === 0) return undefined;
    const rank = Math.min(this.length - 1, Math.max(0, Math.ceil(q * this.length) - 1));
    return this.sorted[rank];
  }

  /** First index in the sorted samples whose value is >= `v`. */
  private lowerBound(v: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sorted[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
