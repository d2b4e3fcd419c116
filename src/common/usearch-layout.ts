/**
 * The on-disk layout of one usearch shard, shared by the writer (which builds it) and the shard
 * node (which memory-maps it): two files in the shard's folder,
 *
 * - `index.usearch`: a usearch (https://github.com/unum-cloud/usearch) HNSW index saved with
 *   `Index.save()`; its keys are row numbers 0..n-1 of the shard, its vectors are stored in the
 *   run's quantization (f32, f16, bf16 or i8). Nodes open it with `Index.view()` (memory-mapped:
 *   the vectors and the graph stay in the page cache, not in the process heap).
 * - `rows.sqlite`: `rows(key INTEGER PRIMARY KEY, id TEXT NOT NULL, payload TEXT (JSON or NULL))`
 *   maps a usearch key back to the record; `vectors(key INTEGER PRIMARY KEY, vector BLOB NOT NULL)`
 *   holds the exact float32 vector (dim * 4 bytes, little-endian), in its own table so that id
 *   lookups read small, dense pages; `meta(key TEXT PRIMARY KEY, value TEXT)` holds `format_version`,
 *   `dim`, `metric`, `quantization`, `m`, `ef_construction`, `ef_search` and `vector_count`.
 *   The float32 copy serves `include_vector` with the exact stored vector (never a quantized one).
 *   Since issue 22: an index `rows_id` on `rows(id)` serves get by id without the ids in memory,
 *   `meta.stored_vectors` says `float32` or `none`, and the `vectors` table exists only in runs
 *   built with `--store-vectors` (manifest `index_params.store_vectors`, absent = true); without
 *   it nodes read the index's own vectors out of `index.usearch`, and `meta.format_version` is
 *   {@link USEARCH_LEAN_FORMAT_VERSION}, so a node from before issue 22 refuses the shard with a
 *   message naming the version instead of failing on the missing table.
 *   Runs with filter columns (issue 15, manifest `index.filter_columns`) add
 *   `filters(key INTEGER PRIMARY KEY, f_<column> ...)`: one typed SQL column per filter column
 *   (string TEXT, int INTEGER, float REAL, bool INTEGER 0/1; NULL when the payload lacks the field
 *   or holds null) for every row, and `meta.filter_columns` (JSON of the columns, in order).
 *   Shards without them (older builds, runs without filter columns) have neither; the format
 *   version is unchanged, readers that ignore filters open both.
 *
 * Scores follow the Hit contract: usearch's `l2sq` is the squared L2 distance, `cos` is 1 - cos,
 * and `ip` is 1 - <q, v>, reported as -<q, v>.
 */
import { Index, MetricKind, ScalarKind } from 'usearch';
import { USEARCH_QUANTIZATIONS } from './choice-lists.ts';
import { ConfigValidationError } from './errors.ts';
import type { Metric } from './distance.ts';

/** File name of the HNSW index inside a shard folder. */
export const USEARCH_INDEX_FILE = 'index.usearch';
/** File name of the row table (ids, payloads, exact vectors) inside a shard folder. */
export const USEARCH_ROWS_FILE = 'rows.sqlite';
/** Table of the filter columns (absent in shards without filter columns). */
export const USEARCH_FILTERS_TABLE = 'filters';

/** SQL name of filter column `name` in the `filters` table (prefixed, so no column can be `key`). */
export function usearchFilterSqlColumn(name: string): string {
  return `"f_${name.replaceAll('"', '""')}"`;
}

/** Value of `meta.format_version` of shards with the float32 copies (`--store-vectors`, and every shard before issue 22). */
export const USEARCH_FORMAT_VERSION = '1';
/** Value of `meta.format_version` of shards without the float32 copies (no `vectors` table). */
export const USEARCH_LEAN_FORMAT_VERSION = '2';

/** How the index stores vectors: float32, float16, bfloat16 or int8 (int8: cosine only). */
export type UsearchQuantization = (typeof USEARCH_QUANTIZATIONS)[number];
/** Every {@link UsearchQuantization}, for validation and CLI choices. */
export { USEARCH_QUANTIZATIONS };

/** HNSW parameters of a usearch run (recorded in the manifest's `index_params`). */
export interface UsearchIndexParams {
  quantization: UsearchQuantization;
  /** Graph degree (usearch `connectivity`, HNSW `M`), 2..256. */
  m: number;
  /** Build beam width (usearch `expansion_add`, HNSW `ef_construction`), >= 1. */
  efConstruction: number;
  /** Default search beam width (HNSW `ef`) when a query gives none, >= 1. */
  efSearch: number;
}

