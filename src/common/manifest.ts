/**
 * The snapshot manifest and the `_CURRENT` pointer: zod schemas (validated on every read), their
 * types, and the object-key layout of a snapshot store (DESIGN.md "Object layout and publish").
 *
 * ```
 * <prefix>/_CURRENT                                            pointer, written last
 * <prefix>/manifests/<ts>_run_id=<id>/manifest.json            one immutable manifest per run
 * <prefix>/runs/<id>/vector_meta/centroids.npy                 routing metadata (numpy-readable)
 * <prefix>/runs/<id>/shards/db=00007/<index files>             one index per shard
 * <prefix>/runs/<id>/shards/db=00007/id-filter.bin             ids' Bloom filter (not HASH runs)
 * ```
 * Every ref inside a manifest is a key relative to the store prefix, so a snapshot can be copied
 * to another bucket or folder and still load.
 */
import { FilterColumnSchema, FilterColumnStatsSchema } from './filter/filter-expr.ts';
import { z } from 'zod';
import { BACKENDS, LANCE_INDEX_TYPE_NAMES } from './choice-lists.ts';
import { MetricSchema } from './distance.ts';
import { parseJsonWith, validateWith } from './json-schema-parse.ts';
import { objectKeyProblem } from './storage/object-store.ts';
import { CelColumnTypeSchema } from './routing/routing-context.ts';
import { ShardyfusionOriginSchema } from '../formats/shardyfusion/origin.ts';
import { parseShardyfusionPointer } from '../formats/shardyfusion/pointer.ts';

/** Manifest format version written by this build. Readers reject other versions. */
export const MANIFEST_FORMAT_VERSION = 1;
/** `_CURRENT` format version written by this build. */
export const CURRENT_FORMAT_VERSION = 1;
/** Key of the `_CURRENT` pointer. */
export const CURRENT_KEY = '_CURRENT';
/** Key prefix under which manifests live. */
export const MANIFESTS_PREFIX = 'manifests/';

const RunIdSchema = z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'run_id must match [A-Za-z0-9_.-]{1,128}');
const KeySchema = z.string().superRefine((key, ctx) => {
  const problem = objectKeyProblem(key.endsWith('/') ? key.slice(0, -1) : key);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `invalid key ${JSON.stringify(key)}: ${problem}` });
});
const Sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'sha256 must be 64 lowercase hex digits');

/**
 * A stored file with its size and checksum; `path` is relative to the owning shard's url.
 * `sha256` is absent only in manifests translated from another format that records none
 * (`format: 'shardyfusion'`); a native manifest must have it (checked by {@link ManifestSchema}).
 */
export const FileEntrySchema = z.object({
  path: KeySchema,
  /** Size in bytes. */
  bytes: z.number().int().nonnegative(),
  sha256: Sha256Schema.optional(),
});
export type FileEntry = z.infer<typeof FileEntrySchema>;

/** A stored object referenced by key, with its size and checksum (`sha256` as in {@link FileEntrySchema}). */
export const ObjectRefSchema = z.object({
  ref: KeySchema,
  bytes: z.number().int().nonnegative(),
  sha256: Sha256Schema.optional(),
});
export type ObjectRef = z.infer<typeof ObjectRefSchema>;

/** Index backends: one usearch HNSW index, one LanceDB table, or one sqlite-vec file, per shard. */
export const BackendSchema = z.enum(BACKENDS);
/** An index backend name. */
export type Backend = z.infer<typeof BackendSchema>;

/** LanceDB index types (`auto` picks exact search for small shards and HNSW-SQ for large ones). */
export const LanceIndexTypeSchema = z.enum(LANCE_INDEX_TYPE_NAMES);
/** sqlite-vec index types: `flat` is vec0's exact scan (optionally over int8-quantized vectors). */
export const SqliteVecIndexTypeSchema = z.enum(['flat']);
/** usearch index types: `hnsw` is usearch's HNSW graph (vectors stored in `index_params.quantization`). */
export const UsearchIndexTypeSchema = z.enum(['hnsw']);

