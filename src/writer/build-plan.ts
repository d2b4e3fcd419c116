/**
 * Phase 1 of a build: one validating pass over the input that draws the training sample, then
 * routing training and the routing metadata upload. The result, a {@link BuildPlan}, is all a
 * shard builder needs (with the input): in a single-process build it stays in memory; in a
 * distributed build (`build --plan`) it is stored at `runs/<run_id>/_plan.json` for the workers.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Metric } from '../common/distance.ts';
import { ConfigValidationError, ObjectNotFoundError, SnapshotNotFoundError } from '../common/errors.ts';
import { IndexConfigSchema, KvSpecSchema, ShardingSpecSchema, runPrefix, shardDirName } from '../common/manifest.ts';
import type { ShardRouting } from '../common/routing/shard-routing.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';
import { parseJsonWith } from '../common/json-schema-parse.ts';
import type { BuildProgress } from './build-progress.ts';
import { checkBackendOptions, checkKvOptions, checkShardingOptions, indexConfigOf, numDbsOf, type BackendOptions, type KvOptions, type ShardingOptions } from './build-options.ts';
import { KvKeyChecker } from './kv-keys.ts';
import { RecordValidator } from './input/record-validator.ts';
import type { VectorSource } from './input/vector-record.ts';
import { storeRoutingMeta, trainRouting } from './routing-training.ts';
import { SeededRandom } from './seeded-random.ts';

/** Format version of `_plan.json`. */
export const PLAN_FORMAT_VERSION = 1;

/** A stored build plan: everything shard builders and `publish` need besides the input. */
export const BuildPlanSchema = z.object({
  format_version: z.literal(PLAN_FORMAT_VERSION),
  run_id: z.string(),
  created_at: z.iso.datetime(),
  index: IndexConfigSchema,
  sharding: ShardingSpecSchema,
  input: z.object({
    description: z.string(),
    /** Records read (every occurrence of a duplicated id counted). */
    records: z.number().int().nonnegative(),
    /** Distinct vectors written. */
    vectors: z.number().int().nonnegative(),
  }),
  seed: z.number().int(),
  training_sample_size: z.number().int().nonnegative(),
  kmeans_iterations: z.number().int().nonnegative(),
  /** `--on-duplicate last`: id -> 0-based ordinal (read order) of the occurrence to keep. */
  duplicates_kept_last: z.record(z.string(), z.number().int().nonnegative()),
  /** KV + vector builds (`--kv`): the KV backend and the key type; absent: vector-only. */
  kv: KvSpecSchema.optional(),
});
/** A build plan. */
export type BuildPlan = z.infer<typeof BuildPlanSchema>;

/** Key of a run's plan: `runs/<run_id>/_plan.json`. */
export function planKey(runId: string): string {
  return `${runPrefix(runId)}_plan.json`;
}

/** Key of a shard's build receipt: `runs/<run_id>/receipts/db=00007.json`. */
export function receiptKey(runId: string, dbId: number): string {
  return `${runPrefix(runId)}receipts/${shardDirName(dbId)}.json`;
}

