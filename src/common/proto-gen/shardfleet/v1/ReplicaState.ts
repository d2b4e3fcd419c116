// Original file: proto/shardfleet/v1/router.proto


/**
 * One replica of a shard as the router sees it.
 */
export interface ReplicaState {
  'node_id'?: (string);
  'address'?: (string);
  /**
   * "loaded" (searchable for the served run), "loading", "failed", "unreachable", "ejected".
   */
  'state'?: (string);
  /**
   * Why, when not loaded.
   */
  'reason'?: (string);
}

/**
 * One replica of a shard as the router sees it.
 */
export interface ReplicaState__Output {
  'node_id': (string);
  'address': (string);
  /**
   * "loaded" (searchable for the served run), "loading", "failed", "unreachable", "ejected".
   */
  'state': (string);
  /**
   * Why, when not loaded.
   */
  'reason': (string);
}