/** The index types a backend builds. */
const INDEX_TYPES_OF: Record<z.infer<typeof BackendSchema>, readonly string[]> = {
  usearch: UsearchIndexTypeSchema.options,
  lancedb: LanceIndexTypeSchema.options,
  'sqlite-vec': SqliteVecIndexTypeSchema.options,
};

/** Index configuration common to all shards of a run. */
export const IndexConfigSchema = z
  .object({
    dim: z.number().int().positive(),
    metric: MetricSchema,
    backend: BackendSchema,
    /** Requested index type (see the backend's enum); each shard records the type it actually got. */
    index_type: z.string(),
    /**
     * Backend parameters: usearch (quantization `f32` | `f16` | `bf16` | `i8`, m,
     * ef_construction, ef_search), LanceDB (hnsw_min_rows, num_partitions, num_sub_vectors, m,
     * ef_construction), sqlite-vec (quantization `none` | `int8`, int8_scale).
     */
    index_params: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
    /**
     * Filtered search (issue 15, `--filter-columns`): the payload fields queries may filter on,
     * with their types, stored natively by every shard; absent = no filter columns.
     */
    filter_columns: z.array(FilterColumnSchema).optional(),
  })
  .superRefine((c, ctx) => {
    const allowed = INDEX_TYPES_OF[c.backend];
    if (!allowed.includes(c.index_type)) {
      ctx.addIssue({ code: 'custom', path: ['index_type'], message: `index_type ${JSON.stringify(c.index_type)} is not one of ${allowed.join(', ')} for backend ${c.backend}` });
    }
    if (c.backend === 'sqlite-vec' && c.metric === 'dot') {
      ctx.addIssue({ code: 'custom', path: ['metric'], message: 'sqlite-vec supports the l2 and cosine metrics, not dot' });
    }
  });
export type IndexConfig = z.infer<typeof IndexConfigSchema>;

const ShardCountFields = {
  num_dbs: z.number().int().positive(),
  /** Default number of shards a query probes. */
  num_probes: z.number().int().positive(),
};

/** CLUSTER: a vector belongs to its nearest centroid's shard; queries probe the nearest centroids. */
export const ClusterShardingSchema = z.object({
  strategy: z.literal('cluster'),
  ...ShardCountFields,
  /** centroids.npy: float32 [num_dbs, dim]; row i is shard i's centroid. */
  centroids: ObjectRefSchema,
  /** Seed of the k-means training (null when centroids were given by the user). */
  seed: z.number().int().nullable(),
  /** How the centroids were obtained. */
  centroids_source: z.enum(['kmeans', 'user']),
  /**
   * Balanced build: the shard size cap as a multiple of the mean size; null = plain nearest
   * centroid. With `centroid_offsets` the cap was met on the training sample by fitting the
   * offsets (the whole input follows up to sampling noise); without them (older builds) no shard
   * holds more than ceil(balance_factor * total / num_dbs) vectors (a vector whose nearest shard
   * is full went to its next-nearest).
   */
  balance_factor: z.number().min(1).nullable().default(null),
  /**
   * Balanced build: one offset per shard (length num_dbs) added to the metric distance from a
   * vector to that shard's centroid; records go to, and queries probe first, the smallest
   * distance + offset (src/common/cluster-routing.ts). Absent: no offsets (all 0).
   */
  centroid_offsets: z.array(z.number()).optional(),
});

/** LSH: sign bits of projections on seeded Gaussian hyperplanes, code mod num_dbs. */
export const LshShardingSchema = z.object({
  strategy: z.literal('lsh'),
  ...ShardCountFields,
  /** Number of hyperplanes (bits of the hash code); 2^num_hash_bits >= num_dbs. */
  num_hash_bits: z.number().int().min(1).max(30),
  /** hyperplanes.npy: float32 [num_hash_bits, dim]. */
  hyperplanes: ObjectRefSchema,
  /** center.npy: float32 [dim] subtracted before projecting (mean-centring), or null. */
  center: ObjectRefSchema.nullable(),
  /** Seed of the hyperplanes. */
  seed: z.number().int(),
});

/** EXPLICIT: each record names its shard; each query names the shards to search. */
export const ExplicitShardingSchema = z.object({
  strategy: z.literal('explicit'),
  ...ShardCountFields,
});

