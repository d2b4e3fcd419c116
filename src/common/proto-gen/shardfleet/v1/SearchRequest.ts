// Original file: proto/shardfleet/v1/router.proto

import type { RoutingValue as _shardfleet_v1_RoutingValue, RoutingValue__Output as _shardfleet_v1_RoutingValue__Output } from '../../shardfleet/v1/RoutingValue.ts';

export interface SearchRequest {
  /**
   * The query vector: dim float32 values, little-endian, 4*dim bytes.
   */
  'query'?: (Buffer | Uint8Array | string);
  /**
   * Number of results (1..1000; 0 means 10).
   */
  'top_k'?: (number);
  /**
   * Number of shards to probe (nearest centroids); 0 means the manifest's default num_probes.
   */
  'num_probes'?: (number);
  /**
   * Explicit shards (db ids) to search. Required for explicit-sharded snapshots; for the other
   * strategies a non-empty list overrides routing and num_probes.
   */
  'shard_ids'?: (number)[];
  /**
   * Return each hit's payload (JSON text).
   */
  'include_payload'?: (boolean);
  /**
   * CEL-sharded snapshots: the values of the manifest's cel_columns; the expression picks the shard.
   */
  'routing_context'?: ({[key: string]: _shardfleet_v1_RoutingValue});
  /**
   * Index options forwarded to every probed shard (0 = the shard's default):
   * IVF partitions to probe (LanceDB ivf_flat / ivf_pq).
   */
  'nprobes'?: (number);
  /**
   * HNSW search beam width (usearch: default the run's ef_search; LanceDB hnsw_sq / hnsw_pq).
   */
  'ef'?: (number);
  /**
   * Re-rank top_k * refine_factor candidates with exact distances (LanceDB PQ/SQ, sqlite-vec int8).
   */
  'refine_factor'?: (number);
  /**
   * Return each hit's stored vector (Hit.vector).
   */
  'include_vector'?: (boolean);
  /**
   * Fraction (0..1] of the probed shards that must answer; below it the call fails UNAVAILABLE.
   * 0 means 1.0: every probed shard is required. Above it, a response missing shards is returned
   * with partial = true and failed_shards set; never silently.
   */
  'min_coverage'?: (number | string);
  /**
   * Pre-filter: a CEL boolean expression over the snapshot's filter columns (SnapshotInfo
   * filter_columns), e.g. `label == "Shirt" && price < 20.5`; "" = none. Supported: column <op>
   * literal (== != < <= > >=), column in [literals], bool columns alone, &&, ||, !. Every result
   * matches, and when at least top_k rows of the probed shards match, top_k results come back.
   * With cluster / LSH routing, shards whose statistics prove no match are skipped and probing
   * goes on to the next nearest shard, so num_probes shards that can match are searched.
   * INVALID_ARGUMENT names an unknown column, a literal of the wrong type or an unsupported
   * construct, with its offset.
   */
  'filter'?: (string);
  /**
   * Recall-targeted probing. On a snapshot with an end-to-end table (SnapshotInfo search_recall:
   * cluster / lsh usearch builds) the cheapest (num_probes, ef) pair whose measured recall reaches
   * this value is used (cost num_probes x ef; an ef given in the request is kept and only
   * num_probes is chosen). Otherwise: probe the smallest num_probes whose routing recall on the
   * build's own sample (SnapshotInfo recall_at_probes) reaches this value, in (0, 1]; 0 = unset. An explicit
   * num_probes (> 0) or shard_ids wins over it. The curve is 1.0 with every shard probed, so every
   * target is met, at worst by probing all shards: a target above what fewer shards reach on the
   * sample means the full fan-out (read recall_at_probes to see the cost first). It is a
   * sample estimate of routing recall (exact search within the probed shards), not a guarantee
   * for each query. Outside (0, 1]: INVALID_ARGUMENT naming target_recall; on a snapshot without a
   * curve (explicit, cel or hash sharding, or built before curves existed): INVALID_ARGUMENT.
   */
  'target_recall'?: (number | string);
  /**
   * The collection to ask (issue 24): a collection name under the router's catalog root, or empty
   * for the default collection (the router's --default-collection, else its only collection; with
   * several and no default, INVALID_ARGUMENT listing them). An unknown name is NOT_FOUND. A router
   * serving one snapshot prefix (no catalog) serves it as "default".
   * In a BatchSearchRequest a query's collection must be empty or the batch's.
   */
  'collection'?: (string);
}

