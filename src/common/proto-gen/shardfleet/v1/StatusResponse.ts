// Original file: proto/shardfleet/v1/shard_node.proto

import type { ShardFailure as _shardfleet_v1_ShardFailure, ShardFailure__Output as _shardfleet_v1_ShardFailure__Output } from '../../shardfleet/v1/ShardFailure.ts';
import type { RunStatus as _shardfleet_v1_RunStatus, RunStatus__Output as _shardfleet_v1_RunStatus__Output } from '../../shardfleet/v1/RunStatus.ts';
import type { Long } from '@grpc/proto-loader';

export interface StatusResponse {
  /**
   * This node's id (its name in the placement).
   */
  'node_id'?: (string);
  /**
   * The newest run this node holds ("" when none is loaded yet). Fields 3-5 describe it.
   */
  'run_id'?: (string);
  /**
   * Shards (db ids) of run_id loaded and searchable, ascending.
   */
  'shards_loaded'?: (number)[];
  /**
   * Shards of run_id assigned to this node that failed to load.
   */
  'shards_failed'?: (_shardfleet_v1_ShardFailure)[];
  /**
   * Shards of run_id assigned to this node by placement, ascending.
   */
  'shards_assigned'?: (number)[];
  /**
   * Why the node has no snapshot loaded (e.g. no _CURRENT at the store); "" once one is loaded.
   */
  'load_error'?: (string);
  /**
   * Every run the node holds (the current one, runs routers lease, and older ones within their
   * grace period).
   */
  'runs'?: (_shardfleet_v1_RunStatus)[];
  /**
   * Bytes of shard files in the local cache, and the cap (0 = unbounded).
   */
  'cache_bytes'?: (number | string | Long);
  'max_cache_bytes'?: (number | string | Long);
  /**
   * True once the node was asked to stop (SIGTERM): it takes no shard in placement and leaves as
   * soon as the new owners of the shards it holds are ready (or its --leave-timeout-ms ends).
   */
  'draining'?: (boolean);
  /**
   * Increases with every StatusResponse of this process (routers echo it as seen_status_seq).
   */
  'status_seq'?: (number | string | Long);
}

export interface StatusResponse__Output {
  /**
   * This node's id (its name in the placement).
   */
  'node_id': (string);
  /**
   * The newest run this node holds ("" when none is loaded yet). Fields 3-5 describe it.
   */
  'run_id': (string);
  /**
   * Shards (db ids) of run_id loaded and searchable, ascending.
   */
  'shards_loaded': (number)[];
  /**
   * Shards of run_id assigned to this node that failed to load.
   */
  'shards_failed': (_shardfleet_v1_ShardFailure__Output)[];
  /**
   * Shards of run_id assigned to this node by placement, ascending.
   */
  'shards_assigned': (number)[];
  /**
   * Why the node has no snapshot loaded (e.g. no _CURRENT at the store); "" once one is loaded.
   */
  'load_error': (string);
  /**
   * Every run the node holds (the current one, runs routers lease, and older ones within their
   * grace period).
   */
  'runs': (_shardfleet_v1_RunStatus__Output)[];
  /**
   * Bytes of shard files in the local cache, and the cap (0 = unbounded).
   */
  'cache_bytes': (number);
  'max_cache_bytes': (number);
  /**
   * True once the node was asked to stop (SIGTERM): it takes no shard in placement and leaves as
   * soon as the new owners of the shards it holds are ready (or its --leave-timeout-ms ends).
   */
  'draining': (boolean);
  /**
   * Increases with every StatusResponse of this process (routers echo it as seen_status_seq).
   */
  'status_seq': (number);
}
