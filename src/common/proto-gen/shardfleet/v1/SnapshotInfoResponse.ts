// Original file: proto/shardfleet/v1/router.proto

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
   * Sharding strategy ("cluster", "lsh", "explicit" or "cel").
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
   * Requested index type of the shards (e.g. "auto", "hnsw_sq", "flat").
   */
  'index_type'?: (string);
  /**
   * CEL-sharded snapshots: the routing expression and its columns (name -> CEL type), i.e. what
   * a query's routing_context must carry. Empty for the other strategies.
   */
  'cel_expr'?: (string);
  'cel_columns'?: ({[key: string]: string});
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
   * Sharding strategy ("cluster", "lsh", "explicit" or "cel").
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
   * Requested index type of the shards (e.g. "auto", "hnsw_sq", "flat").
   */
  'index_type': (string);
  /**
   * CEL-sharded snapshots: the routing expression and its columns (name -> CEL type), i.e. what
   * a query's routing_context must carry. Empty for the other strategies.
   */
  'cel_expr': (string);
  'cel_columns': ({[key: string]: string});
}
