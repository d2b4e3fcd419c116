/**
 * Node calls of the router during a benchmark point, from its Prometheus `/metrics`: how many
 * SearchShards calls the router made per query, and how many queries' shard tasks one call
 * carried (above 1 when the router coalesces queries waiting for the same node into one call).
 */
import { promSamples } from '../../src/eval/prometheus-text.ts';

/** Cumulative router counters read from one scrape. */
export interface RouterCallCounts {
  /** Search requests (count of `shardfleet_router_fanout_nodes{rpc="Search"}`). */
  requests: number;
  /** Nodes needed by those requests' first waves, summed (one query's task per node). */
  nodeTasks: number;
  /** SearchShards calls made to nodes, any outcome. */
  nodeCalls: number;
  /**
   * `shardfleet_router_node_call_queries` (queries one call carried), summed over nodes: total
   * queries carried and calls counted; undefined from a router without that histogram.
   */
  callQueries?: { sum: number; count: number };
}

/** Reads {@link RouterCallCounts} from the text of a router's `/metrics`. */
export function routerCallCounts(metricsText: string): RouterCallCounts {
  const sum = (name: string, labels: Record<string, string> = {}): number => promSamples(metricsText, name, labels).reduce((a, s) => a + s.value, 0);
  const counts: RouterCallCounts = {
    requests: sum('shardfleet_router_fanout_nodes_count', { rpc: 'Search' }),
    nodeTasks: sum('shardfleet_router_fanout_nodes_sum', { rpc: 'Search' }),
    nodeCalls: sum('shardfleet_router_node_rpc_duration_seconds_count'),
  };
  if (promSamples(metricsText, 'shardfleet_router_node_call_queries_count').length > 0) {
    counts.callQueries = { sum: sum('shardfleet_router_node_call_queries_sum'), count: sum('shardfleet_router_node_call_queries_count') };
  }
  return counts;
}

/** Per-point figures from two scrapes. */
export interface RouterCallStats {
  /** Node calls per Search request. */
  nodeCallsPerQuery: number;
  /** Query tasks per node call: 1 without coalescing, more when calls carry several queries. */
  queriesPerNodeCall: number;
}

/**
 * The node-call figures between scrapes `before` and `after`; undefined when either scrape
 * failed or the router served no request or made no call in between. Queries per node call come
 * from the router's `shardfleet_router_node_call_queries` histogram when it has one, else from
 * the first-wave node tasks per call (the same figure when no call is retried or hedged).
 */
export function routerCallStats(before: RouterCallCounts | undefined, after: RouterCallCounts | undefined): RouterCallStats | undefined {
  if (!before || !after) return undefined;
  const requests = after.requests - before.requests;
  const calls = after.nodeCalls - before.nodeCalls;
  if (requests <= 0 || calls <= 0) return undefined;
  const counted = before.callQueries && after.callQueries ? after.callQueries.count - before.callQueries.count : 0;
  const queriesPerNodeCall =
    counted > 0 ? (after.callQueries!.sum - before.callQueries!.sum) / counted : (after.nodeTasks - before.nodeTasks) / calls;
  return { nodeCallsPerQuery: calls / requests, queriesPerNodeCall };
}
