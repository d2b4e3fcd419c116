// Original file: proto/shardfleet/v1/router.proto

import type { Hit as _shardfleet_v1_Hit, Hit__Output as _shardfleet_v1_Hit__Output } from '../../shardfleet/v1/Hit.ts';

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
}
