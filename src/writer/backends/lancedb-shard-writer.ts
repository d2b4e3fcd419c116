/**
 * Builds one shard's LanceDB table: rows are appended in batches (so the writer streams), then the
 * table is compacted, indexed and old versions are removed, leaving a minimal set of files to
 * upload.
 *
 * Index choice (`index_type`, see {@link LanceIndexPlan}):
 * - `auto`: an exact IVF-flat index with one partition (every query scans the whole shard, so
 *   results are exact) while the shard has fewer than `hnsw_min_rows` rows; HNSW-SQ beyond.
 * - `ivf_flat`: IVF-flat with `num_partitions` partitions (default 1 = exact; more partitions are
 *   approximate, tuned per query with `nprobes`).
 * - `ivf_pq`: IVF with product-quantised vectors (`num_partitions`, `num_sub_vectors`);
 *   approximate distances unless the query sets `refine_factor`.
 * - `hnsw_sq`: HNSW over scalar-quantised vectors (`m`, `ef_construction`; query `ef`).
 * - `hnsw_pq`: HNSW over product-quantised vectors (`m`, `ef_construction`, `num_sub_vectors`).
 * PQ needs at least {@link PQ_MIN_ROWS} rows per shard (8-bit codebooks); a PQ shard with fewer rows
 * is a VectorIndexError. A shard with fewer than 2 rows gets no index (a flat scan, exact).
 */
import type { z } from 'zod';
import { LanceIndexTypeSchema } from '../../common/manifest.ts';
import { LANCE_COLUMNS, LANCE_TABLE_NAME, type LanceBuiltIndexType } from '../../common/lancedb-layout.ts';
import * as lancedb from '@lancedb/lancedb';
import { Bool, Field, FixedSizeList, Float32, Float64, Int64, Schema, Table as ArrowTable, Utf8, makeData, RecordBatch, Struct, vectorFromArray, type DataType } from 'apache-arrow';
import { filterRowOf, type FilterColumn } from '../../common/filter/filter-expr.ts';
import { filterColumnStorageName } from '../../common/filter/filter-sql.ts';
import type { Logger } from 'pino';
import { ConfigValidationError, VectorIndexError, errorMessage } from '../../common/errors.ts';
import type { Metric } from '../../common/distance.ts';
import type { BuiltShard, ShardIndexWriter, ShardRows } from './shard-index-writer.ts';

export type { BuiltShard, ShardRows } from './shard-index-writer.ts';

/** The index a LanceDB shard is asked for (`auto` decides per shard by its row count). */
export type LanceIndexType = z.infer<typeof LanceIndexTypeSchema>;

/** Every {@link LanceIndexType} (the manifest's enum), for validation and CLI choices. */
export const LANCE_INDEX_TYPES: readonly LanceIndexType[] = LanceIndexTypeSchema.options;

/**
 * Rows a shard needs before a PQ index (`ivf_pq`, `hnsw_pq`) can be trained: LanceDB trains 8-bit
 * codebooks, i.e. 2^8 = 256 centroids per sub-vector, from the shard's own rows.
 */
export const PQ_MIN_ROWS = 256;

/** Index request for every shard of a build (manifest `index_params`, camel-cased). */
export interface LanceIndexPlan {
  indexType: LanceIndexType;
  /** `auto` switches from exact IVF-flat to HNSW-SQ at this many rows per shard (integer >= 1; default 100,000). */
  hnswMinRows: number;
  /**
   * IVF partitions for `ivf_flat` and `ivf_pq` (integer >= 1; default 1). Clamped to the shard's
   * row count (the clamp is reported in {@link LanceBuiltShard.notes}). HNSW indexes use 1.
   */
  numPartitions: number;
  /**
   * PQ sub-vectors for `ivf_pq` / `hnsw_pq`: must divide `dim`. 0 (default) = automatic, see
   * {@link defaultNumSubVectors}. Each sub-vector is stored as one byte.
   */
  numSubVectors: number;
  /** HNSW graph degree (integer >= 2; default 20). */
  m: number;
  /** HNSW build beam width (integer >= 1; default 300). */
  efConstruction: number;
}

