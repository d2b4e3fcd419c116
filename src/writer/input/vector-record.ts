/**
 * The record type every input reader yields, and the reader interface.
 */
import type { RoutingContext } from '../../common/routing/routing-context.ts';

/** JSON-serialisable payload stored beside a vector and returned with search results. */
export type Payload = Record<string, unknown>;

/** One input vector with its id, payload and routing fields. */
export interface VectorRecord {
  /** Unique id of the vector (ids from numeric sources are turned into decimal strings). */
  id: string;
  /** The vector, `Float32Array` of length dim. */
  vector: Float32Array;
  /** Optional payload stored with the vector (e.g. `{ label: 3, label_name: "Dress" }`). */
  payload?: Payload;
  /** EXPLICIT sharding: the shard (db id) this record belongs to, as given in the input. */
  shardId?: number;
  /** CEL sharding: the values of the routing columns for this record. */
  routingContext?: RoutingContext;
  /**
   * KV snapshots (`build --kv`): the record's key: a string (stored as its UTF-8 bytes), an
   * integer (bigint, stored as 8 bytes signed little-endian) or raw bytes, i.e. the canonical key
   * bytes of `src/common/routing/key-hash-routing.ts`. Absent: the key is the record's id (a string).
   */
  key?: string | bigint | Uint8Array;
  /** KV snapshots: the value stored under the key (bytes; absent: an empty value). */
  value?: Uint8Array;
  /**
   * Human-readable position of the record for error messages, e.g. `data.jsonl line 17` or
   * `t10k-images-idx3-ubyte.gz record 42`.
   */
  location: string;
}

/**
 * A source of vector records that can be read more than once (the writer reads once to sample
 * and validate, and once to assign and write), streaming: only a bounded batch is in memory.
 */
export interface VectorSource {
  /** Human-readable description (file names) for logs and errors. */
  readonly description: string;
  /** Vector dimension when known from a header (IDX, npy, fvecs, Parquet), else undefined until read. */
  readonly dim: number | undefined;
  /** Number of records when known from a header (IDX, npy, fvecs, Parquet), else undefined. */
  readonly count: number | undefined;
  /** Opens a fresh pass over all records, in file order. */
  records(): AsyncIterable<VectorRecord>;
  /**
   * Optional (sources that can seek: Parquet, datasets of parts): a pass over records
   * `[start, end)` only (0-based positions in the order of `records()`), reading little else.
   * A distributed build worker reads its slice of the input with it.
   */
  recordsIn?(start: number, end: number): AsyncIterable<VectorRecord>;
  /**
   * Optional, with `recordsIn`: record positions where a pass can start without reading data
   * another slice also reads (Parquet row-group starts, part starts), ascending, the first 0.
   */
  splitPoints?(): number[];
}
