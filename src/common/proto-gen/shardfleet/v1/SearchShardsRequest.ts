// Original file: proto/shardfleet/v1/shard_node.proto

import type { ShardQuery as _shardfleet_v1_ShardQuery, ShardQuery__Output as _shardfleet_v1_ShardQuery__Output } from '../../shardfleet/v1/ShardQuery.ts';

export interface SearchShardsRequest {
  /**
   * The run every shard must come from (one request is answered from one run only).
   */
  'run_id'?: (string);
  /**
   * The queries (one for Search, many for BatchSearch).
   */
  'queries'?: (_shardfleet_v1_ShardQuery)[];
  /**
   * The collection run_id belongs to (issue 24); empty = the node's default collection ("default"
   * when it serves one snapshot prefix, as before). Two collections may hold the same run_id.
   */
  'collection'?: (string);
}

export interface SearchShardsRequest__Output {
  /**
   * The run every shard must come from (one request is answered from one run only).
   */
  'run_id': (string);
  /**
   * The queries (one for Search, many for BatchSearch).
   */
  'queries': (_shardfleet_v1_ShardQuery__Output)[];
  /**
   * The collection run_id belongs to (issue 24); empty = the node's default collection ("default"
   * when it serves one snapshot prefix, as before). Two collections may hold the same run_id.
   */
  'collection': (string);
}
