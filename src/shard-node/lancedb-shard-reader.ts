/**
 * Opens a downloaded LanceDB shard and searches it, forwarding the per-query index options that
 * apply to the shard's index (nprobes: IVF partitions; ef: HNSW beam; refine_factor: exact
 * re-ranking of quantised PQ/SQ candidates).
 */
import {
  LANCE_BUILT_INDEX_TYPES,
  LANCE_COLUMNS,
  NATIVE_LANCE_LAYOUT,
  lanceDistanceToScore,
  lanceIndexKind,
  lanceQueryKnobs,
  type LanceBuiltIndexType,
  type LanceQueryKnobs,
  type LanceTableLayout,
} from '../common/lancedb-layout.ts';
import * as lancedb from '@lancedb/lancedb';
import { InvalidQueryError, VectorIndexError, errorMessage } from '../common/errors.ts';
import type { Metric } from '../common/distance.ts';
import { rowsInRequestOrder, type FetchedRow, type ShardHit, type ShardIndexReader, type ShardQueryOptions } from './shard-index-reader.ts';
import type { FilterColumn } from '../common/filter/filter-expr.ts';
import { filterColumnStorageName, filterToSql, simplifyFilter } from '../common/filter/filter-sql.ts';

/** What one LanceDB vector query asks (see LanceShardReader.runQuery). */
interface LanceQueryPlan {
  topK: number;
  includePayload: boolean;
  includeVector: boolean;
  nprobes: number;
  ef: number;
  refineFactor: number;
  /** SQL prefilter, or undefined for none. */
  where: string | undefined;
  /** Exact flat scan (`bypassVectorIndex`), ignoring the index options. */
  flat: boolean;
}

/**
 * Filtered searches whose filter matches at most this many rows AND at most 1 /
 * {@link LANCE_FILTER_FLAT_FRACTION} of the shard run as an exact flat scan over the matches.
 */
export const LANCE_FILTER_FLAT_MAX_ROWS = 20_000;
/** See {@link LANCE_FILTER_FLAT_MAX_ROWS}: 4 = at most 25% of the shard's rows. */
export const LANCE_FILTER_FLAT_FRACTION = 4;

/** Most ids in one `id IN (...)` filter of {@link LanceShardReader.fetchByIds}. */
export const LANCE_FETCH_CHUNK = 500;

/** One open shard table. */
export class LanceShardReader implements ShardIndexReader {
  private readonly knobs: LanceQueryKnobs;

  private constructor(
    readonly dbId: number,
    private readonly table: lancedb.Table,
    private readonly metric: Metric,
    /** The index the table actually has, read from the table when it was opened. */
    readonly indexType: LanceBuiltIndexType,
    /** The filter columns the table stores (`f_<name>`); empty for shards built without any. */
    private readonly filterColumns: readonly FilterColumn[] = [],
  ) {
    this.knobs = lanceQueryKnobs(indexType);
  }

  /** The table's row count, read on the first filtered search. */
  private rowCount: number | undefined;

