// Original file: proto/shardfleet/v1/router.proto


export interface SearchRequest {
  /**
   * The query vector: dim float32 values, little-endian, 4*dim bytes.
   */
  'query'?: (Buffer | Uint8Array | string);
  /**
   * Number of results (1..1000; 0 means 10).
   */
  'top_k'?: (number);
  /**
   * Number of shards to probe (nearest centroids); 0 means the manifest's default num_probes.
   */
  'num_probes'?: (number);
  /**
   * Explicit shards (db ids) to search; when non-empty this overrides routing and num_probes.
   */
  'shard_ids'?: (number)[];
  /**
   * Return each hit's payload (JSON text).
   */
  'include_payload'?: (boolean);
}

export interface SearchRequest__Output {
  /**
   * The query vector: dim float32 values, little-endian, 4*dim bytes.
   */
  'query': (Buffer);
  /**
   * Number of results (1..1000; 0 means 10).
   */
  'top_k': (number);
  /**
   * Number of shards to probe (nearest centroids); 0 means the manifest's default num_probes.
   */
  'num_probes': (number);
  /**
   * Explicit shards (db ids) to search; when non-empty this overrides routing and num_probes.
   */
  'shard_ids': (number)[];
  /**
   * Return each hit's payload (JSON text).
   */
  'include_payload': (boolean);
}
