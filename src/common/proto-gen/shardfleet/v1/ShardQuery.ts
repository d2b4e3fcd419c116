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
  /**
   * Point lookup (Router Get / MultiGet) instead of a search when not empty: look these keys up
   * in every shard of shard_ids (the router sends each shard its own keys, so normally one shard).
   * A key is its canonical bytes: for a KV snapshot (manifest `kv`) the key as stored (UTF-8,
   * 8-byte signed little-endian or raw bytes, per kv.key_type); for a vector-only snapshot the
   * UTF-8 bytes of a record id. `query` and `top_k` are ignored; include_payload /
   * include_vector apply to the record the key names.
   */
  'keys'?: (Buffer | Uint8Array | string)[];
  /**
   * Pre-filter of a search: the router's compiled form of SearchRequest.filter, as JSON (see
   * src/common/filter/filter-expr.ts, FilterExpr); "" = none. Every hit must match it.
   */
  'filter'?: (string);
  /**
   * Exact search (the router's live recall reference, src/router/live-recall.ts): every shard of
   * shard_ids answers its true top_k (with `filter` applied) by scanning all its rows, ignoring
   * the index options. Runs in the node's low-priority lane: one at a time, refused
   * RESOURCE_EXHAUSTED while user searches wait for admission. A call with an exact query carries
   * only exact queries.
   */
  'exact'?: (boolean);
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
  /**
   * Point lookup (Router Get / MultiGet) instead of a search when not empty: look these keys up
   * in every shard of shard_ids (the router sends each shard its own keys, so normally one shard).
   * A key is its canonical bytes: for a KV snapshot (manifest `kv`) the key as stored (UTF-8,
   * 8-byte signed little-endian or raw bytes, per kv.key_type); for a vector-only snapshot the
   * UTF-8 bytes of a record id. `query` and `top_k` are ignored; include_payload /
   * include_vector apply to the record the key names.
   */
  'keys': (Buffer)[];
  /**
   * Pre-filter of a search: the router's compiled form of SearchRequest.filter, as JSON (see
   * src/common/filter/filter-expr.ts, FilterExpr); "" = none. Every hit must match it.
   */
  'filter': (string);
  /**
   * Exact search (the router's live recall reference, src/router/live-recall.ts): every shard of
   * shard_ids answers its true top_k (with `filter` applied) by scanning all its rows, ignoring
   * the index options. Runs in the node's low-priority lane: one at a time, refused
   * RESOURCE_EXHAUSTED while user searches wait for admission. A call with an exact query carries
   * only exact queries.
   */
  'exact': (boolean);
}
