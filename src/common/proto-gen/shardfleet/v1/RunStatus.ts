// Original file: proto/shardfleet/v1/shard_node.proto

import type { ShardFailure as _shardfleet_v1_ShardFailure, ShardFailure__Output as _shardfleet_v1_ShardFailure__Output } from '../../shardfleet/v1/ShardFailure.ts';

/**
 * One run a node holds.
 */
export interface RunStatus {
  'run_id'?: (string);
  /**
   * Shards (db ids) loaded and searchable, ascending.
   */
  'shards_loaded'?: (number)[];
  /**
   * Shards that failed to load, with why.
   */
  'shards_failed'?: (_shardfleet_v1_ShardFailure)[];
  /**
   * Shards assigned to this node by placement, ascending.
   */
  'shards_assigned'?: (number)[];
  /**
   * True once every assigned shard is loaded and verified.
   */
  'ready'?: (boolean);
  /**
   * True for the newest run the node knows (_CURRENT); older runs are kept for a grace period.
   */
  'current'?: (boolean);
  /**
   * True while a router's lease keeps this run (see RunLease).
   */
  'leased'?: (boolean);
  /**
   * Shards no longer assigned here (placement moved them, or the node is draining) that are
   * still loaded and searchable until every router says their new owners are ready, ascending.
   */
  'shards_releasing'?: (number)[];
  /**
   * The collection of this run (issue 24); never empty ("default" in single-collection mode).
   */
  'collection'?: (string);
}

/**
 * One run a node holds.
 */
export interface RunStatus__Output {
  'run_id': (string);
  /**
   * Shards (db ids) loaded and searchable, ascending.
   */
  'shards_loaded': (number)[];
  /**
   * Shards that failed to load, with why.
   */
  'shards_failed': (_shardfleet_v1_ShardFailure__Output)[];
  /**
   * Shards assigned to this node by placement, ascending.
   */
  'shards_assigned': (number)[];
  /**
   * True once every assigned shard is loaded and verified.
   */
  'ready': (boolean);
  /**
   * True for the newest run the node knows (_CURRENT); older runs are kept for a grace period.
   */
  'current': (boolean);
  /**
   * True while a router's lease keeps this run (see RunLease).
   */
  'leased': (boolean);
  /**
   * Shards no longer assigned here (placement moved them, or the node is draining) that are
   * still loaded and searchable until every router says their new owners are ready, ascending.
   */
  'shards_releasing': (number)[];
  /**
   * The collection of this run (issue 24); never empty ("default" in single-collection mode).
   */
  'collection': (string);
}
