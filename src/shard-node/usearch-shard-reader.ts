/**
 * Opens a downloaded usearch shard (layout in `src/common/usearch-layout.ts`) and searches it.
 * The HNSW index is memory-mapped with `Index.view()`: its vectors and graph live in the page
 * cache, so a node's RSS does not grow with shard bytes. The ids are read into memory when the
 * shard opens (one string per vector: a SQLite lookup per hit cost as much CPU as the search);
 * payloads and exact vectors are looked up per hit in `rows.sqlite` (read-only), only when asked.
 *
 * Per-query `ef` is honoured by asking usearch for max(top_k, ef) results from an index whose own
 * beam is 1: usearch searches with beam max(expansion_search, wanted), so the first top_k of those
 * results are exactly the HNSW answer at beam ef (Malkov & Yashunin 2018, Algorithm 5).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { BatchMatches, exactSearch, Matches, type Index } from 'usearch';
import type { Metric } from '../common/distance.ts';
import type { FilterColumn, FilterExpr } from '../common/filter/filter-expr.ts';
import { InvalidQueryError, VectorIndexError, errorMessage } from '../common/errors.ts';
import {
  USEARCH_FORMAT_VERSION,
  USEARCH_INDEX_FILE,
  USEARCH_ROWS_FILE,
  newUsearchIndex,
  usearchDistanceToScore,
  usearchMetric,
  type UsearchIndexParams,
} from '../common/usearch-layout.ts';
import type { FetchedRow, ShardHit, ShardIndexReader, ShardQueryOptions } from './shard-index-reader.ts';
import { UsearchFilterColumns } from './usearch-filter-columns.ts';

/** Most queries per native batch call; between batches the reader yields to the event loop. */
export const USEARCH_BATCH_QUERIES = 32;
/**
 * Longest a native batch should hold the event loop, ms: a batch has as many queries as the
 * shard's measured search time allows within it (1..USEARCH_BATCH_QUERIES), so a large shard
 * searches in smaller batches.
 */
export const USEARCH_BATCH_BUDGET_MS = 2;
/** Per-hit lookups between two checks of the time budget (and of the caller's signal). */
const LOOKUP_CHECK_HITS = 16;

/** What the manifest says about the shard. */
export interface UsearchShardSpec {
  dim: number;
  metric: Metric;
  params: UsearchIndexParams;
  /** The shard entry's vector_count. */
  vectorCount: number;
  /**
   * The manifest's `index.filter_columns` (issue 15): loaded into memory at open from the
   * `filters` table, which must then exist with the same columns. Absent / empty: the shard is
   * searched without filter columns (older shards; a filter naming a column is rejected).
   */
  filterColumns?: readonly FilterColumn[];
  /**
   * Filtered search: most matching rows for which a query is answered by an exact scan of the
   * matching rows' stored vectors rather than by HNSW (default {@link USEARCH_EXACT_SCAN_ROWS}, at
   * least 4 * topK). Tests set 0 (always HNSW first) or Infinity (always exact).
   */
  exactScanMaxRows?: number;
}

/**
 * Filtered search: a filter matching at most this many rows (or 4 * topK) is answered by an exact
 * scan over the matching rows' float32 vectors (read from `rows.sqlite`), more by HNSW with an
 * expanding k (see {@link UsearchShardReader.searchBatch}).
 */
export const USEARCH_EXACT_SCAN_ROWS = 2048;
/**
 * Filtered HNSW search stops expanding k (and scans the matching rows exactly) once k would exceed
 * this many times the number of matching rows: beyond that the HNSW search costs more than the scan.
 */
export const USEARCH_FILTER_EXPANSION_LIMIT = 4;
/** Bytes of the per-shard cache of recent filters' matching keys and vectors (see the reader). */
export const USEARCH_FILTER_CACHE_BYTES = 32 * 1024 * 1024;

/** Per-hit lookups by key (undefined: no such row). */
interface Lookups {
  payload: Database.Statement<[number], string | null>;
  vector: Database.Statement<[number], Buffer>;
}

