/**
 * Outlier ejection of shard nodes: a node whose SearchShards calls fail `consecutiveFailures`
 * times in a row is ejected (no longer picked as a replica) for a time that doubles with each
 * repeated ejection (base, 2 x base, 4 x base, ... capped at max). Once that time has passed the
 * node stays ejected until it is re-probed: the next successful `Status` call brings it back
 * ({@link OutlierEjection.readmitIfDue}). A node that stays back for longer than `maxMs` starts
 * again from the base time.
 */
import * as grpc from '@grpc/grpc-js';
import { isGrpcError } from '../common/grpc-status.ts';

/** Ejection settings. */
export interface EjectionOptions {
  /** Consecutive failed calls that eject a node (>= 1). */
  consecutiveFailures: number;
  /** First ejection time, ms. */
  baseMs: number;
  /** Longest ejection time, ms. */
  maxMs: number;
}

/** Default settings: 5 consecutive failures, 5 s growing to at most 60 s. */
export const DEFAULT_EJECTION: EjectionOptions = { consecutiveFailures: 5, baseMs: 5000, maxMs: 60_000 };

/** An ejected node. */
export interface Ejection {
  /** Time the ejection was decided, ms since epoch. */
  since: number;
  /** Earliest re-admission (by a successful Status probe), ms since epoch. */
  until: number;
  /** How many times in a row this node has been ejected (1 = first). */
  count: number;
  /** The last failure before the ejection. */
  reason: string;
}

interface NodeRecord {
  failures: number;
  lastFailure: string;
  ejection?: Ejection;
  /** Ejections in the current streak (reset after staying back for maxMs). */
  streak: number;
  /** When the node was last re-admitted, ms since epoch. */
  backSince?: number;
}

/**
 * True when a failed SearchShards call says something about the node's health (transport errors,
 * timeouts of a slow node, internal errors), false for errors caused by the request itself or by
 * our own cancellation (INVALID_ARGUMENT, FAILED_PRECONDITION, NOT_FOUND, CANCELLED).
 * Node calls carry the client's deadline, so DEADLINE_EXCEEDED counts only when the call ran for
 * at least `slowCallMs` (the node's usual latency, see HedgePolicy.slowCallMs): a call cut off
 * sooner was ended by a client deadline shorter than the node normally needs, not by the node.
 * @param callMs how long the call ran, ms (default: long enough to count).
 * @param slowCallMs how long a call must run before its timeout says the node is slow, ms.
 */
export function isNodeFailure(err: unknown, callMs = Infinity, slowCallMs = 0): boolean {
  if (!isGrpcError(err)) return true;
  if (err.code === grpc.status.DEADLINE_EXCEEDED) return callMs >= slowCallMs;
  return ![grpc.status.CANCELLED, grpc.status.INVALID_ARGUMENT, grpc.status.FAILED_PRECONDITION, grpc.status.NOT_FOUND].includes(err.code);
}

/** Consecutive-failure tracking and ejection state of every node. */
export class OutlierEjection {
  private readonly nodes = new Map<string, NodeRecord>();

  /**
   * @param options thresholds and times (ms).
   * @param now clock, ms since epoch (tests may pass a fake one).
   * @throws RangeError for a threshold < 1 or negative times.
   */
  constructor(
    readonly options: EjectionOptions = DEFAULT_EJECTION,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(options.consecutiveFailures) || options.consecutiveFailures < 1) {
      throw new RangeError(`ejection threshold must be an integer >= 1, got ${options.consecutiveFailures}`);
    }
    if (!(options.baseMs >= 0) || !(options.maxMs >= options.baseMs)) {
      throw new RangeError(`ejection times must satisfy 0 <= base (${options.baseMs} ms) <= max (${options.maxMs} ms)`);
    }
  }

  private record(nodeId: string): NodeRecord {
    let r = this.nodes.get(nodeId);
    if (!r) {
      r = { failures: 0, lastFailure: '', streak: 0 };
      this.nodes.set(nodeId, r);
    }
    return r;
  }

  /** A call to `nodeId` succeeded: its consecutive-failure count restarts. */
  recordSuccess(nodeId: string): void {
    this.record(nodeId).failures = 0;
  }

  /**
   * A call to `nodeId` failed with `reason`.
   * @returns true when this failure ejected the node.
   */
  recordFailure(nodeId: string, reason: string): boolean {
    const r = this.record(nodeId);
    r.failures += 1;
    r.lastFailure = reason;
    if (r.ejection || r.failures < this.options.consecutiveFailures) return false;
    const now = this.now();
    if (r.backSince !== undefined && now - r.backSince > this.options.maxMs) r.streak = 0;
    r.streak += 1;
    const duration = Math.min(this.options.maxMs, this.options.baseMs * 2 ** (r.streak - 1));
    r.ejection = {
      since: now,
      until: now + duration,
      count: r.streak,
      reason: `${r.failures} consecutive failed calls (last: ${reason})`,
    };
    return true;
  }

  /** True while `nodeId` is ejected (including after its time, until a Status probe succeeds). */
  isEjected(nodeId: string): boolean {
    return this.nodes.get(nodeId)?.ejection !== undefined;
  }

  /** The ejection of `nodeId`, if it is ejected. */
  ejection(nodeId: string): Ejection | undefined {
    return this.nodes.get(nodeId)?.ejection;
  }

  /** Ids of the ejected nodes. */
  ejectedNodes(): string[] {
    return [...this.nodes].filter(([, r]) => r.ejection).map(([id]) => id);
  }

  /**
   * A `Status` probe of `nodeId` succeeded: when the node is ejected and its ejection time has
   * passed, it is re-admitted with a clean failure count.
   * @returns true when the node was re-admitted.
   */
  readmitIfDue(nodeId: string): boolean {
    const r = this.nodes.get(nodeId);
    if (!r?.ejection || this.now() < r.ejection.until) return false;
    r.ejection = undefined;
    r.failures = 0;
    r.backSince = this.now();
    return true;
  }

  /** Forgets a node that left the membership. */
  forget(nodeId: string): void {
    this.nodes.delete(nodeId);
  }
}
