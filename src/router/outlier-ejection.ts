/**
 * Outlier ejection of shard nodes: a node whose SearchShards calls fail `consecutiveFailures`
 * times in a row is ejected (no longer picked as a replica) for a time that doubles with each
 * repeated ejection (base, 2 x base, 4 x base, ... capped at max). Once that time has passed the
 * node stays ejected until it is re-probed: the next successful `Status` call brings it back
 * ({@link OutlierEjection.readmitIfDue}). A node that stays back for longer than `maxMs` starts
 * again from the base time.
 *
 * Ejection can never take the fleet down, after Envoy's outlier detection
 * (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/outlier):
 * - like its `max_ejection_percent`, at most `maxEjectionPercent` of the nodes are ejected at
 *   once (always at least one may be); a node that fails past that share stays in, its failures
 *   counted, until another is re-admitted;
 * - like its panic threshold (`healthy_panic_threshold`, see
 *   https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/panic_threshold),
 *   ejection is ignored where it would leave nothing: a shard whose every otherwise-ready replica
 *   is ejected is still sent to them (replica-state.ts), per shard, since here each shard lives
 *   on its own few replicas rather than on interchangeable hosts.
 * What counts as a failure: {@link isNodeFailure}; a caller's deadline running out never does.
 */
import * as grpc from '@grpc/grpc-js';
import { isCallerFault } from '../common/caller-fault.ts';
import { isGrpcError } from '../common/grpc-status.ts';
import type { NodeCallReport } from './node-call-coalescer.ts';

/** Ejection settings. */
export interface EjectionOptions {
  /** Consecutive failed calls that eject a node (>= 1). */
  consecutiveFailures: number;
  /** First ejection time, ms. */
  baseMs: number;
  /** Longest ejection time, ms. */
  maxMs: number;
  /**
   * Most nodes ejected at once, percent of the node membership (0..100); one node may always be
   * ejected. Envoy's `max_ejection_percent` (Envoy defaults to 10 %; here each shard lives on
   * only R nodes and the per-shard panic rule already keeps every shard served, so the share
   * only has to stop a fleet-wide storm of ejections).
   */
  maxEjectionPercent: number;
}

/** Default settings: 5 consecutive failures, 5 s growing to at most 60 s, at most half the nodes ejected. */
export const DEFAULT_EJECTION: EjectionOptions = { consecutiveFailures: 5, baseMs: 5000, maxMs: 60_000, maxEjectionPercent: 50 };

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
 * True when a SearchShards call says something bad about the node's health, from the coalescer's
 * report of the gRPC call (node-call-coalescer.ts):
 * - `ok`, `cancelled` (hedge losers, requests gone) and `expired` (DEADLINE_EXCEEDED once the
 *   callers' deadline, the latest of the call's requests', had passed) are never failures: a
 *   caller running out of time, however short its deadline or however late the event loop ran
 *   the deadline timer, says nothing about the node;
 * - an `error` is a failure unless the request itself or our own cancellation caused it
 *   (INVALID_ARGUMENT, FAILED_PRECONDITION, NOT_FOUND, CANCELLED; RESOURCE_EXHAUSTED: a call too
 *   large for the node's bounds, see isCallerFault). DEADLINE_EXCEEDED in an
 *   `error` report is the router's own call timeout (`deadlineOf: 'router'`) or the node's own
 *   timeout before any deadline we gave it: the node is slow.
 */
export function isNodeFailure(call: Pick<NodeCallReport, 'outcome' | 'error'>): boolean {
  if (call.outcome !== 'error') return false;
  const err = call.error;
  if (!isGrpcError(err)) return true;
  if (isCallerFault(err)) return false;
  return ![grpc.status.CANCELLED, grpc.status.INVALID_ARGUMENT, grpc.status.FAILED_PRECONDITION, grpc.status.NOT_FOUND].includes(err.code);
}

/** Consecutive-failure tracking and ejection state of every node. */
export class OutlierEjection {
  private readonly nodes = new Map<string, NodeRecord>();

  /** Failures that would have ejected a node but for the ejection share (ejections blocked). */
  private blocked = 0;

  /**
   * @param options thresholds, times (ms) and the ejection share (percent).
   * @param now clock, ms since epoch (tests may pass a fake one).
   * @param fleetSize nodes in the membership now (the base of `maxEjectionPercent`; default: the
   *   nodes this object has seen calls to).
   * @throws RangeError for a threshold < 1, negative times or a share outside 0..100.
   */
  constructor(
    readonly options: EjectionOptions = DEFAULT_EJECTION,
    private readonly now: () => number = Date.now,
    private readonly fleetSize?: () => number,
  ) {
    if (!Number.isInteger(options.consecutiveFailures) || options.consecutiveFailures < 1) {
      throw new RangeError(`ejection threshold must be an integer >= 1, got ${options.consecutiveFailures}`);
    }
    if (!(options.baseMs >= 0) || !(options.maxMs >= options.baseMs)) {
      throw new RangeError(`ejection times must satisfy 0 <= base (${options.baseMs} ms) <= max (${options.maxMs} ms)`);
    }
    if (!(options.maxEjectionPercent >= 0 && options.maxEjectionPercent <= 100)) {
      throw new RangeError(`maxEjectionPercent must be in 0..100, got ${options.maxEjectionPercent}`);
    }
  }

  /** Most nodes that may be ejected at once now: the share of the fleet, at least one. */
  maxEjected(): number {
    const fleet = this.fleetSize?.() ?? this.nodes.size;
    return Math.max(1, Math.floor((fleet * this.options.maxEjectionPercent) / 100));
  }

  /** Ejections blocked so far because `maxEjected()` nodes were already ejected. */
  get blockedEjections(): number {
    return this.blocked;
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
   * A call to `nodeId` failed with `reason` (only failures per {@link isNodeFailure}). Past the
   * threshold the node is ejected, unless `maxEjected()` nodes already are (then it stays in with
   * its failures counted, and is ejected by its next failure once there is room).
   * @returns true when this failure ejected the node.
   */
  recordFailure(nodeId: string, reason: string): boolean {
    const r = this.record(nodeId);
    r.failures += 1;
    r.lastFailure = reason;
    if (r.ejection || r.failures < this.options.consecutiveFailures) return false;
    if (this.ejectedNodes().length >= this.maxEjected()) {
      this.blocked += 1;
      return false;
    }
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
