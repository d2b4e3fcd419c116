// Original file: proto/shardfleet/v1/router.proto

import type { GetResult as _shardfleet_v1_GetResult, GetResult__Output as _shardfleet_v1_GetResult__Output } from '../../shardfleet/v1/GetResult.ts';

export interface GetResponse {
  'result'?: (_shardfleet_v1_GetResult | null);
  /**
   * The run that answered.
   */
  'run_id'?: (string);
  /**
   * Time spent in the router, milliseconds.
   */
  'latency_ms'?: (number | string);
  /**
   * The collection that answered (never empty), with run_id: one request is answered from one
   * collection and one run.
   */
  'collection'?: (string);
}

export interface GetResponse__Output {
  'result': (_shardfleet_v1_GetResult__Output | null);
  /**
   * The run that answered.
   */
  'run_id': (string);
  /**
   * Time spent in the router, milliseconds.
   */
  'latency_ms': (number);
  /**
   * The collection that answered (never empty), with run_id: one request is answered from one
   * collection and one run.
   */
  'collection': (string);
}