/** Default index plan. */
export const DEFAULT_LANCE_INDEX_PLAN: LanceIndexPlan = {
  indexType: 'auto',
  hnswMinRows: 100_000,
  numPartitions: 1,
  numSubVectors: 0,
  m: 20,
  efConstruction: 300,
};

/**
 * The automatic PQ sub-vector count for vectors of `dim` dimensions: `dim / 16` when 16 divides
 * `dim` (LanceDB's preferred layout), else `dim / 8`, else `dim / L` for the largest divisor
 * `L < 8` of `dim` (so every sub-vector has L values; L = 1 for a prime `dim`, which compresses
 * nothing but stays accurate). Always a divisor of `dim`.
 * @param dim vector dimension, an integer >= 1.
 */
export function defaultNumSubVectors(dim: number): number {
  for (const len of [16, 8, 7, 6, 5, 4, 3, 2]) if (dim % len === 0) return dim / len;
  return dim;
}

function requireInt(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ConfigValidationError(`LanceDB index: ${name} must be an integer >= ${min}, got ${value}`);
  }
}

/**
 * Validates an index plan for vectors of `dim` dimensions before any input is read, and resolves
 * `numSubVectors` 0 to {@link defaultNumSubVectors}(dim).
 * @returns the plan with `numSubVectors` resolved (a divisor of `dim`).
 * @throws ConfigValidationError when `indexType` is unknown, a numeric parameter is not a positive
 *   integer (`m` < 2), or `numSubVectors` does not divide `dim` (LanceDB requires
 *   `dim % num_sub_vectors == 0`); the message names the parameter and the allowed values.
 */
export function checkLanceIndexPlan(plan: LanceIndexPlan, dim: number): LanceIndexPlan {
  if (!(LANCE_INDEX_TYPES as readonly string[]).includes(plan.indexType)) {
    throw new ConfigValidationError(`LanceDB index: index_type ${JSON.stringify(plan.indexType)} is not one of ${LANCE_INDEX_TYPES.join(', ')}`);
  }
  requireInt('dim', dim, 1);
  requireInt('hnsw_min_rows', plan.hnswMinRows, 1);
  requireInt('num_partitions', plan.numPartitions, 1);
  requireInt('m', plan.m, 2);
  requireInt('ef_construction', plan.efConstruction, 1);
  requireInt('num_sub_vectors', plan.numSubVectors, 0);
  if (plan.numSubVectors === 0) return { ...plan, numSubVectors: defaultNumSubVectors(dim) };
  if (plan.numSubVectors > dim || dim % plan.numSubVectors !== 0) {
    const divisors = Array.from({ length: dim }, (_, i) => i + 1).filter((d) => dim % d === 0);
    const shown = divisors.length > 16 ? `${divisors.slice(0, 16).join(', ')}, ...` : divisors.join(', ');
    throw new ConfigValidationError(
      `LanceDB index: num_sub_vectors ${plan.numSubVectors} does not divide the vector dimension ${dim}; use a divisor of ${dim} (${shown}) or 0 for the default (${defaultNumSubVectors(dim)})`,
    );
  }
  return { ...plan };
}

/** The parameters of the index a shard actually got. */
export interface LanceIndexParams {
  /** IVF partitions (after clamping to the row count); 1 for HNSW and `auto`'s exact index. */
  numPartitions?: number;
  /** PQ sub-vectors (`ivf_pq`, `hnsw_pq`). */
  numSubVectors?: number;
  /** HNSW graph degree. */
  m?: number;
  /** HNSW build beam width. */
  efConstruction?: number;
}

