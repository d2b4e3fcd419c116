// Original file: proto/shardfleet/v1/common.proto


/**
 * One search result.
 */
export interface Hit {
  /**
   * The vector's id, as given to the writer (numeric source ids are decimal strings).
   */
  'id'?: (string);
  /**
   * Distance to the query; LOWER IS BETTER for every metric:
   * l2     -> squared Euclidean distance,
   * cosine -> 1 - cosine similarity,
   * dot    -> negated dot product (-<q, v>).
   */
  'score'?: (number | string);
  /**
   * The vector's payload as a JSON object text ("" when not requested or absent).
   */
  'payload_json'?: (string);
  /**
   * The stored vector as little-endian float32 (empty unless include_vector was requested).
   */
  'vector'?: (Buffer | Uint8Array | string);
}

/**
 * One search result.
 */
export interface Hit__Output {
  /**
   * The vector's id, as given to the writer (numeric source ids are decimal strings).
   */
  'id': (string);
  /**
   * Distance to the query; LOWER IS BETTER for every metric:
   * l2     -> squared Euclidean distance,
   * cosine -> 1 - cosine similarity,
   * dot    -> negated dot product (-<q, v>).
   */
  'score': (number);
  /**
   * The vector's payload as a JSON object text ("" when not requested or absent).
   */
  'payload_json': (string);
  /**
   * The stored vector as little-endian float32 (empty unless include_vector was requested).
   */
  'vector': (Buffer);
}
