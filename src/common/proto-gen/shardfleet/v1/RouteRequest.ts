// Original file: proto/shardfleet/v1/router.proto

import type { RoutingValue as _shardfleet_v1_RoutingValue, RoutingValue__Output as _shardfleet_v1_RoutingValue__Output } from '../../shardfleet/v1/RoutingValue.ts';

export interface RouteRequest {
  /**
   * As in SearchRequest.
   */
  'query'?: (Buffer | Uint8Array | string);
  'num_probes'?: (number);
  'shard_ids'?: (number)[];
  'routing_context'?: ({[key: string]: _shardfleet_v1_RoutingValue});
  /**
   * As in SearchRequest: shards the filter's statistics rule out are skipped (RouteResponse.skipped).
   */
  'filter'?: (string);
  /**
   * The collection to ask (issue 24): a collection name under the router's catalog root, or empty
   * for the default collection (the router's --default-collection, else its only collection; with
   * several and no default, INVALID_ARGUMENT listing them). An unknown name is NOT_FOUND. A router
   * serving one snapshot prefix (no catalog) serves it as "default".
   */
  'collection'?: (string);
}

export interface RouteRequest__Output {
  /**
   * As in SearchRequest.
   */
  'query': (Buffer);
  'num_probes': (number);
  'shard_ids': (number)[];
  'routing_context': ({[key: string]: _shardfleet_v1_RoutingValue__Output});
  /**
   * As in SearchRequest: shards the filter's statistics rule out are skipped (RouteResponse.skipped).
   */
  'filter': (string);
  /**
   * The collection to ask (issue 24): a collection name under the router's catalog root, or empty
   * for the default collection (the router's --default-collection, else its only collection; with
   * several and no default, INVALID_ARGUMENT listing them). An unknown name is NOT_FOUND. A router
   * serving one snapshot prefix (no catalog) serves it as "default".
   */
  'collection': (string);
}
