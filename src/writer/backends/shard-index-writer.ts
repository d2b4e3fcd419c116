/**
 * The contract between the writer and an index backend (usearch, LanceDB, sqlite-vec): one writer
 * per shard, fed batches of rows during the assignment pass, then finished (indexed, compacted)
 * into a local folder whose files are uploaded as the shard.
 */
import { VectorIndexError } from '../../common/errors.ts';

/** A batch of rows for one shard. */
export interface ShardRows {
  ids: string[];
  /** `Float32Array` of length ids.length * dim, row-major. */
  vectors: Float32Array;
  /** JSON object text per row, or null. */
  payloads: (string | null)[];
  /**
   * KV + vector builds: the canonical key bytes per row (absent in vector-only builds). A writer
   * opened with a KV store puts `keys[i] -> values[i]` into it; one opened without ignores them.
   */
  keys?: Uint8Array[];
  /** KV + vector builds: the value bytes per row (present exactly when `keys` is). */
  values?: Uint8Array[];
  /**
   * The caller hands over `vectors`' whole ArrayBuffer: it never reads or writes that buffer
   * again, so a writer running in another thread may transfer it (no copy) even when `vectors`
   * is a view into a larger buffer. Default false: such a view is copied before it is posted.
   */
  handOverVectors?: boolean;
}

/**
 * Checks a batch before a writer stores it: `vectors` holds ids.length * dim values, one payload
 * per id, and every value is finite.
 * @param where names the shard (and file) in errors, e.g. `shard 3 (/tmp/db=00003)`.
 * @throws VectorIndexError naming `where` and, for a non-finite value, the record's id.
 */
export function checkShardRows(rows: ShardRows, dim: number, where: string): void {
  const n = rows.ids.length;
  if (rows.vectors.length !== n * dim || rows.payloads.length !== n) {
    throw new VectorIndexError(`${where}: a batch of ${n} ids has ${rows.vectors.length} vector values (expected ${n} x ${dim} = ${n * dim}) and ${rows.payloads.length} payloads`);
  }
  if ((rows.keys === undefined) !== (rows.values === undefined) || (rows.keys !== undefined && (rows.keys.length !== n || rows.values?.length !== n))) {
    throw new VectorIndexError(`${where}: a batch of ${n} ids has ${rows.keys?.length ?? 'no'} keys and ${rows.values?.length ?? 'no'} values`);
  }
  const v = rows.vectors;
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i])) throw new VectorIndexError(`${where}: vector of id ${JSON.stringify(rows.ids[Math.floor(i / dim)])} has a non-finite value`);
  }
}

/** What a finished shard looks like. */
export interface BuiltShard {
  vectorCount: number;
  /** The index the shard actually got, e.g. `ivf_flat`, `hnsw_sq`, `ivf_pq`, `flat`, `none`. */
  indexType: string;
  /** Backend checkpoint id (LanceDB table version; sqlite-vec: a content id). */
  checkpointId: string;
  /** KV + vector builds: entries written to the shard's KV store (absent without one). */
  kvEntries?: number;
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
