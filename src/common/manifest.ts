/**
 * The snapshot manifest and the `_CURRENT` pointer: zod schemas (validated on every read), their
 * types, and the object-key layout of a snapshot store (DESIGN.md "Object layout and publish").
 *
 * ```
 * <prefix>/_CURRENT                                            pointer, written last
 * <prefix>/manifests/<ts>_run_id=<id>/manifest.json            one immutable manifest per run
 * <prefix>/runs/<id>/vector_meta/centroids.npy                 routing metadata (numpy-readable)
 * <prefix>/runs/<id>/shards/db=00007/<index files>             one index per shard
 * ```
 * Every ref inside a manifest is a key relative to the store prefix, so a snapshot can be copied
 * to another bucket or folder and still load.
 */
import { z } from 'zod';
import { MetricSchema } from './distance.ts';
import { ManifestParseError, errorMessage } from './errors.ts';
import { objectKeyProblem } from './storage/object-store.ts';

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

/** A stored file with its size and checksum; `path` is relative to the owning shard's url. */
export const FileEntrySchema = z.object({
  path: KeySchema,
  /** Size in bytes. */
  bytes: z.number().int().nonnegative(),
  sha256: Sha256Schema,
});
export type FileEntry = z.infer<typeof FileEntrySchema>;

/** A stored object referenced by key, with its size and checksum. */
export const ObjectRefSchema = z.object({
  ref: KeySchema,
  bytes: z.number().int().nonnegative(),
  sha256: Sha256Schema,
});
export type ObjectRef = z.infer<typeof ObjectRefSchema>;

/** Index configuration common to all shards of a run. */
export const IndexConfigSchema = z.object({
  dim: z.number().int().positive(),
  metric: MetricSchema,
  backend: z.literal('lancedb'),
  /** Requested index type; each shard records the type it actually got. */
  index_type: z.enum(['auto', 'ivf_flat', 'hnsw_sq']),
  /** Backend parameters (m, ef_construction, hnsw_min_rows, ...). */
  index_params: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
});
export type IndexConfig = z.infer<typeof IndexConfigSchema>;

/** Sharding specification: how the writer assigned vectors and how routers route queries. */
export const ShardingSpecSchema = z.object({
  strategy: z.literal('cluster'),
  num_dbs: z.number().int().positive(),
  /** Default number of shards a query probes. */
  num_probes: z.number().int().positive(),
  /** centroids.npy: float32 [num_dbs, dim]; row i is shard i's centroid. */
  centroids: ObjectRefSchema,
  /** Seed of the k-means training (null when centroids were given by the user). */
  seed: z.number().int().nullable(),
  /** How the centroids were obtained. */
  centroids_source: z.enum(['kmeans', 'user']),
});
export type ShardingSpec = z.infer<typeof ShardingSpecSchema>;

/** One shard of a run. */
export const ShardEntrySchema = z.object({
  db_id: z.number().int().nonnegative(),
  /** Key prefix (ending in `/`) holding the shard's files, e.g. `runs/<id>/shards/db=00007/`. */
  url: KeySchema,
  files: z.array(FileEntrySchema).min(1),
  vector_count: z.number().int().nonnegative(),
  /** Backend checkpoint (LanceDB table version) of the shard's table. */
  checkpoint_id: z.string(),
  /** The index the shard actually has (`ivf_flat`, `hnsw_sq`, or `none` for a flat scan). */
  index_type: z.string(),
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

/** The manifest of one run. Immutable once written. */
export const ManifestSchema = z
  .object({
    format_version: z.literal(MANIFEST_FORMAT_VERSION),
    run_id: RunIdSchema,
    created_at: z.iso.datetime(),
    writer: z.object({ name: z.string(), version: z.string() }),
    index: IndexConfigSchema,
    sharding: ShardingSpecSchema,
    shards: z.array(ShardEntrySchema).min(1),
    payload_columns: z.array(z.string()),
    build_stats: BuildStatsSchema,
  })
  .superRefine((m, ctx) => {
    if (m.shards.length !== m.sharding.num_dbs) {
      ctx.addIssue({
        code: 'custom',
        message: `manifest has ${m.shards.length} shard entries but num_dbs is ${m.sharding.num_dbs}`,
      });
    }
    m.shards.forEach((s, i) => {
      if (s.db_id !== i) ctx.addIssue({ code: 'custom', message: `shard entry ${i} has db_id ${s.db_id}; entries must be ordered 0..num_dbs-1` });
    });
    if (m.sharding.num_probes > m.sharding.num_dbs) {
      ctx.addIssue({ code: 'custom', message: `num_probes ${m.sharding.num_probes} exceeds num_dbs ${m.sharding.num_dbs}` });
    }
  });
export type Manifest = z.infer<typeof ManifestSchema>;

/** The `_CURRENT` pointer: which manifest is live. */
export const CurrentPointerSchema = z.object({
  format_version: z.literal(CURRENT_FORMAT_VERSION),
  /** Key of the live manifest. */
  manifest_ref: KeySchema,
  run_id: RunIdSchema,
  published_at: z.iso.datetime(),
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

/** Key of a run's centroids: `runs/<run_id>/vector_meta/centroids.npy`. */
export function centroidsKey(runId: string): string {
  return `${runPrefix(runId)}vector_meta/centroids.npy`;
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

function parseJson<T>(schema: z.ZodType<T>, bytes: Buffer | string, what: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch (err) {
    throw new ManifestParseError(`${what} is not valid JSON: ${errorMessage(err)}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    throw new ManifestParseError(`${what} failed validation: ${issues}`);
  }
  return parsed.data;
}

/**
 * Parses and validates a manifest. `key` names the object in errors.
 * @throws ManifestParseError naming the key and the first validation issues.
 */
export function parseManifest(bytes: Buffer | string, key: string): Manifest {
  return parseJson(ManifestSchema, bytes, `manifest ${key}`);
}

/**
 * Parses and validates a `_CURRENT` pointer.
 * @throws ManifestParseError naming the key.
 */
export function parseCurrentPointer(bytes: Buffer | string, key = CURRENT_KEY): CurrentPointer {
  return parseJson(CurrentPointerSchema, bytes, `pointer ${key}`);
}
