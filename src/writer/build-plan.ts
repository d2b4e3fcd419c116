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
import { ConfigValidationError, InputRecordError, ObjectNotFoundError, SnapshotNotFoundError } from '../common/errors.ts';
import type { VectorRecord } from './input/vector-record.ts';
import { IndexConfigSchema, KvSpecSchema, ObjectRefSchema, RoutingRecallSchema, ShardingSpecSchema, runPrefix, shardDirName } from '../common/manifest.ts';
import type { ShardRouting } from '../common/routing/shard-routing.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';
import { parseJsonWith } from '../common/json-schema-parse.ts';
import type { BuildProgress } from './build-progress.ts';
import { checkBackendOptions, checkKvOptions, checkShardingOptions, indexConfigOf, numDbsOf, type BackendOptions, type KvOptions, type ShardingOptions } from './build-options.ts';
import { KvKeyChecker } from './kv-keys.ts';
import { FILTER_COLUMN_NAME, filterValueOf, type FilterColumn } from '../common/filter/filter-expr.ts';
import { RecordValidator } from './input/record-validator.ts';
import type { VectorSource } from './input/vector-record.ts';
import { storeRoutingMeta, trainRouting } from './routing-training.ts';
import { applyRecallTargets, checkRecallTargets, DEFAULT_RECALL_QUERIES, formatRecallCurve, measureRoutingRecall, type RecallTargets } from './routing-recall.ts';
import { searchRecallQueries } from './search-recall.ts';
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
  /** CLUSTER / LSH builds: the routing recall curve measured on the training sample (issue 15). */
  routing_recall: RoutingRecallSchema.optional(),
  /** Wall time of measuring the curve, milliseconds (informational). */
  routing_recall_ms: z.number().nonnegative().optional(),
  /**
   * Distributed usearch CLUSTER / LSH builds: the end-to-end recall's sample queries
   * (search-recall.ts, distributed-recall.ts): their vectors (`runs/<run_id>/recall/queries.npy`,
   * float32 [queries, dim], size and sha256) and each one's record ordinal (0-based read order).
   * Absent: the run publishes the routing-only curve.
   */
  recall_queries: ObjectRefSchema.extend({ ordinals: z.array(z.number().int().nonnegative()) }).optional(),
  /**
   * usearch builds without `--ef-search`: the published `index_params.ef_search` is raised to the
   * smallest measured ef that reaches the table's best recall at the default num_probes within
   * 0.005 (default-ef.ts). Absent (older plans) or false: the configured ef_search is published.
   */
  ef_search_auto: z.boolean().optional(),
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
  /**
   * Filtered search (`--filter-columns`): payload fields stored natively per shard for query
   * filters; every record's values are type-checked in the first pass.
   */
  filterColumns?: readonly FilterColumn[];
  /**
   * Recall targets (`--target-recall`, `--min-recall`, `--max-probes`; CLUSTER and LSH only):
   * checked against the measured routing recall curve before anything is uploaded.
   */
  recall?: RecallTargets;
  runId: string;
  progress: BuildProgress;
  log: Logger;
}

/** A plan with the routing function it describes. */
export interface PlannedRun {
  plan: BuildPlan;
  routing: ShardRouting;
  /**
   * CLUSTER / LSH usearch builds with a recall curve: the sample queries of the end-to-end recall
   * measurement (search-recall.ts): vectors (row-major, a copy taken before training) and each
   * one's record ordinal (0-based read order).
   */
  recallQueries?: { vectors: Float32Array; ordinals: number[] };
}

/**
 * Checks declared filter columns: identifiers, distinct.
 * @throws ConfigValidationError naming --filter-columns.
 */
export function checkFilterColumns(columns: readonly FilterColumn[]): readonly FilterColumn[] {
  const seen = new Set<string>();
  for (const c of columns) {
    if (!FILTER_COLUMN_NAME.test(c.name)) throw new ConfigValidationError(`--filter-columns: column name ${JSON.stringify(c.name)} is not an identifier ([A-Za-z_][A-Za-z0-9_]*, at most 64)`);
    if (seen.has(c.name)) throw new ConfigValidationError(`--filter-columns: column "${c.name}" is declared twice`);
    seen.add(c.name);
  }
  return columns;
}

/** @throws InputRecordError naming the record when a filter column's payload value has another type. */
function checkFilterValues(record: VectorRecord, columns: readonly FilterColumn[]): void {
  for (const c of columns) {
    try {
      filterValueOf(record.payload, c);
    } catch (err) {
      throw new InputRecordError(record.location, (err as Error).message);
    }
  }
}

