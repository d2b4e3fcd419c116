/**
 * Opens a downloaded usearch shard (layout in `src/common/usearch-layout.ts`) and searches it.
 * The HNSW index is memory-mapped with `Index.view()`: its vectors and graph live in the page
 * cache, so a node's RSS does not grow with shard bytes. No per-row JS object is kept (issue 22):
 * the ids, payloads and stored vectors of a native batch's final hits are read from `rows.sqlite`
 * (read-only, memory-mapped by SQLite) in one statement per batch ({@link UsearchRowTable}); get
 * by id uses the on-disk index on `rows(id)`. Shards built without a float32 copy
 * (`--store-vectors` off) answer include_vector and the filtered exact scan from the index's own
 * vectors ({@link UsearchIndexVectors}).
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
  USEARCH_LEAN_FORMAT_VERSION,
  USEARCH_ROWS_FILE,
  newUsearchIndex,
  usearchDistanceToScore,
  usearchMetric,
  type UsearchIndexParams,
} from '../common/usearch-layout.ts';
import type { FetchedRow, ShardHit, ShardIndexReader, ShardQueryOptions } from './shard-index-reader.ts';
import { UsearchFilterColumns } from './usearch-filter-columns.ts';
import { UsearchIndexVectors } from './usearch-index-vectors.ts';
import { UsearchRowTable } from './usearch-row-table.ts';

/** Most queries per native batch call; between batches the reader yields to the event loop. */
export const USEARCH_BATCH_QUERIES = 32;
/**
 * Longest a native batch should hold the event loop, ms: a batch has as many queries as the
 * shard's measured search time allows within it (1..USEARCH_BATCH_QUERIES), so a large shard
 * searches in smaller batches.
 */
export const USEARCH_BATCH_BUDGET_MS = 2;
/**
 * Hits whose rows are read in one go between two checks of the time budget (and of the caller's
 * signal). 16, not more: with include_vector at top_k 1000 of 784-d vectors, chunks of 256 held a
 * node's event loop long enough that its Status took 575-796 ms under load (16: 297-424 ms;
 * test/work-bounds.test.ts).
 */
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
 * scan over the matching rows' vectors (the stored float32 copies in `rows.sqlite`, or the index's
 * own vectors in shards built without them), more by HNSW with an
 * expanding k (see {@link UsearchShardReader.searchBatch}).
 */
export const USEARCH_EXACT_SCAN_ROWS = 2048;
/**
 * Filtered HNSW search stops expanding k (and scans the matching rows exactly) once k would exceed
 * this many times the number of matching rows: beyond that the HNSW search costs more than the scan.
 */
export const USEARCH_FILTER_EXPANSION_LIMIT = 4;
/**
 * Exact search ({@link ShardQueryOptions.exact}): vector values read and scored per chunk (about
 * 1M: 4 MiB of float32 a chunk, a few ms of one core), between two event-loop turns.
 */
export const EXACT_SCAN_CHUNK_VALUES = 1 << 20;
/** Bytes of the per-shard cache of recent filters' matching keys and vectors (see the reader). */
export const USEARCH_FILTER_CACHE_BYTES = 32 * 1024 * 1024;

/** One hit before its row is read: the usearch key and distance. */
interface KeyHit {
  key: number;
  distance: number;
}