/** A finished LanceDB shard. */
export interface LanceBuiltShard extends BuiltShard {
  /** The index the shard actually got (`none` = flat scan of a shard with fewer than 2 rows). */
  indexType: LanceBuiltIndexType;
  /** Parameters of that index (empty for `none`). */
  indexParams: LanceIndexParams;
  /** Human-readable deviations from the plan, e.g. `num_partitions 64 clamped to 40 (the shard has 40 rows)`. */
  notes: string[];
}

/** Constructor options of {@link LanceShardWriter}. */
export interface LanceShardWriterOptions {
  /** Local folder of the shard's LanceDB database (created if missing). */
  dir: string;
  /** The shard id (for error messages). */
  dbId: number;
  /** Vector dimension. */
  dim: number;
  /** Distance metric the index is trained for (and must be searched with). */
  metric: Metric;
  /** Index plan; missing fields take {@link DEFAULT_LANCE_INDEX_PLAN}'s values. */
  plan?: Partial<LanceIndexPlan>;
  /** Receives a warning for each deviation from the plan (also returned in `notes`). */
  log?: Pick<Logger, 'warn'>;
  /**
   * The run's filter columns (manifest `index.filter_columns`): each is stored as a typed,
   * nullable column `f_<name>` (utf8, int64, float64, bool) read from the row's payload, with a
   * scalar index (BITMAP for string / bool, BTREE for int / float). Default none.
   */
  filterColumns?: readonly FilterColumn[];
}

/** The Arrow type of a filter column's stored column. */
function filterArrowType(type: FilterColumn['type']): DataType {
  switch (type) {
    case 'string':
      return new Utf8();
    case 'int':
      return new Int64();
    case 'float':
      return new Float64();
    case 'bool':
      return new Bool();
  }
}

/** Writes one shard's table into a local LanceDB folder. */
export class LanceShardWriter implements ShardIndexWriter {
  readonly dbId: number;
  private readonly dir: string;
  private readonly dim: number;
  private readonly metric: Metric;
  private readonly plan: LanceIndexPlan;
  private readonly log: Pick<Logger, 'warn'> | undefined;
  private table: lancedb.Table | undefined;
  private state: 'open' | 'finished' | 'aborted' = 'open';
  private rows = 0;
  private readonly schema: Schema;
  private readonly filterColumns: readonly FilterColumn[];

  /**
   * @throws ConfigValidationError when the plan is invalid for `dim` (see {@link checkLanceIndexPlan}).
   */
  constructor(options: LanceShardWriterOptions) {
    this.dir = options.dir;
    this.dbId = options.dbId;
    this.dim = options.dim;
    this.metric = options.metric;
    this.log = options.log;
    this.plan = checkLanceIndexPlan({ ...DEFAULT_LANCE_INDEX_PLAN, ...options.plan }, options.dim);
    this.filterColumns = options.filterColumns ?? [];
    this.schema = new Schema([
      new Field(LANCE_COLUMNS.id, new Utf8(), false),
      new Field(LANCE_COLUMNS.vector, new FixedSizeList(this.dim, new Field('item', new Float32(), true)), false),
      new Field(LANCE_COLUMNS.payload, new Utf8(), true),
      ...this.filterColumns.map((c) => new Field(filterColumnStorageName(c.name), filterArrowType(c.type), true)),
    ]);
  }

