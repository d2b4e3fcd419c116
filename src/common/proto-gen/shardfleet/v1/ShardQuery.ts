// Original file: proto/shardfleet/v1/shard_node.proto


/**
 * One query against some shards.
 */
export interface ShardQuery {
  /**
   * The query vector: dim float32 values, little-endian, 4*dim bytes.
   */
  'query'?: (Buffer | Uint8Array | string);
  /**
   * Number of results wanted per shard (>= 1).
   */
  'top_k'?: (number);
  /**
   * The shards (db ids) to search.
   */
  'shard_ids'?: (number)[];
  /**
   * Return payloads / stored vectors with hits.
   */
  'include_payload'?: (boolean);
  'include_vector'?: (boolean);
  /**
   * Index options (0 = the shard's default): IVF partitions to probe, HNSW beam width, re-rank factor.
   */
  'nprobes'?: (number);
  'ef'?: (number);
  'refine_factor'?: (number);
}

/**
 * One query against some shards.
 */
export interface ShardQuery__Output {
  /**
   * The query vector: dim float32 values, little-endian, 4*dim bytes.
   */
  'query': (Buffer);
  /**
   * Number of results wanted per shard (>= 1).
   */
  'top_k': (number);
  /**
   * The shards (db ids) to search.
   */
  'shard_ids': (number)[];
  /**
   * Return payloads / stored vectors with hits.
   */
  'include_payload': (boolean);
  'include_vector': (boolean);
  /**
   * Index options (0 = the shard's default): IVF partitions to probe, HNSW beam width, re-rank factor.
   */
  'nprobes': (number);
  'ef': (number);
  'refine_factor': (number);
}