/**
 * Validates options, reads the input once (validating every record and drawing a seeded
 * reservoir sample, Vitter's Algorithm R; only the sample is held in memory; EXPLICIT and CEL
 * records are also routed, to fail early), trains the routing and stores its metadata arrays.
 * @throws ConfigValidationError for bad options (before reading), InputRecordError naming the
 *   record (wrong dimension, NaN/Inf, duplicate id, out-of-range shard_id, a routing context
 *   the CEL expression cannot route; with `kv`: an empty, too long, mistyped or duplicate key),
 *   ConfigValidationError for bad `kv` options (see checkKvOptions), empty input or
 *   fewer vectors than shards; ConfigValidationError giving the recall curve when `recall`
 *   targets are not reached (nothing uploaded); StorageError from the store.
 */
export async function planRun(o: PlanOptions): Promise<PlannedRun> {
  const { source, progress, log } = o;
  const seed = o.seed ?? 42;
  checkShardingOptions(o.sharding);
  checkBackendOptions(o.backend, o.metric, source.dim);
  checkKvOptions(o.kv, o.backend, o.sharding, o.onDuplicate);
  checkRecallTargets(o.recall, o.sharding.strategy, numDbsOf(o.sharding));
  const keys = o.kv === undefined ? undefined : new KvKeyChecker();
  const filterColumns = checkFilterColumns(o.filterColumns ?? []);
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
  const sampleOrdinals: number[] = []; // record ordinal of each sample slot
  // End-to-end recall queries: a second, independent reservoir (records outside the training
  // sample are preferred at the end, see QueryReservoir).
  const queryReservoir = wantsRecallQueries(o) ? new QueryReservoir(o.recall?.sampleQueries ?? DEFAULT_RECALL_QUERIES, seed) : undefined;
  let seen = 0;
  const sampling = progress.stage('validate+sample', source.count ?? 0);
  for await (const record of source.records()) {
    keys?.check(record); // first: a repeated key is named as a key, not as the id it implies
    if (filterColumns.length > 0) checkFilterValues(record, filterColumns);
    validator.check(record);
    earlyRouting?.assign(record);
    const dim = record.vector.length;
    // Grown as records arrive: a header's count (e.g. an IDX gzip file's) is only a claim.
    sample ??= new Float32Array(Math.min(targetSample, 1024) * dim);
    const slot = seen < targetSample ? seen : rng.nextInt(seen + 1);
    if (slot < targetSample) {
      if ((slot + 1) * dim > sample.length) {
        const grown = new Float32Array(Math.min(targetSample, (slot + 1) * 2) * dim);
        grown.set(sample);
        sample = grown;
      }
      sample.set(record.vector, slot * dim);
      sampleOrdinals[slot] = seen;
    }
    queryReservoir?.offer(record.vector, seen);
    seen++;
    sampling.increment();
  }
  if (source.count !== seen) sampling.setTotal(seen); // a header's count is only a claim
  sampling.stop();
  const summary = validator.finish();
  validator.ensureAtLeast(numDbs);
  const dim = summary.dim;
  checkBackendOptions(o.backend, o.metric, dim);
  const sampleRows = Math.min(seen, targetSample);
  const trainingSample = sample!.subarray(0, sampleRows * dim);

  const recallQueries = queryReservoir?.pick(new Set(sampleOrdinals.slice(0, sampleRows)), trainingSample, sampleOrdinals, dim, seed);
  const trained = await trainRouting({ sharding: o.sharding, sample: trainingSample, dim, metric: o.metric, seed, progress, log });
  // Routing recall curve (CLUSTER, LSH): measured and checked against the targets before any upload.
  let routingRecall: BuildPlan['routing_recall'];
  let routingRecallMs: number | undefined;
  let numProbes: number | undefined;
  if ((o.sharding.strategy === 'cluster' || o.sharding.strategy === 'lsh') && o.recall?.sampleQueries !== 0) {
    const started = performance.now();
    const stage = progress.stage('measure routing recall', 0, 'queries');
    routingRecall = measureRoutingRecall({
      sample: trainingSample,
      dim,
      metric: o.metric,
      routing: trained.routing,
      balanceFactor: o.sharding.strategy === 'cluster' ? o.sharding.balanceFactor : undefined,
      maxQueries: o.recall?.sampleQueries,
      seed,
      onQueries: (done, total) => {
        if (done === 0) stage.setTotal(total);
        else stage.increment(done);
      },
    });
    stage.stop();
    routingRecallMs = Math.round(performance.now() - started);
    if (routingRecall) {
      log.info({ ...routingRecall, ms: routingRecallMs }, `routing recall@${routingRecall.k}: ${formatRecallCurve(routingRecall.recall_at_probes)}`);
      numProbes = applyRecallTargets(routingRecall, o.recall, o.sharding.numProbes);
      if (numProbes !== o.sharding.numProbes) log.info({ num_probes: numProbes, target_recall: o.recall?.targetRecall }, 'default num_probes set by --target-recall');
    }
  }
  const stored = await storeRoutingMeta(o.store, o.runId, trained);
  const sharding = numProbes === undefined ? stored : { ...stored, num_probes: numProbes };
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
    index: { ...indexConfigOf(o.backend.backend === 'usearch' && o.kv !== undefined ? { ...o.backend, storeVectors: o.backend.storeVectors ?? true } : o.backend, dim, o.metric, int8Scale), ...(o.filterColumns?.length ? { filter_columns: [...o.filterColumns] } : {}) },
    sharding,
    input: { description: source.description, records: summary.records, vectors: summary.count },
    seed,
    training_sample_size: trained.trainingRows,
    kmeans_iterations: trained.kmeansIterations,
    duplicates_kept_last: Object.fromEntries(validator.duplicatesKeptLast()),
  };
  if (o.backend.backend === 'usearch' && o.backend.efSearch === undefined) plan.ef_search_auto = true;
  if (o.kv !== undefined) plan.kv = { backend: o.kv.backend, key_type: keys?.keyType ?? 'string' };
  if (routingRecall !== undefined) {
    plan.routing_recall = routingRecall;
    plan.routing_recall_ms = routingRecallMs;
  }
  return { plan, routing: trained.routing, ...(recallQueries === undefined ? {} : { recallQueries }) };
}

