/**
 * What the routers tell a shard node about moving shards, with every Status / Refresh call
 * (proto StatusRequest fields 4-6), and the rule that turns it into "this shard may be released".
 *
 * A shard no longer assigned to the node (placement moved it, or the node is draining) is
 * "releasing": still loaded and searchable, listed in `RunStatus.shards_releasing`. A router that
 * reads that list answers, in its next call, with the releasing shards it still needs from this
 * node (`keep_shards`: not every owner under the router's placement has the shard loaded yet)
 * and with the nodes it sees draining. The node releases a shard only when every live router has
 * read a Status listing it releasing (`seen_status_seq` past the moment it started releasing) and
 * no live router names it. So a shard leaves a node only once each router has ready replicas of
 * it elsewhere (their readiness as the router sees it, which is what the router routes by). A
 * router's word lives at least {@link KEEP_WORD_MIN_TTL_MS} after its call (longer when the
 * router asks for a longer `lease_ttl_ms`): a router whose Status calls time out for a while
 * (overload, a short partition) still holds what it named, and one that died or forgot this node
 * stops counting after that; with no live router, nothing holds a shard. A router that sends no
 * `seen_status_seq` (an older router) takes no part.
 */

/**
 * Shortest life of a router's word without renewal, ms. Releasing too early fails queries;
 * holding too long only keeps a shard loaded (and a draining node waiting, within its
 * --leave-timeout-ms) after a router died.
 */
export const KEEP_WORD_MIN_TTL_MS = 30_000;

/** One router's latest word (see the module comment). */
interface RouterWord {
  keep: Map<string, Set<number>>;
  draining: Set<string>;
  seenSeq: number;
  renewedAt: number;
  ttlMs: number;
}

/** Shards of one run that a router needs kept. */
export interface KeptShards {
  runId: string;
  dbIds: readonly number[];
}

/** The routers' keep lists and draining lists, as a node holds them (see the module comment). */
export class ShardKeepLeases {
  private readonly routers = new Map<string, RouterWord>();

  /** @param now clock, ms since epoch. */
  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Records `routerId`'s word; it replaces the router's earlier one.
   * @param seenSeq the newest `status_seq` of this node the router had read (0 = none: the router
   *   takes no part).
   * @param ttlMs how long the router asks the word to live without renewal, ms (at least
   *   KEEP_WORD_MIN_TTL_MS is used).
   */
  renew(routerId: string, keep: readonly KeptShards[], draining: readonly string[], seenSeq: number, ttlMs: number): void {
    if (routerId === '') return;
    if (seenSeq <= 0) {
      this.routers.delete(routerId);
      return;
    }
    const byRun = new Map<string, Set<number>>();
    for (const k of keep) {
      const set = byRun.get(k.runId) ?? new Set<number>();
      for (const dbId of k.dbIds) set.add(dbId);
      byRun.set(k.runId, set);
    }
    this.routers.set(routerId, { keep: byRun, draining: new Set(draining), seenSeq, renewedAt: this.now(), ttlMs: Math.max(KEEP_WORD_MIN_TTL_MS, ttlMs) });
  }

  /** Nodes some live router reports draining, sorted. */
  drainingNodes(): string[] {
    const out = new Set<string>();
    for (const r of this.live()) for (const id of r.draining) out.add(id);
    return [...out].sort();
  }

  /**
   * Whether shard `dbId` of run `runId`, releasing since this node's status sequence `sinceSeq`,
   * may be released: every live router has read a Status issued after that (seenSeq > sinceSeq)
   * and none names the shard. True when no router is live.
   */
  mayRelease(runId: string, dbId: number, sinceSeq: number): boolean {
    for (const r of this.live()) {
      if (r.seenSeq <= sinceSeq) return false;
      if (r.keep.get(runId)?.has(dbId)) return false;
    }
    return true;
  }

  /** When the earliest live word lapses, ms since epoch (Infinity with none). */
  nextLapse(): number {
    let next = Infinity;
    for (const r of this.live()) next = Math.min(next, r.renewedAt + r.ttlMs);
    return next;
  }

  private live(): RouterWord[] {
    const now = this.now();
    const out: RouterWord[] = [];
    for (const [id, r] of this.routers) {
      if (now < r.renewedAt + r.ttlMs) out.push(r);
      else this.routers.delete(id);
    }
    return out;
  }
}