/** One open usearch shard. */
export class UsearchShardReader implements ShardIndexReader {
  /** Moving average of the time a native batch takes per query (search and id lookups), ms; 0 before the first. */
  private msPerQuery = 0;
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
    /** Ids, payloads and stored vectors by key, keys by id. */
    private readonly rows: UsearchRowTable,
    /** The index's own vectors by key (shards without stored float32 vectors). */
    private readonly indexVectors: UsearchIndexVectors,
    private readonly spec: UsearchShardSpec,
    /** Filter columns in memory (empty for shards without any). */
    private readonly filters: UsearchFilterColumns,
  ) {}

  /** Bytes the filter columns take in memory (0 without filter columns). */
  get filterBytes(): number {
    return this.filters.bytes;
  }

  /**
   * Bytes of per-row state this reader holds in memory besides the filter columns and the filter
   * cache: 8 a row once an old shard (no `rows_id` index) serves a get by id; 4 a row for a shard
   * without stored vectors from shortly after open (the index vectors' key -> slot map, built in
   * the background; 0 when the index keeps its vectors in key order). No per-row JS objects.
   */
  get rowBytes(): number {
    return this.rows.bytes + this.indexVectors.bytes;
  }

  /** True when the shard holds the exact float32 vectors (built with `--store-vectors`, or before issue 22). */
  get hasStoredVectors(): boolean {
    return this.rows.hasStoredVectors;
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
      const version = meta.get('format_version');
      if (version !== USEARCH_FORMAT_VERSION && version !== USEARCH_LEAN_FORMAT_VERSION) {
        throw new Error(`the file says format_version ${JSON.stringify(version)}, this node reads ${USEARCH_FORMAT_VERSION} and ${USEARCH_LEAN_FORMAT_VERSION}`);
      }
      expect('dim', spec.dim);
      expect('metric', spec.metric);
      expect('quantization', spec.params.quantization);
      expect('vector_count', spec.vectorCount);
      const rows = new UsearchRowTable(db, spec.vectorCount);
      const [count, last] = db.prepare<[], [number, number | null]>('SELECT count(*), max(key) FROM rows').raw(true).get()!;
      if (count !== spec.vectorCount || (count > 0 && last !== count - 1)) throw new Error(`the file has ${count} rows (keys up to ${last}), the manifest says ${spec.vectorCount} vectors`);
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
      const indexVectors = new UsearchIndexVectors(indexFile, spec.dim, spec.params.quantization, spec.vectorCount);
      // Shards without float32 copies read vectors from the index through a key -> slot map:
      // build it now in the background, not inside the first include_vector / exact-scan request.
      // A failure here is reported by the request that needs the map (it scans again).
      if (!rows.hasStoredVectors) indexVectors.prepare().catch(() => undefined);
      return new UsearchShardReader(dbId, dir, index, db, rows, indexVectors, spec, filters);
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
   * between batches of row lookups (ids, payloads, vectors) whenever they have run past that budget, so
   * other calls are served meanwhile. `options.signal` is checked at each yield (its reason thrown).
   * @param queries `Float32Array`s of length dim.
   * @param options `ef`: beam width (0 / undefined = the run's ef_search); `includeVector`: each
   *   hit gets its stored vector (a copy, length dim: the exact float32 copy when the shard has
   *   one, else the index's f32 / f16 / bf16 vector widened to float32). Other options do not apply.
   * @returns one hit list per query, in order.
   * @throws InvalidQueryError naming the shard for a query of the wrong length or a bad ef, or
   *   includeVector on an i8 shard built without `--store-vectors`;
   *   VectorIndexError naming the shard when usearch or SQLite fails or the shard is closed.
   */
  async searchBatch(queries: readonly Float32Array[], topK: number, includePayload: boolean, options: ShardQueryOptions = {}): Promise<ShardHit[][]> {
    const { dim, metric } = this.spec;
    const ef = options.ef ?? 0;
    if (!Number.isSafeInteger(ef) || ef < 0) throw new InvalidQueryError(`shard ${this.dbId}: ef must be a non-negative integer (0 = default), got ${ef}`);
    for (const q of queries) if (q.length !== dim) throw new InvalidQueryError(`shard ${this.dbId}: query has ${q.length} values, the shard has dim ${dim}`);
    if (options.includeVector) this.checkVectorsServed('include_vector');
    if (topK <= 0 || queries.length === 0) return queries.map(() => []);
    if (options.includeVector || options.filter !== undefined || options.exact) await this.indexVectorsReady();
    if (options.exact) return this.searchExact(queries, topK, includePayload, options);
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
        // usearch returns Matches (keys cut to the count) for one query, BatchMatches for more.
        const result: { keys: BigUint64Array; distances: Float32Array; counts: ArrayLike<bigint> } =
          found instanceof BatchMatches ? found : { keys: found.keys, distances: found.distances, counts: [BigInt(found.keys.length)] };
        const lists: KeyHit[][] = new Array(n);
        const zeroCosine: boolean[] = new Array(n);
        for (let i = 0; i < n; i++) {
          const count = Math.min(topK, Number(result.counts[i]));
          const list: KeyHit[] = new Array(count);
          for (let j = 0; j < count; j++) list[j] = { key: Number(result.keys[i * wanted + j]), distance: result.distances[i * wanted + j] };
          lists[i] = list;
          // The Hit contract scores cosine 1 when either vector is zero; usearch gives 0 for a
          // zero query against a zero row (and 1 against the others).
          zeroCosine[i] = metric === 'cosine' && isZero(queries[start + i]);
        }
        out.push(...(await this.resolve(lists, zeroCosine, includePayload, options)));
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
   * - m <= max(exactScanMaxRows, 4 * topK): exact scan, the m rows' vectors read once for the
   *   batch (the stored float32 copies from `rows.sqlite`; shards built without them: the index's
   *   own vectors, decoded to float32), scored by usearch's `exactSearch` (same metric, so the
   *   same score contract);
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
    const { cacheKey, entry } = this.filterEntry(filter);
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
          out.push(...(await this.exactScan(queries.slice(start, start + c), matrix, keys, k, includePayload, options)));
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
            found = (await this.resolve([hitKeys.map((key, j) => ({ key, distance: distances[j] }))], [zeroCosine], includePayload, options))[0];
            break;
          }
          if (kq >= n || result.keys.length < kq || Math.min(n, kq * 2) > USEARCH_FILTER_EXPANSION_LIMIT * m) break;
        }
        if (found === undefined) {
          matrix ??= matrixOf();
          found = (await this.exactScan([query], matrix, keys, k, includePayload, options))[0];
        }
        out.push(found);
      }
      return out;
    } catch (err) {
      if (err instanceof VectorIndexError || err instanceof InvalidQueryError) throw err;
      throw new VectorIndexError(`shard ${this.dbId} (${this.dir}): filtered search failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /**
   * The cached matching keys of `filter` (evaluated over the in-memory filter columns on a miss),
   * marked most recently used.
   * @throws InvalidQueryError naming the shard for a filter naming a column the shard lacks.
   */
  private filterEntry(filter: FilterExpr): { cacheKey: string; entry: { bits: Uint32Array; keys: Uint32Array; matrix?: Float32Array } } {
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
    return { cacheKey, entry: cached };
  }

  /**
   * Exact search ({@link ShardQueryOptions.exact}): the true top `topK` of each query among all
   * rows (or the rows matching `options.filter`), scanned {@link EXACT_SCAN_CHUNK_VALUES} vector
   * values at a time: each chunk's vectors are read (the stored float32 copies from
   * `rows.sqlite`, else the index's own vectors decoded to float32), scored by usearch's
   * `exactSearch` (same metric and score contract as the index) and merged into the running top
   * k; between chunks the reader yields to the event loop and checks `options.signal`. Nothing
   * is cached (a reference query must not evict the filter cache's vectors of user queries).
   * @throws InvalidQueryError naming the shard for a filter naming a column the shard lacks;
   *   VectorIndexError naming the shard when the shard is closed or a read fails.
   */
  private async searchExact(queries: readonly Float32Array[], topK: number, includePayload: boolean, options: ShardQueryOptions): Promise<ShardHit[][]> {
    const { dim, metric } = this.spec;
    const n = this.spec.vectorCount;
    let keys: Uint32Array | undefined;
    if (options.filter !== undefined) keys = this.filterEntry(options.filter).entry.keys;
    const rows = keys === undefined ? n : keys.length;
    const k = Math.min(topK, rows);
    if (k === 0) return queries.map(() => []);
    const q = new Float32Array(queries.length * dim);
    queries.forEach((v, i) => q.set(v, i * dim));
    const best = queries.map(() => ({ keys: [] as number[], distances: [] as number[] }));
    const step = Math.max(256, Math.floor(EXACT_SCAN_CHUNK_VALUES / dim));
    try {
      for (let start = 0; start < rows; start += step) {
        await yieldToEventLoop();
        options.signal?.throwIfAborted();
        if (this.index === undefined) throw new VectorIndexError(`shard ${this.dbId}: search after the shard was closed`);
        const end = Math.min(rows, start + step);
        const chunkKeys = keys === undefined ? Uint32Array.from({ length: end - start }, (_, i) => start + i) : keys.subarray(start, end);
        const matrix = this.vectorsOf(chunkKeys);
        const want = Math.min(k, end - start);
        const found = exactSearch(matrix, q, dim, want, usearchMetric(metric), 1);
        const result: { keys: BigUint64Array; distances: Float32Array; counts: ArrayLike<bigint> } =
          found instanceof BatchMatches ? found : { keys: found.keys, distances: found.distances, counts: [BigInt(found.keys.length)] };
        for (let qi = 0; qi < queries.length; qi++) {
          const count = Math.min(want, Number(result.counts[qi]));
          const candidates: KeyHit[] = [];
          for (let j = 0; j < count; j++) candidates.push({ key: chunkKeys[Number(result.keys[qi * want + j])], distance: result.distances[qi * want + j] });
          keepBest(best[qi], candidates, k);
        }
      }
    } catch (err) {
      if (err instanceof VectorIndexError || err instanceof InvalidQueryError || options.signal?.aborted) throw err;
      throw new VectorIndexError(`shard ${this.dbId} (${this.dir}): exact search failed: ${errorMessage(err)}`, { cause: err });
    }
    const lists = best.map((b) => b.keys.map((key, j) => ({ key, distance: b.distances[j] })));
    return this.resolve(lists, queries.map((query) => metric === 'cosine' && isZero(query)), includePayload, options);
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

  /**
   * The vectors of `keys`, row-major float32: the exact stored copies when the shard has them
   * (read from `rows.sqlite`), else the index's own vectors decoded to float32.
   */
  private vectorsOf(keys: ArrayLike<number>): Float32Array {
    return this.rows.hasStoredVectors ? this.rows.storedVectorsOf(keys, this.spec.dim) : this.indexVectors.read(keys);
  }

  /**
   * Waits for the background build of the index vectors' key -> slot map (shards without stored
   * float32 copies; started at open), so a request that reads index vectors right after the load
   * waits without holding the event loop. Never throws: after a failed build, the read scans
   * synchronously and throws the error naming the file inside the request's own error handling.
   */
  private async indexVectorsReady(): Promise<void> {
    if (this.rows.hasStoredVectors || this.indexVectors.ready) return;
    await this.indexVectors.prepare().catch(() => undefined);
  }

  /**
   * @throws InvalidQueryError naming the shard and `--store-vectors` when `what` (include_vector)
   *   needs vectors this shard cannot give: an i8 index without stored float32 copies keeps only
   *   each vector's direction, not the vector.
   */
  private checkVectorsServed(what: string): void {
    if (!this.rows.hasStoredVectors && this.spec.params.quantization === 'i8') {
      throw new InvalidQueryError(
        `shard ${this.dbId}: ${what} is not available: this run's usearch index stores i8 vectors (unit length, the original scale is lost) and the run was built without --store-vectors; rebuild with shardfleet build --store-vectors to return vectors`,
      );
    }
  }

  /** The exact top `k` (k <= rows of `matrix`) of each query among `matrix`'s rows (keys `keys`). */
  private async exactScan(queries: readonly Float32Array[], matrix: Float32Array, keys: Uint32Array, k: number, includePayload: boolean, options: ShardQueryOptions): Promise<ShardHit[][]> {
    const { dim, metric } = this.spec;
    const q = new Float32Array(queries.length * dim);
    queries.forEach((v, i) => q.set(v, i * dim));
    const found = exactSearch(matrix, q, dim, k, usearchMetric(metric), 1);
    const result: { keys: BigUint64Array; distances: Float32Array; counts: ArrayLike<bigint> } =
      found instanceof BatchMatches ? found : { keys: found.keys, distances: found.distances, counts: [BigInt(found.keys.length)] };
    const lists = queries.map((_, i) => {
      const count = Math.min(k, Number(result.counts[i]));
      const list: KeyHit[] = new Array(count);
      for (let j = 0; j < count; j++) list[j] = { key: keys[Number(result.keys[i * k + j])], distance: result.distances[i * k + j] };
      return list;
    });
    return this.resolve(lists, queries.map((query) => metric === 'cosine' && isZero(query)), includePayload, options);
  }

  /**
   * The hits of key lists (one per query): ids, payloads (when asked) and vectors (when
   * `options.includeVector`) read in batches of {@link LOOKUP_CHECK_HITS} keys, one statement
   * each; between batches, once past {@link USEARCH_BATCH_BUDGET_MS}, the reader yields to the
   * event loop and checks `options.signal`.
   * @param zeroCosine per list: score every hit 1 (a zero query under cosine).
   * @throws Error naming the key when a key has no row (the caller wraps it).
   */
  private async resolve(lists: readonly KeyHit[][], zeroCosine: readonly boolean[], includePayload: boolean, options: ShardQueryOptions): Promise<ShardHit[][]> {
    const { dim, metric } = this.spec;
    const keys: number[] = [];
    for (const list of lists) for (const h of list) keys.push(h.key);
    const ids: string[] = new Array(keys.length);
    const payloads: string[] | undefined = includePayload ? new Array(keys.length) : undefined;
    const vectors = options.includeVector ? new Float32Array(keys.length * dim) : undefined;
    let slice = performance.now();
    for (let start = 0; start < keys.length; start += LOOKUP_CHECK_HITS) {
      if (start > 0 && performance.now() - slice > USEARCH_BATCH_BUDGET_MS) {
        await yieldToEventLoop();
        options.signal?.throwIfAborted();
        if (this.index === undefined) throw new VectorIndexError(`shard ${this.dbId}: search after the shard was closed`);
        slice = performance.now();
      }
      const part = keys.slice(start, start + LOOKUP_CHECK_HITS);
      const rows = this.rows.rowsOf(part, includePayload);
      for (let i = 0; i < part.length; i++) ids[start + i] = rows.ids[i];
      if (payloads !== undefined) for (let i = 0; i < part.length; i++) payloads[start + i] = rows.payloads![i];
      if (vectors !== undefined) vectors.set(this.vectorsOf(part), start * dim);
    }
    let at = 0;
    return lists.map((list, q) =>
      list.map((h) => {
        const hit: ShardHit = { id: ids[at], score: zeroCosine[q] ? 1 : usearchDistanceToScore(metric, h.distance), payload_json: payloads?.[at] ?? '' };
        if (vectors !== undefined) hit.vector = vectors.slice(at * dim, (at + 1) * dim);
        at++;
        return hit;
      }),
    );
  }

  /**
   * Point lookup by id: one slot per id of `ids`, in order (repeats allowed), the row with that
   * exact id (case-sensitive), or `undefined` when the shard has none. Keys are found through the
   * on-disk index on `rows(id)` (older shards: a compact hash table of 8 bytes a row, built on the
   * first call, see {@link UsearchRowTable.keysOf}); payloads and vectors are then read in one
   * statement each, only when asked.
   * @param includePayload when false, `payload_json` is "" (the payload is not read).
   * @param includeVector when true, `vector` is a copy of the row's stored vector (length dim: the
   *   exact float32 copy when the shard has one, else the index's f32 / f16 / bf16 vector); when
   *   false the row has no `vector` property.
   * @throws InvalidQueryError naming the shard and `--store-vectors` for includeVector on an i8
   *   shard without stored float32 vectors; VectorIndexError naming the shard when the shard is
   *   closed or SQLite fails (e.g. a key missing from `rows.sqlite`, a vector BLOB of the wrong size).
   */
  async fetchByIds(ids: readonly string[], includePayload: boolean, includeVector: boolean): Promise<Array<FetchedRow | undefined>> {
    if (this.index === undefined) throw new VectorIndexError(`shard ${this.dbId} (${this.dir}): fetch by id after the shard was closed`);
    if (includeVector) this.checkVectorsServed('include_vector (get with vectors)');
    if (includeVector) await this.indexVectorsReady();
    try {
      const keyOf = this.rows.keysOf(ids);
      const found: number[] = [];
      for (const key of keyOf) if (key !== undefined) found.push(key);
      const payloads = includePayload ? this.rows.payloadsOf(found) : undefined;
      const vectors = includeVector ? this.vectorsOf(found) : undefined;
      const dim = this.spec.dim;
      let at = 0;
      return keyOf.map((key) => {
        if (key === undefined) return undefined;
        const row: FetchedRow = { payload_json: payloads?.[at] ?? '' };
        if (vectors !== undefined) row.vector = vectors.slice(at * dim, (at + 1) * dim);
        at++;
        return row;
      });
    } catch (err) {
      throw new VectorIndexError(`shard ${this.dbId} (${this.dir}): fetch by id failed: ${errorMessage(err)}`, { cause: err });
    }
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
    this.indexVectors.close();
    this.filterCache.clear();
    this.filterCacheBytes = 0;
    this.db.close();
  }
}

/**
 * Merges `candidates` (nearest first) into `best` (nearest first, at most `k`), ties by key, so
 * the merged list is the k nearest of both.
 */
function keepBest(best: { keys: number[]; distances: number[] }, candidates: readonly KeyHit[], k: number): void {
  for (const c of candidates) {
    const size = best.keys.length;
    if (size === k && c.distance > best.distances[size - 1]) break;
    if (size === k && c.distance === best.distances[size - 1] && c.key > best.keys[size - 1]) continue;
    let i = size;
    while (i > 0 && (best.distances[i - 1] > c.distance || (best.distances[i - 1] === c.distance && best.keys[i - 1] > c.key))) i--;
    best.keys.splice(i, 0, c.key);
    best.distances.splice(i, 0, c.distance);
    if (best.keys.length > k) {
      best.keys.pop();
      best.distances.pop();
    }
  }
}

/** True when every value of `v` is 0. */
function isZero(v: Float32Array): boolean {
  for (let i = 0; i < v.length; i++) if (v[i] !== 0) return false;
  return true;
}
