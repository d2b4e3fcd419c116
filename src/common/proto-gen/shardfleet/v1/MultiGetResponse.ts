// Original file: proto/shardfleet/v1/router.proto

import type { GetResult as _shardfleet_v1_GetResult, GetResult__Output as _shardfleet_v1_GetResult__Output } from '../../shardfleet/v1/GetResult.ts';

export interface MultiGetResponse {
  /**
   * One result per key, in request order.
   */
  'results'?: (_shardfleet_v1_GetResult)[];
  'run_id'?: (string);
  'latency_ms'?: (number | string);
  /**
   * True when some key has `error` set.
   */
  'partial'?: (boolean);
  /**
   * Shards asked (distinct), and how many node calls the lookup took.
   */
  'num_shards_queried'?: (number);
  /**
   * The collection that answered (never empty), with run_id: one request is answered from one
   * collection and one run.
   */
  'collection'?: (string);
}

export interface MultiGetResponse__Output {
  /**
   * One result per key, in request order.
   */
  'results': (_shardfleet_v1_GetResult__Output)[];
  'run_id': (string);
  'latency_ms': (number);
  /**
   * True when some key has `error` set.
   */
  'partial': (boolean);
  /**
   * Shards asked (distinct), and how many node calls the lookup took.
   */
  'num_shards_queried': (number);
  /**
   * The collection that answered (never empty), with run_id: one request is answered from one
   * collection and one run.
   */
  'collection': (string);
}