/** A new run id: UTC time plus 8 random hex digits, e.g. `20261121T123325Z-1a2b3c4d`. */
export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(4).toString('hex')}`;
}

/** Options of {@link planRun}. */
export interface PlanOptions {
  store: ObjectStore;
  source: VectorSource;
  sharding: ShardingOptions;
  backend: BackendOptions;
  metric: Metric;
  /** Seed of sampling, k-means and hyperplanes (default 42). */
  seed?: number;
  /** Training sample size (default max(20,000, 64 * num_dbs), capped at the input size). */
  sampleSize?: number;
  /** Duplicate ids: `error` (default) or keep the `last` occurrence. */
  onDuplicate?: 'error' | 'last';
  /** KV + vector build (`--kv`): every record's key is checked in the first pass. */
  kv?: KvOptions;
  runId: string;
  progress: BuildProgress;
  log: Logger;
}

/** A plan with the routing function it describes. */
export interface PlannedRun {
  plan: BuildPlan;
  routing: ShardRouting;
}

/**
 * Validates options, reads the input once (validating every record and drawing a seeded
 * reservoir sample, Vitter's Algorithm R; only the sample is held in memory; EXPLICIT and CEL
 * records are also routed, to fail early), trains the routing and stores its metadata arrays.
 * @throws ConfigValidationError for bad options (before reading), InputRecordError naming the
 *   record (wrong dimension, NaN/Inf, duplicate id, out-of-range shard_id, a routing context
 *   the CEL expression cannot route; with `kv`: an empty, too long, mistyped or duplicate key),
 *   ConfigValidationError for bad `kv` options (see checkKvOptions), empty input or
 *   fewer vectors than shards; StorageError from the store.
 */
export async function planRun(o: PlanOptions): Promise<PlannedRun> {
  const { source, progress, log } = o;
  const seed = o.seed ?? 42;
  checkShardingOptions(o.sharding);
  checkBackendOptions(o.backend, o.metric, source.dim);
  checkKvOptions(o.kv, o.backend, o.sharding, o.onDuplicate);
  const keys = o.kv === undefined ? undefined : new KvKeyChecker();
  const numDbs = numDbsOf(o.sharding);
  if (o.sampleSize !== undefined && (!Number.isInteger(o.sampleSize) || o.sampleSize < numDbs)) {
    throw new ConfigValidationError(`sample size must be an integer >= num_dbs (${numDbs}), got ${o.sampleSize}`);
  }
  if (source.count !== undefined && source.count < numDbs) {
    throw new ConfigValidationError(`${source.count} vectors cannot fill ${numDbs} shards (${source.description})`);
  }

  // EXPLICIT, CEL and HASH need no training: route every record already in this pass, so an
  // out-of-range shard_id, a bad routing context or an unroutable id fails before any work is done.
  const untrained = o.sharding.strategy === 'explicit' || o.sharding.strategy === 'cel' || o.sharding.strategy === 'hash';
  const earlyRouting = untrained
    ? (await trainRouting({ sharding: o.sharding, sample: new Float32Array(0), dim: 1, metric: o.metric, seed, progress, log })).routing
    : undefined;
  const validator = new RecordValidator({ description: source.description, dim: source.dim, onDuplicate: o.onDuplicate ?? 'error' });
  const targetSample = Math.min(o.sampleSize ?? Math.max(20_000, 64 * numDbs), source.count ?? Infinity);
  const rng = new SeededRandom(seed ^ 0x5f3759df);
  let sample: Float32Array | undefined;
  let seen = 0;
  const sampling = progress.stage('validate+sample', source.count ?? 0);
  for await (const record of source.records()) {
    keys?.check(record); // first: a repeated key is named as a key, not as the id it implies
    validator.check(record);
    earlyRouting?.assign(record);
    const dim = record.vector.length;
    sample ??= new Float32Array(Math.min(targetSample, 1 << 20) * dim);
    const slot = seen < targetSample ? seen : rng.nextInt(seen + 1);
    if (slot < targetSample) {
      if ((slot + 1) * dim > sample.length) {
        const grown = new Float32Array(Math.min(targetSample, (slot + 1) * 2) * dim);
        grown.set(sample);
        sample = grown;
      }
      sample.set(record.vector, slot * dim);
    }
    seen++;
    sampling.increment();
  }
  sampling.stop();
  const summary = validator.finish();
  validator.ensureAtLeast(numDbs);
  const dim = summary.dim;
  checkBackendOptions(o.backend, o.metric, dim);
  const sampleRows = Math.min(seen, targetSample);
  const trainingSample = sample!.subarray(0, sampleRows * dim);

  const trained = await trainRouting({ sharding: o.sharding, sample: trainingSample, dim, metric: o.metric, seed, progress, log });
  const sharding = await storeRoutingMeta(o.store, o.runId, trained);
  let int8Scale: number | undefined;
  if (o.backend.backend === 'sqlite-vec' && o.backend.quantization === 'int8') {
    let maxAbs = 0;
    for (const x of trainingSample) maxAbs = Math.max(maxAbs, Math.abs(x));
    int8Scale = maxAbs > 0 ? maxAbs / 127 : 1;
  }
  const plan: BuildPlan = {
    format_version: PLAN_FORMAT_VERSION,
    run_id: o.runId,
    created_at: new Date().toISOString(),
    index: indexConfigOf(o.backend, dim, o.metric, int8Scale),
    sharding,
    input: { description: source.description, records: summary.records, vectors: summary.count },
    seed,
    training_sample_size: trained.trainingRows,
    kmeans_iterations: trained.kmeansIterations,
    duplicates_kept_last: Object.fromEntries(validator.duplicatesKeptLast()),
  };
  if (o.kv !== undefined) plan.kv = { backend: o.kv.backend, key_type: keys?.keyType ?? 'string' };
  return { plan, routing: trained.routing };
}

/**
 * Stores a plan for the workers of a distributed build (create-only: a run's plan never changes).
 * @throws PreconditionFailedError when the run already has a plan; StorageError.
 */
export async function storePlan(store: ObjectStore, plan: BuildPlan): Promise<string> {
  const key = planKey(plan.run_id);
  await store.putIf(key, JSON.stringify(BuildPlanSchema.parse(plan), null, 2), { ifNoneMatch: '*' });
  return key;
}

/**
 * Reads a stored plan.
 * @throws SnapshotNotFoundError naming the run when it has no plan; ManifestParseError when the
 *   plan is malformed; StorageError.
 */
export async function loadPlan(store: ObjectStore, runId: string): Promise<BuildPlan> {
  const key = planKey(runId);
  let bytes: Buffer;
  try {
    bytes = await store.get(key);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) {
      throw new SnapshotNotFoundError(`run ${runId} has no build plan at ${store.url}/${key}; run \`build --plan --run-id ${runId}\` first`);
    }
    throw err;
  }
  return parseJsonWith(BuildPlanSchema, bytes, `build plan ${key}`);
}
