// Original file: proto/shardfleet/v1/router.proto

import type { BatchSearchResult as _shardfleet_v1_BatchSearchResult, BatchSearchResult__Output as _shardfleet_v1_BatchSearchResult__Output } from '../../shardfleet/v1/BatchSearchResult.ts';

export interface BatchSearchResponse {
  /**
   * One result per query, in request order.
   */
  'results'?: (_shardfleet_v1_BatchSearchResult)[];
  /**
   * The run that answered every query of the batch.
   */
  'run_id'?: (string);
  /**
   * The collection that answered (never empty), with run_id: one request is answered from one
   * collection and one run.
   */
  'collection'?: (string);
}

export interface BatchSearchResponse__Output {
  /**
   * One result per query, in request order.
   */
  'results': (_shardfleet_v1_BatchSearchResult__Output)[];
  /**
   * The run that answered every query of the batch.
   */
  'run_id': (string);
  /**
   * The collection that answered (never empty), with run_id: one request is answered from one
   * collection and one run.
   */
  'collection': (string);
}
