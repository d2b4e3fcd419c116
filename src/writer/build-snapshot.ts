/**
 * `shardfleet build`: reads vectors, trains CLUSTER routing, assigns every vector to its shard,
 * builds one LanceDB table per shard, uploads the shards with sha256 and sizes, writes
 * `centroids.npy`, and publishes (manifest, then `_CURRENT`).
 *
 * The input is read twice and streamed both times: pass 1 validates every record and draws a
 * seeded reservoir sample for training (only the sample is held in memory); pass 2 assigns and
 * writes through bounded per-shard buffers. Nothing is uploaded until every record has been
 * validated, and `_CURRENT` moves only after every shard and the manifest are stored, so a failed
 * build never changes what readers serve.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import { CentroidRouter } from '../common/cluster-routing.ts';
import type { Metric } from '../common/distance.ts';
import { ConfigValidationError } from '../common/errors.ts';
import { sha256Hex } from '../common/file-digest.ts';
import {
  MANIFEST_FORMAT_VERSION,
  centroidsKey,
  manifestKey as makeManifestKey,
  shardDirName,
  shardPrefix,
  type Manifest,
  type ShardEntry,
} from '../common/manifest.ts';
import { decodeNpy, encodeNpyFloat32 } from '../common/npy.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';
import { DEFAULT_LANCE_INDEX_PLAN, LanceShardWriter, type LanceIndexPlan } from './backends/lancedb-shard-writer.ts';
import { BuildProgress } from './build-progress.ts';
import { RecordValidator } from './input/record-validator.ts';
import type { VectorSource } from './input/vector-record.ts';
import { trainKMeans } from './kmeans.ts';
import { uploadFolder, publishManifest } from './publish.ts';
import { SeededRandom } from './seeded-random.ts';
import { ShardBuffers } from './shard-buffers.ts';
import { WRITER_NAME, WRITER_VERSION } from '../common/version.ts';

/** Options of {@link buildSnapshot}. */
export interface BuildOptions {
  /** Where to publish. */
  store: ObjectStore;
  /** The input vectors. */
  source: VectorSource;
  /** Number of shards (num_dbs), >= 1. */
  numDbs: number;
  /** Default num_probes recorded in the manifest (1..numDbs). */
  numProbes: number;
  metric: Metric;
  /** Seed of sampling and k-means (default 42). */
  seed?: number;
  /** Training sample size (default max(20,000, 64 * numDbs), capped at the input size). */
  sampleSize?: number;
  /** Lloyd iterations (default 25). */
  kmeansIterations?: number;
  /** A `.npy` of float32 [numDbs, dim] centroids to use instead of training. */
  centroidsPath?: string;
  /** Index plan for every shard. */
  indexPlan?: Partial<LanceIndexPlan>;
  /** Duplicate ids: `error` (default) or keep the `last` occurrence. */
  onDuplicate?: 'error' | 'last';
  /** Shards indexed and uploaded concurrently (default 2). */
  concurrency?: number;
  /** Local scratch folder (default: a new temp folder, removed afterwards). */
  workDir?: string;
  /** Show progress bars on stderr (default true; only on a TTY). */
  progress?: boolean;
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

/** A new run id: UTC time plus 8 random hex digits, e.g. `20261121T123325Z-1a2b3c4d`. */
export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(4).toString('hex')}`;
}

/**
 * Builds and publishes one run.
 * @throws InputRecordError / ConfigValidationError for bad input or options (nothing uploaded);
 *   VectorIndexError naming the shard when an index cannot be built; StorageError on upload
 *   failures; PreconditionFailedError when another publisher moved `_CURRENT` concurrently.
 *   In every failure case `_CURRENT` is unchanged.
 */
export async function buildSnapshot(options: BuildOptions): Promise<BuildResult> {
  const started = performance.now();
  const { store, source, numDbs, metric, log } = options;
  const seed = options.seed ?? 42;
  const progress = new BuildProgress(options.progress ?? true, log);
  validateOptions(options);
  const runId = options.runId ?? newRunId();
  const workDir = options.workDir ?? (await mkdtemp(join(tmpdir(), `shardfleet-build-${runId}-`)));
  log.info({ run_id: runId, input: source.description, num_dbs: numDbs, metric, store: store.url }, 'build started');
  try {
    // Pass 1: validate every record, reservoir-sample the training set (Vitter's Algorithm R).
    const validator = new RecordValidator({ description: source.description, dim: source.dim, onDuplicate: options.onDuplicate ?? 'error' });
    const targetSample = Math.min(options.sampleSize ?? Math.max(20_000, 64 * numDbs), source.count ?? Infinity);
    const rng = new SeededRandom(seed ^ 0x5f3759df);
    let sample: Float32Array | undefined;
    let seen = 0;
    const sampling = progress.stage('validate+sample', source.count ?? 0);
    for await (const record of source.records()) {
      validator.check(record);
      const dim = record.vector.length;
      sample ??= new Float32Array(targetSample * dim);
      const slot = seen < targetSample ? seen : rng.nextInt(seen + 1);
      if (slot < targetSample) sample.set(record.vector, slot * dim);
      seen++;
      sampling.increment();
    }
    sampling.stop();
    const summary = validator.finish();
    validator.ensureAtLeast(numDbs);
    const dim = summary.dim;
    const sampleRows = Math.min(seen, targetSample);
    const trainingSample = sample!.subarray(0, sampleRows * dim);

    // Routing metadata: trained or given centroids.
    let centroids: Float32Array;
    let iterations = 0;
    if (options.centroidsPath) {
      centroids = await loadUserCentroids(options.centroidsPath, numDbs, dim);
    } else {
      const training = progress.stage('train k-means', options.kmeansIterations ?? 25, 'iterations');
      const result = trainKMeans(trainingSample, dim, {
        k: numDbs,
        metric,
        seed,
        maxIterations: options.kmeansIterations ?? 25,
        onIteration: () => training.increment(),
      });
      training.stop();
      centroids = result.centroids;
      iterations = result.iterations;
      log.info({ iterations, cluster_sizes: result.clusterSizes, sample: sampleRows }, 'k-means trained');
    }
    const router = new CentroidRouter(centroids, dim, metric);

    // Pass 2: assign every vector to its nearest centroid and write it to that shard.
    const writers = Array.from({ length: numDbs }, (_, dbId) => new LanceShardWriter(join(workDir, shardDirName(dbId)), dbId, dim, metric));
    const buffers = new ShardBuffers(writers, dim);
    const assigning = progress.stage('assign+write', summary.count);
    const payloadColumns = new Set<string>();
    let ordinal = 0;
    for await (const record of source.records()) {
      const keep = validator.keepInSecondPass(record, ordinal++);
      if (!keep) continue;
      if (record.payload) for (const key of Object.keys(record.payload)) payloadColumns.add(key);
      const dbId = router.assign(record.vector, 0);
      await buffers.add(dbId, record.id, record.vector, record.payload ? JSON.stringify(record.payload) : null);
      assigning.increment();
    }
    await buffers.flushAll();
    assigning.stop();
    const empty = buffers.counts.flatMap((c, dbId) => (c === 0 ? [dbId] : []));
    if (empty.length > 0) {
      throw new ConfigValidationError(
        `shard(s) ${empty.join(', ')} received no vectors (their centroids are nearest to no input vector); use fewer shards or other centroids`,
      );
    }

    // Index every shard, then upload it.
    const indexPlan: LanceIndexPlan = { ...DEFAULT_LANCE_INDEX_PLAN, ...options.indexPlan };
    const limit = pLimit(options.concurrency ?? 2);
    const indexing = progress.stage('index build', numDbs, 'shards');
    const built = await Promise.all(
      writers.map((w) =>
        limit(async () => {
          const shard = await w.finish(indexPlan);
          indexing.increment();
          return shard;
        }),
      ),
    );
    indexing.stop();
    const uploading = progress.stage('upload', numDbs, 'shards');
    const shards: ShardEntry[] = [];
    for (let dbId = 0; dbId < numDbs; dbId++) {
      const url = shardPrefix(runId, dbId);
      const files = await uploadFolder(store, join(workDir, shardDirName(dbId)), url);
      shards.push({
        db_id: dbId,
        url,
        files,
        vector_count: built[dbId].vectorCount,
        checkpoint_id: built[dbId].checkpointId,
        index_type: built[dbId].indexType,
      });
      uploading.increment();
    }
    const centroidsBytes = encodeNpyFloat32(centroids, [numDbs, dim]);
    const centroidsRef = centroidsKey(runId);
    await store.put(centroidsRef, centroidsBytes);
    uploading.stop();

    // Publish: manifest first, `_CURRENT` last.
    const createdAt = new Date();
    const manifest: Manifest = {
      format_version: MANIFEST_FORMAT_VERSION,
      run_id: runId,
      created_at: createdAt.toISOString(),
      writer: { name: WRITER_NAME, version: WRITER_VERSION },
      index: {
        dim,
        metric,
        backend: 'lancedb',
        index_type: indexPlan.indexType,
        index_params: {
          hnsw_min_rows: indexPlan.hnswMinRows,
          num_partitions: indexPlan.numPartitions,
          m: indexPlan.m,
          ef_construction: indexPlan.efConstruction,
        },
      },
      sharding: {
        strategy: 'cluster',
        num_dbs: numDbs,
        num_probes: options.numProbes,
        centroids: { ref: centroidsRef, bytes: centroidsBytes.length, sha256: sha256Hex(centroidsBytes) },
        seed: options.centroidsPath ? null : seed,
        centroids_source: options.centroidsPath ? 'user' : 'kmeans',
      },
      shards,
      payload_columns: [...payloadColumns].sort(),
      build_stats: {
        total_vectors: summary.count,
        training_sample_size: options.centroidsPath ? 0 : sampleRows,
        kmeans_iterations: iterations,
        build_seconds: +((performance.now() - started) / 1000).toFixed(3),
        total_bytes: shards.reduce((s, sh) => s + sh.files.reduce((t, f) => t + f.bytes, 0), 0),
        input: source.description,
      },
    };
    const key = makeManifestKey(runId, createdAt);
    await publishManifest(store, manifest, key);
    log.info({ run_id: runId, manifest: key, vectors: summary.count, seconds: manifest.build_stats.build_seconds }, 'published');
    return { runId, manifestKey: key, manifest };
  } finally {
    if (!options.workDir) await rm(workDir, { recursive: true, force: true });
  }
}

function validateOptions(o: BuildOptions): void {
  if (!Number.isInteger(o.numDbs) || o.numDbs < 1) throw new ConfigValidationError(`num_dbs must be an integer >= 1, got ${o.numDbs}`);
  if (!Number.isInteger(o.numProbes) || o.numProbes < 1 || o.numProbes > o.numDbs) {
    throw new ConfigValidationError(`num_probes must be an integer in 1..num_dbs (${o.numDbs}), got ${o.numProbes}`);
  }
  if (o.sampleSize !== undefined && (!Number.isInteger(o.sampleSize) || o.sampleSize < o.numDbs)) {
    throw new ConfigValidationError(`sample size must be an integer >= num_dbs (${o.numDbs}), got ${o.sampleSize}`);
  }
  if (o.source.count !== undefined && o.source.count < o.numDbs) {
    throw new ConfigValidationError(`${o.source.count} vectors cannot fill ${o.numDbs} shards (${o.source.description})`);
  }
}

async function loadUserCentroids(path: string, numDbs: number, dim: number): Promise<Float32Array> {
  const npy = decodeNpy(await readFile(path), path);
  if (npy.shape.length !== 2 || npy.shape[0] !== numDbs || npy.shape[1] !== dim) {
    throw new ConfigValidationError(`centroids ${path} have shape [${npy.shape.join(', ')}], expected [${numDbs}, ${dim}]`);
  }
  const data = Float32Array.from(npy.data as ArrayLike<number>);
  if (data.some((x) => !Number.isFinite(x))) throw new ConfigValidationError(`centroids ${path} contain NaN or Inf`);
  return data;
}
