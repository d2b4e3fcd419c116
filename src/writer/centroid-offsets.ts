/**
 * Balanced CLUSTER shards as a pure function of the vector: per-centroid distance offsets fitted
 * on the training sample so that the rule "shard = argmin_c distance(x, c) + offset[c]" (the
 * routing of src/common/cluster-routing.ts) puts at most `capacity` sample points in any shard.
 * The writer assigns every record with that rule and queries probe shards in the same order, so
 * the assignment does not depend on the input order: a single-process build and the workers of a
 * distributed build (each reading all or any slice of the input) place every record alike.
 *
 * Why offsets: the capacity-constrained assignment problem (minimise the total distance with at
 * most `capacity` points per centroid) is a transportation problem; by LP duality its optimal
 * solution is "each point goes to argmin_c distance + price_c" for the dual prices of the
 * capacity constraints. For squared L2 those cells form a power diagram (Aurenhammer, Hoffmann &
 * Aronov, "Minkowski-type theorems and least-squares clustering", Algorithmica 20, 1998: the
 * least-squares assignment with prescribed cluster sizes is a power diagram).
 *
 * Algorithm: damped Jacobi dual ascent on the prices, the price update of the auction algorithm
 * for the transportation problem (Bertsekas & Castañon, "The auction algorithm for the
 * transportation problem", Annals of Operations Research 20, 1989) applied to all centroids at
 * once. Prices start at 0. Each round assigns every sample point to its cheapest centroid
 * (distance + price) and stops when no centroid holds more than `capacity`; otherwise each
 * over-full centroid with `e` excess members raises its price by half the e-th smallest margin of
 * its members (their next-best cost minus their current cost), and each under-full centroid with
 * a positive price (complementary slackness wants it at 0) lowers it by half the margin that
 * would attract its deficit of non-members, never below 0. Half steps keep neighbouring centroids
 * that update in the same round from overshooting; a tiny floor on each raise makes progress.
 * Rounds are bounded (`maxRounds`); the result reports the counts reached (on the sample; the whole
 * input follows the same cells, up to sampling noise).
 *
 * Cost: one pass of n·k metric distances (the T nearest candidates of each point kept, T =
 * min(k, 32)), then per round O(n·T) plus sorting margins; a point whose candidates all cost more
 * than the (T-th distance + smallest price) bound is re-scored against all k centroids (rare).
 * Memory: n·T (int32 + float64). Deterministic: fixed order, ties by lower centroid index.
 */
import type { CentroidRouter } from '../common/cluster-routing.ts';
import { ConfigValidationError } from '../common/errors.ts';

/** Candidate centroids kept per point (its nearest by metric distance). */
const MAX_CANDIDATES = 32;

/** Fraction of the computed price step applied per round (damping of the Jacobi updates). */
const STEP = 0.5;
/** Smallest raise, as a fraction of the sample's mean (second-nearest - nearest) distance gap: lets a group of over-full neighbours rise together. */
const FLOOR = 0.01;

/** Result of {@link fitCentroidOffsets}. */
export interface CentroidOffsets {
  /** One offset per centroid (>= 0, in the metric's distance units), for CentroidRouter. */
  offsets: Float64Array;
  /** Sample points per centroid under the fitted offsets. */
  counts: number[];
  /** Rounds run. */
  rounds: number;
}

/**
 * Fits offsets so that at most `capacity` of the `sample` rows go to any centroid of `router`
 * (whose own offsets, if any, are ignored).
 * @param sample `Float32Array` of length n * router.dim, row-major.
 * @param capacity maximum points per centroid; capacity * k >= n.
 * @param maxRounds bound on price rounds (default 500); when it is reached the counts may exceed
 *   `capacity` (see the returned counts).
 * @throws ConfigValidationError when capacity * k < n.
 */