/** CEL: a CEL expression over the routing context picks the shard. */
export const CelShardingSchema = z.object({
  strategy: z.literal('cel'),
  ...ShardCountFields,
  /** The CEL expression (evaluated with @marcbachmann/cel-js; `shard_hash(x)` is xxh3-64). */
  cel_expr: z.string().min(1),
  /** Declared routing columns: name -> CEL type. */
  cel_columns: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'CEL column names must be identifiers'), CelColumnTypeSchema),
  /**
   * Categorical mode: the expression returns a token and shard i holds token routing_values[i].
   * null = direct mode (the expression returns the shard id).
   */
  routing_values: z.array(z.union([z.string(), z.number(), z.boolean()])).nullable(),
});

/**
 * HASH: a vector belongs to the shard of its key (the record id): xxh3_64 (seed 0) of the key's
 * canonical bytes modulo num_dbs, shardyfusion's key-hash rule (src/common/routing/key-hash-routing.ts).
 * Queries probe every shard, so num_probes equals num_dbs.
 */
export const HashShardingSchema = z.object({
  strategy: z.literal('hash'),
  ...ShardCountFields,
  /** The key hash: only xxh3_64 with seed 0 (what shardyfusion uses) exists. */
  hash: z.object({ algorithm: z.literal('xxh3_64'), seed: z.literal(0) }),
});

/** Sharding specification: how the writer assigned vectors and how routers route queries. */
export const ShardingSpecSchema = z
  .discriminatedUnion('strategy', [ClusterShardingSchema, LshShardingSchema, ExplicitShardingSchema, CelShardingSchema, HashShardingSchema])
  .superRefine((s, ctx) => {
    if (s.num_probes > s.num_dbs) ctx.addIssue({ code: 'custom', message: `num_probes ${s.num_probes} exceeds num_dbs ${s.num_dbs}` });
    if ((s.strategy === 'explicit' || s.strategy === 'cel') && s.num_probes !== 1) {
      ctx.addIssue({ code: 'custom', message: `num_probes must be 1 for the ${s.strategy} strategy, got ${s.num_probes}` });
    }
    if (s.strategy === 'hash' && s.num_probes !== s.num_dbs) {
      ctx.addIssue({ code: 'custom', message: `num_probes must equal num_dbs (${s.num_dbs}) for the hash strategy (queries probe every shard), got ${s.num_probes}` });
    }
    if (s.strategy === 'lsh' && 2 ** s.num_hash_bits < s.num_dbs) {
      ctx.addIssue({ code: 'custom', message: `num_hash_bits ${s.num_hash_bits} gives ${2 ** s.num_hash_bits} codes, fewer than num_dbs ${s.num_dbs}` });
    }
    if (s.strategy === 'cel' && s.routing_values !== null) {
      if (s.routing_values.length !== s.num_dbs) {
        ctx.addIssue({ code: 'custom', message: `routing_values has ${s.routing_values.length} entries but num_dbs is ${s.num_dbs}` });
      }
      const seen = new Set(s.routing_values.map((v) => JSON.stringify(v)));
      if (seen.size !== s.routing_values.length) ctx.addIssue({ code: 'custom', message: 'routing_values must be distinct' });
    }
  });
export type ShardingSpec = z.infer<typeof ShardingSpecSchema>;
export type ClusterSharding = z.infer<typeof ClusterShardingSchema>;
export type LshSharding = z.infer<typeof LshShardingSchema>;
export type CelSharding = z.infer<typeof CelShardingSchema>;
export type HashSharding = z.infer<typeof HashShardingSchema>;

/**
 * The key-value side of a KV + vector snapshot (issue 14); absent for a vector-only snapshot.
 * `backend`: `slatedb` (composite: a SlateDB database under `<shard>/kv/` beside the vector
 * index) or `sqlite` (unified: a `kv` table inside the sqlite-vec shard file). `key_type`: how
 * the keys were given (`string`: UTF-8 bytes, `int`: 8-byte signed little-endian, `bytes`: raw),
 * i.e. how a Get must encode its key to find it (the canonical bytes of key-hash-routing.ts).
 */
