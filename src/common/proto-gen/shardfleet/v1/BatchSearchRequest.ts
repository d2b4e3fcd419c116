// Original file: proto/shardfleet/v1/router.proto

import type { SearchRequest as _shardfleet_v1_SearchRequest, SearchRequest__Output as _shardfleet_v1_SearchRequest__Output } from '../../shardfleet/v1/SearchRequest.ts';

export interface BatchSearchRequest {
  /**
   * The queries; each is a full SearchRequest (top_k, routing, options per query).
   */
  'queries'?: (_shardfleet_v1_SearchRequest)[];
}

export interface BatchSearchRequest__Output {
  /**
   * The queries; each is a full SearchRequest (top_k, routing, options per query).
   */
  'queries': (_shardfleet_v1_SearchRequest__Output)[];
}
