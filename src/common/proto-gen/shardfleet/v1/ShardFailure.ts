// Original file: proto/shardfleet/v1/common.proto


/**
 * A shard that could not be searched or loaded.
 */
export interface ShardFailure {
  'db_id'?: (number);
  /**
   * Human-readable reason naming the node, file or error.
   */
  'reason'?: (string);
}

/**
 * A shard that could not be searched or loaded.
 */
export interface ShardFailure__Output {
  'db_id': (number);
  /**
   * Human-readable reason naming the node, file or error.
   */
  'reason': (string);
}
