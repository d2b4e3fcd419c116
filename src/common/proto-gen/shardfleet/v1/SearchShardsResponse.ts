// Original file: proto/shardfleet/v1/shard_node.proto

import type { ShardResult as _shardfleet_v1_ShardResult, ShardResult__Output as _shardfleet_v1_ShardResult__Output } from '../../shardfleet/v1/ShardResult.ts';

export interface SearchShardsResponse {
  /**
   * The run that answered.
   */
  'run_id'?: (string);
  /**
   * One entry per (query, requested shard), in request order.
   */
  'shards'?: (_shardfleet_v1_ShardResult)[];
  /**
   * The collection of run_id (never empty).
   */
  'collection'?: (string);
}

export interface SearchShardsResponse__Output {
  /**
   * The run that answered.
   */
  'run_id': (string);
  /**
   * One entry per (query, requested shard), in request order.
   */
  'shards': (_shardfleet_v1_ShardResult__Output)[];
  /**
   * The collection of run_id (never empty).
   */
  'collection': (string);
}