/** One open usearch shard. */
export class UsearchShardReader implements ShardIndexReader {
  /** Moving average of the time a native batch takes per query (search and id lookups), ms; 0 before the first. */
  private msPerQuery = 0;
  /**
   * Key (row number) of every id, built from {@link ids} on the first {@link fetchByIds} (the map
   * shares the id strings of the array; a shard that is only searched never builds it).
   */
  private keyById: Map<string, number> | undefined;
  /**
   * Recent filters' matching keys and, once an exact scan needed them, the matching rows' float32
   * vectors, by filter JSON, least recently used first; at most {@link USEARCH_FILTER_CACHE_BYTES}.
   * Reading the vectors from `rows.sqlite` dominates an exact scan (tens of us a row), so a
   * repeated filter (the usual case: a tenant, a category) reads them once.
   */
  private readonly filterCache = new Map<string, { bits: Uint32Array; keys: Uint32Array; matrix?: Float32Array }>();
  private filterCacheBytes = 0;
  private constructor(
    readonly dbId: number,
    /** The shard's folder. */
    readonly dir: string,
    private index: Index | undefined,
    private readonly db: Database.Database,
    /** Id of every key (row number). */
    private readonly ids: readonly string[],
    /** Payload and exact-vector lookups, used only when a query asks for them. */
    private readonly lookups: Lookups,
    private readonly spec: UsearchShardSpec,
    /** Filter columns in memory (empty for shards without any). */
    private readonly filters: UsearchFilterColumns,
  ) {}

  /** Bytes the filter columns take in memory (0 without filter columns). */
  get filterBytes(): number {
    return this.filters.bytes;
  }

