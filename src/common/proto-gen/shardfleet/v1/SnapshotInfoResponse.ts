// Original file: proto/shardfleet/v1/router.proto

import type { SearchRecallTable as _shardfleet_v1_SearchRecallTable, SearchRecallTable__Output as _shardfleet_v1_SearchRecallTable__Output } from '../../shardfleet/v1/SearchRecallTable.ts';
import type { LiveRecallStatus as _shardfleet_v1_LiveRecallStatus, LiveRecallStatus__Output as _shardfleet_v1_LiveRecallStatus__Output } from '../../shardfleet/v1/LiveRecallStatus.ts';
import type { Long } from '@grpc/proto-loader';

export interface SnapshotInfoResponse {
  'run_id'?: (string);
  /**
   * Key of the manifest relative to the store prefix.
   */
  'manifest_ref'?: (string);
  /**
   * RFC 3339 time the run was published.
   */
  'published_at'?: (string);
  'dim'?: (number);
  /**
   * "l2", "cosine" or "dot".
   */
  'metric'?: (string);
  /**
   * Index backend of the shards ("lancedb" or "sqlite-vec").
   */
  'backend'?: (string);
  /**
   * Sharding strategy ("cluster", "lsh", "explicit", "cel" or "hash").
   */
  'strategy'?: (string);
  'num_dbs'?: (number);
  'default_num_probes'?: (number);
  'total_vectors'?: (number | string | Long);
  /**
   * Store URL the snapshot was loaded from.
   */
  'store_url'?: (string);
  /**
   * The index the shards have, as in ShardDetails and the manifest's shard entries ("hnsw",
   * "ivf_flat", "flat", ...); when shards differ (LanceDB "auto" picks per shard by row count),
   * the distinct types, comma-separated, e.g. "hnsw_sq, ivf_flat". Empty shards are left out.
   */
  'index_type'?: (string);
  /**
   * CEL-sharded snapshots: the routing expression and its columns (name -> CEL type), i.e. what
   * a query's routing_context must carry. Empty for the other strategies.
   */
  'cel_expr'?: (string);
  'cel_columns'?: ({[key: string]: string});
  /**
   * The index type the build was asked for (the manifest's index.index_type, e.g. "auto").
   */
  'requested_index_type'?: (string);
  /**
   * KV + vector snapshots (built with --kv): the KV backend ("slatedb" = composite, "sqlite" =
   * unified) and the key type Get / MultiGet keys must have ("string", "int" or "bytes").
   * Empty for a vector-only snapshot (Get then looks up record ids as string keys).
   */
  'kv_backend'?: (string);
  'kv_key_type'?: (string);
  /**
   * Routing recall curve measured at build time (cluster and lsh snapshots; empty otherwise):
   * element p-1 is the mean fraction of a sample query's exact top-10 (within a sample of the
   * data) that lies in the first p shards it is routed to, p = 1..num_dbs; ends at 1.0.
   */
  'recall_at_probes'?: (number | string)[];
  /**
   * Filter columns queries may filter on (name -> "string", "int", "float" or "bool"); empty when
   * the snapshot was built without --filter-columns.
   */
  'filter_columns'?: ({[key: string]: string});
  /**
   * The snapshot's format: "shardfleet", or "shardyfusion" (served unchanged from its prefix).
   */
  'format'?: (string);
  /**
   * shardyfusion snapshots: the manifest's absolute URL as shardyfusion wrote it, and how its KV
   * keys are stored ("utf8", "u64be" or "raw"; empty for vector-only); "" for shardfleet's own.
   */
  'source_manifest_url'?: (string);
  'kv_key_encoding'?: (string);
  /**
   * The HNSW beam width (ef) shards search with when a query gives no ef: the run's usearch
   * ef_search (raised by the build to what its measured end-to-end recall needs at
   * default_num_probes, unless --ef-search fixed it); 0 for backends without a run default.
   */
  'default_ef'?: (number);
  /**
   * End-to-end recall measured at build time on the built shards (cluster and lsh usearch
   * snapshots; absent otherwise, and for snapshots built before it existed): what target_recall
   * chooses from.
   */
  'search_recall'?: (_shardfleet_v1_SearchRecallTable | null);
  /**
   * Live recall (src/router/live-recall.ts): recall@k of sampled user queries against an exact
   * search over every shard of the same run, beside the build-time figure. Absent when
   * --live-recall-fraction is 0.
   */
  'live_recall'?: (_shardfleet_v1_LiveRecallStatus | null);
  /**
   * The collection that answered (never empty), with run_id: one request is answered from one
   * collection and one run.
   */
  'collection'?: (string);
}

