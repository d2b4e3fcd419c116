/**
 * The on-disk layout of one sqlite-vec shard, shared by the writer (which builds it) and the shard
 * node (which opens it read-only): ONE SQLite file, `<shard dir>/shard.sqlite`, holding
 *
 * - `vec_index`: a sqlite-vec `vec0` virtual table (rowid + column `embedding`), either
 *   `float[dim]` (exact float32 scan) or `int8[dim]` (int8-quantized coarse scan), with
 *   `distance_metric=l2` or `distance_metric=cosine`. sqlite-vec has no dot-product metric.
 * - `items`: `rowid INTEGER PRIMARY KEY, id TEXT NOT NULL, payload TEXT (JSON or NULL),
 *   vector BLOB (float32 little-endian, dim*4 bytes, or NULL), indexed INTEGER (1 / 0)`.
 *   `vector` holds the exact vector when the shard is int8-quantized (for re-ranking) and for
 *   every row that is NOT in `vec_index` (`indexed = 0`, see below; partial index
 *   `items_unindexed` finds those rows). Index `items_id` on `items(id)` (builds since issue 22)
 *   serves get by id; files without it stay readable (the reader then builds an 8-byte-a-row id
 *   hash table, `src/common/id-hash-table.ts`, on the first get by id).
 * - `meta`: `key TEXT PRIMARY KEY, value TEXT`: `format_version`, `dim`, `metric`,
 *   `quantization`, `int8_scale`, `vector_count`, and (shards built with filter columns)
 *   `filter_columns` (JSON `[{name, type}]`) and `vec0_filter_columns` (JSON array of names).
 *
 * Filter columns (issue 15; shards built without them lack all of this and stay readable):
 * - `items.f_<name>`: each declared column, from the row's payload, NULL when absent: TEXT,
 *   INTEGER, REAL, or INTEGER 0/1 for bool. The exact-scan path filters these with plain SQL
 *   (SQLite's NULL semantics are the filter's).
 * - `vec_index` metadata columns for the first {@link SQLITE_VEC_MAX_FILTER_COLUMNS} filter
 *   columns (listed in `vec0_filter_columns`): `f_<name>` (text / integer / float / boolean) and
 *   `fnull_<name>` (boolean, 1 when the row's value is NULL). sqlite-vec 0.1.9 metadata columns
 *   reject NULL, so a NULL row holds a placeholder ('' / 0 / 0.0 / 0) there with `fnull_<name>` = 1,
 *   and every native KNN constraint on a column also requires `fnull_<name> = 0`.
 *
 * Rows left out of `vec_index` (`indexed = 0`): with the cosine metric, a row whose indexed
 * vector is all zeros (a zero vector, or an int8 vector that quantizes to zeros). sqlite-vec
 * 0.1.9 computes a NaN cosine distance for such a row, and ONE such row breaks the ordering of
 * every KNN query of the table (measured: self-queries no longer find themselves). The reader
 * scores these rows exactly on every query instead.
 */
import { ConfigValidationError } from './errors.ts';
import type { Metric } from './distance.ts';

/** File name of a shard's database inside its folder. */
export const SQLITE_VEC_FILE_NAME = 'shard.sqlite';
/** Value of `meta.format_version` written by this version. */
export const SQLITE_VEC_FORMAT_VERSION = '1';
/** Table names. */
export const SQLITE_VEC_TABLES = { index: 'vec_index', items: 'items', meta: 'meta' } as const;
/** Name of the index on `items(id)` (builds since issue 22; older files lack it). */
export const SQLITE_VEC_ID_INDEX = 'items_id';
/** Column names (`rowid` is SQLite's rowid, shared by `vec_index` and `items`). */
export const SQLITE_VEC_COLUMNS = {
  embedding: 'embedding',
  id: 'id',
  payload: 'payload',
  vector: 'vector',
  indexed: 'indexed',
} as const;
/**
 * Filter columns that also become vec0 metadata columns (value + NULL flag each; vec0 0.1.9 allows
 * 16 metadata columns). Later columns are filtered by the exact-scan path only.
 */
export const SQLITE_VEC_MAX_FILTER_COLUMNS = 8;
/** The vec0 NULL-flag column of filter column `name`. */
export function vec0NullFlagColumn(name: string): string {
  return `fnull_${name}`;
}
/** The SQL type of a filter column in `items` and in `vec_index` (vec0 metadata). */
export function filterColumnSqlTypes(type: 'string' | 'int' | 'float' | 'bool'): { items: string; vec0: string } {
  switch (type) {
    case 'string':
      return { items: 'TEXT', vec0: 'text' };
    case 'int':
      return { items: 'INTEGER', vec0: 'integer' };
    case 'float':
      return { items: 'REAL', vec0: 'float' };
    case 'bool':
      return { items: 'INTEGER', vec0: 'boolean' };
  }
}

/** Largest `k` a vec0 KNN query accepts (sqlite-vec 0.1.9). */
export const SQLITE_VEC_MAX_K = 4096;
/** Largest vector dimension a vec0 column accepts (sqlite-vec 0.1.9). */
export const SQLITE_VEC_MAX_DIM = 8192;
/** Re-ranking factor used for int8 shards when the query gives none. */
export const SQLITE_VEC_DEFAULT_REFINE_FACTOR = 4;

/** How the indexed vectors are stored: float32 (`none`, exact) or int8 (`int8`, re-ranked). */
export type SqliteVecQuantization = 'none' | 'int8';

/** The metrics sqlite-vec supports. */
export type SqliteVecMetric = 'l2' | 'cosine';

