/**
 * The contract between the writer and an index backend (LanceDB, sqlite-vec): one writer per
 * shard, fed batches of rows during the assignment pass, then finished (indexed, compacted) into
 * a local folder whose files are uploaded as the shard.
 */

/** A batch of rows for one shard. */
export interface ShardRows {
  ids: string[];
  /** `Float32Array` of length ids.length * dim, row-major. */
  vectors: Float32Array;
  /** JSON object text per row, or null. */
  payloads: (string | null)[];
}

/** What a finished shard looks like. */
export interface BuiltShard {
  vectorCount: number;
  /** The index the shard actually got, e.g. `ivf_flat`, `hnsw_sq`, `ivf_pq`, `flat`, `none`. */
  indexType: string;
  /** Backend checkpoint id (LanceDB table version; sqlite-vec: a content id). */
  checkpointId: string;
}

/** Writes one shard's index into a local folder. */
export interface ShardIndexWriter {
  /** The shard id (db id), for error messages. */
  readonly dbId: number;
  /**
   * Appends rows. Calls are awaited one at a time per writer.
   * @throws VectorIndexError naming the shard when the backend fails.
   */
  add(rows: ShardRows): Promise<void>;
  /**
   * Builds the index and leaves only the files to upload in the shard's folder.
   * @throws VectorIndexError naming the shard (no rows, index cannot be trained, backend failure).
   */
  finish(): Promise<BuiltShard>;
  /** Releases resources without finishing (after a failure elsewhere). Never throws. */
  abort(): Promise<void>;
}
