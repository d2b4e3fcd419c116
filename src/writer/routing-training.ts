/**
 * Trains a run's routing from the training sample (k-means centroids for CLUSTER, hyperplanes and
 * mean centre for LSH; nothing to train for EXPLICIT and HASH; a type-checked expression for CEL) and
 * stores its metadata arrays as `.npy` under `runs/<run_id>/vector_meta/`.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Metric } from '../common/distance.ts';
import { ConfigValidationError } from '../common/errors.ts';
import { sha256Hex } from '../common/file-digest.ts';
import { vectorMetaKey, type ObjectRef, type ShardingSpec } from '../common/manifest.ts';
import { decodeNpy, encodeNpyFloat32 } from '../common/npy.ts';
import { CelRouting } from '../common/routing/cel-routing.ts';
import { CentroidRouter } from '../common/cluster-routing.ts';
import { ClusterRouting } from '../common/routing/cluster-shard-routing.ts';
import { ExplicitRouting } from '../common/routing/explicit-routing.ts';
import { HashRouting } from '../common/routing/key-hash-routing.ts';
import { LshRouting } from '../common/routing/lsh-routing.ts';
import type { ShardRouting } from '../common/routing/shard-routing.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';
import type { BuildProgress } from './build-progress.ts';
import { numDbsOf, type ShardingOptions } from './build-options.ts';
import { balancedCapacity } from './balanced-assignment.ts';
import { fitCentroidOffsets } from './centroid-offsets.ts';
import { trainKMeans } from './kmeans.ts';
import { generateHyperplanes, meanCenter } from './lsh-training.ts';

/** Name of a routing metadata array. */
export type VectorMetaName = 'centroids.npy' | 'hyperplanes.npy' | 'center.npy';

/** A trained routing, before its arrays are stored. */
export interface TrainedRouting {
  routing: ShardRouting;
  /** Arrays to store: float32, row-major, with their numpy shapes. */
  arrays: { name: VectorMetaName; data: Float32Array; shape: number[] }[];
  /** The sharding spec, given the stored arrays' refs. */
  spec(refs: ReadonlyMap<VectorMetaName, ObjectRef>): ShardingSpec;
  /** Lloyd iterations run (0 unless k-means was trained). */
  kmeansIterations: number;
  /** Sample rows used for training (0 when nothing was trained from data). */
  trainingRows: number;
}

/** Inputs of {@link trainRouting}. */
export interface TrainRoutingInput {
  sharding: ShardingOptions;
  /** Training sample, `Float32Array` of length rows * dim. */
  sample: Float32Array;
  dim: number;
  metric: Metric;
  seed: number;
  progress: BuildProgress;
  log: Logger;
}

/** ceil(log2(numDbs)), at least 1: the fewest hash bits that give every shard a code. */
export function defaultNumHashBits(numDbs: number): number {
  return Math.max(1, Math.ceil(Math.log2(numDbs)));
}

/**
 * Trains the routing of a build.
 * @throws ConfigValidationError for user centroids of the wrong shape or with NaN, a CEL
 *   expression that does not compile or type-check.
 */
