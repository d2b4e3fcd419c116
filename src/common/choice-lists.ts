/**
 * The allowed values of enumerated settings as plain constants. This module imports nothing, so the
 * CLI can offer them as option choices without loading zod or a native index module: `shardfleet
 * --help` and `--version` stay fast. The zod schemas (distance.ts, manifest.ts, routing-context.ts,
 * filter-expr.ts) and usearch-layout.ts are built from these lists.
 */

/** Distance metrics (MetricSchema). */
export const METRICS = ['l2', 'cosine', 'dot'] as const;

/** Shard index backends (BackendSchema). */
export const BACKENDS = ['usearch', 'lancedb', 'sqlite-vec'] as const;

/** LanceDB shard index types (LanceIndexTypeSchema). */
export const LANCE_INDEX_TYPE_NAMES = ['auto', 'ivf_flat', 'ivf_pq', 'hnsw_sq', 'hnsw_pq'] as const;

/** CEL routing column types (CelColumnTypeSchema). */
export const CEL_COLUMN_TYPES = ['int', 'uint', 'string', 'bytes', 'double', 'bool'] as const;

/** Types of declared filter columns (`--filter-columns name:type`). */
export const FILTER_COLUMN_TYPES = ['string', 'int', 'float', 'bool'] as const;

/** usearch scalar kinds a shard index may store (`--quantization` with `--backend usearch`). */
export const USEARCH_QUANTIZATIONS = ['f32', 'f16', 'bf16', 'i8'] as const;

/**
 * The sharding strategy a build uses when none is given: `hash` for a key-value build (`--kv`;
 * the key decides the shard, as shardyfusion's KV writer hashes by default), `cluster` otherwise.
 */
export function defaultStrategy(kv: boolean): 'hash' | 'cluster' {
  return kv ? 'hash' : 'cluster';
}