  /**
   * Opens the shard's table in `dir` (a LanceDB database folder) and reads which vector index it has.
   * @param metric the metric the shard was built with (LanceDB must search with the index's metric).
   * @param expectedIndexType the manifest's `index_type` for this shard (`none`, `ivf_flat`,
   *   `ivf_pq`, `hnsw_sq`, `hnsw_pq`); when given, the table's index must be that one.
   * @param filterColumns the manifest's `index.filter_columns` (default none): the table must
   *   store each as column `f_<name>` (tables built without filter columns still open without).
   * @throws VectorIndexError naming the shard when the folder is not a readable LanceDB table, the
   *   table has an index kind shardfleet does not build, it differs from `expectedIndexType`, or
   *   it lacks a filter column of `filterColumns`.
   * @param layout which table of the folder to open (default {@link NATIVE_LANCE_LAYOUT}).
   */
  static async open(
    dir: string,
    dbId: number,
    metric: Metric,
    expectedIndexType?: string,
    filterColumns: readonly FilterColumn[] = [],
    layout: LanceTableLayout = NATIVE_LANCE_LAYOUT,
  ): Promise<LanceShardReader> {
    let table: lancedb.Table;
    try {
      const db = await lancedb.connect(dir);
      table = await db.openTable(layout.tableName);
    } catch (err) {
      throw new VectorIndexError(`shard ${dbId}: cannot open LanceDB table in ${dir}: ${errorMessage(err)}`, { cause: err });
    }
    try {
      const vectorIndexes = (await table.listIndices()).filter((ix) => ix.columns.includes(LANCE_COLUMNS.vector));
      if (vectorIndexes.length > 1) {
        throw new VectorIndexError(`shard ${dbId}: LanceDB table in ${dir} has ${vectorIndexes.length} vector indexes (${vectorIndexes.map((ix) => ix.indexType).join(', ')}); expected at most one`);
      }
      let indexType: LanceBuiltIndexType = 'none';
      if (vectorIndexes.length === 1) {
        const kind = lanceIndexKind(vectorIndexes[0].indexType);
        if (kind === undefined) {
          throw new VectorIndexError(`shard ${dbId}: LanceDB table in ${dir} has a ${vectorIndexes[0].indexType} index, which shardfleet does not support (${LANCE_BUILT_INDEX_TYPES.join(', ')})`);
        }
        indexType = kind;
      }
      if (expectedIndexType !== undefined && expectedIndexType !== indexType) {
        throw new VectorIndexError(`shard ${dbId}: the manifest says index_type ${JSON.stringify(expectedIndexType)} but the LanceDB table in ${dir} has ${indexType}`);
      }
      if (filterColumns.length > 0) {
        const stored = new Set((await table.schema()).fields.map((f) => f.name));
        const missing = filterColumns.filter((c) => !stored.has(filterColumnStorageName(c.name)));
        if (missing.length > 0) {
          throw new VectorIndexError(`shard ${dbId}: the LanceDB table in ${dir} lacks filter column(s) ${missing.map((c) => c.name).join(', ')} the manifest declares`);
        }
      }
      return new LanceShardReader(dbId, table, metric, indexType, filterColumns);
    } catch (err) {
      table.close();
      if (err instanceof VectorIndexError) throw err;
      throw new VectorIndexError(`shard ${dbId}: cannot list the indexes of the LanceDB table in ${dir}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /**
   * The `topK` nearest rows to `query` (Float32Array of length dim), best (lowest score) first,
   * scored per the Hit contract via `lanceDistanceToScore`. `options.nprobes` applies to every
   * index (all are IVF-partitioned), `options.ef` to HNSW indexes, `options.refineFactor` to PQ/SQ
   * indexes; 0 or undefined keeps LanceDB's default, and options that do not apply are ignored.
   * An `ef` below the candidate count (`topK`, or `topK * refineFactor` when refining) is raised to
   * it, since LanceDB requires ef >= k.
   * Without a refine factor, PQ/SQ shards return approximate neighbours, and PQ shards approximate
   * distances (measured with LanceDB 0.37: HNSW-SQ distances are exact).
   * `options.includeVector` adds each hit's stored float32 vector (a copy, length dim) as `vector`.
   * @throws InvalidQueryError naming the shard when an option is negative or not an integer.
   * @throws VectorIndexError naming the shard when LanceDB fails.
   */
  async search(query: Float32Array, topK: number, includePayload: boolean, options: ShardQueryOptions = {}): Promise<ShardHit[]> {
    return (await this.searchBatch([query], topK, includePayload, options))[0];
  }

  /**
   * {@link search} for several queries in ONE LanceDB query (`addQueryVector`: LanceDB plans and
   * converts once and returns each query's top-k tagged with its `query_index`).
   * @returns one hit list per query, in order.
   * @throws as {@link search}.
   */
  async searchBatch(queries: readonly Float32Array[], topK: number, includePayload: boolean, options: ShardQueryOptions = {}): Promise<ShardHit[][]> {
    const nprobes = this.option('nprobes', options.nprobes);
    const ef = this.option('ef', options.ef);
    const refineFactor = this.option('refine_factor', options.refineFactor);
    const includeVector = options.includeVector === true;
    if (queries.length === 0) return [];
    // Filter (issue 15): a SQL `where`, which LanceDB applies BEFORE the vector search (prefilter,
    // its default; the plan shows a ScalarIndexQuery feeding the ANN node).
    let where: string | undefined;
    if (options.filter !== undefined) {
      const filter = simplifyFilter(options.filter);
      if (filter.op === 'const') {
        if (!filter.value) return queries.map(() => []);
      } else {
        where = filterToSql(filter, this.filterColumns, 'lance');
      }
    }
    const plan: LanceQueryPlan = { topK, includePayload, includeVector, nprobes, ef, refineFactor, where, flat: false };
    if (options.exact === true) {
      // Exact search (the live recall reference): a flat scan of every (matching) row.
      plan.flat = true;
      try {
        return await this.runQuery(queries, plan);
      } catch (err) {
        throw new VectorIndexError(`shard ${this.dbId}: exact search failed: ${errorMessage(err)}`, { cause: err });
      }
    }
    try {
      let matching: number | undefined;
      if (where !== undefined && this.indexType !== 'none') {
        // A selective filter is answered by an exact flat scan over its matches (the scalar index
        // finds them): measured on Fashion-MNIST, IVF-flat/32 with a prefilter matching ~10% of
        // the rows kept only 0.83-0.97 recall@10 (the matches nearest the query sit in partitions
        // it does not probe), while the flat scan over <= 25% of a shard costs no more than the
        // index. Up to LANCE_FILTER_FLAT_MAX_ROWS matches.
        matching = await this.table.countRows(where);
        const total = (this.rowCount ??= await this.table.countRows());
        if (matching <= LANCE_FILTER_FLAT_MAX_ROWS && matching * LANCE_FILTER_FLAT_FRACTION <= total) plan.flat = true;
      }
      const out = await this.runQuery(queries, plan);
      if (where !== undefined && this.indexType !== 'none') {
        // An ANN index with a prefilter can come back short (IVF: the probed partitions hold fewer
        // than topK matches; HNSW: the filtered graph walk stops early). When the shard has more
        // matches than came back, that query is answered by an exact flat scan over the matches.
        for (let i = 0; i < out.length && !plan.flat; i++) {
          if (out[i].length >= topK) continue;
          matching ??= await this.table.countRows(where);
          if (matching > out[i].length) out[i] = (await this.runQuery([queries[i]], { ...plan, flat: true }))[0];
        }
      }
      return out;
    } catch (err) {
      throw new VectorIndexError(`shard ${this.dbId}: search failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** One LanceDB vector query for `queries` (see {@link searchBatch}); one hit list per query. */
  private async runQuery(queries: readonly Float32Array[], plan: LanceQueryPlan): Promise<ShardHit[][]> {
    const { topK, includePayload, includeVector, nprobes, ef, refineFactor } = plan;
    const columns: string[] = [LANCE_COLUMNS.id, '_distance'];
    if (includePayload) columns.push(LANCE_COLUMNS.payload);
    if (includeVector) columns.push(LANCE_COLUMNS.vector);
    let q = this.table.vectorSearch(queries[0]);
    for (let i = 1; i < queries.length; i++) q = q.addQueryVector(queries[i]);
    q = q.distanceType(this.metric).limit(topK).select(columns);
    if (plan.where !== undefined) q = q.where(plan.where);
    if (plan.flat) {
      q = q.bypassVectorIndex();
    } else {
      if (nprobes > 0 && this.knobs.nprobes) q = q.nprobes(nprobes);
      const refine = refineFactor > 0 && this.knobs.refineFactor;
      if (refine) q = q.refineFactor(refineFactor);
      // LanceDB rejects ef < k ("ef must be greater than or equal to k"), where k is the number of
      // candidates the index returns: topK, or topK * refine_factor when refining.
      if (ef > 0 && this.knobs.ef) q = q.ef(Math.max(ef, refine ? topK * refineFactor : topK));
    }
    const result = await q.toArrow();
    if (result.numRows === 0) return queries.map(() => []);
    const ids = result.getChild(LANCE_COLUMNS.id);
    const distances = result.getChild('_distance');
    const payloads = includePayload ? result.getChild(LANCE_COLUMNS.payload) : null;
    const vectors = includeVector ? result.getChild(LANCE_COLUMNS.vector) : null;
    // One query: no query_index column. Several: rows tagged with their query's position.
    const queryIndex = queries.length > 1 ? result.getChild('query_index') : null;
    if (ids === null || distances === null) throw new Error('result lacks id or _distance');
    if (includeVector && vectors === null) throw new Error(`result lacks the ${LANCE_COLUMNS.vector} column`);
    if (queries.length > 1 && queryIndex === null) throw new Error('a multi-vector result lacks query_index');
    const out: ShardHit[][] = queries.map(() => []);
    for (let i = 0; i < result.numRows; i++) {
      const hit: ShardHit = {
        id: String(ids.get(i)),
        score: lanceDistanceToScore(this.metric, Number(distances.get(i))),
        payload_json: payloads ? ((payloads.get(i) as string | null) ?? '') : '',
      };
      if (vectors !== null) hit.vector = storedVector(vectors.get(i), hit.id);
      const list = out[queryIndex === null ? 0 : Number(queryIndex.get(i))];
      if (list === undefined) throw new Error(`row ${i} has query_index ${queryIndex?.get(i)} outside 0..${queries.length - 1}`);
      list.push(hit);
    }
    // LanceDB returns each query's rows best first; pushing in row order keeps that order.
    return out;
  }

  /**
   * Point lookup by id: one slot per id of `ids`, in order (repeats allowed), the row with that
   * exact id (case-sensitive), or `undefined` when the shard has none. Each chunk of up to
   * {@link LANCE_FETCH_CHUNK} distinct ids is one LanceDB plain query with an `id IN ('...')`
   * filter (single quotes doubled), reading only the columns asked for; the shard has no scalar
   * index on `id`, so each chunk scans the `id` column.
   * @param includePayload when false, `payload_json` is "" (the payload column is not read).
   * @param includeVector when true, `vector` is a copy of the row's stored float32 vector (length
   *   dim, the `vector` column, never an index's quantized copy); when false the row has no
   *   `vector` property.
   * @throws VectorIndexError naming the shard when the table is closed or LanceDB fails.
   */
  async fetchByIds(ids: readonly string[], includePayload: boolean, includeVector: boolean): Promise<Array<FetchedRow | undefined>> {
    if (!this.table.isOpen()) throw new VectorIndexError(`shard ${this.dbId}: fetch by id after the shard was closed`);
    const columns: string[] = [LANCE_COLUMNS.id];
    if (includePayload) columns.push(LANCE_COLUMNS.payload);
    if (includeVector) columns.push(LANCE_COLUMNS.vector);
    const unique = [...new Set(ids)];
    const found = new Map<string, FetchedRow>();
    try {
      for (let start = 0; start < unique.length; start += LANCE_FETCH_CHUNK) {
        const chunk = unique.slice(start, start + LANCE_FETCH_CHUNK);
        const result = await this.table
          .query()
          .where(`${LANCE_COLUMNS.id} IN (${chunk.map(sqlString).join(', ')})`)
          .select(columns)
          .toArrow();
        // No match: LanceDB returns an empty table without the selected columns.
        if (result.numRows === 0) continue;
        const idColumn = result.getChild(LANCE_COLUMNS.id);
        const payloads = includePayload ? result.getChild(LANCE_COLUMNS.payload) : null;
        const vectors = includeVector ? result.getChild(LANCE_COLUMNS.vector) : null;
        if (idColumn === null) throw new Error(`result lacks the ${LANCE_COLUMNS.id} column`);
        if (includePayload && payloads === null) throw new Error(`result lacks the ${LANCE_COLUMNS.payload} column`);
        if (includeVector && vectors === null) throw new Error(`result lacks the ${LANCE_COLUMNS.vector} column`);
        for (let i = 0; i < result.numRows; i++) {
          const id = String(idColumn.get(i));
          if (found.has(id)) continue; // the build rejects duplicate ids; keep the first row seen
          const row: FetchedRow = { payload_json: payloads ? ((payloads.get(i) as string | null) ?? '') : '' };
          if (vectors !== null) row.vector = storedVector(vectors.get(i), id);
          found.set(id, row);
        }
      }
    } catch (err) {
      throw new VectorIndexError(`shard ${this.dbId}: fetch by id failed: ${errorMessage(err)}`, { cause: err });
    }
    return rowsInRequestOrder(ids, found);
  }

  /**
   * The table's vector column shape and row count: `dim` is the fixed-size-list length of the
   * `vector` column when its items are float32, else -1 (no such column, or another type).
   * @throws Error when LanceDB fails (callers name the shard).
   */
  async describe(): Promise<{ dim: number; rows: number }> {
    const field = (await this.table.schema()).fields.find((f) => f.name === LANCE_COLUMNS.vector);
    const type = field?.type as { listSize?: number; valueType?: unknown } | undefined;
    const dim = type?.listSize !== undefined && String(type.valueType) === 'Float32' ? type.listSize : -1;
    return { dim, rows: (this.rowCount ??= await this.table.countRows()) };
  }

  /** Closes the table. Idempotent. */
  close(): void {
    if (this.table.isOpen()) this.table.close();
  }

  private option(name: string, value: number | undefined): number {
    if (value === undefined) return 0;
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new InvalidQueryError(`shard ${this.dbId}: ${name} must be a non-negative integer (0 = default), got ${value}`);
    }
    return value;
  }
}

/** `value` as a SQL string literal for a LanceDB filter: single-quoted, single quotes doubled. */
function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * Copies one row of the FixedSizeList<Float32> vector column into a fresh Float32Array (Arrow's
 * view shares the batch's buffer).
 * @throws Error naming the row id when the cell is null or not a float list.
 */
function storedVector(cell: unknown, id: string): Float32Array {
  const values = (cell as { toArray?: () => unknown } | null)?.toArray?.();
  if (values instanceof Float32Array) return values.slice();
  if (values instanceof Float64Array || Array.isArray(values)) return Float32Array.from(values as ArrayLike<number>);
  throw new Error(`row ${JSON.stringify(id)} has no stored vector`);
}
