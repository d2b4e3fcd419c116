/**
 * Options of a build: the sharding strategy with its parameters, and the index backend with its
 * parameters, validated before any input is read (a bad option never costs a pass over the data).
 */
import type { Metric } from '../common/distance.ts';
import { ConfigValidationError } from '../common/errors.ts';
import type { IndexConfig } from '../common/manifest.ts';
import type { CelColumnType } from '../common/routing/routing-context.ts';
import { checkLanceIndexPlan, DEFAULT_LANCE_INDEX_PLAN, type LanceIndexPlan } from './backends/lancedb-shard-writer.ts';
import { checkSqliteVecConfig } from './backends/sqlite-vec-shard-writer.ts';
import { checkUsearchParams, DEFAULT_USEARCH_PARAMS, usearchIndexParams, type UsearchIndexParams, type UsearchQuantization } from '../common/usearch-layout.ts';

/** CLUSTER: k-means centroids (or the user's), nearest-centroid assignment, optionally size-capped. */
export interface ClusterOptions {
  strategy: 'cluster';
  numDbs: number;
  /** Default shards probed per query (1..numDbs). */
  numProbes: number;
  /** Cap every shard at ceil(balanceFactor * total / numDbs) vectors (>= 1, e.g. 1.1); default: no cap. */
  balanceFactor?: number;
  /** A `.npy` of float32 [numDbs, dim] centroids to use instead of training. */
  centroidsPath?: string;
  /** Lloyd iterations (default 25). */
  kmeansIterations?: number;
}

/** LSH: sign bits of seeded Gaussian hyperplanes, code mod numDbs. */
export interface LshOptions {
  strategy: 'lsh';
  numDbs: number;
  numProbes: number;
  /** Hyperplanes (default ceil(log2(numDbs))); 2^numHashBits >= numDbs. */
  numHashBits?: number;
  /** Subtract the training sample's mean before projecting (default true). */
  center?: boolean;
}

/** EXPLICIT: every record carries its shard id. */
export interface ExplicitOptions {
  strategy: 'explicit';
  numDbs: number;
}

/** CEL: an expression over each record's routing context picks its shard. */
export interface CelOptions {
  strategy: 'cel';
  /** Shards; in categorical mode it defaults to (and must equal) routingValues.length. */
  numDbs?: number;
  celExpr: string;
  celColumns: Record<string, CelColumnType>;
  /** Categorical mode: shard i holds the records whose expression returns routingValues[i]. */
  routingValues?: (string | number | boolean)[];
}

/** HASH: every record goes to the shard of its id's key hash (xxh3_64 seed 0 mod numDbs, as shardyfusion). */
export interface HashOptions {
  strategy: 'hash';
  numDbs: number;
}

/** The sharding strategy of a build. */
export type ShardingOptions = ClusterOptions | LshOptions | ExplicitOptions | CelOptions | HashOptions;

/** LanceDB backend: one table per shard. */
export interface LanceBackendOptions {
  backend: 'lancedb';
  plan?: Partial<LanceIndexPlan>;
}

/** sqlite-vec backend: one `.sqlite` file per shard with a vec0 table. */
export interface SqliteVecBackendOptions {
  backend: 'sqlite-vec';
  /** Store int8-quantized vectors for the scan and re-rank with float32 (default none). */
  quantization?: 'none' | 'int8';
}

/**
 * usearch backend: one HNSW index file per shard (plus its row table), memory-mapped by nodes.
 * Unset fields take {@link DEFAULT_USEARCH_PARAMS} (f16, M 16, ef_construction 128, ef 64).
 */
export interface UsearchBackendOptions {
  backend: 'usearch';
  /** How the index stores vectors (default f16; i8 needs the cosine metric). */
  quantization?: UsearchQuantization;
  /** Graph degree, HNSW `M` (default 16). */
  m?: number;
  /** Build beam width (default 128). */
  efConstruction?: number;
  /** Default search beam width when a query gives no `ef` (default 64). */
  efSearch?: number;
  /**
   * Keep each vector's exact float32 copy in the shard's `rows.sqlite` (`--store-vectors`; 4 *
   * dim bytes a vector). Default: false for vector-only builds (include_vector and filtered exact
   * scans then use the index's own vectors; i8 runs refuse include_vector), true for KV + vector
   * builds. Recorded as the manifest's `index_params.store_vectors`.
   */
  storeVectors?: boolean;
}