export function fitCentroidOffsets(sample: Float32Array, router: CentroidRouter, capacity: number, maxRounds = 500): CentroidOffsets {
  const { dim } = router;
  const k = router.numCentroids;
  const n = Math.floor(sample.length / dim);
  if (!Number.isInteger(capacity) || capacity * k < n) {
    throw new ConfigValidationError(`balance capacity ${capacity} x ${k} shards cannot hold ${n} sample vectors`);
  }
  const t = Math.min(k, MAX_CANDIDATES);
  const candIdx = new Int32Array(n * t);
  const candDist = new Float64Array(n * t);
  // Every candidate list is sorted by distance, ties by lower index; beyond it (t < k) every
  // centroid is at least candDist[p * t + t - 1] away.
  const order = Array.from({ length: k }, (_, c) => c);
  let gapSum = 0;
  for (let p = 0; p < n; p++) {
    const d = router.metricDistances(sample, p);
    order.sort((a, b) => d[a] - d[b] || a - b);
    for (let j = 0; j < t; j++) {
      candIdx[p * t + j] = order[j];
      candDist[p * t + j] = d[order[j]];
    }
    if (t > 1) gapSum += candDist[p * t + 1] - candDist[p * t];
  }
  // Floor of a raise: a fraction of the mean nearest / second-nearest gap.
  const floor = Math.max(Number.MIN_VALUE, (FLOOR * gapSum) / Math.max(1, n));
  const price = new Float64Array(k);
  const assignment = new Int32Array(n);
  const cost = new Float64Array(n); // distance + price of the assigned centroid
  const nextCost = new Float64Array(n); // distance + price of the second-cheapest centroid
  const counts = new Int32Array(k);

  /** Scores point p against prices: its cheapest and second-cheapest cost (exact). */
  const score = (p: number): void => {
    let c1 = -1;
    let v1 = Infinity;
    let v2 = Infinity;
    for (let j = 0; j < t; j++) {
      const c = candIdx[p * t + j];
      const v = candDist[p * t + j] + price[c];
      if (v < v1 || (v === v1 && c < c1)) {
        v2 = v1;
        v1 = v;
        c1 = c;
      } else if (v < v2) {
        v2 = v;
      }
    }
    if (t < k && v2 >= candDist[p * t + t - 1] + minPrice) {
      // A centroid beyond the candidates may be cheaper: score against all of them.
      const d = router.metricDistances(sample, p);
      c1 = -1;
      v1 = Infinity;
      v2 = Infinity;
      for (let c = 0; c < k; c++) {
        const v = d[c] + price[c];
        if (v < v1) {
          v2 = v1;
          v1 = v;
          c1 = c;
        } else if (v < v2) {
          v2 = v;
        }
      }
    }
    assignment[p] = c1;
    cost[p] = v1;
    nextCost[p] = v2;
  };

  let minPrice = 0;
  let rounds = 0;
  const over: number[][] = Array.from({ length: k }, () => []);
  const under: number[][] = Array.from({ length: k }, () => []);
  for (;;) {
    counts.fill(0);
    for (let p = 0; p < n; p++) {
      score(p);
      counts[assignment[p]]++;
    }
    let maxCount = 0;
    for (let c = 0; c < k; c++) maxCount = Math.max(maxCount, counts[c]);
    if (maxCount <= capacity || rounds >= maxRounds || k === 1) break;
    rounds++;
    for (let c = 0; c < k; c++) {
      over[c].length = 0;
      under[c].length = 0;
    }
    for (let p = 0; p < n; p++) {
      const own = assignment[p];
      if (counts[own] > capacity) over[own].push(nextCost[p] - cost[p]);
      for (let j = 0; j < t; j++) {
        const c = candIdx[p * t + j];
        if (c !== own && counts[c] < capacity && price[c] > 0) under[c].push(candDist[p * t + j] + price[c] - cost[p]);
      }
    }
    for (let c = 0; c < k; c++) {
      if (counts[c] > capacity) {
        const margins = over[c].sort((a, b) => a - b);
        price[c] += STEP * margins[counts[c] - capacity - 1] + floor;
      } else if (counts[c] < capacity && price[c] > 0) {
        const margins = under[c].sort((a, b) => a - b);
        const want = Math.min(capacity - counts[c], margins.length);
        const step = want === 0 ? price[c] : STEP * margins[want - 1];
        price[c] = Math.max(0, price[c] - step);
      }
    }
    minPrice = Infinity;
    for (let c = 0; c < k; c++) minPrice = Math.min(minPrice, price[c]);
  }
  return { offsets: price, counts: Array.from(counts), rounds };
}
