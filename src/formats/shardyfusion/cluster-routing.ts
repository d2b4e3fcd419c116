/**
 * shardyfusion's CLUSTER routing (shardyfusion/vector/sharding.py at b5ad9a1), as a shardfleet
 * {@link ShardRouting}: the distance of a vector to every centroid under the snapshot's metric,
 * computed as numpy computes it in float32 (float32-math.ts says what is exact and what is not);
 * a record belongs to the argmin (`cluster_assign`, :47-55), a query probes the stable argsort of
 * the distances cut to num_probes, ties to the lower shard id (`cluster_probe_shards`, :84-101).
 *
 * Distances (:13-33), each a float32 array over the centroids c_i for the vector x:
 * - l2: Σ_j (c_ij - x_j)², the squared Euclidean distance (`np.sum(diff * diff, axis=1)`, numpy's
 *   pairwise float32 sum: exact here);
 * - cosine: 1 - (c_i·x) / (‖c_i‖·‖x‖ + 1e-10), with ‖c_i‖ = sqrt(pairwise Σ c_ij²) (exact here),
 *   ‖x‖ = sqrt(sdot(x, x)) and c_i·x from sgemv (BLAS: rounded once from the exact sum here); a
 *   zero query (‖x‖ == 0) gets distance 1 to every centroid, so it probes shards 0, 1, 2, ...;
 * - dot_product: -(c_i·x) (sgemv).
 */
import { ConfigValidationError, InputRecordError } from '../../common/errors.ts';
import { checkShardIds, rejectRoutingContext } from '../../common/routing/route-checks.ts';
import type { QueryToRoute, RecordToRoute, ShardRouting } from '../../common/routing/shard-routing.ts';
import { dotF32, numpyArgmin, pairwiseSumF32, stableArgsort } from './float32-math.ts';
import { checkQueryDim, shardyfusionProbeCount } from './probes.ts';

/** Metric names as shardfleet's Manifest spells them (shardyfusion's `dot_product` is `dot`). */
export type ShardyfusionMetric = 'l2' | 'cosine' | 'dot';

/** shardyfusion's CLUSTER routing over a run's centroids. */
export class ShardyfusionClusterRouting implements ShardRouting {
  readonly strategy = 'cluster' as const;
  readonly numDbs: number;
  /** `Float32Array` of length numDbs * dim; row i = shard i's centroid. */
  private readonly centroids: Float32Array;
  /** cosine: ‖c_i‖ as numpy's float32 `np.linalg.norm(targets, axis=1)`. */
  private readonly centroidNorms: Float32Array;
  /** Scratch row for l2 (float32 squares of differences). */
  private readonly scratch: Float32Array;

  /**
   * @param centroids `Float32Array` of length num_dbs * dim (centroids.npy, row-major).
   * @param dim vector dimension (> 0).
   * @param metric the snapshot's metric.
   * @param defaultNumProbes the manifest's num_probes (`custom.vector.num_probes`, >= 1).
   * @throws ConfigValidationError when the centroids do not form whole rows of `dim`, there are
   *   none, or defaultNumProbes is not a positive integer.
   */
  constructor(
    centroids: Float32Array,
    readonly dim: number,
    readonly metric: ShardyfusionMetric,
    readonly defaultNumProbes: number,
  ) {
    if (!Number.isInteger(dim) || dim < 1) throw new ConfigValidationError(`shardyfusion CLUSTER: dim must be a positive integer, got ${dim}`);
    if (centroids.length === 0 || centroids.length % dim !== 0) {
      throw new ConfigValidationError(`shardyfusion CLUSTER: centroids have ${centroids.length} values, not whole rows of dim ${dim}`);
    }
    if (!Number.isInteger(defaultNumProbes) || defaultNumProbes < 1) {
      throw new ConfigValidationError(`shardyfusion CLUSTER: num_probes must be a positive integer, got ${defaultNumProbes}`);
    }
    this.centroids = centroids;
    this.numDbs = centroids.length / dim;
    this.scratch = new Float32Array(dim);
    this.centroidNorms = new Float32Array(this.numDbs);
    for (let i = 0; i < this.numDbs; i++) {
      const sq = this.scratch;
      for (let j = 0; j < dim; j++) sq[j] = centroids[i * dim + j] * centroids[i * dim + j];
      this.centroidNorms[i] = Math.sqrt(pairwiseSumF32(sq, 0, dim));
    }
  }

  /**
   * The float32 distances of `vector` to every centroid, as shardyfusion computes them
   * (sharding.py:13-33; see the module docstring).
   * @param vector `Float32Array` of length dim (not checked here).
   * @returns numDbs distances (float32 values as numbers), index = shard id.
   */
  distances(vector: Float32Array): Float64Array {
    const { dim, numDbs, centroids } = this;
    const f = Math.fround;
    const out = new Float64Array(numDbs);
    if (this.metric === 'l2') {
      const sq = this.scratch;
      for (let i = 0; i < numDbs; i++) {
        const o = i * dim;
        for (let j = 0; j < dim; j++) {
          const d = f(centroids[o + j] - vector[j]);
          sq[j] = d * d; // Float32Array store rounds: f(d * d)
        }
        out[i] = pairwiseSumF32(sq, 0, dim);
      }
      return out;
    }
    if (this.metric === 'dot') {
      for (let i = 0; i < numDbs; i++) out[i] = -dotF32(centroids, i * dim, vector, 0, dim);
      return out;
    }
    const queryNorm = f(Math.sqrt(dotF32(vector, 0, vector, 0, dim)));
    if (queryNorm === 0) return out.fill(1);
    const eps = f(1e-10);
    for (let i = 0; i < numDbs; i++) {
      const dotI = dotF32(centroids, i * dim, vector, 0, dim);
      const denominator = f(f(this.centroidNorms[i] * queryNorm) + eps);
      out[i] = f(1 - f(dotI / denominator));
    }
    return out;
  }

  /**
   * The shard of a record: `np.argmin` of its distances (first minimum; sharding.py:47-55,
   * the writer calls it per vector, vector/_distributed.py:213).
   * @throws InputRecordError naming `record.location` when the vector's length is not dim.
   */
  assign(record: RecordToRoute): number {
    if (record.vector.length !== this.dim) {
      throw new InputRecordError(record.location, `vector has dimension ${record.vector.length}; this snapshot has dim ${this.dim}`);
    }
    return numpyArgmin(this.distances(record.vector));
  }

  /**
   * Caller-named `shardIds` as given (shardyfusion returns them unchanged, sharding.py:275-276),
   * else the nearest `num_probes` centroids' shards, nearest first, ties to the lower id
   * (num_probes 0 = the manifest's; more than numDbs gives all numDbs).
   * @throws InvalidQueryError for a routing_context, a negative num_probes, a vector of the wrong
   *   dimension, or an unknown or repeated shard id.
   */
  route(query: QueryToRoute): number[] {
    rejectRoutingContext(query.routingContext, 'cluster');
    if (query.shardIds.length > 0) return checkShardIds(query.shardIds, this.numDbs);
    const probes = shardyfusionProbeCount(query.numProbes, this.defaultNumProbes);
    checkQueryDim(query.vector, this.dim);
    return stableArgsort(this.distances(query.vector)).slice(0, probes);
  }
}
