/**
 * Creates shard writers for a run's backend: LanceDB tables (written and indexed on LanceDB's own
 * native threads, so concurrent shards build in parallel), or usearch indexes and sqlite-vec files
 * (written in a pool of `concurrency` worker threads, since usearch and better-sqlite3 are
 * synchronous; each usearch build uses cores / concurrency threads for its parallel add).
 */
import { availableParallelism } from 'node:os';
import type { IndexConfig, KvSpec } from '../../common/manifest.ts';
import { ConfigValidationError } from '../../common/errors.ts';
import { CompositeKvShardWriter } from './composite-kv-shard-writer.ts';
import { SlateDbKvWriter } from './slatedb-kv-writer.ts';
import { usearchParamsFromIndexParams } from '../../common/usearch-layout.ts';
import { LanceIndexTypeSchema } from '../../common/manifest.ts';
import { DEFAULT_LANCE_INDEX_PLAN, LanceShardWriter, type LanceIndexPlan } from './lancedb-shard-writer.ts';
import type { ShardIndexWriter } from './shard-index-writer.ts';
import { WriterWorkerPool } from './writer-worker-pool.ts';

/** Makes one writer per shard; `close()` releases worker threads. */
export interface ShardWriterFactory {
  /** A writer for shard `dbId` building into the (existing, empty) folder `dir`. */
  create(dir: string, dbId: number): ShardIndexWriter;
  close(): Promise<void>;
}

/** The LanceDB index plan recorded in a run's index config. */
export function lancePlanFromIndexConfig(index: IndexConfig): LanceIndexPlan {
  const p = index.index_params;
  const num = (key: string, fallback: number): number => (typeof p[key] === 'number' ? (p[key] as number) : fallback);
  return {
    ...DEFAULT_LANCE_INDEX_PLAN,
    indexType: LanceIndexTypeSchema.parse(index.index_type),
    hnswMinRows: num('hnsw_min_rows', DEFAULT_LANCE_INDEX_PLAN.hnswMinRows),
    numPartitions: num('num_partitions', DEFAULT_LANCE_INDEX_PLAN.numPartitions),
    m: num('m', DEFAULT_LANCE_INDEX_PLAN.m),
    efConstruction: num('ef_construction', DEFAULT_LANCE_INDEX_PLAN.efConstruction),
    numSubVectors: typeof p.num_sub_vectors === 'number' ? p.num_sub_vectors : DEFAULT_LANCE_INDEX_PLAN.numSubVectors,
  };
}

/**
 * Opens a writer factory for `index` (the run's index config), with a KV store per shard when
 * `kv` is given (KV + vector builds): `slatedb` wraps each index writer in a
 * {@link CompositeKvShardWriter} (SlateDB under `<shardDir>/kv/`); `sqlite` makes each
 * sqlite-vec writer also fill a `kv` table in its shard file.
 * @param concurrency shards built at once: usearch / sqlite-vec worker threads (>= 1).
 * @throws ConfigValidationError when the index config's parameters are invalid, or for `kv`
 *   backend sqlite with an index backend other than sqlite-vec.
 */
export async function openShardWriterFactory(index: IndexConfig, concurrency: number, kv?: KvSpec): Promise<ShardWriterFactory> {
  if (kv?.backend === 'sqlite' && index.backend !== 'sqlite-vec') {
    throw new ConfigValidationError(`--kv sqlite needs --backend sqlite-vec, got --backend ${index.backend}`);
  }
  const inner = await openIndexWriterFactory(index, concurrency, kv?.backend === 'sqlite');
  if (kv?.backend !== 'slatedb') return inner;
  return {
    create: (dir, dbId) => new CompositeKvShardWriter(inner.create(dir, dbId), new SlateDbKvWriter({ dir, dbId })),
    close: () => inner.close(),
  };
}

async function openIndexWriterFactory(index: IndexConfig, concurrency: number, unifiedKv: boolean): Promise<ShardWriterFactory> {
  const { dim, metric } = index;
  if (index.backend === 'sqlite-vec') {
    const quantization = index.index_params.quantization === 'int8' ? 'int8' : 'none';
    const int8Scale = typeof index.index_params.int8_scale === 'number' ? index.index_params.int8_scale : undefined;
    const pool = new WriterWorkerPool(concurrency);
    return {
      create: (dir, dbId) => pool.createWriter({ backend: 'sqlite-vec', options: { dir, dbId, dim, metric, quantization, int8Scale, ...(unifiedKv ? { kv: true } : {}), ...(index.filter_columns?.length ? { filterColumns: index.filter_columns } : {}) } }),
      close: () => pool.close(),
    };
  }
  if (index.backend === 'usearch') {
    const params = usearchParamsFromIndexParams(index.index_params, metric);
    const threads = Math.max(1, Math.floor(availableParallelism() / concurrency));
    const pool = new WriterWorkerPool(concurrency);
    // Runs from before issue 22 have no store_vectors: they always stored the float32 copy.
    const storeVectors = index.index_params.store_vectors !== false;
    return {
      create: (dir, dbId) => pool.createWriter({ backend: 'usearch', options: { dir, dbId, dim, metric, params, threads, filterColumns: index.filter_columns, storeVectors } }),
      close: () => pool.close(),
    };
  }
  const plan = lancePlanFromIndexConfig(index);
  return {
    create: (dir, dbId) => new LanceShardWriter({ dir, dbId, dim, metric, plan, filterColumns: index.filter_columns }),
    close: async () => {},
  };
}