/** Index options of a sqlite-vec shard. */
export interface SqliteVecIndexOptions {
  /** Default `none`. */
  quantization?: SqliteVecQuantization;
  /**
   * int8 step: a vector value x is stored as clamp(round(x / int8Scale), -127, 127). A finite
   * float > 0; required for building an int8 shard (see {@link computeInt8Scale}).
   */
  int8Scale?: number;
}

/**
 * Checks a sqlite-vec index configuration; the build calls this before reading any input.
 * @param metric the run's metric; `dot` is rejected (sqlite-vec has no inner-product metric).
 * @param options quantization (`none` | `int8`), optional int8 scale (checked when given) and
 *   optional vector dimension (checked against vec0's limit of {@link SQLITE_VEC_MAX_DIM}).
 * @returns the metric, narrowed to the ones sqlite-vec supports.
 * @throws ConfigValidationError for `dot`, an unknown quantization, an int8 scale that is not a
 *   finite number > 0, an int8 scale given without int8 quantization, or a bad dimension.
 */
export function checkSqliteVecConfig(metric: Metric, options: SqliteVecIndexOptions & { dim?: number } = {}): SqliteVecMetric {
  if (metric !== 'l2' && metric !== 'cosine') {
    throw new ConfigValidationError(
      `the sqlite-vec backend supports the l2 and cosine metrics, not ${JSON.stringify(metric)}; use --backend lancedb for dot product`,
    );
  }
  const quantization = options.quantization ?? 'none';
  if (quantization !== 'none' && quantization !== 'int8') {
    throw new ConfigValidationError(`sqlite-vec quantization must be "none" or "int8", got ${JSON.stringify(quantization)}`);
  }
  if (options.int8Scale !== undefined) {
    if (quantization !== 'int8') {
      throw new ConfigValidationError(`sqlite-vec int8_scale ${options.int8Scale} was given but quantization is ${JSON.stringify(quantization)}`);
    }
    if (typeof options.int8Scale !== 'number' || !Number.isFinite(options.int8Scale) || options.int8Scale <= 0) {
      throw new ConfigValidationError(`sqlite-vec int8_scale must be a finite number > 0, got ${String(options.int8Scale)}`);
    }
  }
  if (options.dim !== undefined && (!Number.isSafeInteger(options.dim) || options.dim < 1 || options.dim > SQLITE_VEC_MAX_DIM)) {
    throw new ConfigValidationError(`sqlite-vec vectors must have 1..${SQLITE_VEC_MAX_DIM} dimensions, got ${options.dim}`);
  }
  return metric;
}

/**
 * The int8 scale for a training sample: max |x| / 127, so the largest sample value maps to ±127
 * (larger values met later are clamped). 1 when the sample is empty or all zeros.
 * @param sample `Float32Array` of any length (e.g. n * dim sample vectors); NaN values are ignored.
 */
export function computeInt8Scale(sample: Float32Array): number {
  let max = 0;
  for (let i = 0; i < sample.length; i++) {
    const a = Math.abs(sample[i]);
    if (a > max) max = a;
  }
  return max > 0 ? max / 127 : 1;
}

/**
 * Quantizes `dim` values of `src` starting at `srcOffset` into `out` (length >= dim):
 * q = clamp(round(x / scale), -127, 127).
 * @returns true when at least one quantized value is non-zero.
 */
export function quantizeInt8(src: Float32Array, srcOffset: number, dim: number, scale: number, out: Int8Array): boolean {
  let nonZero = false;
  for (let i = 0; i < dim; i++) {
    let q = Math.round(src[srcOffset + i] / scale);
    if (q > 127) q = 127;
    else if (q < -127) q = -127;
    out[i] = q;
    if (q !== 0) nonZero = true;
  }
  return nonZero;
}

/** The vec0 declaration of `vec_index` for a shard (`CREATE VIRTUAL TABLE ... USING vec0(...)`). */
export function vec0ColumnSql(dim: number, metric: SqliteVecMetric, quantization: SqliteVecQuantization): string {
  const type = quantization === 'int8' ? 'int8' : 'float';
  return `${SQLITE_VEC_COLUMNS.embedding} ${type}[${dim}] distance_metric=${metric}`;
}

/**
 * Converts a vec0 `distance` into a shardfleet score (lower is better): sqlite-vec's l2 distance
 * is the plain Euclidean distance, shardfleet reports its square; its cosine distance is already
 * 1 - cos.
 */
export function sqliteVecDistanceToScore(metric: SqliteVecMetric, distance: number): number {
  return metric === 'l2' ? distance * distance : distance;
}

/**
 * The manifest's `index_params` for a sqlite-vec run: `{ quantization }` plus `int8_scale` for
 * int8. Read back with {@link parseSqliteVecIndexParams}.
 */
export function sqliteVecIndexParams(options: SqliteVecIndexOptions): Record<string, number | string> {
  const quantization = options.quantization ?? 'none';
  return quantization === 'int8' && options.int8Scale !== undefined
    ? { quantization, int8_scale: options.int8Scale }
    : { quantization };
}

/**
 * Reads a manifest's `index_params` for a sqlite-vec run (absent quantization = `none`).
 * @throws ConfigValidationError for an unknown quantization or a bad `int8_scale`.
 */
export function parseSqliteVecIndexParams(params: Readonly<Record<string, number | string | boolean>>): SqliteVecIndexOptions {
  const quantization = params.quantization ?? 'none';
  if (quantization !== 'none' && quantization !== 'int8') {
    throw new ConfigValidationError(`sqlite-vec index_params.quantization must be "none" or "int8", got ${JSON.stringify(quantization)}`);
  }
  const scale = params.int8_scale;
  if (scale !== undefined && (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0)) {
    throw new ConfigValidationError(`sqlite-vec index_params.int8_scale must be a finite number > 0, got ${JSON.stringify(scale)}`);
  }
  return scale === undefined ? { quantization } : { quantization, int8Scale: scale };
}