/** Whether a run measures end-to-end recall: CLUSTER / LSH with the usearch backend, unless `--recall-queries 0`. */
function wantsRecallQueries(o: PlanOptions): boolean {
  return (o.sharding.strategy === 'cluster' || o.sharding.strategy === 'lsh') && o.backend.backend === 'usearch' && o.recall?.sampleQueries !== 0;
}

/**
 * The end-to-end recall measurement's queries (search-recall.ts), drawn in the planning pass by a
 * seeded reservoir (Vitter's Algorithm R) of twice the query count, independent of the training
 * sample. Queries are taken from records OUTSIDE the training sample first: the routing was
 * trained on those, and k-means pulls each centroid towards its own training points, so they may
 * route better than unseen queries (on 40k clustered 128-d vectors, 16 shards, recall at
 * num_probes 1 was 0.933 for 781 training-sample queries, 0.900 for other records and 0.921 for
 * held-out ones: differences within the sampling spread at num_probes 1, so this is the safer
 * choice rather than a measured bias); training records fill up only when the input has too few
 * others (inputs not much larger than the sample).
 */
class QueryReservoir {
  private readonly vectors: Float32Array[] = [];
  private readonly ordinals: number[] = [];
  private readonly rng: SeededRandom;
  private readonly capacity: number;
  private seen = 0;

  constructor(private readonly maxQueries: number, seed: number) {
    this.rng = new SeededRandom(seed ^ 0x1b873593);
    this.capacity = 2 * maxQueries;
  }

  /** One record in read order (its vector is copied when kept). */
  offer(vector: Float32Array, ordinal: number): void {
    const slot = this.seen < this.capacity ? this.seen : this.rng.nextInt(this.seen + 1);
    this.seen++;
    if (slot >= this.capacity) return;
    this.vectors[slot] = vector.slice();
    this.ordinals[slot] = ordinal;
  }

  /**
   * searchRecallQueries(...) queries, in read order: reservoir records outside `training` first,
   * then training-sample rows (drawn seeded) when too few remain.
   */
  pick(training: ReadonlySet<number>, sample: Float32Array, sampleOrdinals: readonly number[], dim: number, seed: number): PlannedRun['recallQueries'] {
    const sampleRows = Math.floor(sample.length / dim);
    const count = searchRecallQueries(this.maxQueries, dim, Math.max(sampleRows, this.ordinals.length));
    if (count < 1 || this.seen < 2) return undefined;
    const chosen: { vector: Float32Array; ordinal: number }[] = [];
    this.ordinals.forEach((ord, i) => {
      if (chosen.length < count && !training.has(ord)) chosen.push({ vector: this.vectors[i], ordinal: ord });
    });
    if (chosen.length < count) {
      const rng = new SeededRandom(seed ^ 0x2c1b3c6d);
      const pool = Array.from({ length: sampleRows }, (_, i) => i);
      for (let i = 0; i < pool.length && chosen.length < count; i++) {
        const j = i + rng.nextInt(pool.length - i);
        [pool[i], pool[j]] = [pool[j], pool[i]];
        chosen.push({ vector: sample.slice(pool[i] * dim, (pool[i] + 1) * dim), ordinal: sampleOrdinals[pool[i]] });
      }
    }
    chosen.sort((a, b) => a.ordinal - b.ordinal);
    const vectors = new Float32Array(chosen.length * dim);
    chosen.forEach((c, i) => vectors.set(c.vector, i * dim));
    return { vectors, ordinals: chosen.map((c) => c.ordinal) };
  }
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
