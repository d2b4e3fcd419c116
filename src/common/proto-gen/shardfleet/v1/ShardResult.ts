// Original file: proto/shardfleet/v1/shard_node.proto


/**
 * The result of one (query, shard). Hits are packed: hit j is (ids[j], scores[j],
 * payloads_json[j], vectors[j*4*dim .. (j+1)*4*dim)), best (lowest score) first; packed arrays
 * cost protobufjs about half the encode and decode work of one Hit message per hit.
 * Field 2 (`repeated Hit hits`) is gone: this is an internal API and routers and shard nodes of
 * one release ship together, so no mixed-version cluster has to read it.
 */
export interface ShardResult {
  /**
   * The shard's db id.
   */
  'db_id'?: (number);
  /**
   * Why the shard could not be searched ("" on success), e.g. "sha256 mismatch for file ...".
   */
  'error'?: (string);
  /**
   * Index of the query in SearchShardsRequest.queries.
   */
  'query_index'?: (number);
  /**
   * Up to top_k hit ids. Empty when error is set.
   */
  'ids'?: (string)[];
  /**
   * One score per id (the Hit.score contract: lower is better). double keeps scores a backend
   * computes in float64 (sqlite-vec's exactly scored rows) exact; it costs the same as float.
   */
  'scores'?: (number | string)[];
  /**
   * One payload JSON text per id when the query set include_payload, else empty.
   */
  'payloads_json'?: (string)[];
  /**
   * When the query set include_vector: every hit's stored vector, concatenated, each dim
   * little-endian float32 values (4*dim*len(ids) bytes); else empty.
   */
  'vectors'?: (Buffer | Uint8Array | string);
  /**
   * Point lookups (ShardQuery.keys): one entry per key, in order, in `found`, `values`, `ids`
   * and `payloads_json` (payloads "" unless include_payload); `vectors` holds the stored vector
   * of each FOUND key that has one, in key order (4*dim bytes each). A KV snapshot's key is found
   * when its KV store has it (value = the stored bytes); a vector-only snapshot's when the shard
   * has a record with that id (value empty). scores is empty.
   */
  'found'?: (boolean)[];
  'values'?: (Buffer | Uint8Array | string)[];
}

/**
 * The result of one (query, shard). Hits are packed: hit j is (ids[j], scores[j],
 * payloads_json[j], vectors[j*4*dim .. (j+1)*4*dim)), best (lowest score) first; packed arrays
 * cost protobufjs about half the encode and decode work of one Hit message per hit.
 * Field 2 (`repeated Hit hits`) is gone: this is an internal API and routers and shard nodes of
 * one release ship together, so no mixed-version cluster has to read it.
 */
export interface ShardResult__Output {
  /**
   * The shard's db id.
   */
  'db_id': (number);
  /**
   * Why the shard could not be searched ("" on success), e.g. "sha256 mismatch for file ...".
   */
  'error': (string);
  /**
   * Index of the query in SearchShardsRequest.queries.
   */
  'query_index': (number);
  /**
   * Up to top_k hit ids. Empty when error is set.
   */
  'ids': (string)[];
  /**
   * One score per id (the Hit.score contract: lower is better). double keeps scores a backend
   * computes in float64 (sqlite-vec's exactly scored rows) exact; it costs the same as float.
   */
  'scores': (number)[];
  /**
   * One payload JSON text per id when the query set include_payload, else empty.
   */
  'payloads_json': (string)[];
  /**
   * When the query set include_vector: every hit's stored vector, concatenated, each dim
   * little-endian float32 values (4*dim*len(ids) bytes); else empty.
   */
  'vectors': (Buffer);
  /**
   * Point lookups (ShardQuery.keys): one entry per key, in order, in `found`, `values`, `ids`
   * and `payloads_json` (payloads "" unless include_payload); `vectors` holds the stored vector
   * of each FOUND key that has one, in key order (4*dim bytes each). A KV snapshot's key is found
   * when its KV store has it (value = the stored bytes); a vector-only snapshot's when the shard
   * has a record with that id (value empty). scores is empty.
   */
  'found': (boolean)[];
  'values': (Buffer)[];
}
