// Original file: proto/shardfleet/v1/shard_node.proto

import type { RunLease as _shardfleet_v1_RunLease, RunLease__Output as _shardfleet_v1_RunLease__Output } from '../../shardfleet/v1/RunLease.ts';

export interface StatusRequest {
  /**
   * The router sending the leases (stable for the router process); "" = no leases.
   */
  'router_id'?: (string);
  /**
   * Every run the router serves or is about to serve. Replaces this router's earlier leases.
   */
  'run_leases'?: (_shardfleet_v1_RunLease)[];
  /**
   * How long these leases live without renewal, ms (the node uses at least its --run-grace-ms).
   */
  'lease_ttl_ms'?: (number);
}

export interface StatusRequest__Output {
  /**
   * The router sending the leases (stable for the router process); "" = no leases.
   */
  'router_id': (string);
  /**
   * Every run the router serves or is about to serve. Replaces this router's earlier leases.
   */
  'run_leases': (_shardfleet_v1_RunLease__Output)[];
  /**
   * How long these leases live without renewal, ms (the node uses at least its --run-grace-ms).
   */
  'lease_ttl_ms': (number);
}
