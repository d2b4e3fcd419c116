// Original file: proto/shardfleet/v1/router.proto

import type { ShardRoute as _shardfleet_v1_ShardRoute, ShardRoute__Output as _shardfleet_v1_ShardRoute__Output } from '../../shardfleet/v1/ShardRoute.ts';

export interface RouteResponse {
  'run_id'?: (string);
  /**
   * The shards the query would probe, in routing order.
   */
  'shards'?: (_shardfleet_v1_ShardRoute)[];
}

export interface RouteResponse__Output {
  'run_id': (string);
  /**
   * The shards the query would probe, in routing order.
   */
  'shards': (_shardfleet_v1_ShardRoute__Output)[];
}
