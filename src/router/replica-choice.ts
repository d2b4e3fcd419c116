/**
 * Which replica of a shard gets the first call: the one with the least outstanding work, counting
 * the cost of opening a call to a node the request does not already call.
 *
 * Sending every shard to its preferred (first) placement owner leaves the other replicas idle
 * except for retries and hedges, so replication adds availability but no read throughput, and a
 * popular shard (a dense k-means cluster) loads one node. Instead the router keeps, per node, the
 * shard searches it has sent and not yet seen answered ({@link NodeLoad}), and a request places
 * each shard on the ready owner that minimises
 *
 *     outstanding(node) + assigned_in_this_request(node) + (node already called ? 0 : CALL_COST)
 *
 * ties going to a node the request already calls, then to the node owning more of the request's
 * shards (so that it can take the later ones too), then to placement order. This is the
 * least-outstanding-requests policy of load balancers (Envoy's LEAST_REQUEST; Mitzenmacher, "The
 * Power of Two Choices in Randomized Load Balancing", IEEE TPDS 2001, for why queue length is the
 * signal) applied to shard searches, with a per-call cost so that one query's shards gather on
 * few nodes: one RPC per node per query is cheaper than one per shard. Idle, a query's first two
 * shards share one node when one node owns both, and a third goes elsewhere to run in parallel.
 */

/**
 * The cost of one more node call, in shard searches. A SearchShards call costs the router and the
 * node 0.5 ms of gRPC CPU at the least (bench: bare grpc-js echo), about a third to a whole
 * LanceDB shard search (1–1.6 ms). 1 is the smallest whole weight with which an idle query's
 * second shard joins a node that already has its first, while its third goes to another node and
 * runs in parallel.
 */
export const CALL_COST = 1;

/**
 * Outstanding shard searches per node, across every request of a router: a fan-out adds a call's
 * shard count when it sends the call and removes it when the call ends (answer, error or cancel).
 */
export class NodeLoad {
  private readonly outstanding = new Map<string, number>();

  /** Records `searches` (>= 0) more shard searches in flight on `nodeId`. */
  add(nodeId: string, searches: number): void {
    this.outstanding.set(nodeId, (this.outstanding.get(nodeId) ?? 0) + searches);
  }

  /** Records that `searches` shard searches on `nodeId` ended. Never goes below 0. */
  remove(nodeId: string, searches: number): void {
    const left = (this.outstanding.get(nodeId) ?? 0) - searches;
    if (left > 0) this.outstanding.set(nodeId, left);
    else this.outstanding.delete(nodeId);
  }

  /** Shard searches sent to `nodeId` and not answered yet. */
  of(nodeId: string): number {
    return this.outstanding.get(nodeId) ?? 0;
  }

  /** A copy of the counts: node id -> outstanding shard searches (nodes with none left out). */
  snapshot(): Map<string, number> {
    return new Map(this.outstanding);
  }
}

/** What {@link orderReplicas} reads about the request being planned. */
export interface RequestPlan {
  /** Shard searches of this request already assigned to `nodeId` (0 = the node is not called). */
  assigned(nodeId: string): number;
  /** How many of this request's shards `nodeId` is a ready owner of. */
  owns(nodeId: string): number;
}

/**
 * Orders a shard's candidates for one request: the best of the first `choices` candidates (by
 * the cost in the module comment) first, then every other candidate in its original order (the
 * retry and hedge order).
 * @param candidates node ids in placement order (ready owners first).
 * @param choices how many leading candidates are interchangeable ready owners (<= length; 0 or 1
 *   leaves the order as is).
 * @param load outstanding shard searches per node.
 * @param plan this request's assignments so far.
 * @returns `candidates` itself when there is no choice, else a new array.
 */
export function orderReplicas(candidates: readonly string[], choices: number, load: NodeLoad, plan: RequestPlan): readonly string[] {
  const n = Math.min(choices, candidates.length);
  if (n <= 1) return candidates;
  let best = 0;
  let bestCost = Infinity;
  let bestCalled = false;
  let bestOwns = 0;
  for (let i = 0; i < n; i++) {
    const node = candidates[i];
    const assigned = plan.assigned(node);
    const called = assigned > 0;
    const cost = load.of(node) + assigned + (called ? 0 : CALL_COST);
    const owns = plan.owns(node);
    // Lower cost, then already called, then owning more of the request's shards; else the earlier.
    const better = cost !== bestCost ? cost < bestCost : called !== bestCalled ? called : owns > bestOwns;
    if (better) {
      best = i;
      bestCost = cost;
      bestCalled = called;
      bestOwns = owns;
    }
  }
  return [candidates[best], ...candidates.slice(0, best), ...candidates.slice(best + 1)];
}
