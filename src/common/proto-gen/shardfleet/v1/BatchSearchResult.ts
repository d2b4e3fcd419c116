// Original file: proto/shardfleet/v1/router.proto

import type { SearchResponse as _shardfleet_v1_SearchResponse, SearchResponse__Output as _shardfleet_v1_SearchResponse__Output } from '../../shardfleet/v1/SearchResponse.ts';

/**
 * The outcome of one query of a batch: a response, or an error (gRPC status code and message).
 */
export interface BatchSearchResult {
  'response'?: (_shardfleet_v1_SearchResponse | null);
  /**
   * 0 (OK) when response is set; otherwise the status the query alone would have failed with.
   */
  'error_code'?: (number);
  'error_message'?: (string);
}

/**
 * The outcome of one query of a batch: a response, or an error (gRPC status code and message).
 */
export interface BatchSearchResult__Output {
  'response': (_shardfleet_v1_SearchResponse__Output | null);
  /**
   * 0 (OK) when response is set; otherwise the status the query alone would have failed with.
   */
  'error_code': (number);
  'error_message': (string);
}
