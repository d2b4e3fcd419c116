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
}