export interface SnapshotInfoResponse__Output {
  'run_id': (string);
  /**
   * Key of the manifest relative to the store prefix.
   */
  'manifest_ref': (string);
  /**
   * RFC 3339 time the run was published.
   */
  'published_at': (string);
  'dim': (number);
  /**
   * "l2", "cosine" or "dot".
   */
  'metric': (string);
  /**
   * Index backend of the shards ("lancedb" or "sqlite-vec").
   */
  'backend': (string);
  /**
   * Sharding strategy ("cluster", "lsh", "explicit", "cel" or "hash").
   */
  'strategy': (string);
  'num_dbs': (number);
  'default_num_probes': (number);
  'total_vectors': (number);
  /**
   * Store URL the snapshot was loaded from.
   */
  'store_url': (string);
  /**
   * The index the shards have, as in ShardDetails and the manifest's shard entries ("hnsw",
   * "ivf_flat", "flat", ...); when shards differ (LanceDB "auto" picks per shard by row count),
   * the distinct types, comma-separated, e.g. "hnsw_sq, ivf_flat". Empty shards are left out.
   */
  'index_type': (string);
  /**
   * CEL-sharded snapshots: the routing expression and its columns (name -> CEL type), i.e. what
   * a query's routing_context must carry. Empty for the other strategies.
   */
  'cel_expr': (string);
  'cel_columns': ({[key: string]: string});
  /**
   * The index type the build was asked for (the manifest's index.index_type, e.g. "auto").
   */
  'requested_index_type': (string);
  /**
   * KV + vector snapshots (built with --kv): the KV backend ("slatedb" = composite, "sqlite" =
   * unified) and the key type Get / MultiGet keys must have ("string", "int" or "bytes").
   * Empty for a vector-only snapshot (Get then looks up record ids as string keys).
   */
  'kv_backend': (string);
  'kv_key_type': (string);
  /**
   * Routing recall curve measured at build time (cluster and lsh snapshots; empty otherwise):
   * element p-1 is the mean fraction of a sample query's exact top-10 (within a sample of the
   * data) that lies in the first p shards it is routed to, p = 1..num_dbs; ends at 1.0.
   */
  'recall_at_probes': (number)[];
  /**
   * Filter columns queries may filter on (name -> "string", "int", "float" or "bool"); empty when
   * the snapshot was built without --filter-columns.
   */
  'filter_columns': ({[key: string]: string});
  /**
   * The snapshot's format: "shardfleet", or "shardyfusion" (served unchanged from its prefix).
   */
  'format': (string);
  /**
   * shardyfusion snapshots: the manifest's absolute URL as shardyfusion wrote it, and how its KV
   * keys are stored ("utf8", "u64be" or "raw"; empty for vector-only); "" for shardfleet's own.
   */
  'source_manifest_url': (string);
  'kv_key_encoding': (string);
  /**
   * The HNSW beam width (ef) shards search with when a query gives no ef: the run's usearch
   * ef_search (raised by the build to what its measured end-to-end recall needs at
   * default_num_probes, unless --ef-search fixed it); 0 for backends without a run default.
   */
  'default_ef': (number);
  /**
   * End-to-end recall measured at build time on the built shards (cluster and lsh usearch
   * snapshots; absent otherwise, and for snapshots built before it existed): what target_recall
   * chooses from.
   */
  'search_recall': (_shardfleet_v1_SearchRecallTable__Output | null);
  /**
   * Live recall (src/router/live-recall.ts): recall@k of sampled user queries against an exact
   * search over every shard of the same run, beside the build-time figure. Absent when
   * --live-recall-fraction is 0.
   */
  'live_recall': (_shardfleet_v1_LiveRecallStatus__Output | null);
  /**
   * The collection that answered (never empty), with run_id: one request is answered from one
   * collection and one run.
   */
  'collection': (string);
}
