/**
 * Seeded k-means for CLUSTER sharding: k-means++ seeding followed by Lloyd iterations, over an
 * in-memory training sample.
 *
 * Sources: Arthur & Vassilvitskii, "k-means++: The Advantages of Careful Seeding", SODA 2007;
 * Lloyd, "Least squares quantization in PCM", IEEE Trans. Inf. Theory 1982. For the cosine metric
 * the vectors and centroids are L2-normalised (spherical k-means, Dhillon & Modha 2001).
 *
 * Balanced training (`balanceFactor`, for `--balanced`): every Lloyd assignment step is
 * capacity-constrained with cap = ceil(balanceFactor * n / k) points per cluster. The exact
 * constrained step is an assignment problem (Malinen & Fränti, "Balanced K-Means for Clustering",
 * S+SSPR 2014, solve it with the Hungarian algorithm in O(n^3)); here it is approximated by the
 * greedy regret heuristic of the generalized assignment problem (Martello & Toth, "An algorithm
 * for the generalized assignment problem", 1981, heuristic MTHG): points are placed in order of
 * decreasing regret (squared distance to the second-nearest centroid minus that to the nearest;
 * ties by lower point index), each in its nearest centroid with room left. Regrets are computed
 * once per iteration (static), not updated as clusters fill. Cost per iteration: the usual n·k
 * distance evaluations, an O(n log n) sort, and one more k-distance pass for each point whose
 * nearest and second-nearest centroids are both full (at most n, usually few).
 *
 * Determinism: the same sample, k, metric, seed (and balance factor) give bit-identical centroids
 * (one seeded PRNG, fixed iteration order, ties to the lower index).
 */
import type { Metric } from '../common/distance.ts';
import { ConfigValidationError } from '../common/errors.ts';
import { balancedCapacity, validateBalanceFactor } from './balanced-assignment.ts';
import { SeededRandom } from './seeded-random.ts';

/** k-means options. */
export interface KMeansOptions {
  /** Number of centroids (shards). */
  k: number;
  /** Metric of the index; `cosine` trains spherical k-means, `l2` and `dot` plain k-means. */
  metric: Metric;
  /** PRNG seed. */
  seed: number;
  /** Maximum Lloyd iterations (default 25). Stops earlier when no assignment changes. */
  maxIterations?: number;
  /** Called after each iteration with (iteration, maxIterations). */
  onIteration?: (iteration: number, maxIterations: number) => void;
  /**
   * Balanced training: a finite number >= 1 (e.g. 1.1). When set, no cluster holds more than
   * ceil(balanceFactor * n / k) sample points in any assignment step (see the module comment).
   * Unset: plain Lloyd (unbounded cluster sizes).
   */
  balanceFactor?: number;
}

/** Trained centroids. */
export interface KMeansResult {
  /** `Float32Array` of length k * dim, row-major. */
  centroids: Float32Array;
  /** Lloyd iterations run. */
  iterations: number;
  /** Training sample points per centroid (in the last assignment step). */
  clusterSizes: number[];
  /** Per-cluster cap used in balanced training (ceil(balanceFactor * n / k)); absent otherwise. */
  capacity?: number;
}

function sqDist(a: Float32Array, ao: number, b: Float32Array | Float64Array, bo: number, dim: number): number {
  // Four independent accumulators: the additions pipeline instead of waiting on one another
  // (about 2x faster in V8 than a single running sum at dim 784).
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < dim; i += 4) {
    const d0 = a[ao + i] - b[bo + i];
    const d1 = a[ao + i + 1] - b[bo + i + 1];
    const d2 = a[ao + i + 2] - b[bo + i + 2];
    const d3 = a[ao + i + 3] - b[bo + i + 3];
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; i < dim; i++) {
    const d = a[ao + i] - b[bo + i];
    s0 += d * d;
  }
  return s0 + s1 + (s2 + s3);
}

function normaliseRows(data: Float32Array | Float64Array, dim: number): void {
  for (let o = 0; o < data.length; o += dim) {
    let s = 0;
    for (let i = 0; i < dim; i++) s += data[o + i] * data[o + i];
    const n = Math.sqrt(s);
    if (n > 0) for (let i = 0; i < dim; i++) data[o + i] /= n;
  }
}