export async function trainRouting(input: TrainRoutingInput): Promise<TrainedRouting> {
  const { sharding: s, sample, dim, metric, seed, progress, log } = input;
  const rows = sample.length / dim;
  const numDbs = numDbsOf(s);
  switch (s.strategy) {
    case 'cluster': {
      let centroids: Float32Array;
      let iterations = 0;
      if (s.centroidsPath) {
        centroids = await loadUserCentroids(s.centroidsPath, numDbs, dim);
      } else {
        const maxIterations = s.kmeansIterations ?? 25;
        const training = progress.stage(s.balanceFactor ? 'train balanced k-means' : 'train k-means', maxIterations, 'iterations');
        const started = performance.now();
        let counted = 0;
        const result = trainKMeans(sample, dim, {
          k: numDbs,
          metric,
          seed,
          maxIterations,
          balanceFactor: s.balanceFactor,
          onIteration: () => {
            counted++;
            training.increment();
          },
        });
        // The converging iteration is not reported by onIteration; an early stop ends the bar full.
        if (result.iterations > counted) training.increment(result.iterations - counted);
        training.setTotal(result.iterations);
        training.stop();
        centroids = result.centroids;
        iterations = result.iterations;
        log.info(
          { iterations, cluster_sizes: result.clusterSizes, sample: rows, ms: Math.round(performance.now() - started), balance_factor: s.balanceFactor ?? null },
          'k-means trained',
        );
      }
      const offsets = s.balanceFactor === undefined ? undefined : fitBalanceOffsets(sample, centroids, dim, metric, s.balanceFactor, log);
      return {
        routing: new ClusterRouting(centroids, dim, metric, s.numProbes, offsets),
        arrays: [{ name: 'centroids.npy', data: centroids, shape: [numDbs, dim] }],
        spec: (refs) => ({
          strategy: 'cluster',
          num_dbs: numDbs,
          num_probes: s.numProbes,
          centroids: refs.get('centroids.npy')!,
          seed: s.centroidsPath ? null : seed,
          centroids_source: s.centroidsPath ? 'user' : 'kmeans',
          balance_factor: s.balanceFactor ?? null,
          ...(offsets === undefined ? {} : { centroid_offsets: Array.from(offsets) }),
        }),
        kmeansIterations: iterations,
        trainingRows: s.centroidsPath ? 0 : rows,
      };
    }
    case 'lsh': {
      const numHashBits = s.numHashBits ?? defaultNumHashBits(numDbs);
      const hyperplanes = generateHyperplanes(numHashBits, dim, seed);
      const center = s.center === false ? null : meanCenter(sample, dim);
      const arrays: TrainedRouting['arrays'] = [{ name: 'hyperplanes.npy', data: hyperplanes, shape: [numHashBits, dim] }];
      if (center) arrays.push({ name: 'center.npy', data: center, shape: [dim] });
      return {
        routing: new LshRouting({ hyperplanes, numHashBits, dim, center, numDbs, defaultNumProbes: s.numProbes }),
        arrays,
        spec: (refs) => ({
          strategy: 'lsh',
          num_dbs: numDbs,
          num_probes: s.numProbes,
          num_hash_bits: numHashBits,
          hyperplanes: refs.get('hyperplanes.npy')!,
          center: center ? refs.get('center.npy')! : null,
          seed,
        }),
        kmeansIterations: 0,
        trainingRows: center ? rows : 0,
      };
    }
    case 'explicit':
      return {
        routing: new ExplicitRouting(numDbs),
        arrays: [],
        spec: () => ({ strategy: 'explicit', num_dbs: numDbs, num_probes: 1 }),
        kmeansIterations: 0,
        trainingRows: 0,
      };
    case 'hash':
      return {
        routing: new HashRouting(numDbs),
        arrays: [],
        spec: () => ({ strategy: 'hash', num_dbs: numDbs, num_probes: numDbs, hash: { algorithm: 'xxh3_64', seed: 0 } }),
        kmeansIterations: 0,
        trainingRows: 0,
      };
    case 'cel': {
      const routingValues = s.routingValues ?? null;
      const routing = CelRouting.compile({ celExpr: s.celExpr, celColumns: s.celColumns, routingValues, numDbs });
      return {
        routing,
        arrays: [],
        spec: () => ({ strategy: 'cel', num_dbs: numDbs, num_probes: 1, cel_expr: s.celExpr, cel_columns: s.celColumns, routing_values: routingValues }),
        kmeansIterations: 0,
        trainingRows: 0,
      };
    }
  }
}

/**
 * Balanced CLUSTER builds: fits the per-centroid distance offsets that cap every shard at
 * ceil(balanceFactor * rows / k) points of the training sample (src/writer/centroid-offsets.ts)
 * and logs the sample's shard sizes under them.
 * @returns one offset per centroid.
 */
function fitBalanceOffsets(sample: Float32Array, centroids: Float32Array, dim: number, metric: Metric, balanceFactor: number, log: Logger): Float64Array {
  const rows = sample.length / dim;
  const k = centroids.length / dim;
  const started = performance.now();
  const capacity = balancedCapacity(rows, k, balanceFactor);
  const fitted = fitCentroidOffsets(sample, new CentroidRouter(centroids, dim, metric), capacity);
  log.info(
    {
      balance_factor: balanceFactor,
      capacity,
      sample_shard_sizes: { min: Math.min(...fitted.counts), max: Math.max(...fitted.counts), mean: +(rows / k).toFixed(1) },
      rounds: fitted.rounds,
      ms: Math.round(performance.now() - started),
    },
    'balance offsets fitted',
  );
  return fitted.offsets;
}

/**
 * Stores the trained routing's arrays as `.npy` under the run's `vector_meta/` and returns the
 * sharding spec referencing them (key, bytes, sha256).
 * @throws StorageError from the store.
 */
export async function storeRoutingMeta(store: ObjectStore, runId: string, trained: TrainedRouting): Promise<ShardingSpec> {
  const refs = new Map<VectorMetaName, ObjectRef>();
  for (const array of trained.arrays) {
    const bytes = encodeNpyFloat32(array.data, array.shape);
    const ref = vectorMetaKey(runId, array.name);
    await store.put(ref, bytes);
    refs.set(array.name, { ref, bytes: bytes.length, sha256: sha256Hex(bytes) });
  }
  return trained.spec(refs);
}

async function loadUserCentroids(path: string, numDbs: number, dim: number): Promise<Float32Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new ConfigValidationError(`cannot read centroids ${path}: ${(err as Error).message}`, { cause: err });
  }
  const npy = decodeNpy(bytes, path);
  if (npy.shape.length !== 2 || npy.shape[0] !== numDbs || npy.shape[1] !== dim) {
    throw new ConfigValidationError(`centroids ${path} have shape [${npy.shape.join(', ')}], expected [${numDbs}, ${dim}]`);
  }
  const data = Float32Array.from(npy.data as ArrayLike<number>);
  if (data.some((x) => !Number.isFinite(x))) throw new ConfigValidationError(`centroids ${path} contain NaN or Inf`);
  return data;
}
