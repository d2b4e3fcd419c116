// Original file: proto/shardfleet/v1/shard_node.proto


/**
 * A shard that could not be loaded.
 */
export interface ShardFailure {
  'db_id'?: (number);
  /**
   * Human-readable reason naming the file or error.
   */
  'reason'?: (string);
}

/**
 * A shard that could not be loaded.
 */
export interface ShardFailure__Output {
  'db_id': (number);
  /**
   * Human-readable reason naming the file or error.
   */
  'reason': (string);
}
