// Original file: proto/shardfleet/v1/router.proto

import type { Key as _shardfleet_v1_Key, Key__Output as _shardfleet_v1_Key__Output } from '../../shardfleet/v1/Key.ts';
import type { RoutingValue as _shardfleet_v1_RoutingValue, RoutingValue__Output as _shardfleet_v1_RoutingValue__Output } from '../../shardfleet/v1/RoutingValue.ts';

export interface MultiGetRequest {
  /**
   * The keys (1..--max-get-keys); repeats are allowed and answered each time.
   */
  'keys'?: (_shardfleet_v1_Key)[];
  /**
   * CEL-sharded snapshots: the routing context of every key of the call (required).
   */
  'routing_context'?: ({[key: string]: _shardfleet_v1_RoutingValue});
  'include_vector'?: (boolean);
  /**
   * Fraction (0..1] of the keys that must be answered (found or not); 0 means 1.0. Below it the
   * call fails UNAVAILABLE; above it failed keys carry `error` and partial = true.
   */
  'min_coverage'?: (number | string);
  /**
   * The collection to ask (issue 24): a collection name under the router's catalog root, or empty
   * for the default collection (the router's --default-collection, else its only collection; with
   * several and no default, INVALID_ARGUMENT listing them). An unknown name is NOT_FOUND. A router
   * serving one snapshot prefix (no catalog) serves it as "default".
   */
  'collection'?: (string);
}

export interface MultiGetRequest__Output {
  /**
   * The keys (1..--max-get-keys); repeats are allowed and answered each time.
   */
  'keys': (_shardfleet_v1_Key__Output)[];
  /**
   * CEL-sharded snapshots: the routing context of every key of the call (required).
   */
  'routing_context': ({[key: string]: _shardfleet_v1_RoutingValue__Output});
  'include_vector': (boolean);
  /**
   * Fraction (0..1] of the keys that must be answered (found or not); 0 means 1.0. Below it the
   * call fails UNAVAILABLE; above it failed keys carry `error` and partial = true.
   */
  'min_coverage': (number);
  /**
   * The collection to ask (issue 24): a collection name under the router's catalog root, or empty
   * for the default collection (the router's --default-collection, else its only collection; with
   * several and no default, INVALID_ARGUMENT listing them). An unknown name is NOT_FOUND. A router
   * serving one snapshot prefix (no catalog) serves it as "default".
   */
  'collection': (string);
}