/**
 * Trains k centroids on `sample` (`Float32Array` of length n * dim, row-major).
 * Cost: O(maxIterations · n · k · dim) time (plus an O(n log n) sort per iteration when balanced),
 * O(n + k · dim) extra memory (a normalised copy of the sample for cosine).
 * @throws ConfigValidationError when n < k, k < 1, or balanceFactor is not a finite number >= 1.
 */
export function trainKMeans(sample: Float32Array, dim: number, options: KMeansOptions): KMeansResult {
  const n = sample.length / dim;
  const { k, metric } = options;
  const maxIterations = options.maxIterations ?? 25;
  if (!Number.isInteger(k) || k < 1) throw new ConfigValidationError(`k-means needs k >= 1, got ${k}`);
  if (n < k) throw new ConfigValidationError(`k-means needs at least ${k} training vectors, got ${n}`);
  const { balanceFactor } = options;
  if (balanceFactor !== undefined) validateBalanceFactor(balanceFactor, 'k-means balanceFactor');
  const capacity = balanceFactor === undefined ? undefined : balancedCapacity(n, k, balanceFactor);
  // With capacity >= n no cluster can overflow: the constrained step equals plain Lloyd.
  const balanced = capacity !== undefined && capacity < n; // implies k >= 2
  const points = metric === 'cosine' ? Float32Array.from(sample) : sample;
  if (metric === 'cosine') normaliseRows(points, dim);
  const rng = new SeededRandom(options.seed);

  // k-means++ seeding: each next centroid is drawn with probability proportional to D(x)^2.
  const centroids = new Float64Array(k * dim);
  const first = rng.nextInt(n);
  for (let i = 0; i < dim; i++) centroids[i] = points[first * dim + i];
  const nearest = new Float64Array(n).fill(Infinity);
  for (let c = 1; c < k; c++) {
    let total = 0;
    for (let p = 0; p < n; p++) {
      const d = sqDist(points, p * dim, centroids, (c - 1) * dim, dim);
      if (d < nearest[p]) nearest[p] = d;
      total += nearest[p];
    }
    let chosen = 0;
    if (total > 0) {
      let r = rng.next() * total;
      for (chosen = 0; chosen < n - 1; chosen++) {
        r -= nearest[chosen];
        if (r < 0) break;
      }
    } else {
      chosen = rng.nextInt(n); // all points coincide with centroids: any point will do
    }
    for (let i = 0; i < dim; i++) centroids[c * dim + i] = points[chosen * dim + i];
  }

  // Lloyd iterations.
  const assignment = new Int32Array(n).fill(-1);
  const dist = new Float64Array(n);
  const sums = new Float64Array(k * dim);
  const counts = new Int32Array(k);
  // Balanced mode only: work arrays of the constrained assignment step.
  const scratch: BalancedScratch | undefined = balanced
    ? {
        capacity,
        first: new Int32Array(n),
        second: new Int32Array(n),
        secondDist: new Float64Array(n),
        regret: new Float64Array(n),
        order: new Uint32Array(n),
        counts,
      }
    : undefined;
  let iterations = 0;
  for (let iter = 0; iter < maxIterations; iter++) {
    iterations = iter + 1;
    let changed = 0;
    if (scratch === undefined) {
      for (let p = 0; p < n; p++) {
        let best = 0;
        let bestD = Infinity;
        for (let c = 0; c < k; c++) {
          const d = sqDist(points, p * dim, centroids, c * dim, dim);
          if (d < bestD) {
            bestD = d;
            best = c;
          }
        }
        dist[p] = bestD;
        if (assignment[p] !== best) {
          assignment[p] = best;
          changed++;
        }
      }
    } else {
      changed = balancedAssignmentStep(points, dim, centroids, k, assignment, dist, scratch);
    }
    if (changed === 0 && iter > 0) break;
    sums.fill(0);
    counts.fill(0);
    for (let p = 0; p < n; p++) {
      const c = assignment[p];
      counts[c]++;
      const po = p * dim;
      const co = c * dim;
      for (let i = 0; i < dim; i++) sums[co + i] += points[po + i];
    }
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0) {
        // Empty cluster: move it to the point farthest from its centroid (deterministic).
        let far = 0;
        for (let p = 1; p < n; p++) if (dist[p] > dist[far]) far = p;
        for (let i = 0; i < dim; i++) centroids[c * dim + i] = points[far * dim + i];
        dist[far] = 0;
        continue;
      }
      for (let i = 0; i < dim; i++) centroids[c * dim + i] = sums[c * dim + i] / counts[c];
    }
    if (metric === 'cosine') normaliseRows(centroids, dim);
    options.onIteration?.(iterations, maxIterations);
  }
  const clusterSizes = Array.from({ length: k }, () => 0);
  for (let p = 0; p < n; p++) clusterSizes[assignment[p]]++;
  const result: KMeansResult = { centroids: Float32Array.from(centroids), iterations, clusterSizes };
  if (capacity !== undefined) result.capacity = capacity;
  return result;
}