export interface SearchRequest__Output {
  /**
   * The query vector: dim float32 values, little-endian, 4*dim bytes.
   */
  'query': (Buffer);
  /**
   * Number of results (1..1000; 0 means 10).
   */
  'top_k': (number);
  /**
   * Number of shards to probe (nearest centroids); 0 means the manifest's default num_probes.
   */
  'num_probes': (number);
  /**
   * Explicit shards (db ids) to search. Required for explicit-sharded snapshots; for the other
   * strategies a non-empty list overrides routing and num_probes.
   */
  'shard_ids': (number)[];
  /**
   * Return each hit's payload (JSON text).
   */
  'include_payload': (boolean);
  /**
   * CEL-sharded snapshots: the values of the manifest's cel_columns; the expression picks the shard.
   */
  'routing_context': ({[key: string]: _shardfleet_v1_RoutingValue__Output});
  /**
   * Index options forwarded to every probed shard (0 = the shard's default):
   * IVF partitions to probe (LanceDB ivf_flat / ivf_pq).
   */
  'nprobes': (number);
  /**
   * HNSW search beam width (usearch: default the run's ef_search; LanceDB hnsw_sq / hnsw_pq).
   */
  'ef': (number);
  /**
   * Re-rank top_k * refine_factor candidates with exact distances (LanceDB PQ/SQ, sqlite-vec int8).
   */
  'refine_factor': (number);
  /**
   * Return each hit's stored vector (Hit.vector).
   */
  'include_vector': (boolean);
  /**
   * Fraction (0..1] of the probed shards that must answer; below it the call fails UNAVAILABLE.
   * 0 means 1.0: every probed shard is required. Above it, a response missing shards is returned
   * with partial = true and failed_shards set; never silently.
   */
  'min_coverage': (number);
  /**
   * Pre-filter: a CEL boolean expression over the snapshot's filter columns (SnapshotInfo
   * filter_columns), e.g. `label == "Shirt" && price < 20.5`; "" = none. Supported: column <op>
   * literal (== != < <= > >=), column in [literals], bool columns alone, &&, ||, !. Every result
   * matches, and when at least top_k rows of the probed shards match, top_k results come back.
   * With cluster / LSH routing, shards whose statistics prove no match are skipped and probing
   * goes on to the next nearest shard, so num_probes shards that can match are searched.
   * INVALID_ARGUMENT names an unknown column, a literal of the wrong type or an unsupported
   * construct, with its offset.
   */
  'filter': (string);
  /**
   * Recall-targeted probing. On a snapshot with an end-to-end table (SnapshotInfo search_recall:
   * cluster / lsh usearch builds) the cheapest (num_probes, ef) pair whose measured recall reaches
   * this value is used (cost num_probes x ef; an ef given in the request is kept and only
   * num_probes is chosen). Otherwise: probe the smallest num_probes whose routing recall on the
   * build's own sample (SnapshotInfo recall_at_probes) reaches this value, in (0, 1]; 0 = unset. An explicit
   * num_probes (> 0) or shard_ids wins over it. The curve is 1.0 with every shard probed, so every
   * target is met, at worst by probing all shards: a target above what fewer shards reach on the
   * sample means the full fan-out (read recall_at_probes to see the cost first). It is a
   * sample estimate of routing recall (exact search within the probed shards), not a guarantee
   * for each query. Outside (0, 1]: INVALID_ARGUMENT naming target_recall; on a snapshot without a
   * curve (explicit, cel or hash sharding, or built before curves existed): INVALID_ARGUMENT.
   */
  'target_recall': (number);
  /**
   * The collection to ask (issue 24): a collection name under the router's catalog root, or empty
   * for the default collection (the router's --default-collection, else its only collection; with
   * several and no default, INVALID_ARGUMENT listing them). An unknown name is NOT_FOUND. A router
   * serving one snapshot prefix (no catalog) serves it as "default".
   * In a BatchSearchRequest a query's collection must be empty or the batch's.
   */
  'collection': (string);
}
