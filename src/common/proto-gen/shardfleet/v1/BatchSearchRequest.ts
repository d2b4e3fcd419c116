// Original file: proto/shardfleet/v1/router.proto

import type { SearchRequest as _shardfleet_v1_SearchRequest, SearchRequest__Output as _shardfleet_v1_SearchRequest__Output } from '../../shardfleet/v1/SearchRequest.ts';

export interface BatchSearchRequest {
  /**
   * The queries; each is a full SearchRequest (top_k, routing, options per query).
   */
  'queries'?: (_shardfleet_v1_SearchRequest)[];
  /**
   * The collection to ask (issue 24): a collection name under the router's catalog root, or empty
   * for the default collection (the router's --default-collection, else its only collection; with
   * several and no default, INVALID_ARGUMENT listing them). An unknown name is NOT_FOUND. A router
   * serving one snapshot prefix (no catalog) serves it as "default".
   */
  'collection'?: (string);
}

export interface BatchSearchRequest__Output {
  /**
   * The queries; each is a full SearchRequest (top_k, routing, options per query).
   */
  'queries': (_shardfleet_v1_SearchRequest__Output)[];
  /**
   * The collection to ask (issue 24): a collection name under the router's catalog root, or empty
   * for the default collection (the router's --default-collection, else its only collection; with
   * several and no default, INVALID_ARGUMENT listing them). An unknown name is NOT_FOUND. A router
   * serving one snapshot prefix (no catalog) serves it as "default".
   */
  'collection': (string);
}