/** The index backend of a build. */
export type BackendOptions = UsearchBackendOptions | LanceBackendOptions | SqliteVecBackendOptions;

/** The backend a build uses when none is given: usearch with f16 vectors (see the benchmark). */
export const DEFAULT_BACKEND: BackendOptions = { backend: 'usearch' };

/** The full usearch parameters of a build (defaults filled in). */
export function usearchParamsOf(b: UsearchBackendOptions): UsearchIndexParams {
  const d = DEFAULT_USEARCH_PARAMS;
  return { quantization: b.quantization ?? d.quantization, m: b.m ?? d.m, efConstruction: b.efConstruction ?? d.efConstruction, efSearch: b.efSearch ?? d.efSearch };
}

/** The number of shards a sharding option set produces. */
export function numDbsOf(sharding: ShardingOptions): number {
  if (sharding.strategy === 'cel') return sharding.numDbs ?? sharding.routingValues?.length ?? 0;
  return sharding.numDbs;
}

/**
 * Checks sharding options that do not depend on the data.
 * @throws ConfigValidationError naming the option.
 */
export function checkShardingOptions(s: ShardingOptions): void {
  const numDbs = numDbsOf(s);
  if (s.strategy === 'cel') {
    if (s.numDbs === undefined && s.routingValues === undefined) {
      throw new ConfigValidationError('the cel strategy needs num_dbs (direct mode) or routing_values (categorical mode)');
    }
    if (s.routingValues !== undefined && s.numDbs !== undefined && s.numDbs !== s.routingValues.length) {
      throw new ConfigValidationError(`num_dbs ${s.numDbs} differs from the ${s.routingValues.length} routing_values (categorical mode has one shard per value)`);
    }
    if (Object.keys(s.celColumns).length === 0) throw new ConfigValidationError('the cel strategy needs at least one cel column (name:type)');
  }
  if (!Number.isInteger(numDbs) || numDbs < 1) throw new ConfigValidationError(`num_dbs must be an integer >= 1, got ${numDbs}`);
  if (s.strategy === 'cluster' || s.strategy === 'lsh') {
    if (!Number.isInteger(s.numProbes) || s.numProbes < 1 || s.numProbes > numDbs) {
      throw new ConfigValidationError(`num_probes must be an integer in 1..num_dbs (${numDbs}), got ${s.numProbes}`);
    }
  }
  if (s.strategy === 'cluster') {
    if (s.balanceFactor !== undefined && !(s.balanceFactor >= 1)) {
      throw new ConfigValidationError(`balance factor must be a number >= 1 (e.g. 1.1), got ${s.balanceFactor}`);
    }
    if (s.kmeansIterations !== undefined && (!Number.isInteger(s.kmeansIterations) || s.kmeansIterations < 1)) {
      throw new ConfigValidationError(`kmeans iterations must be an integer >= 1, got ${s.kmeansIterations}`);
    }
  }
  if (s.strategy === 'lsh' && s.numHashBits !== undefined) {
    if (!Number.isInteger(s.numHashBits) || s.numHashBits < 1 || s.numHashBits > 30) {
      throw new ConfigValidationError(`num_hash_bits must be an integer in 1..30, got ${s.numHashBits}`);
    }
    if (2 ** s.numHashBits < numDbs) {
      throw new ConfigValidationError(`num_hash_bits ${s.numHashBits} gives ${2 ** s.numHashBits} hash codes, fewer than num_dbs ${numDbs}`);
    }
  }
}

/**
 * Checks the backend options against the metric (and the dimension when known).
 * @throws ConfigValidationError (e.g. sqlite-vec with the dot metric, PQ sub-vectors not dividing dim).
 */
