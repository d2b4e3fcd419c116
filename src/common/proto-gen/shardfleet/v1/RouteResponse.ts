// Original file: proto/shardfleet/v1/router.proto

import type { ShardRoute as _shardfleet_v1_ShardRoute, ShardRoute__Output as _shardfleet_v1_ShardRoute__Output } from '../../shardfleet/v1/ShardRoute.ts';
import type { ShardFailure as _shardfleet_v1_ShardFailure, ShardFailure__Output as _shardfleet_v1_ShardFailure__Output } from '../../shardfleet/v1/ShardFailure.ts';

export interface RouteResponse {
  'run_id'?: (string);
  /**
   * The shards the query would probe, in routing order.
   */
  'shards'?: (_shardfleet_v1_ShardRoute)[];
  /**
   * Shards passed over because the filter cannot match there (db_id, and why: the statistic that
   * rules it out), in routing order.
   */
  'skipped'?: (_shardfleet_v1_ShardFailure)[];
  /**
   * How the shards were chosen when it is not by similarity, e.g. "hash-sharded snapshot:
   * records are placed by key hash, so a search probes every shard (or the shard_ids given)".
   */
  'note'?: (string);
  /**
   * The collection that answered (never empty), with run_id: one request is answered from one
   * collection and one run.
   */
  'collection'?: (string);
}

export interface RouteResponse__Output {
  'run_id': (string);
  /**
   * The shards the query would probe, in routing order.
   */
  'shards': (_shardfleet_v1_ShardRoute__Output)[];
  /**
   * Shards passed over because the filter cannot match there (db_id, and why: the statistic that
   * rules it out), in routing order.
   */
  'skipped': (_shardfleet_v1_ShardFailure__Output)[];
  /**
   * How the shards were chosen when it is not by similarity, e.g. "hash-sharded snapshot:
   * records are placed by key hash, so a search probes every shard (or the shard_ids given)".
   */
  'note': (string);
  /**
   * The collection that answered (never empty), with run_id: one request is answered from one
   * collection and one run.
   */
  'collection': (string);
}
