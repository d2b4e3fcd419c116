// Original file: proto/shardfleet/v1/shard_node.proto


/**
 * Shards (db ids) of one run.
 */
export interface RunShards {
  'run_id'?: (string);
  'db_ids'?: (number)[];
  /**
   * The collection run_id belongs to (issue 24); empty = the node's default collection ("default"
   * when it serves one snapshot prefix, as before). Two collections may hold the same run_id.
   */
  'collection'?: (string);
}

/**
 * Shards (db ids) of one run.
 */
export interface RunShards__Output {
  'run_id': (string);
  'db_ids': (number)[];
  /**
   * The collection run_id belongs to (issue 24); empty = the node's default collection ("default"
   * when it serves one snapshot prefix, as before). Two collections may hold the same run_id.
   */
  'collection': (string);
}
