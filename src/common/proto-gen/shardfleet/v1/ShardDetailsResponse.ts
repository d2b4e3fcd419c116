// Original file: proto/shardfleet/v1/router.proto

import type { ShardDetail as _shardfleet_v1_ShardDetail, ShardDetail__Output as _shardfleet_v1_ShardDetail__Output } from '../../shardfleet/v1/ShardDetail.ts';

export interface ShardDetailsResponse {
  'run_id'?: (string);
  'shards'?: (_shardfleet_v1_ShardDetail)[];
  /**
   * The snapshot's format: "shardfleet", or "shardyfusion" (a shardyfusion snapshot served
   * unchanged), with its layout: "shardyfusion vector sqlite-vec", "shardyfusion unified
   * sqlite-vec", "shardyfusion composite lancedb+slatedb", "shardyfusion vector lancedb".
   */
  'format'?: (string);
  /**
   * The router's replication factor R (its --replication): placement gives each shard
   * min(R, nodes) owners; a shard with fewer ready replicas has lost redundancy (0 from a router
   * built before this field).
   */
  'replication_factor'?: (number);
  /**
   * The collection that answered (never empty), with run_id: one request is answered from one
   * collection and one run.
   */
  'collection'?: (string);
}

export interface ShardDetailsResponse__Output {
  'run_id': (string);
  'shards': (_shardfleet_v1_ShardDetail__Output)[];
  /**
   * The snapshot's format: "shardfleet", or "shardyfusion" (a shardyfusion snapshot served
   * unchanged), with its layout: "shardyfusion vector sqlite-vec", "shardyfusion unified
   * sqlite-vec", "shardyfusion composite lancedb+slatedb", "shardyfusion vector lancedb".
   */
  'format': (string);
  /**
   * The router's replication factor R (its --replication): placement gives each shard
   * min(R, nodes) owners; a shard with fewer ready replicas has lost redundancy (0 from a router
   * built before this field).
   */
  'replication_factor': (number);
  /**
   * The collection that answered (never empty), with run_id: one request is answered from one
   * collection and one run.
   */
  'collection': (string);
}
