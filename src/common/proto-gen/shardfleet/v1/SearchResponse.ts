// Original file: proto/shardfleet/v1/router.proto

import type { Hit as _shardfleet_v1_Hit, Hit__Output as _shardfleet_v1_Hit__Output } from '../../shardfleet/v1/Hit.ts';
import type { ShardFailure as _shardfleet_v1_ShardFailure, ShardFailure__Output as _shardfleet_v1_ShardFailure__Output } from '../../shardfleet/v1/ShardFailure.ts';

export interface SearchResponse {
  /**
   * The merged top_k, best (lowest score) first, deduplicated by id.
   */
  'results'?: (_shardfleet_v1_Hit)[];
  /**
   * How many shards were searched.
   */
  'num_shards_queried'?: (number);
  /**
   * The snapshot run that answered.
   */
  'run_id'?: (string);
  /**
   * Time spent in the router, milliseconds (routing + fan-out + merge).
   */
  'latency_ms'?: (number | string);
  /**
   * The shards (db ids) that were searched, in routing order (nearest centroid first).
   */
  'shard_ids'?: (number)[];
  /**
   * How many of them answered.
   */
  'num_shards_answered'?: (number);
  /**
   * The probed shards that did not answer, with why (only when min_coverage allowed it).
   */
  'failed_shards'?: (_shardfleet_v1_ShardFailure)[];
  /**
   * True when failed_shards is not empty.
   */
  'partial'?: (boolean);
  /**
   * The collection that answered (never empty), with run_id: one request is answered from one
   * collection and one run.
   */
  'collection'?: (string);
}

export interface SearchResponse__Output {
  /**
   * The merged top_k, best (lowest score) first, deduplicated by id.
   */
  'results': (_shardfleet_v1_Hit__Output)[];
  /**
   * How many shards were searched.
   */
  'num_shards_queried': (number);
  /**
   * The snapshot run that answered.
   */
  'run_id': (string);
  /**
   * Time spent in the router, milliseconds (routing + fan-out + merge).
   */
  'latency_ms': (number);
  /**
   * The shards (db ids) that were searched, in routing order (nearest centroid first).
   */
  'shard_ids': (number)[];
  /**
   * How many of them answered.
   */
  'num_shards_answered': (number);
  /**
   * The probed shards that did not answer, with why (only when min_coverage allowed it).
   */
  'failed_shards': (_shardfleet_v1_ShardFailure__Output)[];
  /**
   * True when failed_shards is not empty.
   */
  'partial': (boolean);
  /**
   * The collection that answered (never empty), with run_id: one request is answered from one
   * collection and one run.
   */
  'collection': (string);
}
