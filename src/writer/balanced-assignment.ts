/**
 * Capacity-capped ("balanced") CLUSTER assignment for `--balanced`: the writer streams the full
 * input once and places each vector in its nearest centroid's shard that still has room, so no
 * shard holds more than `capacity = ceil(balanceFactor * totalVectors / k)` vectors.
 *
 * Algorithm: online first-fit over each vector's centroid preference list (nearest first), the
 * streaming counterpart of the greedy assignment step of capacity-constrained k-means (see
 * `trainKMeans` with `balanceFactor` in `kmeans.ts`; the exact balanced problem is an assignment
 * problem, solved with the Hungarian algorithm by Malinen & Fränti, "Balanced K-Means for
 * Clustering", S+SSPR 2014). Online, the regret ordering used in training is not available (it
 * needs every vector up front), so vectors are placed in arrival order; the result therefore
 * depends on the input order, and is deterministic for a given order.
 *
 * Routing consequence: a vector placed in a non-nearest shard (its 2nd, 3rd ... nearest centroid)
 * is not in the first shard its own query would probe, so the CentroidRouter invariant "a vector
 * is always found in the first probed shard" no longer holds for it. Because the fallback is the
 * next-nearest centroid with room (usually the 2nd nearest), a query that probes >= 2 shards finds
 * such a vector in most cases. This is not guaranteed: routing recall is measured by the benchmark, not assumed.
 */
import type { CentroidRouter } from '../common/cluster-routing.ts';
import { ConfigValidationError } from '../common/errors.ts';

/**
 * Checks a balance factor: a finite number >= 1 (1 = perfectly even shards, 1.1 = the largest
 * shard may hold 10% more than the mean).
 * @throws ConfigValidationError naming `what` for NaN, Infinity or a value < 1.
 */
export function validateBalanceFactor(balanceFactor: number, what = 'balanceFactor'): void {
  if (typeof balanceFactor !== 'number' || !Number.isFinite(balanceFactor) || balanceFactor < 1) {
    throw new ConfigValidationError(`${what} must be a finite number >= 1 (e.g. 1.1), got ${balanceFactor}`);
  }
}

/**
 * Per-shard capacity `ceil(balanceFactor * total / k)`, never below `ceil(total / k)`, so that
 * `capacity * k >= total` and every vector finds room. Used by both training and assignment.
 * @param total number of points to place (integer >= 0).
 * @param k number of shards (integer >= 1).
 * @param balanceFactor finite number >= 1 (validated by the caller).
 */
export function balancedCapacity(total: number, k: number, balanceFactor: number): number {
  return Math.max(Math.ceil(total / k), Math.ceil((balanceFactor * total) / k));
}

/**
 * Streaming capacity-capped assignment of vectors to CLUSTER shards.
 *
 * Each call to {@link assign} places one vector in the nearest centroid (CentroidRouter distance
 * order, ties by lower index) whose shard has fewer than {@link capacity} vectors. Guarantees: no
 * shard ever exceeds `capacity`; since `capacity * k >= totalVectors`, each of the first
 * `totalVectors` vectors finds room. With a large factor (capacity >= totalVectors) the result
 * equals `router.assign` for every vector.
 *
 * Cost per vector: one `router.assign` (k distance evaluations of `dim` values, O(k·dim)) when
 * the nearest shard has room — the same as plain assignment; otherwise one more distance pass plus
 * a sort of the k centroids (O(k·dim + k log k)).
 */
export class CapacityAssigner {
  /** Maximum vectors per shard: `ceil(balanceFactor * totalVectors / k)`. */
  readonly capacity: number;
  /** Vectors assigned so far per shard (index = db id). Live view: do not modify. */
  readonly counts: number[];
  private displacedCount = 0;
  private assignedCount = 0;

  /**
   * @param router the run's centroids; its metric and tie order decide "nearest".
   * @param totalVectors number of vectors that will be assigned (integer >= 0), e.g. the count
   *   from the validation pass.
   * @param balanceFactor finite number >= 1.
   * @throws ConfigValidationError for a bad factor or count.
   */
  constructor(
    private readonly router: CentroidRouter,
    readonly totalVectors: number,
    readonly balanceFactor: number,
  ) {
    validateBalanceFactor(balanceFactor);
    if (!Number.isSafeInteger(totalVectors) || totalVectors < 0) {
      throw new ConfigValidationError(`totalVectors must be an integer >= 0, got ${totalVectors}`);
    }
    this.capacity = balancedCapacity(totalVectors, router.numCentroids, balanceFactor);
    this.counts = Array.from({ length: router.numCentroids }, () => 0);
  }

  /**
   * Assigns row `row` of `vectors` (`Float32Array` of length rows * dim, row-major; pass a single
   * vector with row 0) and returns its shard (db id).
   * @throws ConfigValidationError when every shard is full, which can only happen after more than
   *   `totalVectors` calls.
   */
  assign(vectors: Float32Array, row: number): number {
    const nearest = this.router.assign(vectors, row);
    if (this.counts[nearest] < this.capacity) {
      this.counts[nearest]++;
      this.assignedCount++;
      return nearest;
    }
    // Rare path: the nearest shard is full; walk the full preference order.
    for (const c of this.router.nearest(vectors, row, this.router.numCentroids)) {
      if (this.counts[c] < this.capacity) {
        this.counts[c]++;
        this.assignedCount++;
        this.displacedCount++;
        return c;
      }
    }
    throw new ConfigValidationError(
      `all ${this.router.numCentroids} shards are full (capacity ${this.capacity}) after ${this.assignedCount} vectors; ` +
        `the assigner was sized for totalVectors=${this.totalVectors}`,
    );
  }

  /** Vectors assigned so far. */
  get assigned(): number {
    return this.assignedCount;
  }

  /** Vectors placed in a shard other than their nearest centroid's, so far. */
  get displaced(): number {
    return this.displacedCount;
  }
}
