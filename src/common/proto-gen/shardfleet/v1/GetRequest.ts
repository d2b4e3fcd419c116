// Original file: proto/shardfleet/v1/router.proto

import type { Key as _shardfleet_v1_Key, Key__Output as _shardfleet_v1_Key__Output } from '../../shardfleet/v1/Key.ts';
import type { RoutingValue as _shardfleet_v1_RoutingValue, RoutingValue__Output as _shardfleet_v1_RoutingValue__Output } from '../../shardfleet/v1/RoutingValue.ts';

export interface GetRequest {
  'key'?: (_shardfleet_v1_Key | null);
  /**
   * CEL-sharded snapshots: the values of the manifest's cel_columns (required).
   */
  'routing_context'?: ({[key: string]: _shardfleet_v1_RoutingValue});
  /**
   * Return the record's stored vector (GetResult.vector).
   */
  'include_vector'?: (boolean);
  /**
   * The collection to ask (issue 24): a collection name under the router's catalog root, or empty
   * for the default collection (the router's --default-collection, else its only collection; with
   * several and no default, INVALID_ARGUMENT listing them). An unknown name is NOT_FOUND. A router
   * serving one snapshot prefix (no catalog) serves it as "default".
   */
  'collection'?: (string);
}

export interface GetRequest__Output {
  'key': (_shardfleet_v1_Key__Output | null);
  /**
   * CEL-sharded snapshots: the values of the manifest's cel_columns (required).
   */
  'routing_context': ({[key: string]: _shardfleet_v1_RoutingValue__Output});
  /**
   * Return the record's stored vector (GetResult.vector).
   */
  'include_vector': (boolean);
  /**
   * The collection to ask (issue 24): a collection name under the router's catalog root, or empty
   * for the default collection (the router's --default-collection, else its only collection; with
   * several and no default, INVALID_ARGUMENT listing them). An unknown name is NOT_FOUND. A router
   * serving one snapshot prefix (no catalog) serves it as "default".
   */
  'collection': (string);
}
