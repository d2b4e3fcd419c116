/**
 * The on-disk layout of one LanceDB shard, shared by the writer (which builds it) and the shard
 * node (which opens it): a LanceDB database folder holding one table.
 *
 * Table `vectors` columns: `id` (utf8), `vector` (fixed_size_list<float32>[dim]),
 * `payload` (utf8 JSON text, nullable), with at most one vector index on `vector`.
 */

/** Name of the table inside a shard's LanceDB folder. */
export const LANCE_TABLE_NAME = 'vectors';
/**
 * Which table of a LanceDB database folder holds a shard (the columns are always
 * {@link LANCE_COLUMNS}): shardfleet's own shards use {@link LANCE_TABLE_NAME}; other writers'
 * shards (e.g. shardyfusion's `vector_index`) name theirs.
 */
export interface LanceTableLayout {
  tableName: string;
}

/** shardfleet's own LanceDB shards. */
export const NATIVE_LANCE_LAYOUT: LanceTableLayout = { tableName: LANCE_TABLE_NAME };

/** Column names. */
export const LANCE_COLUMNS = { id: 'id', vector: 'vector', payload: 'payload' } as const;

/**
 * The vector index a LanceDB shard actually has, as recorded in the manifest's shard entry
 * (`index_type`): `none` is a flat scan (no index); the others are LanceDB's IVF_FLAT, IVF_PQ,
 * IVF_HNSW_SQ and IVF_HNSW_PQ indexes.
 */
export type LanceBuiltIndexType = 'none' | 'ivf_flat' | 'ivf_pq' | 'hnsw_sq' | 'hnsw_pq';

/** Every {@link LanceBuiltIndexType}, for validation. */
export const LANCE_BUILT_INDEX_TYPES: readonly LanceBuiltIndexType[] = ['none', 'ivf_flat', 'ivf_pq', 'hnsw_sq', 'hnsw_pq'];

/**
 * Maps LanceDB's `IndexConfig.indexType` (`IvfFlat`, `IvfPq`, `IvfHnswSq`, `IvfHnswPq`, as
 * returned by `Table.listIndices()`) to shardfleet's name, or undefined for an index kind
 * shardfleet does not build (e.g. `IvfSq`, `IvfRq`, scalar indexes).
 */
export function lanceIndexKind(lanceIndexType: string): Exclude<LanceBuiltIndexType, 'none'> | undefined {
  switch (lanceIndexType.replace(/_/g, '').toLowerCase()) {
    case 'ivfflat':
      return 'ivf_flat';
    case 'ivfpq':
      return 'ivf_pq';
    case 'ivfhnswsq':
      return 'hnsw_sq';
    case 'ivfhnswpq':
      return 'hnsw_pq';
    default:
      return undefined;
  }
}

/** Which per-query options (`ShardQueryOptions`) an index honours. */
export interface LanceQueryKnobs {
  /** `nprobes`: every IVF-partitioned index (all LanceDB vector indexes; HNSW ones are IVF_HNSW). */
  nprobes: boolean;
  /** `ef`: the HNSW indexes. */
  ef: boolean;
  /** `refine_factor`: indexes that store quantised vectors (PQ, SQ); IVF-flat distances are exact already. */
  refineFactor: boolean;
}

/** The query options that apply to a shard with index `indexType` (a flat scan honours none). */
export function lanceQueryKnobs(indexType: LanceBuiltIndexType): LanceQueryKnobs {
  return {
    nprobes: indexType !== 'none',
    ef: indexType === 'hnsw_sq' || indexType === 'hnsw_pq',
    refineFactor: indexType === 'ivf_pq' || indexType === 'hnsw_sq' || indexType === 'hnsw_pq',
  };
}

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
