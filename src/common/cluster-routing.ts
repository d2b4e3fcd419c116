/**
 * CLUSTER routing: a vector belongs to the shard of its nearest centroid; a query probes the
 * `num_probes` nearest centroids. The writer (assignment) and the router (query routing) call the
 * same function, so a vector is always found in the first shard its own query probes.
 *
 * Balanced builds add a per-centroid offset to the distance ("nearest" = smallest
 * distance(x, c) + offset[c]): the cells become a power diagram whose sizes the writer fitted to
 * the balance cap (see src/writer/centroid-offsets.ts), and queries rank shards by the same
 * offset distance, so the invariant above still holds. A legacy balanced plan without offsets
 * places capped vectors in their next-nearest shard instead (src/writer/balanced-assignment.ts).
 *
 * Ties are broken by the lower centroid index, matching an argmin that keeps the first minimum.
 */
import { ConfigValidationError } from './errors.ts';
import { dot, norm, squaredL2, type Metric } from './distance.ts';

/** Centroids of a CLUSTER-sharded run: `k` rows of `dim` float32 values, row-major. */
export class CentroidRouter {
  /**
   * @param centroids `Float32Array` of length k * dim, row i = centroid of shard (db id) i.
   * @param dim vector dimension.
   * @param metric the index metric; routing uses the same distance.
   * @param offsets balanced builds: one finite number per centroid added to its distance (same
   *   units as the metric's distance; see the module comment); absent = all 0.
   * @throws ConfigValidationError when the length is not a multiple of dim, there is no centroid,
   *   or the offsets are not one finite number per centroid.
   */
  constructor(
    readonly centroids: Float32Array,
    readonly dim: number,
    readonly metric: Metric,
    offsets?: ArrayLike<number>,
  ) {
    if (dim <= 0 || centroids.length === 0 || centroids.length % dim !== 0) {
      throw new ConfigValidationError(
        `centroids of length ${centroids.length} do not form rows of dimension ${dim}`,
      );
    }
    this.numCentroids = centroids.length / dim;
    this.centroidNorms = Float64Array.from({ length: this.numCentroids }, (_, c) => norm(centroids, c, dim));
    if (offsets !== undefined) {
      if (offsets.length !== this.numCentroids || !Array.from(offsets).every(Number.isFinite)) {
        throw new ConfigValidationError(`centroid offsets must be ${this.numCentroids} finite numbers (one per centroid), got ${offsets.length}`);
      }
      this.offsets = Float64Array.from(offsets);
    }
  }

  /** Number of centroids (= number of shards). */
  readonly numCentroids: number;
  /** Per-centroid distance offsets of a balanced build (a copy); undefined = none. */
  readonly offsets: Float64Array | undefined;
  /** Euclidean norm of each centroid, computed once at load time (used by the cosine metric). */
  private readonly centroidNorms: Float64Array;

  /**
   * Routing distances from row `row` of `vectors` to every centroid (lower is better): the
   * metric's distance (see {@link metricDistances}) plus the centroid's offset, if any.
   */
  private distances(vectors: Float32Array, row: number): Float64Array {
    const out = this.metricDistances(vectors, row);
    const { offsets } = this;
    if (offsets !== undefined) for (let c = 0; c < out.length; c++) out[c] += offsets[c];
    return out;
  }

  /**
   * Distances from row `row` of `vectors` to every centroid under the metric, without offsets
   * (lower is better): squared L2, 1 - cos (1 when either vector is zero), or -dot. Equal to
   * `distance()` of `distance.ts`, with the centroid norms precomputed and the query norm
   * computed once. Returns a new `Float64Array` of length numCentroids.
   */
  metricDistances(vectors: Float32Array, row: number): Float64Array {
    const k = this.numCentroids;
    const out = new Float64Array(k);
    const { centroids, dim } = this;
    if (this.metric === 'l2') {
      for (let c = 0; c < k; c++) out[c] = squaredL2(vectors, row, centroids, c, dim);
    } else if (this.metric === 'dot') {
      for (let c = 0; c < k; c++) out[c] = -dot(vectors, row, centroids, c, dim);
    } else {
      const qn = norm(vectors, row, dim);
      for (let c = 0; c < k; c++) {
        const cn = this.centroidNorms[c];
        out[c] = qn === 0 || cn === 0 ? 1 : 1 - dot(vectors, row, centroids, c, dim) / (qn * cn);
      }
    }
    return out;
  }

  /**
   * The `numProbes` nearest centroids' indexes (by routing distance, offsets included) to row `row` of `vectors` (row-major, dim
   * columns), nearest first, ties by lower index. `numProbes` is clamped to [1, numCentroids].
   */
  nearest(vectors: Float32Array, row: number, numProbes: number): number[] {
    const k = this.numCentroids;
    const probes = Math.max(1, Math.min(numProbes, k));
    if (probes === 1) return [this.assign(vectors, row)];
    const dists = this.distances(vectors, row);
    const order = Array.from({ length: k }, (_, c) => c);
    order.sort((a, b) => dists[a] - dists[b] || a - b);
    return order.slice(0, probes);
  }

  /** Index of the nearest centroid (routing distance, offsets included) to row `row` of `vectors` (first minimum on ties). */
  assign(vectors: Float32Array, row: number): number {
    const dists = this.distances(vectors, row);
    let best = 0;
    let bestDist = Infinity;
    for (let c = 0; c < this.numCentroids; c++) {
      const d = dists[c];
      if (d < bestDist) {
        bestDist = d;
        best = c;
      }
    }
    return best;
  }
}
