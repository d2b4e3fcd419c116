// Original file: proto/shardfleet/v1/shard_node.proto

import type { RunLease as _shardfleet_v1_RunLease, RunLease__Output as _shardfleet_v1_RunLease__Output } from '../../shardfleet/v1/RunLease.ts';
import type { RunShards as _shardfleet_v1_RunShards, RunShards__Output as _shardfleet_v1_RunShards__Output } from '../../shardfleet/v1/RunShards.ts';
import type { Long } from '@grpc/proto-loader';

export interface NodeRefreshRequest {
  /**
   * As in StatusRequest.
   */
  'router_id'?: (string);
  'run_leases'?: (_shardfleet_v1_RunLease)[];
  'lease_ttl_ms'?: (number);
  'keep_shards'?: (_shardfleet_v1_RunShards)[];
  'draining_nodes'?: (string)[];
  'seen_status_seq'?: (number | string | Long);
}

export interface NodeRefreshRequest__Output {
  /**
   * As in StatusRequest.
   */
  'router_id': (string);
  'run_leases': (_shardfleet_v1_RunLease__Output)[];
  'lease_ttl_ms': (number);
  'keep_shards': (_shardfleet_v1_RunShards__Output)[];
  'draining_nodes': (string)[];
  'seen_status_seq': (number);
}
