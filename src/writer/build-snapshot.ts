/**
 * `shardfleet build`: reads vectors, trains the routing (CLUSTER, LSH, EXPLICIT or CEL), assigns
 * every vector to its shard, builds one index per shard (LanceDB or sqlite-vec), uploads the
 * shards with sha256 and sizes, and publishes (manifest, then `_CURRENT`).
 *
 * The input is read twice and streamed both times (see build-plan.ts and shard-build.ts); only
 * the training sample and bounded write buffers are held in memory. Nothing is uploaded before
 * every record has been validated, and `_CURRENT` moves only after every shard and the manifest
 * are stored, so a failed build never changes what readers serve; a build that fails before its
 * manifest is stored deletes every object it wrote (run-writes.ts), so it leaves no orphan
 * `runs/<run_id>/` objects; a rerun starts a new run id.
 */
import type { FilterColumn } from '../common/filter/filter-expr.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Metric } from '../common/distance.ts';
import { MANIFEST_FORMAT_VERSION, manifestKey as makeManifestKey, type Manifest, type SearchRecall, type ShardEntry } from '../common/manifest.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';
import { WRITER_NAME, WRITER_VERSION } from '../common/version.ts';
import { DEFAULT_BACKEND, type BackendOptions, type KvOptions, type ShardingOptions } from './build-options.ts';
import { newRunId, planRun, type BuildPlan } from './build-plan.ts';
import { BuildProgress } from './build-progress.ts';
import type { VectorSource } from './input/vector-record.ts';
import { publishManifest } from './publish.ts';
import { assertNotShardyfusionPrefix } from './foreign-prefix.ts';
import { assertRunIdUnused, WriteTracker } from './run-writes.ts';
import type { RecallTargets } from './routing-recall.ts';
import { buildShards } from './shard-build.ts';
import { groundTruthScan, measureBuiltRecall } from './built-recall.ts';
import { logDefaultEf, withMeasuredDefaultEf } from './default-ef.ts';

export { newRunId } from './build-plan.ts';

/** Options of {@link buildSnapshot}. */
export interface BuildOptions {
  /** Where to publish. */
  store: ObjectStore;
  /** The input vectors. */
  source: VectorSource;
  /** Sharding strategy and its parameters. */
  sharding: ShardingOptions;
  /** Index backend and its parameters (default usearch, f16: DEFAULT_BACKEND). */
  backend?: BackendOptions;
  metric: Metric;
  /** Seed of sampling, k-means and LSH hyperplanes (default 42). */
  seed?: number;
  /** Training sample size (default max(20,000, 64 * num_dbs), capped at the input size). */
  sampleSize?: number;
  /** Duplicate ids: `error` (default) or keep the `last` occurrence. */
  onDuplicate?: 'error' | 'last';
  /**
   * KV + vector snapshot (issue 14): each shard also gets a KV store of its records' keys and
   * values (`slatedb`: composite, any backend; `sqlite`: unified, sqlite-vec only). Needs the
   * hash or cel strategy. Absent: a vector-only snapshot.
   */
  kv?: KvOptions;
  /** Filtered search: payload fields stored natively per shard (`--filter-columns`). */
  filterColumns?: readonly FilterColumn[];
  /**
   * Recall targets (issue 15; CLUSTER and LSH): `targetRecall` sets the default num_probes to the
   * smallest that reaches it on the build's measured curve; `minRecall` refuses to publish a build
   * whose curve does not reach it at `maxProbes` (default: all shards). See routing-recall.ts.
   */
  recall?: RecallTargets;
  /** Shards built concurrently (default 2). */
  concurrency?: number;
  /** Local scratch folder (default: a new temp folder, removed afterwards). */
  workDir?: string;
  /** Show progress bars on stderr (default true; only on a TTY), or the reporter to use. */
  progress?: boolean | BuildProgress;
  /** Run id (default: time-based plus random). */
  runId?: string;
  log: Logger;
}

/** What a build published. */
export interface BuildResult {
  runId: string;
  manifestKey: string;
  manifest: Manifest;
}

/**
 * Assembles a run's manifest from its plan and every shard's entry.
 * @param shards entries for db ids 0..num_dbs-1 (any order).
 * @param buildSeconds wall time of the build, seconds.
 * @param searchRecall the end-to-end recall table, when measured (search-recall.ts); with
 *   `plan.ef_search_auto` it also sets the run's default ef_search (default-ef.ts).
 */
