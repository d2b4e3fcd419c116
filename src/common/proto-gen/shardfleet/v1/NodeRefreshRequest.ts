// Original file: proto/shardfleet/v1/shard_node.proto

import type { RunLease as _shardfleet_v1_RunLease, RunLease__Output as _shardfleet_v1_RunLease__Output } from '../../shardfleet/v1/RunLease.ts';

export interface NodeRefreshRequest {
  /**
   * As in StatusRequest.
   */
  'router_id'?: (string);
  'run_leases'?: (_shardfleet_v1_RunLease)[];
  'lease_ttl_ms'?: (number);
}

export interface NodeRefreshRequest__Output {
  /**
   * As in StatusRequest.
   */
  'router_id': (string);
  'run_leases': (_shardfleet_v1_RunLease__Output)[];
  'lease_ttl_ms': (number);
}
