/**
 * Routers' leases on runs, as a shard node sees them (proto `RunLease`).
 *
 * Every Status or Refresh call from a router carries the runs that router serves or is about to
 * serve; the set replaces that router's earlier one. A router's set is live while it was renewed
 * within its TTL (the larger of the node's `--run-grace-ms` and the TTL the router asked for), so
 * a router that died stops holding runs one TTL after its last call. The node keeps (and loads)
 * every run in a live set, and drops a superseded run only `--run-grace-ms` after the last set
 * that named it (node-run-set.ts). This is what keeps a run loaded while any router still serves
 * it, whatever `_CURRENT` says, in the spirit of lease-based resource holding (Gray & Cheriton,
 * "Leases: an efficient fault-tolerant mechanism for distributed file cache consistency", 1989).
 */
import { checkRunLeaseCount, type RequestLimits } from '../common/request-limits.ts';

/** Longest life a router's lease set may ask for without renewal, ms (a router asks ~4 s). */
export const MAX_LEASE_TTL_MS = 3_600_000;

/** One run a router leases: its id and its manifest's key in the store. */
export interface LeasedRun {
  runId: string;
  manifestKey: string;
}

interface RouterLeases {
  runs: Map<string, string>;
  renewedAt: number;
  ttlMs: number;
}

/**
 * The lease list of one Status / Refresh call, deduplicated by run id (the first entry of a run
 * wins) and bounded: a caller cannot make the node track or read more runs than the limit.
 * @returns the distinct leases, in first-seen order.
 * @throws InvalidQueryError (INVALID_ARGUMENT) naming the count, the limit and `--max-run-leases`.
 */
export function checkLeaseList(runs: readonly LeasedRun[], limits: RequestLimits): LeasedRun[] {
  const byId = new Map<string, LeasedRun>();
  for (const r of runs) {
    if (!byId.has(r.runId)) byId.set(r.runId, r);
    if (byId.size > limits.maxRunLeases) break; // enough to refuse; stop counting
  }
  if (byId.size > limits.maxRunLeases) {
    // Count the distinct runs for the message without keeping the leases.
    checkRunLeaseCount(new Set(runs.map((r) => r.runId)).size, limits);
  }
  return [...byId.values()];
}

/** The live leases of every router (see the module comment). */
export class RunLeases {
  private readonly routers = new Map<string, RouterLeases>();
  /** Per run id: when a lease set last named it, ms since epoch. */
  private readonly namedAt = new Map<string, number>();

  /**
   * @param minTtlMs the node's `--run-grace-ms`: no router's lease lapses sooner after its last
   *   renewal, ms.
   * @param now clock, ms since epoch.
   */
  constructor(
    private readonly minTtlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Replaces `routerId`'s lease set with `runs` (an empty list releases its leases).
   * @param ttlMs how long the router asks the set to live without renewal, ms (0 = the node's
   *   minimum; at most {@link MAX_LEASE_TTL_MS}).
   * @returns the leased runs that were not leased by anyone before this call.
   */
  renew(routerId: string, runs: readonly LeasedRun[], ttlMs: number): LeasedRun[] {
    const now = this.now();
    const before = new Set(this.leasedRunIds());
    this.routers.set(routerId, { runs: new Map(runs.map((r) => [r.runId, r.manifestKey])), renewedAt: now, ttlMs: Math.max(this.minTtlMs, Math.min(ttlMs, MAX_LEASE_TTL_MS)) });
    for (const r of runs) this.namedAt.set(r.runId, now);
    return runs.filter((r) => !before.has(r.runId));
  }

  /** True while some router's live set names `runId`. */
  isLeased(runId: string): boolean {
    const now = this.now();
    for (const r of this.routers.values()) if (now < r.renewedAt + r.ttlMs && r.runs.has(runId)) return true;
    return false;
  }

  /** Every run some live set names, with its manifest key. */
  leasedRuns(): LeasedRun[] {
    const now = this.now();
    const out = new Map<string, string>();
    for (const r of this.routers.values()) {
      if (now >= r.renewedAt + r.ttlMs) continue;
      for (const [runId, manifestKey] of r.runs) if (!out.has(runId)) out.set(runId, manifestKey);
    }
    return [...out].map(([runId, manifestKey]) => ({ runId, manifestKey }));
  }

  /** When a lease set last named `runId`, ms since epoch (undefined = never). */
  lastNamedAt(runId: string): number | undefined {
    return this.namedAt.get(runId);
  }

  /** When the live lease on `runId` lapses unless renewed, ms since epoch (undefined = not leased). */
  expiresAt(runId: string): number | undefined {
    const now = this.now();
    let latest: number | undefined;
    for (const r of this.routers.values()) {
      const end = r.renewedAt + r.ttlMs;
      if (now < end && r.runs.has(runId)) latest = Math.max(latest ?? 0, end);
    }
    return latest;
  }

  /** Forgets routers whose sets lapsed and runs no longer held (`held` = run ids the node holds). */
  prune(held: ReadonlySet<string>): void {
    const now = this.now();
    for (const [id, r] of this.routers) if (now >= r.renewedAt + r.ttlMs) this.routers.delete(id);
    for (const runId of [...this.namedAt.keys()]) if (!held.has(runId) && !this.isLeased(runId)) this.namedAt.delete(runId);
  }

  private leasedRunIds(): string[] {
    return this.leasedRuns().map((r) => r.runId);
  }
}