  /**
   * Memory-maps `<dir>/index.usearch`, opens `<dir>/rows.sqlite` read-only and checks both
   * against the manifest.
   * @throws VectorIndexError naming the shard and file when a file is missing or unreadable, or
   *   its dimension, metric, quantization or vector count differs from the manifest's.
   */
  static open(dir: string, dbId: number, spec: UsearchShardSpec): UsearchShardReader {
    const indexFile = join(dir, USEARCH_INDEX_FILE);
    const rowsFile = join(dir, USEARCH_ROWS_FILE);
    let db: Database.Database | undefined;
    let where = `shard ${dbId} (${rowsFile})`;
    try {
      db = new Database(rowsFile, { readonly: true, fileMustExist: true });
      db.pragma('query_only = ON');
      const meta = new Map(
        db
          .prepare<[], { key: string; value: string }>('SELECT key, value FROM meta')
          .all()
          .map((r) => [r.key, r.value]),
      );
      const expect = (key: string, want: string | number): void => {
        if (meta.get(key) !== String(want)) throw new Error(`the file says ${key} ${JSON.stringify(meta.get(key))}, the manifest says ${want}`);
      };
      expect('format_version', USEARCH_FORMAT_VERSION);
      expect('dim', spec.dim);
      expect('metric', spec.metric);
      expect('quantization', spec.params.quantization);
      expect('vector_count', spec.vectorCount);
      const lookups: Lookups = {
        payload: db.prepare<[number], string | null>('SELECT payload FROM rows WHERE key = ?').pluck(true),
        vector: db.prepare<[number], Buffer>('SELECT vector FROM vectors WHERE key = ?').pluck(true),
      };
      const ids = db.prepare<[], string>('SELECT id FROM rows ORDER BY key').pluck(true).all();
      if (ids.length !== spec.vectorCount) throw new Error(`the file has ${ids.length} rows, the manifest says ${spec.vectorCount} vectors`);
      const columns = spec.filterColumns ?? [];
      if (columns.length > 0) {
        const stored = meta.get('filter_columns');
        const want = JSON.stringify(columns.map((c) => ({ name: c.name, type: c.type })));
        const have = stored === undefined ? undefined : JSON.stringify((JSON.parse(stored) as FilterColumn[]).map((c) => ({ name: c.name, type: c.type })));
        if (have !== want) throw new Error(`the file's filter columns are ${stored ?? 'absent'}, the manifest says ${want}`);
      }
      const filters = UsearchFilterColumns.load(db, columns, spec.vectorCount);
      where = `shard ${dbId} (${indexFile})`;
      const index = newUsearchIndex(spec.dim, spec.metric, spec.params, 1);
      index.view(indexFile);
      if (index.size() !== spec.vectorCount) throw new Error(`the index holds ${index.size()} vectors, the manifest says ${spec.vectorCount}`);
      return new UsearchShardReader(dbId, dir, index, db, ids, lookups, spec, filters);
    } catch (err) {
      try {
        db?.close();
      } catch {
        // the error below is the one that matters
      }
      throw new VectorIndexError(`${where}: cannot open the usearch shard: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** See {@link searchBatch}; one query. */
  async search(query: Float32Array, topK: number, includePayload: boolean, options: ShardQueryOptions = {}): Promise<ShardHit[]> {
    return (await this.searchBatch([query], topK, includePayload, options))[0];
  }

  /**
   * The `topK` nearest rows to each query, best (lowest score) first; scores per the Hit contract
   * (l2 squared, cosine 1 - cos, dot -<q, v>), computed on the stored (quantized) vectors.
   * Queries are searched in native batches of at most {@link USEARCH_BATCH_QUERIES}, fewer when
   * the shard's measured time per query would make a batch hold the event loop longer than
   * {@link USEARCH_BATCH_BUDGET_MS}; the reader yields to the event loop before each batch, and
   * within a query's per-hit payload / vector lookups whenever they have run past that budget, so
   * other calls are served meanwhile. `options.signal` is checked at each yield (its reason thrown).
   * @param queries `Float32Array`s of length dim.
   * @param options `ef`: beam width (0 / undefined = the run's ef_search); `includeVector`: each
   *   hit gets its exact float32 vector (a copy, length dim). Other options do not apply.
   * @returns one hit list per query, in order.
   * @throws InvalidQueryError naming the shard for a query of the wrong length or a bad ef;
   *   VectorIndexError naming the shard when usearch or SQLite fails or the shard is closed.
   */
  async searchBatch(queries: readonly Float32Array[], topK: number, includePayload: boolean, options: ShardQueryOptions = {}): Promise<ShardHit[][]> {
    const { dim, metric } = this.spec;
    const ef = options.ef ?? 0;
    if (!Number.isSafeInteger(ef) || ef < 0) throw new InvalidQueryError(`shard ${this.dbId}: ef must be a non-negative integer (0 = default), got ${ef}`);
    for (const q of queries) if (q.length !== dim) throw new InvalidQueryError(`shard ${this.dbId}: query has ${q.length} values, the shard has dim ${dim}`);
    if (topK <= 0 || queries.length === 0) return queries.map(() => []);
    const wanted = Math.min(Math.max(topK, ef || this.spec.params.efSearch), Math.max(1, this.spec.vectorCount));
    if (options.filter !== undefined) {
      const filtered = await this.searchFiltered(queries, topK, wanted, includePayload, options, options.filter);
      if (filtered !== undefined) return filtered;
    }
    const out: ShardHit[][] = [];
    for (let start = 0, n = 0; start < queries.length; start += n) {
      await yieldToEventLoop();
      options.signal?.throwIfAborted();
      const index = this.index;
      if (index === undefined) throw new VectorIndexError(`shard ${this.dbId}: search after the shard was closed`);
      n = Math.min(this.batchSize(), queries.length - start);
      const started = performance.now();
      const matrix = new Float32Array(n * dim);
      for (let i = 0; i < n; i++) matrix.set(queries[start + i], i * dim);
      try {
        const found = index.search(matrix, wanted, 1);
        // Per-hit lookups (payloads, stored vectors: a SQLite read each) can hold the event loop
        // for 100+ ms per query at a large top_k: yield when they have run past the budget.
        let slice = performance.now();
        // usearch returns Matches (keys cut to the count) for one query, BatchMatches for more.
        const result: { keys: BigUint64Array; distances: Float32Array; counts: ArrayLike<bigint> } =
          found instanceof BatchMatches ? found : { keys: found.keys, distances: found.distances, counts: [BigInt(found.keys.length)] };
        for (let i = 0; i < n; i++) {
          // The Hit contract scores cosine 1 when either vector is zero; usearch gives 0 for a
          // zero query against a zero row (and 1 against the others).
          const zeroCosine = metric === 'cosine' && isZero(queries[start + i]);
          const count = Math.min(topK, Number(result.counts[i]));
          const hits: ShardHit[] = new Array(count);
          for (let j = 0; j < count; j++) {
            if ((includePayload || options.includeVector) && j % LOOKUP_CHECK_HITS === 0 && performance.now() - slice > USEARCH_BATCH_BUDGET_MS) {
              await yieldToEventLoop();
              options.signal?.throwIfAborted();
              if (this.index === undefined) throw new VectorIndexError(`shard ${this.dbId}: search after the shard was closed`);
              slice = performance.now();
            }
            const key = Number(result.keys[i * wanted + j]);
            const id = this.ids[key];
            if (id === undefined) throw new Error(`key ${key} is missing from ${USEARCH_ROWS_FILE}`);
            const hit: ShardHit = { id, score: zeroCosine ? 1 : usearchDistanceToScore(metric, result.distances[i * wanted + j]), payload_json: '' };
            if (includePayload) {
              const payload = this.lookups.payload.get(key);
              if (payload === undefined) throw new Error(`key ${key} is missing from ${USEARCH_ROWS_FILE}`);
              hit.payload_json = payload ?? '';
            }
            if (options.includeVector) hit.vector = blobToFloats(this.lookups.vector.get(key) ?? null, dim, id);
            hits[j] = hit;
          }
          out.push(hits);
        }
        const perQuery = (performance.now() - started) / n;
        this.msPerQuery = this.msPerQuery === 0 ? perQuery : 0.8 * this.msPerQuery + 0.2 * perQuery;
      } catch (err) {
        throw new VectorIndexError(`shard ${this.dbId} (${this.dir}): search failed: ${errorMessage(err)}`, { cause: err });
      }
    }
    return out;
  }

  /**
   * Filtered search (pre-filtering semantics, issue 15). usearch's Node binding has no predicate
   * search, so the filter is evaluated over the in-memory filter columns into a bitmap of matching
   * keys (m of the shard's n rows), once per batch. Then, per batch:
   *
   * - m = n: undefined (the caller runs the unfiltered search);
   * - m <= max(exactScanMaxRows, 4 * topK): exact scan, the m rows' float32 vectors read from
   *   `rows.sqlite` once for the batch, scored by usearch's `exactSearch` (same metric, so the
   *   same score contract, on the exact rather than the quantized vectors);
   * - else, per query, HNSW with an expanding k: k' = max(ef, 2 * topK * n / m), keeping the
   *   matching results in order until min(topK, m) are found, doubling k' otherwise; once k'
   *   would exceed {@link USEARCH_FILTER_EXPANSION_LIMIT} * m (or n, or the graph returned fewer
   *   than asked) the query falls back to the exact scan. Either way a query gets
   *   min(topK, m) hits, all matching.
   * @returns the hit lists, or undefined when the filter matches every row.
   * @throws InvalidQueryError naming the shard for a filter naming a column the shard lacks.
   */
  private async searchFiltered(
    queries: readonly Float32Array[],
    topK: number,
    wanted: number,
    includePayload: boolean,
    options: ShardQueryOptions,
    filter: FilterExpr,
  ): Promise<ShardHit[][] | undefined> {
    const n = this.spec.vectorCount;
    const cacheKey = JSON.stringify(filter);
    let cached = this.filterCache.get(cacheKey);
    if (cached === undefined) {
      let bits: Uint32Array;
      try {
        bits = this.filters.evaluate(filter);
      } catch (err) {
        if (err instanceof InvalidQueryError) throw new InvalidQueryError(`shard ${this.dbId}: ${err.message}`, { cause: err });
        throw err;
      }
      cached = { bits, keys: UsearchFilterColumns.keysOf(bits) };
      this.cacheFilter(cacheKey, cached);
    } else {
      this.filterCache.delete(cacheKey);
      this.filterCache.set(cacheKey, cached);
    }
    const entry = cached;
    const { bits, keys } = entry;
    const matrixOf = (): Float32Array => {
      if (entry.matrix === undefined) {
        entry.matrix = this.vectorsOf(keys);
        if (this.filterCache.get(cacheKey) === entry) {
          this.filterCacheBytes += entry.matrix.byteLength;
          this.evictFilters();
        }
      }
      return entry.matrix;
    };
    const m = keys.length;
    if (m === n) return undefined;
    if (m === 0) return queries.map(() => []);
    const k = Math.min(topK, m);
    const exactMax = Math.max(this.spec.exactScanMaxRows ?? USEARCH_EXACT_SCAN_ROWS, 4 * topK);
    const out: ShardHit[][] = [];
    try {
      if (m <= exactMax) {
        const matrix = matrixOf();
        for (let start = 0, c = 0; start < queries.length; start += c) {
          await yieldToEventLoop();
          if (this.index === undefined) throw new VectorIndexError(`shard ${this.dbId}: search after the shard was closed`);
          // Exact scans cost about m * dim per query: batches of about 2M multiply-adds.
          c = Math.max(1, Math.min(USEARCH_BATCH_QUERIES, queries.length - start, Math.floor(2_000_000 / (m * this.spec.dim))));
          out.push(...this.exactScan(queries.slice(start, start + c), matrix, keys, k, includePayload, options));
        }
        return out;
      }
      let matrix: Float32Array | undefined;
      const first = Math.min(n, Math.max(wanted, Math.ceil((2 * topK * n) / m)));
      for (const query of queries) {
        await yieldToEventLoop();
        const index = this.index;
        if (index === undefined) throw new VectorIndexError(`shard ${this.dbId}: search after the shard was closed`);
        let found: ShardHit[] | undefined;
        for (let kq = first; ; kq = Math.min(n, kq * 2)) {
          const result = index.search(query, kq, 1) as Matches;
          const hitKeys: number[] = [];
          const distances: number[] = [];
          for (let j = 0; j < result.keys.length && hitKeys.length < k; j++) {
            const key = Number(result.keys[j]);
            if (UsearchFilterColumns.has(bits, key)) {
              hitKeys.push(key);
              distances.push(result.distances[j]);
            }
          }
          if (hitKeys.length >= k) {
            const zeroCosine = this.spec.metric === 'cosine' && isZero(query);
            found = hitKeys.map((key, j) => this.toHit(key, distances[j], zeroCosine, includePayload, options));
            break;
          }
          if (kq >= n || result.keys.length < kq || Math.min(n, kq * 2) > USEARCH_FILTER_EXPANSION_LIMIT * m) break;
        }
        if (found === undefined) {
          matrix ??= matrixOf();
          found = this.exactScan([query], matrix, keys, k, includePayload, options)[0];
        }
        out.push(found);
      }
      return out;
    } catch (err) {
      if (err instanceof VectorIndexError || err instanceof InvalidQueryError) throw err;
      throw new VectorIndexError(`shard ${this.dbId} (${this.dir}): filtered search failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Adds a filter to the cache (its bitmap and keys), evicting the least recently used. */
  private cacheFilter(cacheKey: string, entry: { bits: Uint32Array; keys: Uint32Array }): void {
    this.filterCache.set(cacheKey, entry);
    this.filterCacheBytes += entry.bits.byteLength + entry.keys.byteLength;
    this.evictFilters();
  }

  /** Drops least recently used filters while the cache holds more than its budget. */
  private evictFilters(): void {
    while (this.filterCacheBytes > USEARCH_FILTER_CACHE_BYTES && this.filterCache.size > 0) {
      const [oldest, e] = this.filterCache.entries().next().value!;
      this.filterCache.delete(oldest);
      this.filterCacheBytes -= e.bits.byteLength + e.keys.byteLength + (e.matrix?.byteLength ?? 0);
    }
  }

  /** The stored float32 vectors of `keys`, row-major (read from `rows.sqlite`). */
  private vectorsOf(keys: Uint32Array): Float32Array {
    const dim = this.spec.dim;
    const matrix = new Float32Array(keys.length * dim);
    const bytes = new Uint8Array(matrix.buffer);
    for (let i = 0; i < keys.length; i++) {
      const blob = this.lookups.vector.get(keys[i]);
      if (blob === undefined || blob.byteLength !== dim * 4) throw new Error(`row ${keys[i]} has no stored float32 vector of dim ${dim}`);
      bytes.set(blob, i * dim * 4);
    }
    return matrix;
  }

  /** The exact top `k` (k <= rows of `matrix`) of each query among `matrix`'s rows (keys `keys`). */
  private exactScan(queries: readonly Float32Array[], matrix: Float32Array, keys: Uint32Array, k: number, includePayload: boolean, options: ShardQueryOptions): ShardHit[][] {
    const { dim, metric } = this.spec;
    const q = new Float32Array(queries.length * dim);
    queries.forEach((v, i) => q.set(v, i * dim));
    const found = exactSearch(matrix, q, dim, k, usearchMetric(metric), 1);
    const result: { keys: BigUint64Array; distances: Float32Array; counts: ArrayLike<bigint> } =
      found instanceof BatchMatches ? found : { keys: found.keys, distances: found.distances, counts: [BigInt(found.keys.length)] };
    return queries.map((query, i) => {
      const zeroCosine = metric === 'cosine' && isZero(query);
      const count = Math.min(k, Number(result.counts[i]));
      const hits: ShardHit[] = new Array(count);
      for (let j = 0; j < count; j++) hits[j] = this.toHit(keys[Number(result.keys[i * k + j])], result.distances[i * k + j], zeroCosine, includePayload, options);
      return hits;
    });
  }

  /** The hit of key `key` at usearch distance `distance`, with its payload / vector when asked. */
  private toHit(key: number, distance: number, zeroCosine: boolean, includePayload: boolean, options: ShardQueryOptions): ShardHit {
    const id = this.ids[key];
    if (id === undefined) throw new Error(`key ${key} is missing from ${USEARCH_ROWS_FILE}`);
    const hit: ShardHit = { id, score: zeroCosine ? 1 : usearchDistanceToScore(this.spec.metric, distance), payload_json: '' };
    if (includePayload) {
      const payload = this.lookups.payload.get(key);
      if (payload === undefined) throw new Error(`key ${key} is missing from ${USEARCH_ROWS_FILE}`);
      hit.payload_json = payload ?? '';
    }
    if (options.includeVector) hit.vector = blobToFloats(this.lookups.vector.get(key) ?? null, this.spec.dim, id);
    return hit;
  }

  /**
   * Point lookup by id: one slot per id of `ids`, in order (repeats allowed), the row with that
   * exact id (case-sensitive), or `undefined` when the shard has none. The first call builds an
   * id -> key map over the ids loaded at open (one entry per row); each found row then costs one
   * primary-key read of `rows.sqlite` for the payload and one for the vector, only when asked.
   * @param includePayload when false, `payload_json` is "" (the payload is not read).
   * @param includeVector when true, `vector` is a copy of the row's exact stored float32 vector
   *   (length dim; never the index's quantized copy); when false the row has no `vector` property.
   * @throws VectorIndexError naming the shard when the shard is closed or SQLite fails (e.g. a
   *   key missing from `rows.sqlite`, a vector BLOB of the wrong size).
   */
  async fetchByIds(ids: readonly string[], includePayload: boolean, includeVector: boolean): Promise<Array<FetchedRow | undefined>> {
    if (this.index === undefined) throw new VectorIndexError(`shard ${this.dbId} (${this.dir}): fetch by id after the shard was closed`);
    try {
      const keyById = this.keyMap();
      return ids.map((id) => {
        const key = keyById.get(id);
        if (key === undefined) return undefined;
        const row: FetchedRow = { payload_json: '' };
        if (includePayload) {
          const payload = this.lookups.payload.get(key);
          if (payload === undefined) throw new Error(`key ${key} (id ${JSON.stringify(id)}) is missing from ${USEARCH_ROWS_FILE}`);
          row.payload_json = payload ?? '';
        }
        if (includeVector) row.vector = blobToFloats(this.lookups.vector.get(key) ?? null, this.spec.dim, id);
        return row;
      });
    } catch (err) {
      throw new VectorIndexError(`shard ${this.dbId} (${this.dir}): fetch by id failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** The id -> key map, built on first use (the first key of an id wins; the build rejects duplicate ids). */
  private keyMap(): Map<string, number> {
    if (this.keyById === undefined) {
      const map = new Map<string, number>();
      for (let key = 0; key < this.ids.length; key++) if (!map.has(this.ids[key])) map.set(this.ids[key], key);
      this.keyById = map;
    }
    return this.keyById;
  }

  /** Queries in the next native batch: as many as fit in USEARCH_BATCH_BUDGET_MS, 1..USEARCH_BATCH_QUERIES. */
  private batchSize(): number {
    if (this.msPerQuery === 0) return 1;
    return Math.max(1, Math.min(USEARCH_BATCH_QUERIES, Math.floor(USEARCH_BATCH_BUDGET_MS / this.msPerQuery)));
  }

  /**
   * Closes the row table and drops the index. usearch's Node binding has no explicit unmap: the
   * mapping is released when V8 collects the index object. Idempotent.
   */
  close(): void {
    if (this.index === undefined) return;
    this.index = undefined;
    this.keyById = undefined;
    this.filterCache.clear();
    this.filterCacheBytes = 0;
    this.db.close();
  }
}

/** A copy of a float32 BLOB as a `Float32Array` of length dim. @throws Error naming the id when the BLOB is missing or has the wrong size. */
function blobToFloats(blob: Buffer | null, dim: number, id: string): Float32Array {
  if (blob === null || blob.byteLength !== dim * 4) throw new Error(`row ${JSON.stringify(id)} has no stored float32 vector of dim ${dim}`);
  const copy = new Float32Array(dim);
  new Uint8Array(copy.buffer).set(blob);
  return copy;
}

/** True when every value of `v` is 0. */
function isZero(v: Float32Array): boolean {
  for (let i = 0; i < v.length; i++) if (v[i] !== 0) return false;
  return true;
}
