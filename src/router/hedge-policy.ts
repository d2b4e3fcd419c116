/**
 * When to hedge a node call: if a node has not answered after its hedge delay, the fan-out sends
 * the same shards to their next ready replica and takes whichever answers first. The delay is a
 * fixed value, or (default) the node's observed p95 latency over a small rolling window, clamped
 * to [minDelayMs, maxDelayMs]; with too few samples it is maxDelayMs.
 */
import { LatencyWindow } from './latency-window.ts';

/** Hedging settings. */
export interface HedgeOptions {
  /** Hedge at all (default true). */
  enabled: boolean;
  /** Fixed hedge delay, ms; undefined = adaptive (the node's p95). */
  fixedDelayMs?: number;
  /** Floor of the adaptive delay, ms. */
  minDelayMs: number;
  /** Ceiling of the adaptive delay (and the delay before enough samples), ms. */
  maxDelayMs: number;
  /** Latency samples kept per node. */
  windowSize: number;
  /** Samples needed before the p95 is used. */
  minSamples: number;
}

/** Defaults: adaptive p95 within [10 ms, 500 ms], 100 samples per node, p95 used from 10 samples. */
export const DEFAULT_HEDGE: HedgeOptions = { enabled: true, minDelayMs: 10, maxDelayMs: 500, windowSize: 100, minSamples: 10 };

/** Per-node latency windows and the hedge delay they imply. */
export class HedgePolicy {
  private readonly windows = new Map<string, LatencyWindow>();

  /** @throws RangeError when min > max or a delay is negative. */
  constructor(readonly options: HedgeOptions = DEFAULT_HEDGE) {
    if (!(options.minDelayMs >= 0) || !(options.maxDelayMs >= options.minDelayMs)) {
      throw new RangeError(`hedge delays must satisfy 0 <= min (${options.minDelayMs} ms) <= max (${options.maxDelayMs} ms)`);
    }
    if (options.fixedDelayMs !== undefined && !(options.fixedDelayMs >= 0)) {
      throw new RangeError(`fixed hedge delay must be >= 0 ms, got ${options.fixedDelayMs}`);
    }
  }

  /** Records a successful call's latency to `nodeId`, ms. */
  record(nodeId: string, ms: number): void {
    let w = this.windows.get(nodeId);
    if (!w) {
      w = new LatencyWindow(this.options.windowSize);
      this.windows.set(nodeId, w);
    }
    w.record(ms);
  }

  /** The node's observed p95 latency, ms (undefined without samples). */
  p95(nodeId: string): number | undefined {
    return this.windows.get(nodeId)?.quantile(0.95);
  }

  /** How long to wait for `nodeId` before hedging, ms; undefined = never hedge. */
  delayMs(nodeId: string): number | undefined {
    const o = this.options;
    if (!o.enabled) return undefined;
    if (o.fixedDelayMs !== undefined) return o.fixedDelayMs;
    return this.slowCallMs(nodeId);
  }

  /**
   * How long a call to `nodeId` runs before it is slow for this node, ms: its p95 latency clamped
   * to [minDelayMs, maxDelayMs], or maxDelayMs before minSamples calls were seen. The adaptive
   * hedge delay. (It no longer decides whether a timeout is the node's failure: that is whose
   * deadline ended the call, see isNodeFailure in outlier-ejection.ts.)
   */
  slowCallMs(nodeId: string): number {
    const o = this.options;
    const w = this.windows.get(nodeId);
    if (!w || w.count < o.minSamples) return o.maxDelayMs;
    return Math.min(o.maxDelayMs, Math.max(o.minDelayMs, w.quantile(0.95) ?? o.maxDelayMs));
  }

  /** Forgets a node that left the membership. */
  forget(nodeId: string): void {
    this.windows.delete(nodeId);
  }
}