  /**
   * Appends rows (`rows.vectors` holds `ids.length * dim` floats).
   * @throws VectorIndexError naming the shard when the batch is malformed, the writer is already
   *   finished or aborted, or LanceDB fails.
   */
  async add(rows: ShardRows): Promise<void> {
    if (this.state !== 'open') throw new VectorIndexError(`shard ${this.dbId}: rows added after the LanceDB writer was ${this.state}`);
    const n = rows.ids.length;
    if (rows.vectors.length !== n * this.dim || rows.payloads.length !== n) {
      throw new VectorIndexError(
        `shard ${this.dbId}: malformed batch: ${n} ids, ${rows.payloads.length} payloads, ${rows.vectors.length} floats (expected ${n * this.dim} for dim ${this.dim})`,
      );
    }
    if (n === 0) return;
    const vectorType = this.schema.fields[1].type as FixedSizeList<Float32>;
    const vectorData = makeData({
      type: vectorType,
      length: n,
      nullCount: 0,
      child: makeData({ type: new Float32(), length: n * this.dim, data: rows.vectors }),
    });
    const idVector = vectorFromArray(rows.ids, new Utf8());
    const payloadVector = vectorFromArray(rows.payloads, new Utf8());
    const filterData = this.filterData(rows);
    const structData = makeData({
      type: new Struct(this.schema.fields),
      length: n,
      nullCount: 0,
      children: [idVector.data[0], vectorData, payloadVector.data[0], ...filterData],
    });
    const batch = new ArrowTable(this.schema, [new RecordBatch(this.schema, structData)]);
    try {
      if (this.table === undefined) {
        const db = await lancedb.connect(this.dir);
        this.table = await db.createTable(LANCE_TABLE_NAME, batch, { mode: 'overwrite' });
      } else {
        await this.table.add(batch);
      }
    } catch (err) {
      throw new VectorIndexError(`shard ${this.dbId}: writing ${n} rows to LanceDB failed: ${errorMessage(err)}`, { cause: err });
    }
    this.rows += n;
  }

  /**
   * The Arrow data of each filter column for a batch (values from the payloads; NULL when the
   * payload is null or lacks the field).
   * @throws VectorIndexError naming the shard and record for a payload that is not JSON or holds
   *   a value of another type.
   */
  private filterData(rows: ShardRows): ReturnType<typeof makeData>[] {
    if (this.filterColumns.length === 0) return [];
    const values = this.filterColumns.map(() => [] as unknown[]);
    for (let r = 0; r < rows.ids.length; r++) {
      let row;
      try {
        const text = rows.payloads[r];
        row = filterRowOf(text === null ? undefined : (JSON.parse(text) as Record<string, unknown>), this.filterColumns);
      } catch (err) {
        throw new VectorIndexError(`shard ${this.dbId}: record ${JSON.stringify(rows.ids[r])}: ${errorMessage(err)}`, { cause: err });
      }
      this.filterColumns.forEach((c, i) => {
        const v = row[c.name];
        values[i].push(v === null ? null : c.type === 'int' ? BigInt(v as number) : v);
      });
    }
    return this.filterColumns.map((c, i) => vectorFromArray(values[i], filterArrowType(c.type)).data[0]);
  }