export const KvSpecSchema = z.object({
  backend: z.enum(['slatedb', 'sqlite']),
  key_type: z.enum(['string', 'int', 'bytes']),
  /**
   * How keys are stored, when not as their canonical bytes (absent: canonical, every native
   * snapshot). shardyfusion snapshots (src/formats/shardyfusion) store `utf8` (a string as UTF-8),
   * `u64be` / `u32be` (an int as 8- / 4-byte big-endian unsigned) or `raw` (bytes, or a string
   * as UTF-8); their routing still hashes the canonical bytes.
   */
  key_encoding: z.enum(['utf8', 'u64be', 'u32be', 'raw']).optional(),
});
export type KvSpec = z.infer<typeof KvSpecSchema>;

/** One shard of a run. */
export const ShardEntrySchema = z.object({
  db_id: z.number().int().nonnegative(),
  /** Key prefix (ending in `/`) holding the shard's files, e.g. `runs/<id>/shards/db=00007/`. */
  url: KeySchema,
  /** The shard's files; empty only for an empty shard (vector_count 0, index_type `empty`). */
  files: z.array(FileEntrySchema),
  vector_count: z.number().int().nonnegative(),
  /** Backend checkpoint (LanceDB table version) of the shard's table. */
  checkpoint_id: z.string(),
  /** The index the shard actually has (e.g. `ivf_flat`, `hnsw_sq`, `flat`; `none` for a flat scan; `empty`). */
  index_type: z.string(),
  /** KV snapshots: entries (keys) in the shard's KV store; absent in vector-only snapshots. */
  kv_entries: z.number().int().nonnegative().optional(),
  /**
   * Snapshots with filter columns: per column, the shard's statistics (count, nulls, min / max,
   * distinct values when few), so the router can skip shards that cannot hold a match.
   */
  filter_stats: z.record(z.string(), FilterColumnStatsSchema).optional(),
});
export type ShardEntry = z.infer<typeof ShardEntrySchema>;

/** Build statistics (informational). */
export const BuildStatsSchema = z.object({
  total_vectors: z.number().int().nonnegative(),
  training_sample_size: z.number().int().nonnegative(),
  kmeans_iterations: z.number().int().nonnegative(),
  build_seconds: z.number().nonnegative(),
  total_bytes: z.number().int().nonnegative(),
  input: z.string(),
});
export type BuildStats = z.infer<typeof BuildStatsSchema>;

/**
 * The routing recall curve a CLUSTER or LSH build measured on a sample of its own data (issue 15,
 * src/writer/routing-recall.ts): `recall_at_probes[p - 1]` is the mean fraction, over
 * `sample_queries` query vectors drawn from the training sample, of each query's exact top-`k`
 * within `sample_size` sample vectors (the query itself excluded) that the run's assignment puts
 * in one of the first `p` shards the query routes to; values in [0, 1], non-decreasing, length
 * num_dbs. Absent for EXPLICIT, CEL and HASH runs (they route exactly) and in older manifests.
 */
export const RoutingRecallSchema = z.object({
  k: z.number().int().positive(),
  sample_queries: z.number().int().positive(),
  sample_size: z.number().int().positive(),
  recall_at_probes: z.array(z.number().min(0).max(1)).min(1),
});
export type RoutingRecall = z.infer<typeof RoutingRecallSchema>;

/**
 * The end-to-end recall a CLUSTER or LSH usearch build measured on its built shards (issue 22,
 * src/writer/search-recall.ts): `sample_queries` held-out query vectors drawn from the input,
 * each with its exact top-`k` over all `ground_truth_vectors` vectors of the run (the query's own
 * record excluded), routed with the run's routing and searched in the built shard indexes as a
 * node searches them. `recall[p - 1][j]` is the mean fraction of the exact top-k that the merged
 * top-k of the first `p` probed shards holds when each shard is searched with beam width `ef[j]`.
 * `ef` is strictly ascending; rows cover num_probes 1..recall.length (at most num_dbs).
 * `routing_recall_at_probes[p - 1]` (same rows) is the fraction of the exact top-k whose shard is
 * among the first p probed, over the full data (the ceiling of each row).
 * Absent for other runs and in older manifests: readers then use {@link RoutingRecallSchema}.
 */
