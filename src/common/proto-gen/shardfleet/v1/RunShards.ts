// Original file: proto/shardfleet/v1/shard_node.proto


/**
 * Shards (db ids) of one run.
 */
export interface RunShards {
  'run_id'?: (string);
  'db_ids'?: (number)[];
}

/**
 * Shards (db ids) of one run.
 */
export interface RunShards__Output {
  'run_id': (string);
  'db_ids': (number)[];
}