export function assembleManifest(plan: BuildPlan, shards: ShardEntry[], payloadColumns: string[], buildSeconds: number, createdAt: Date, searchRecall?: SearchRecall): Manifest {
  const ordered = [...shards].sort((a, b) => a.db_id - b.db_id);
  return {
    format_version: MANIFEST_FORMAT_VERSION,
    run_id: plan.run_id,
    created_at: createdAt.toISOString(),
    writer: { name: WRITER_NAME, version: WRITER_VERSION },
    index: withMeasuredDefaultEf(plan.index, plan.sharding.num_probes, plan.ef_search_auto, searchRecall),
    sharding: plan.sharding,
    shards: ordered,
    payload_columns: [...new Set(payloadColumns)].sort(),
    ...(plan.kv === undefined ? {} : { kv: plan.kv }),
    ...(plan.routing_recall === undefined ? {} : { routing_recall: plan.routing_recall }),
    ...(searchRecall === undefined ? {} : { search_recall: searchRecall }),
    build_stats: {
      total_vectors: plan.input.vectors,
      training_sample_size: plan.training_sample_size,
      kmeans_iterations: plan.kmeans_iterations,
      build_seconds: +buildSeconds.toFixed(3),
      total_bytes: ordered.reduce((s, sh) => s + sh.files.reduce((t, f) => t + f.bytes, 0), 0),
      input: plan.input.description,
    },
  };
}

/**
 * Builds and publishes one run in this process.
 * @throws ConfigValidationError for bad options (before reading input); InputRecordError naming
 *   the record for bad input (nothing uploaded); VectorIndexError naming the shard when an index
 *   cannot be built; ConfigValidationError for bad `kv` options (checkKvOptions: `--kv sqlite`
 *   without sqlite-vec, a strategy other than hash/cel); StorageError on upload failures; PreconditionFailedError when another
 *   publisher moved `_CURRENT` concurrently; ConfigValidationError naming `--run-id` when a given
 *   run id already has objects. In every failure case `_CURRENT` is unchanged, and a failure
 *   before the manifest is stored deletes every object the build wrote.
 */
export async function buildSnapshot(options: BuildOptions): Promise<BuildResult> {
  const started = performance.now();
  const { source, log } = options;
  const progress = options.progress instanceof BuildProgress ? options.progress : new BuildProgress(options.progress ?? true, log);
  const runId = options.runId ?? newRunId();
  await assertNotShardyfusionPrefix(options.store, 'build');
  if (options.runId !== undefined) await assertRunIdUnused(options.store, runId);
  // Every object of the run is written through the tracker, so a failure can delete them again.
  const store = new WriteTracker(options.store);
  const workDir = options.workDir ?? (await mkdtemp(join(tmpdir(), `shardfleet-build-${runId}-`)));
  const backend = options.backend ?? DEFAULT_BACKEND;
  log.info({ run_id: runId, input: source.description, strategy: options.sharding.strategy, backend: backend.backend, metric: options.metric, store: store.url }, 'build started');
  let publishing = false;
  try {
    const { plan, routing, recallQueries } = await planRun({
      store,
      source,
      sharding: options.sharding,
      backend,
      metric: options.metric,
      seed: options.seed,
      sampleSize: options.sampleSize,
      onDuplicate: options.onDuplicate,
      kv: options.kv,
      filterColumns: options.filterColumns,
      recall: options.recall,
      runId,
      progress,
      log,
    });
    const truth = recallQueries === undefined ? undefined : groundTruthScan(plan, recallQueries);
    const built = await buildShards({
      plan,
      routing,
      source,
      store,
      concurrency: options.concurrency,
      workDir,
      progress,
      log,
      ...(truth === undefined ? {} : { onAssigned: (ordinal, dbId, vector) => truth.observe(ordinal, dbId, vector) }),
    });
    const searchRecall = truth === undefined ? undefined : measureBuiltRecall({ plan, routing, truth, workDir, counts: built.counts, progress, log });
    const createdAt = new Date();
    const manifest = assembleManifest(plan, built.shards, built.payloadColumns, (performance.now() - started) / 1000, createdAt, searchRecall);
    logDefaultEf(plan, manifest, log);
    const key = makeManifestKey(runId, createdAt);
    // From here on the manifest may be stored: a failure (another publisher moved `_CURRENT`)
    // keeps the complete run, which `rollback` can point at.
    publishing = true;
    await publishManifest(options.store, manifest, key);
    log.info({ run_id: runId, manifest: key, vectors: plan.input.vectors, seconds: manifest.build_stats.build_seconds }, 'published');
    return { runId, manifestKey: key, manifest };
  } catch (err) {
    progress.abort(); // no bar left on screen over the error and the clean-up's log lines
    if (!publishing) await store.deleteWritten(log, runId);
    throw err;
  } finally {
    if (!options.workDir) await rm(workDir, { recursive: true, force: true });
  }
}