  /**
   * Compacts the table, builds its index (see the module doc for the choice) and deletes
   * superseded versions. Closes the table whatever happens.
   * @returns the row count, the index actually built with its parameters, notes on deviations from
   *   the plan, and the LanceDB table version as checkpoint id.
   * @throws VectorIndexError naming the shard when it has no rows, when a PQ index is asked for a
   *   shard with fewer than {@link PQ_MIN_ROWS} rows, when called twice, or when LanceDB fails.
   */
  async finish(): Promise<LanceBuiltShard> {
    if (this.state !== 'open') throw new VectorIndexError(`shard ${this.dbId}: finish called after the LanceDB writer was ${this.state}`);
    this.state = 'finished';
    const table = this.table;
    this.table = undefined;
    try {
      if (table === undefined || this.rows === 0) {
        throw new VectorIndexError(`shard ${this.dbId} received no vectors; use fewer shards or other centroids`);
      }
      const plan = this.plan;
      const rows = this.rows;
      let kind: Exclude<LanceBuiltIndexType, 'none'>;
      if (plan.indexType === 'auto') kind = rows >= plan.hnswMinRows ? 'hnsw_sq' : 'ivf_flat';
      else kind = plan.indexType;
      const isPq = kind === 'ivf_pq' || kind === 'hnsw_pq';
      if (isPq && rows < PQ_MIN_ROWS) {
        throw new VectorIndexError(
          `shard ${this.dbId}: cannot train a ${kind} index: the shard has ${rows} vectors and product quantization needs at least ${PQ_MIN_ROWS}; ` +
            `use fewer shards (so each holds more rows) or another index type (auto, ivf_flat or hnsw_sq)`,
        );
      }
      const notes: string[] = [];
      let indexType: LanceBuiltIndexType = 'none';
      let indexParams: LanceIndexParams = {};
      let config: lancedb.Index | undefined;
      if (rows >= 2) {
        indexType = kind;
        const distanceType = this.metric;
        const ivfPartitions = (): number => {
          const wanted = plan.indexType === 'auto' ? 1 : plan.numPartitions;
          if (wanted <= rows) return wanted;
          const note = `num_partitions ${wanted} clamped to ${rows} (the shard has ${rows} rows)`;
          notes.push(note);
          this.log?.warn({ db_id: this.dbId, requested: wanted, used: rows }, `shard ${this.dbId}: ${note}`);
          return rows;
        };
        switch (kind) {
          case 'ivf_flat': {
            indexParams = { numPartitions: ivfPartitions() };
            config = lancedb.Index.ivfFlat({ distanceType, ...indexParams });
            break;
          }
          case 'ivf_pq': {
            indexParams = { numPartitions: ivfPartitions(), numSubVectors: plan.numSubVectors };
            config = lancedb.Index.ivfPq({ distanceType, ...indexParams });
            break;
          }
          case 'hnsw_sq': {
            indexParams = { numPartitions: 1, m: plan.m, efConstruction: plan.efConstruction };
            config = lancedb.Index.hnswSq({ distanceType, ...indexParams });
            break;
          }
          case 'hnsw_pq': {
            indexParams = { numPartitions: 1, numSubVectors: plan.numSubVectors, m: plan.m, efConstruction: plan.efConstruction };
            config = lancedb.Index.hnswPq({ distanceType, ...indexParams });
            break;
          }
        }
      }
      const what = config === undefined ? 'compacting the table' : `building the ${indexType} index (${describeParams(indexParams)})`;
      try {
        await table.optimize({ cleanupOlderThan: new Date(), deleteUnverified: true });
        if (config !== undefined) await table.createIndex(LANCE_COLUMNS.vector, { config });
        for (const c of this.filterColumns) {
          const scalar = c.type === 'string' || c.type === 'bool' ? lancedb.Index.bitmap() : lancedb.Index.btree();
          await table.createIndex(filterColumnStorageName(c.name), { config: scalar });
        }
        await table.optimize({ cleanupOlderThan: new Date(), deleteUnverified: true });
        const version = await table.version();
        return { vectorCount: rows, indexType, indexParams, notes, checkpointId: String(version) };
      } catch (err) {
        throw new VectorIndexError(`shard ${this.dbId}: ${what} over ${rows} vectors failed: ${errorMessage(err)}`, { cause: err });
      }
    } finally {
      closeQuietly(table);
    }
  }

  /** Closes the table without finishing (after a failure elsewhere). Idempotent; never throws. */
  async abort(): Promise<void> {
    if (this.state === 'open') this.state = 'aborted';
    const table = this.table;
    this.table = undefined;
    closeQuietly(table);
  }
}

function closeQuietly(table: lancedb.Table | undefined): void {
  try {
    if (table?.isOpen()) table.close();
  } catch {
    // Closing only releases native handles; nothing to report.
  }
}

function describeParams(params: LanceIndexParams): string {
  const parts: string[] = [];
  if (params.numPartitions !== undefined) parts.push(`num_partitions=${params.numPartitions}`);
  if (params.numSubVectors !== undefined) parts.push(`num_sub_vectors=${params.numSubVectors}`);
  if (params.m !== undefined) parts.push(`m=${params.m}`);
  if (params.efConstruction !== undefined) parts.push(`ef_construction=${params.efConstruction}`);
  return parts.join(', ');
}
