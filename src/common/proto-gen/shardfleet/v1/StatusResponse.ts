// Original file: proto/shardfleet/v1/shard_node.proto

import type { ShardFailure as _shardfleet_v1_ShardFailure, ShardFailure__Output as _shardfleet_v1_ShardFailure__Output } from '../../shardfleet/v1/ShardFailure.ts';

export interface StatusResponse {
  /**
   * This node's id (its name in the placement).
   */
  'node_id'?: (string);
  /**
   * The run this node serves ("" when none is loaded yet).
   */
  'run_id'?: (string);
  /**
   * Shards (db ids) loaded and searchable, ascending.
   */
  'shards_loaded'?: (number)[];
  /**
   * Shards assigned to this node that failed to load.
   */
  'shards_failed'?: (_shardfleet_v1_ShardFailure)[];
  /**
   * Shards assigned to this node by placement, ascending.
   */
  'shards_assigned'?: (number)[];
  /**
   * Why the node has no snapshot loaded (e.g. no _CURRENT at the store); "" once one is loaded.
   */
  'load_error'?: (string);
}

export interface StatusResponse__Output {
  /**
   * This node's id (its name in the placement).
   */
  'node_id': (string);
  /**
   * The run this node serves ("" when none is loaded yet).
   */
  'run_id': (string);
  /**
   * Shards (db ids) loaded and searchable, ascending.
   */
  'shards_loaded': (number)[];
  /**
   * Shards assigned to this node that failed to load.
   */
  'shards_failed': (_shardfleet_v1_ShardFailure__Output)[];
  /**
   * Shards assigned to this node by placement, ascending.
   */
  'shards_assigned': (number)[];
  /**
   * Why the node has no snapshot loaded (e.g. no _CURRENT at the store); "" once one is loaded.
   */
  'load_error': (string);
}
