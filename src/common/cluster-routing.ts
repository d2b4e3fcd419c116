/**
 * CLUSTER routing: a vector belongs to the shard of its nearest centroid; a query probes the
 * `num_probes` nearest centroids. The writer (assignment) and the router (query routing) call the
 * same function, so a vector is always found in the first shard its own query probes.
 *
 * Ties are broken by the lower centroid index, matching an argmin that keeps the first minimum.
 */
import { ConfigValidationError } from './errors.ts';
import { distance, type Metric } from './distance.ts';

/** Centroids of a CLUSTER-sharded run: `k` rows of `dim` float32 values, row-major. */
export class CentroidRouter {
  /**
   * @param centroids `Float32Array` of length k * dim, row i = centroid of shard (db id) i.
   * @param dim vector dimension.
   * @param metric the index metric; routing uses the same distance.
   * @throws ConfigValidationError when the length is not a multiple of dim or there is no centroid.
   */
  constructor(
    readonly centroids: Float32Array,
    readonly dim: number,
    readonly metric: Metric,
  ) {
    if (dim <= 0 || centroids.length === 0 || centroids.length % dim !== 0) {
      throw new ConfigValidationError(
        `centroids of length ${centroids.length} do not form rows of dimension ${dim}`,
      );
    }
    this.numCentroids = centroids.length / dim;
  }

  /** Number of centroids (= number of shards). */
  readonly numCentroids: number;

  /**
   * The `numProbes` nearest centroids' indexes to row `row` of `vectors` (row-major, dim
   * columns), nearest first, ties by lower index. `numProbes` is clamped to [1, numCentroids].
   */
  nearest(vectors: Float32Array, row: number, numProbes: number): number[] {
    const k = this.numCentroids;
    const probes = Math.max(1, Math.min(numProbes, k));
    if (probes === 1) return [this.assign(vectors, row)];
    const dists = new Float64Array(k);
    for (let c = 0; c < k; c++) dists[c] = distance(this.metric, vectors, row, this.centroids, c, this.dim);
    const order = Array.from({ length: k }, (_, c) => c);
    order.sort((a, b) => dists[a] - dists[b] || a - b);
    return order.slice(0, probes);
  }

  /** Index of the nearest centroid to row `row` of `vectors` (first minimum on ties). */
  assign(vectors: Float32Array, row: number): number {
    let best = 0;
    let bestDist = Infinity;
    for (let c = 0; c < this.numCentroids; c++) {
      const d = distance(this.metric, vectors, row, this.centroids, c, this.dim);
      if (d < bestDist) {
        bestDist = d;
        best = c;
      }
    }
    return best;
  }
}