export const SearchRecallSchema = z
  .object({
    k: z.number().int().positive(),
    sample_queries: z.number().int().positive(),
    ground_truth_vectors: z.number().int().positive(),
    ef: z.array(z.number().int().positive()).min(1),
    recall: z.array(z.array(z.number().min(0).max(1)).min(1)).min(1),
    routing_recall_at_probes: z.array(z.number().min(0).max(1)).optional(),
    /** Wall time of the measurement (ground truth + shard searches), seconds (informational). */
    seconds: z.number().nonnegative().optional(),
    /** Of which the exact ground-truth scan, seconds (informational). */
    ground_truth_seconds: z.number().nonnegative().optional(),
  })
  .superRefine((s, ctx) => {
    if (s.ef.some((e, i) => i > 0 && e <= s.ef[i - 1])) ctx.addIssue({ code: 'custom', path: ['ef'], message: `search_recall ef must be strictly ascending, got ${s.ef.join(', ')}` });
    s.recall.forEach((row, i) => {
      if (row.length !== s.ef.length) ctx.addIssue({ code: 'custom', path: ['recall', i], message: `search_recall row ${i + 1} has ${row.length} values for ${s.ef.length} ef values` });
    });
    if (s.routing_recall_at_probes !== undefined && s.routing_recall_at_probes.length !== s.recall.length) {
      ctx.addIssue({ code: 'custom', path: ['routing_recall_at_probes'], message: `search_recall routing_recall_at_probes has ${s.routing_recall_at_probes.length} values for ${s.recall.length} rows` });
    }
  });
export type SearchRecall = z.infer<typeof SearchRecallSchema>;

/**
 * Snapshot formats a reader serves: `shardfleet` (this project's JSON manifest, the default when
 * absent) or `shardyfusion` (a shardyfusion snapshot read unchanged: its SQLite manifest is
 * translated into a {@link Manifest} on load by src/formats/shardyfusion; never written).
 */
export const SnapshotFormatSchema = z.enum(['shardfleet', 'shardyfusion']);
export type SnapshotFormat = z.infer<typeof SnapshotFormatSchema>;

/** The manifest of one run. Immutable once written. */
export const ManifestSchema = z
  .object({
    format_version: z.literal(MANIFEST_FORMAT_VERSION),
    /** The snapshot's own format (absent: `shardfleet`). */
    format: SnapshotFormatSchema.optional(),
    /** `format: 'shardyfusion'` only: what the translation kept of shardyfusion's manifest. */
    shardyfusion: ShardyfusionOriginSchema.optional(),
    run_id: RunIdSchema,
    created_at: z.iso.datetime(),
    writer: z.object({ name: z.string(), version: z.string() }),
    index: IndexConfigSchema,
    sharding: ShardingSpecSchema,
    shards: z.array(ShardEntrySchema).min(1),
    payload_columns: z.array(z.string()),
    build_stats: BuildStatsSchema,
    /** KV + vector snapshots only: the KV backend and key type (absent: vector-only). */
    kv: KvSpecSchema.optional(),
    /** CLUSTER / LSH builds: the measured routing recall curve (issue 15); absent in older manifests. */
    routing_recall: RoutingRecallSchema.optional(),
    /** CLUSTER / LSH usearch builds: end-to-end recall by (num_probes, ef) on the built shards (issue 22); absent in older manifests. */
    search_recall: SearchRecallSchema.optional(),
  })
  .superRefine((m, ctx) => {
    const foreign = m.format === 'shardyfusion';
    if (foreign !== (m.shardyfusion !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['shardyfusion'], message: 'the shardyfusion section is present exactly when format is "shardyfusion"' });
    }
    if (!foreign) {
      m.shards.forEach((s, i) => s.files.forEach((f, j) => {
        if (f.sha256 === undefined) ctx.addIssue({ code: 'custom', path: ['shards', i, 'files', j, 'sha256'], message: `shard ${s.db_id} file ${f.path} has no sha256` });
      }));
      for (const [name, ref] of Object.entries(routingRefsOf(m.sharding))) {
        if (ref !== null && ref.sha256 === undefined) ctx.addIssue({ code: 'custom', path: ['sharding', name, 'sha256'], message: `sharding.${name} has no sha256` });
      }
    }
    if (m.shards.length !== m.sharding.num_dbs) {
      ctx.addIssue({
        code: 'custom',
        message: `manifest has ${m.shards.length} shard entries but num_dbs is ${m.sharding.num_dbs}`,
      });
    }
    m.shards.forEach((s, i) => {
      if (s.db_id !== i) ctx.addIssue({ code: 'custom', message: `shard entry ${i} has db_id ${s.db_id}; entries must be ordered 0..num_dbs-1` });
      if (s.files.length === 0 && s.vector_count > 0) {
        ctx.addIssue({ code: 'custom', path: ['shards', i, 'files'], message: `shard ${s.db_id} has ${s.vector_count} vectors but no files` });
      }
      if (m.kv !== undefined && s.kv_entries === undefined) {
        ctx.addIssue({ code: 'custom', path: ['shards', i, 'kv_entries'], message: `shard ${s.db_id} has no kv_entries although the manifest has a kv section` });
      }
    });
    if (m.routing_recall !== undefined && m.routing_recall.recall_at_probes.length !== m.sharding.num_dbs) {
      ctx.addIssue({ code: 'custom', path: ['routing_recall', 'recall_at_probes'], message: `routing_recall has ${m.routing_recall.recall_at_probes.length} values but num_dbs is ${m.sharding.num_dbs}` });
    }
    if (m.search_recall !== undefined && m.search_recall.recall.length > m.sharding.num_dbs) {
      ctx.addIssue({ code: 'custom', path: ['search_recall', 'recall'], message: `search_recall has ${m.search_recall.recall.length} rows but num_dbs is ${m.sharding.num_dbs}` });
    }
    if (m.kv !== undefined && m.kv.backend === 'sqlite' && m.index.backend !== 'sqlite-vec') {
      ctx.addIssue({ code: 'custom', path: ['kv', 'backend'], message: `kv backend sqlite (unified) needs index backend sqlite-vec, not ${m.index.backend}` });
    }
  });
