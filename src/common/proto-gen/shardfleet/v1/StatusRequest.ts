// Original file: proto/shardfleet/v1/shard_node.proto

import type { RunLease as _shardfleet_v1_RunLease, RunLease__Output as _shardfleet_v1_RunLease__Output } from '../../shardfleet/v1/RunLease.ts';
import type { RunShards as _shardfleet_v1_RunShards, RunShards__Output as _shardfleet_v1_RunShards__Output } from '../../shardfleet/v1/RunShards.ts';
import type { Long } from '@grpc/proto-loader';

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
  /**
   * Shards the node reported releasing (RunStatus.shards_releasing) that this router still needs
   * from it: not every owner of the shard under the router's placement has it loaded yet. The
   * node keeps them loaded and searchable while a live router names them (for lease_ttl_ms).
   */
  'keep_shards'?: (_shardfleet_v1_RunShards)[];
  /**
   * Nodes that report draining (StatusResponse.draining), as this router sees them: the node
   * places shards without them, so it loads what they held before they leave.
   */
  'draining_nodes'?: (string)[];
  /**
   * status_seq of the newest StatusResponse of this node the router had read when it computed
   * keep_shards (0 = none): a releasing shard this router has not seen yet is kept.
   */
  'seen_status_seq'?: (number | string | Long);
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
  /**
   * Shards the node reported releasing (RunStatus.shards_releasing) that this router still needs
   * from it: not every owner of the shard under the router's placement has it loaded yet. The
   * node keeps them loaded and searchable while a live router names them (for lease_ttl_ms).
   */
  'keep_shards': (_shardfleet_v1_RunShards__Output)[];
  /**
   * Nodes that report draining (StatusResponse.draining), as this router sees them: the node
   * places shards without them, so it loads what they held before they leave.
   */
  'draining_nodes': (string)[];
  /**
   * status_seq of the newest StatusResponse of this node the router had read when it computed
   * keep_shards (0 = none): a releasing shard this router has not seen yet is kept.
   */
  'seen_status_seq': (number);
}
