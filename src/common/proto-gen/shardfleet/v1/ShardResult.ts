// Original file: proto/shardfleet/v1/shard_node.proto

import type { Hit as _shardfleet_v1_Hit, Hit__Output as _shardfleet_v1_Hit__Output } from '../../shardfleet/v1/Hit.ts';

/**
 * The result of one (query, shard).
 */
export interface ShardResult {
  /**
   * The shard's db id.
   */
  'db_id'?: (number);
  /**
   * Up to top_k hits, best (lowest score) first. Empty when error is set.
   */
  'hits'?: (_shardfleet_v1_Hit)[];
  /**
   * Why the shard could not be searched ("" on success), e.g. "sha256 mismatch for file ...".
   */
  'error'?: (string);
  /**
   * Index of the query in SearchShardsRequest.queries.
   */
  'query_index'?: (number);
}

/**
 * The result of one (query, shard).
 */
export interface ShardResult__Output {
  /**
   * The shard's db id.
   */
  'db_id': (number);
  /**
   * Up to top_k hits, best (lowest score) first. Empty when error is set.
   */
  'hits': (_shardfleet_v1_Hit__Output)[];
  /**
   * Why the shard could not be searched ("" on success), e.g. "sha256 mismatch for file ...".
   */
  'error': (string);
  /**
   * Index of the query in SearchShardsRequest.queries.
   */
  'query_index': (number);
}