export type Manifest = z.infer<typeof ManifestSchema>;

/** The routing metadata objects a sharding spec references, by field name (null when unset). */
function routingRefsOf(s: ShardingSpec): Record<string, ObjectRef | null> {
  if (s.strategy === 'cluster') return { centroids: s.centroids };
  if (s.strategy === 'lsh') return { hyperplanes: s.hyperplanes, center: s.center };
  return {};
}

/** How many earlier current runs a `_CURRENT` pointer remembers in `previous`. */
export const POINTER_HISTORY_DEPTH = 3;

/** A run that was current before: what `_CURRENT` pointed to (an entry of `previous`). */
export const PublishedRunSchema = z.object({
  manifest_ref: KeySchema,
  run_id: RunIdSchema,
  published_at: z.iso.datetime(),
});
export type PublishedRun = z.infer<typeof PublishedRunSchema>;

/**
 * The `_CURRENT` pointer: which manifest is live, and (`previous`, newest first, distinct
 * manifests, at most {@link POINTER_HISTORY_DEPTH}) the runs that were current before it, so a
 * reader that cannot use the live manifest (or, a router, finds it incomplete on the nodes) tries
 * the runs someone published as current first (snapshot-loader.ts `earlierManifests`; never a
 * newer manifest a rollback moved away from). Pointers written before `previous` existed, by hand
 * or by other writers have none: readers then take the newest older manifests by key.
 * format_version stays 1 because readers ignore unknown fields.
 */
export const CurrentPointerSchema = z.object({
  format_version: z.literal(CURRENT_FORMAT_VERSION),
  /** Key of the live manifest. */
  manifest_ref: KeySchema,
  run_id: RunIdSchema,
  published_at: z.iso.datetime(),
  previous: z.array(PublishedRunSchema).max(16).optional(),
  /**
   * The format of the snapshot the pointer names (absent: `shardfleet`). A shardyfusion pointer
   * is translated on read (src/formats/shardyfusion/pointer.ts), never written.
   */
  format: SnapshotFormatSchema.optional(),
});
export type CurrentPointer = z.infer<typeof CurrentPointerSchema>;

/** Key prefix of a run's objects: `runs/<run_id>/`. */
export function runPrefix(runId: string): string {
  return `runs/${runId}/`;
}

