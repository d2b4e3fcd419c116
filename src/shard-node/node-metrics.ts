/**
 * Prometheus metrics of a shard node (prom-client), registered on the process registry from
 * `createMetricsRegistry('shard-node', { node_id })` and served by `startMetricsServer`.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The shard node's metric instruments. */
export interface NodeMetrics {
  /** Seconds to make a shard searchable (verify or download, then open), by `source` (`store` = downloaded, `cache` = verified local copy). */
  shardLoadSeconds: Histogram<'source'>;
  /** Bytes downloaded from the store for shards. */
  shardLoadBytes: Counter;
  /** Shard loads that failed. */
  shardLoadFailures: Counter;
  /** Bytes of shard files in the local cache (see ShardLeaseCache.bytes). */
  cacheBytes: Gauge;
  /** The cache's byte budget (0 = unbounded). */
  cacheMaxBytes: Gauge;
  /** Shards evicted from the cache (least recently used, to fit the budget). */
  evictions: Counter;
  /** Loads of shards this node is not assigned, triggered by a search (e.g. while a replica is down). */
  lazyLoads: Counter;
  /** Seconds per shard search (one query against one shard), by `db_id`. */
  shardSearchSeconds: Histogram<'db_id'>;
  /** 1 for the run the node currently treats as current (`run_id` label); the series is reset on a swap. */
  currentRun: Gauge<'run_id' | 'collection'>;
  /** Pieces of search work (up to 32 queries of one shard) skipped because the caller had given up (call cancelled or deadline passed). */
  searchPiecesCancelled: Counter;
  /** SearchShards calls refused before searching, by `reason` (`response_bytes`: estimated answer over --max-response-bytes). */
  searchCallsRefused: Counter<'reason'>;
  /** SearchShards calls searching now or waiting for admission (see search-admission.ts). */
  searchCallsInProgress: Gauge;
}

/** Creates and registers the shard node's metrics on `registry`. */
export function createNodeMetrics(registry: Registry): NodeMetrics {
  const registers = [registry];
  return {
    shardLoadSeconds: new Histogram({
      name: 'shardfleet_node_shard_load_seconds',
      help: 'Seconds to make a shard searchable (verify or download, then open), by source (store = downloaded, cache = verified local copy)',
      labelNames: ['source'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    }),
    shardLoadBytes: new Counter({ name: 'shardfleet_node_shard_load_bytes_total', help: 'Bytes of shard files downloaded from the store', registers }),
    shardLoadFailures: new Counter({ name: 'shardfleet_node_shard_load_failures_total', help: 'Shard loads that failed', registers }),
    cacheBytes: new Gauge({ name: 'shardfleet_node_cache_bytes', help: 'Bytes of shard files in the local cache', registers }),
    cacheMaxBytes: new Gauge({ name: 'shardfleet_node_cache_max_bytes', help: 'Byte budget of the local shard cache (0 = unbounded)', registers }),
    evictions: new Counter({ name: 'shardfleet_node_cache_evictions_total', help: 'Shards evicted from the local cache to fit the byte budget', registers }),
    lazyLoads: new Counter({ name: 'shardfleet_node_lazy_loads_total', help: 'Loads of shards not assigned to this node, triggered by a search', registers }),
    shardSearchSeconds: new Histogram({
      name: 'shardfleet_node_shard_search_seconds',
      help: 'Seconds per shard search (one query against one shard), by shard',
      labelNames: ['db_id'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    searchPiecesCancelled: new Counter({
      name: 'shardfleet_node_search_pieces_cancelled_total',
      help: 'Pieces of search work (up to 32 queries of one shard) skipped because the caller had given up (call cancelled or deadline passed)',
      registers,
    }),
    searchCallsRefused: new Counter({
      name: 'shardfleet_node_search_calls_refused_total',
      help: 'SearchShards calls refused before searching, by reason (response_bytes: estimated answer over --max-response-bytes; exact_busy / exact_users_waiting: a live recall reference search refused by the low-priority lane)',
      labelNames: ['reason'],
      registers,
    }),
    searchCallsInProgress: new Gauge({
      name: 'shardfleet_node_search_calls_in_progress',
      help: 'SearchShards calls searching now or waiting for admission',
      registers,
    }),
    currentRun: new Gauge({
      name: 'shardfleet_node_current_run',
      help: 'The run this node treats as current per collection (value 1; run_id and collection labels, collection "default" for one snapshot prefix)',
      labelNames: ['run_id', 'collection'],
      registers,
    }),
  };
}