export function checkBackendOptions(b: BackendOptions, metric: Metric, dim: number | undefined): void {
  if (b.backend === 'sqlite-vec') checkSqliteVecConfig(metric, { quantization: b.quantization ?? 'none' });
  else if (b.backend === 'usearch') checkUsearchParams(metric, usearchParamsOf(b));
  else if (dim !== undefined) checkLanceIndexPlan(lancePlanOf(b), dim);
}

/** The full LanceDB index plan of a build (defaults filled in). */
export function lancePlanOf(b: LanceBackendOptions): LanceIndexPlan {
  const given = Object.fromEntries(Object.entries(b.plan ?? {}).filter(([, v]) => v !== undefined)) as Partial<LanceIndexPlan>;
  return { ...DEFAULT_LANCE_INDEX_PLAN, ...given };
}

/**
 * The manifest's index config for a backend.
 * @param int8Scale sqlite-vec int8: the quantization step (max |x| of the training sample / 127).
 */
export function indexConfigOf(b: BackendOptions, dim: number, metric: Metric, int8Scale?: number): IndexConfig {
  if (b.backend === 'usearch') {
    return { dim, metric, backend: 'usearch', index_type: 'hnsw', index_params: { ...usearchIndexParams(checkUsearchParams(metric, usearchParamsOf(b))), store_vectors: b.storeVectors ?? false } };
  }
  if (b.backend === 'sqlite-vec') {
    const quantization = b.quantization ?? 'none';
    const params: Record<string, string | number> = { quantization };
    if (quantization === 'int8') params.int8_scale = int8Scale ?? 1;
    return { dim, metric, backend: 'sqlite-vec', index_type: 'flat', index_params: params };
  }
  const plan = checkLanceIndexPlan(lancePlanOf(b), dim); // resolves num_sub_vectors 0 (auto)
  const params: Record<string, number> = {
    hnsw_min_rows: plan.hnswMinRows,
    num_partitions: plan.numPartitions,
    m: plan.m,
    ef_construction: plan.efConstruction,
  };
  if (plan.indexType === 'ivf_pq' || plan.indexType === 'hnsw_pq') params.num_sub_vectors = plan.numSubVectors;
  return { dim, metric, backend: 'lancedb', index_type: plan.indexType, index_params: params };
}

/**
 * The key-value side of a build (`--kv`, issue 14): `slatedb` (composite: a SlateDB database per
 * shard under `<shard>/kv/`, with any vector backend) or `sqlite` (unified: a `kv` table inside
 * each sqlite-vec shard file; needs the sqlite-vec backend). Absent: a vector-only build.
 */
export interface KvOptions {
  backend: 'slatedb' | 'sqlite';
}

export { defaultStrategy } from '../common/choice-lists.ts';

/**
 * Checks the KV options against the rest of the build before any input is read.
 * @throws ConfigValidationError naming the flags: `--kv sqlite` without `--backend sqlite-vec`;
 *   `--kv` with a strategy other than hash or cel (the key, not the vector, must decide the
 *   shard); `--kv` with `--on-duplicate last` (every key is stored once).
 */
export function checkKvOptions(kv: KvOptions | undefined, backend: BackendOptions, sharding: ShardingOptions, onDuplicate: 'error' | 'last' | undefined): void {
  if (kv === undefined) return;
  if (kv.backend !== 'slatedb' && kv.backend !== 'sqlite') {
    throw new ConfigValidationError(`--kv must be slatedb or sqlite, got ${JSON.stringify(kv.backend)}`);
  }
  if (kv.backend === 'sqlite' && backend.backend !== 'sqlite-vec') {
    throw new ConfigValidationError(
      `--kv sqlite (unified: the kv table lives in the sqlite-vec shard file) needs --backend sqlite-vec, got --backend ${backend.backend}; use --kv slatedb with --backend ${backend.backend}`,
    );
  }
  if (sharding.strategy !== 'hash' && sharding.strategy !== 'cel') {
    throw new ConfigValidationError(`--kv ${kv.backend} needs --strategy hash or --strategy cel (the key decides the shard), got --strategy ${sharding.strategy}`);
  }
  if (onDuplicate === 'last') {
    throw new ConfigValidationError(`--kv ${kv.backend} does not go with --on-duplicate last: every key is stored once, a duplicate is an error`);
  }
}