/** Work arrays of {@link balancedAssignmentStep}, allocated once per training run. */
interface BalancedScratch {
  /** Maximum points per centroid; capacity * k >= n. */
  capacity: number;
  /** Nearest centroid per point (length n). */
  first: Int32Array;
  /** Second-nearest centroid per point (length n). */
  second: Int32Array;
  /** Squared distance to the second-nearest centroid (length n). */
  secondDist: Float64Array;
  /** second distance - nearest distance (length n). */
  regret: Float64Array;
  /** Placement order, a permutation of 0..n-1. */
  order: Uint32Array;
  /** Points placed per centroid so far (length k). */
  counts: Int32Array;
}

/**
 * One capacity-constrained assignment step (greedy regret, Martello & Toth 1981): every point
 * goes to its nearest centroid with fewer than `capacity` points, points taken in order of
 * decreasing regret, ties by lower point index; among centroids with room, ties go to the lower
 * centroid index. Requires k >= 2 and capacity * k >= n (so a centroid with room always exists).
 * Writes `assignment` (length n) and `dist` (squared distance to the assigned centroid) and
 * returns how many assignments changed. Time O(n·k·dim + n log n) plus O(k·dim) for each point
 * whose nearest and second-nearest centroids are both full.
 */
function balancedAssignmentStep(
  points: Float32Array,
  dim: number,
  centroids: Float64Array,
  k: number,
  assignment: Int32Array,
  dist: Float64Array,
  scratch: BalancedScratch,
): number {
  const { capacity, first, second, secondDist, regret, order, counts } = scratch;
  const n = assignment.length;
  for (let p = 0; p < n; p++) {
    let best = 0;
    let bestD = Infinity;
    let next = 0;
    let nextD = Infinity;
    const po = p * dim;
    for (let c = 0; c < k; c++) {
      const d = sqDist(points, po, centroids, c * dim, dim);
      if (d < bestD) {
        next = best;
        nextD = bestD;
        bestD = d;
        best = c;
      } else if (d < nextD) {
        nextD = d;
        next = c;
      }
    }
    first[p] = best;
    dist[p] = bestD;
    second[p] = next;
    secondDist[p] = nextD;
    regret[p] = nextD - bestD;
    order[p] = p;
  }
  order.sort((a, b) => regret[b] - regret[a] || a - b);
  counts.fill(0);
  let changed = 0;
  for (let i = 0; i < n; i++) {
    const p = order[i];
    let c = first[p];
    let d = dist[p];
    if (counts[c] >= capacity) {
      c = second[p];
      d = secondDist[p];
      if (counts[c] >= capacity) {
        // Both preferred centroids are full: nearest centroid with room (ties to lower index).
        c = -1;
        d = Infinity;
        const po = p * dim;
        for (let j = 0; j < k; j++) {
          if (counts[j] >= capacity) continue;
          const dj = sqDist(points, po, centroids, j * dim, dim);
          if (dj < d) {
            d = dj;
            c = j;
          }
        }
      }
    }
    counts[c]++;
    dist[p] = d;
    if (assignment[p] !== c) {
      assignment[p] = c;
      changed++;
    }
  }
  return changed;
}
