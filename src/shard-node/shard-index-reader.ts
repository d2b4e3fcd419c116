/**
 * The contract between the shard node and an index backend (usearch, LanceDB, sqlite-vec): an
 * open, read-only shard that answers top-k queries, one at a time or (optionally) in batches.
 */
import type { ScoredHit } from '../common/topk-merge.ts';
import type { KvStoreReader } from './kv-store-reader.ts';
import type { FilterExpr } from '../common/filter/filter-expr.ts';

/**
 * Per-query search options forwarded from the client to the shard (0 / undefined = backend
 * default). Backends ignore index options that do not apply to their index.
 */
export interface ShardQueryOptions {
  /** IVF partitions to probe (LanceDB `nprobes`). */
  nprobes?: number;
  /** HNSW search beam width (LanceDB `ef`). */
  ef?: number;
  /** Re-rank `top_k * refine_factor` candidates with exact distances (LanceDB PQ/SQ, sqlite-vec int8). */
  refineFactor?: number;
  /**
   * Return each hit's stored vector (the exact float32 vector the writer stored; usearch runs
   * built without `--store-vectors`: the index's own f32 / f16 / bf16 vector, i8 refused) in
   * {@link ShardHit.vector}. Default false: hits carry no `vector` property.
   */
  includeVector?: boolean;
  /**
   * Pre-filter (issue 15): only rows matching it may be returned, and when at least topK rows of
   * the shard match, topK hits come back (never a short list because matches were filtered out
   * after an unfiltered search). Columns are the manifest's `index.filter_columns`; semantics
   * (NULLs, three-valued logic) in filter-expr.ts.
   */
  filter?: FilterExpr;
  /**
   * Exact search (the router's live recall reference, ShardQuery.exact): the true top-k of the
   * shard (with `filter` applied) from a scan of all its rows; `nprobes`, `ef` and
   * `refineFactor` are ignored. usearch scans its rows' vectors (the stored float32 copies, else
   * the index's own), LanceDB bypasses its vector index, sqlite-vec float32 is exact anyway and
   * int8 shards are scanned with their stored float32 vectors.
   */
  exact?: boolean;
  /**
   * Aborted when the caller gave up (its call was cancelled or its deadline passed): a reader
   * that works in pieces checks it between pieces and throws its reason instead of going on.
   */
  signal?: AbortSignal;
}

/** One hit of a shard search: a scored hit plus, when requested, the stored vector. */
export interface ShardHit extends ScoredHit {
  /** The stored vector (length dim); present only when `includeVector` was set. */
  vector?: Float32Array;
}

/**
 * One row fetched by id ({@link ShardIndexReader.fetchByIds}): what a point lookup returns
 * beside the KV value.
 */
export interface FetchedRow {
  /** Payload JSON text, or "" when the row has none or `includePayload` was false. */
  payload_json: string;
  /** The stored float32 vector (length dim); present only when `includeVector` was set. */
  vector?: Float32Array;
}

/**
 * The result of a {@link ShardIndexReader.fetchByIds}: one slot per id of `ids`, in order, from
 * the rows found by id (`found`). A repeated id gets its own object (and vector copy), so callers
 * may mutate one freely.
 */
export function rowsInRequestOrder(ids: readonly string[], found: ReadonlyMap<string, FetchedRow>): Array<FetchedRow | undefined> {
  const seen = new Set<string>();
  return ids.map((id) => {
    const row = found.get(id);
    if (row === undefined) return undefined;
    if (!seen.has(id)) {
      seen.add(id);
      return row;
    }
    return row.vector === undefined ? { payload_json: row.payload_json } : { payload_json: row.payload_json, vector: row.vector.slice() };
  });
}

/** One open shard. */
export interface ShardIndexReader {
  readonly dbId: number;
  /** KV + vector snapshots: the shard's KV store (see kv-shard-reader.ts); absent otherwise. */
  readonly kv?: KvStoreReader;
  /**
   * The `topK` nearest rows to `query` (`Float32Array` of length dim), best (lowest score) first;
   * scores follow the Hit contract (l2 squared, cosine 1 - cos, dot negated).
   * @throws InvalidQueryError for a malformed query or option; VectorIndexError naming the shard
   *   when the backend fails.
   */
  search(query: Float32Array, topK: number, includePayload: boolean, options: ShardQueryOptions): Promise<ShardHit[]>;
  /**
   * Optional batch form of {@link search}: the hits of every query (each a `Float32Array` of
   * length dim), in order, searched together (e.g. one native multi-threaded call), all with the
   * same `topK`, `includePayload` and `options`. A backend without it is searched query by query.
   * @throws as {@link search}; one failure fails the whole batch.
   */
  searchBatch?(queries: readonly Float32Array[], topK: number, includePayload: boolean, options: ShardQueryOptions): Promise<ShardHit[][]>;
  /**
   * Point lookup by record id (Get / MultiGet): one slot per id of `ids`, in order, the row of
   * that id in this shard, or `undefined` when the shard has no row with that id. Repeated ids
   * are allowed. The vector is the exact float32 vector the writer stored.
   * @throws VectorIndexError naming the shard when the backend fails.
   */
  fetchByIds(ids: readonly string[], includePayload: boolean, includeVector: boolean): Promise<Array<FetchedRow | undefined>>;
  /** Closes the shard. Idempotent. */
  close(): void;
}