/** Key prefix of one shard's files: `runs/<run_id>/shards/db=00007/`. */
export function shardPrefix(runId: string, dbId: number): string {
  return `${runPrefix(runId)}shards/${shardDirName(dbId)}/`;
}

/** Folder name of a shard: `db=00007`. */
export function shardDirName(dbId: number): string {
  return `db=${String(dbId).padStart(5, '0')}`;
}

/** Key of a run's routing metadata file: `runs/<run_id>/vector_meta/<name>` (e.g. `centroids.npy`). */
export function vectorMetaKey(runId: string, name: 'centroids.npy' | 'hyperplanes.npy' | 'center.npy'): string {
  return `${runPrefix(runId)}vector_meta/${name}`;
}

/** Key of a run's centroids: `runs/<run_id>/vector_meta/centroids.npy`. */
export function centroidsKey(runId: string): string {
  return vectorMetaKey(runId, 'centroids.npy');
}

/**
 * Key of a run's manifest: `manifests/<ts>_run_id=<id>/manifest.json` where `<ts>` is the
 * creation time in a lexicographically sortable form (`20261121T123325.123Z`), so listing
 * `manifests/` sorts runs by time.
 */
export function manifestKey(runId: string, createdAt: Date): string {
  const ts = createdAt.toISOString().replace(/[-:]/g, '');
  return `${MANIFESTS_PREFIX}${ts}_run_id=${runId}/manifest.json`;
}

/** shardfleet's manifest key: `manifests/20261121T123325.123Z_run_id=<id>/manifest.json`. */
const NATIVE_MANIFEST_KEY_RE = /^manifests\/(\d{8}T\d{6}(?:\.\d+)?Z)_run_id=([A-Za-z0-9_.-]{1,128})\/manifest\.json$/;
/**
 * shardyfusion's manifest key: `manifests/2026-12-06T07:28:43.060251Z_run_id=<id>/manifest`
 * (`%Y-%m-%dT%H:%M:%S.%fZ`, no extension; shardyfusion manifest_store.py:39,127,150-156).
 */
const SHARDYFUSION_MANIFEST_KEY_RE = /^manifests\/(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)_run_id=([A-Za-z0-9_.-]{1,128})\/manifest$/;

/** What a manifest key says: the run's creation time and id. */
export interface ManifestKeyParts {
  /** Creation time, RFC 3339 UTC. */
  createdAt: string;
  runId: string;
  format: SnapshotFormat;
}

/**
 * Parses a manifest key of either layout (shardfleet's `manifest.json` keys, shardyfusion's
 * `manifest` keys); undefined for any other key. Keys of one layout sort by creation time.
 */
export function parseManifestKey(key: string): ManifestKeyParts | undefined {
  const native = NATIVE_MANIFEST_KEY_RE.exec(key);
  if (native !== null) {
    const ts = native[1];
    return { createdAt: `${ts.slice(0, 4)}-${ts.slice(4, 6)}-${ts.slice(6, 8)}T${ts.slice(9, 11)}:${ts.slice(11, 13)}:${ts.slice(13)}`, runId: native[2], format: 'shardfleet' };
  }
  const sf = SHARDYFUSION_MANIFEST_KEY_RE.exec(key);
  if (sf !== null) return { createdAt: sf[1], runId: sf[2], format: 'shardyfusion' };
  return undefined;
}

/**
 * Parses and validates a manifest. `key` names the object in errors.
 * @throws ManifestParseError naming the key and the first validation issues.
 */
export function parseManifest(bytes: Buffer | string, key: string): Manifest {
  return parseJsonWith(ManifestSchema, bytes, `manifest ${key}`);
}

/**
 * Parses and validates a `_CURRENT` pointer.
 * @throws ManifestParseError naming the key.
 */
export function parseCurrentPointer(bytes: Buffer | string, key = CURRENT_KEY): CurrentPointer {
  const shardyfusion = parseShardyfusionPointer(bytes, key);
  if (shardyfusion !== undefined) return validateWith(CurrentPointerSchema, shardyfusion, `pointer ${key} (shardyfusion's, translated)`);
  return parseJsonWith(CurrentPointerSchema, bytes, `pointer ${key}`);
}
