/**
 * The on-disk layout of one LanceDB shard, shared by the writer (which builds it) and the shard
 * node (which opens it): a LanceDB database folder holding one table.
 *
 * Table `vectors` columns: `id` (utf8), `vector` (fixed_size_list<float32>[dim]),
 * `payload` (utf8 JSON text, nullable).
 */

/** Name of the table inside a shard's LanceDB folder. */
export const LANCE_TABLE_NAME = 'vectors';
/** Column names. */
export const LANCE_COLUMNS = { id: 'id', vector: 'vector', payload: 'payload' } as const;

/**
 * Converts a LanceDB `_distance` into a shardfleet score (lower is better, see `common.proto`).
 * LanceDB returns squared L2 for `l2`, 1 - cos for `cosine` and 1 - <q, v> for `dot`; shardfleet
 * reports -<q, v> for `dot`.
 */
export function lanceDistanceToScore(metric: 'l2' | 'cosine' | 'dot', distance: number): number {
  return metric === 'dot' ? distance - 1 : distance;
}

// LanceDB's Rust logger reads LANCEDB_LOG once, when its native module loads, and otherwise warns
// on every table creation. Modules that use LanceDB import this module BEFORE @lancedb/lancedb.
process.env.LANCEDB_LOG ??= 'error';