/**
 * Defaults chosen from the benchmark (docs/benchmarks.md): f16 halves the bytes of f32 at a
 * recall@10 loss under 0.002 on Fashion-MNIST; M 16 / ef_construction 128 / ef 64 is usearch's
 * and hnswlib's usual operating point.
 */
export const DEFAULT_USEARCH_PARAMS: UsearchIndexParams = { quantization: 'f16', m: 16, efConstruction: 128, efSearch: 64 };

/** usearch's metric for a shardfleet metric. */
export function usearchMetric(metric: Metric): MetricKind {
  return metric === 'l2' ? MetricKind.L2sq : metric === 'cosine' ? MetricKind.Cos : MetricKind.IP;
}

const SCALAR_KINDS: Record<UsearchQuantization, ScalarKind> = { f32: ScalarKind.F32, f16: ScalarKind.F16, bf16: ScalarKind.BF16, i8: ScalarKind.I8 };

/**
 * A new, empty usearch index for a shard of dimension `dim`.
 * @param expansionSearch the index's own search beam width; readers pass 1 and ask each search
 *   for max(top_k, ef) results instead (usearch searches with beam max(expansion_search, wanted)),
 *   which is how a per-query ef is honoured with one index.
 */
export function newUsearchIndex(dim: number, metric: Metric, p: UsearchIndexParams, expansionSearch: number): Index {
  return new Index({
    dimensions: dim,
    metric: usearchMetric(metric),
    quantization: SCALAR_KINDS[p.quantization],
    connectivity: p.m,
    expansion_add: p.efConstruction,
    expansion_search: expansionSearch,
    multi: false,
  });
}

/** Converts a usearch distance into a shardfleet score (lower is better; `ip` is 1 - dot). */
export function usearchDistanceToScore(metric: Metric, distance: number): number {
  return metric === 'dot' ? distance - 1 : distance;
}

/**
 * Checks usearch parameters against the metric.
 * @param flag how the caller names the options in errors (CLI flags by default).
 * @throws ConfigValidationError naming the flag: an unknown quantization, i8 with a metric other
 *   than cosine (usearch scales each vector to unit length when it casts to i8, which preserves
 *   only angles), or M / ef outside their ranges.
 */
export function checkUsearchParams(metric: Metric, p: UsearchIndexParams): UsearchIndexParams {
  if (!USEARCH_QUANTIZATIONS.includes(p.quantization)) {
    throw new ConfigValidationError(`--quantization ${JSON.stringify(p.quantization)} is not one of ${USEARCH_QUANTIZATIONS.join(', ')} for --backend usearch`);
  }
  if (p.quantization === 'i8' && metric !== 'cosine') {
    throw new ConfigValidationError(`--quantization i8 needs --metric cosine (usearch scales vectors to unit length when it quantizes to int8); got --metric ${metric}`);
  }
  const int = (flag: string, v: number, min: number, max: number): void => {
    if (!Number.isSafeInteger(v) || v < min || v > max) throw new ConfigValidationError(`${flag} must be an integer in ${min}..${max} for --backend usearch, got ${v}`);
  };
  int('--m', p.m, 2, 256);
  int('--ef-construction', p.efConstruction, 1, 65_536);
  int('--ef-search', p.efSearch, 1, 65_536);
  return p;
}

/**
 * Reads usearch parameters from a manifest's `index_params` (missing entries take the defaults).
 * @throws ConfigValidationError when a value has the wrong type or range.
 */
export function usearchParamsFromIndexParams(params: Record<string, string | number | boolean>, metric: Metric): UsearchIndexParams {
  const num = (key: string, fallback: number): number => (typeof params[key] === 'number' ? (params[key] as number) : fallback);
  const d = DEFAULT_USEARCH_PARAMS;
  return checkUsearchParams(metric, {
    quantization: (typeof params.quantization === 'string' ? params.quantization : d.quantization) as UsearchQuantization,
    m: num('m', d.m),
    efConstruction: num('ef_construction', d.efConstruction),
    efSearch: num('ef_search', d.efSearch),
  });
}

/** The manifest's `index_params` of a usearch run. */
export function usearchIndexParams(p: UsearchIndexParams): Record<string, string | number> {
  return { quantization: p.quantization, m: p.m, ef_construction: p.efConstruction, ef_search: p.efSearch };
}
