/**
 * Seeded k-means for CLUSTER sharding: k-means++ seeding followed by Lloyd iterations, over an
 * in-memory training sample.
 *
 * Sources: Arthur & Vassilvitskii, "k-means++: The Advantages of Careful Seeding", SODA 2007;
 * Lloyd, "Least squares quantization in PCM", IEEE Trans. Inf. Theory 1982. For the cosine metric
 * the vectors and centroids are L2-normalised (spherical k-means, Dhillon & Modha 2001).
 *
 * Determinism: the same sample, k, metric and seed give bit-identical centroids (one seeded PRNG,
 * fixed iteration order, ties to the lower index).
 */
import type { Metric } from '../common/distance.ts';
import { ConfigValidationError } from '../common/errors.ts';
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
}

/** Trained centroids. */
export interface KMeansResult {
  /** `Float32Array` of length k * dim, row-major. */
  centroids: Float32Array;
  /** Lloyd iterations run. */
  iterations: number;
  /** Training sample points per centroid. */
  clusterSizes: number[];
}

function sqDist(a: Float32Array, ao: number, b: Float32Array | Float64Array, bo: number, dim: number): number {
  let s = 0;
  for (let i = 0; i < dim; i++) {
    const d = a[ao + i] - b[bo + i];
    s += d * d;
  }
  return s;
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
 * @throws ConfigValidationError when n < k or k < 1.
 */
export function trainKMeans(sample: Float32Array, dim: number, options: KMeansOptions): KMeansResult {
  const n = sample.length / dim;
  const { k, metric } = options;
  const maxIterations = options.maxIterations ?? 25;
  if (!Number.isInteger(k) || k < 1) throw new ConfigValidationError(`k-means needs k >= 1, got ${k}`);
  if (n < k) throw new ConfigValidationError(`k-means needs at least ${k} training vectors, got ${n}`);
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
  let iterations = 0;
  for (let iter = 0; iter < maxIterations; iter++) {
    iterations = iter + 1;
    let changed = 0;
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
  return { centroids: Float32Array.from(centroids), iterations, clusterSizes };
}
