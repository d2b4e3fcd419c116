/**
 * Tests of CLUSTER routing (src/common/cluster-routing.ts) against a naive reference: compute
 * every centroid distance, sort by (distance, index), take the first num_probes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { CentroidRouter } from '../src/common/cluster-routing.ts';
import { distance, type Metric } from '../src/common/distance.ts';
import { ConfigValidationError } from '../src/common/errors.ts';
import { SeededRandom } from '../src/writer/seeded-random.ts';

const METRICS: readonly Metric[] = ['l2', 'cosine', 'dot'];

function randomMatrix(rows: number, dim: number, rng: SeededRandom): Float32Array {
  const out = new Float32Array(rows * dim);
  for (let i = 0; i < out.length; i++) out[i] = rng.next() * 2 - 1;
  return out;
}

/** Naive reference: all distances, stable sort by (distance, index), first `probes`. */
function naiveNearest(
  metric: Metric,
  centroids: Float32Array,
  vectors: Float32Array,
  row: number,
  dim: number,
  probes: number,
): number[] {
  const k = centroids.length / dim;
  const scored: Array<{ c: number; d: number }> = [];
  for (let c = 0; c < k; c++) scored.push({ c, d: distance(metric, vectors, row, centroids, c, dim) });
  scored.sort((a, b) => (a.d < b.d ? -1 : a.d > b.d ? 1 : a.c - b.c));
  return scored.slice(0, probes).map((s) => s.c);
}

describe('CentroidRouter', () => {
  test('nearest() equals the naive reference for random queries and every num_probes, all metrics', () => {
    const rng = new SeededRandom(2024);
    const dim = 7;
    const k = 13;
    for (const metric of METRICS) {
      const centroids = randomMatrix(k, dim, rng);
      const router = new CentroidRouter(centroids, dim, metric);
      assert.equal(router.numCentroids, k);
      const queries = randomMatrix(60, dim, rng);
      for (let q = 0; q < 60; q++) {
        for (let probes = 1; probes <= k; probes++) {
          const got = router.nearest(queries, q, probes);
          const want = naiveNearest(metric, centroids, queries, q, dim, probes);
          assert.deepEqual(got, want, `${metric} query ${q} probes ${probes}`);
        }
      }
    }
  });

  test('nearest() uses the metric: l2, cosine and dot rank differently', () => {
    const dim = 2;
    // c0 is long and aligned with the query, c1 is short and close to the query point.
    const centroids = Float32Array.from([10, 0, 0.9, 0.3]);
    const query = Float32Array.from([1, 0]);
    // l2: |q-c0|^2 = 81, |q-c1|^2 = 0.01 + 0.09 -> c1 first.
    assert.deepEqual(new CentroidRouter(centroids, dim, 'l2').nearest(query, 0, 2), [1, 0]);
    // cosine: c0 is exactly aligned (distance 0) -> c0 first.
    assert.deepEqual(new CentroidRouter(centroids, dim, 'cosine').nearest(query, 0, 2), [0, 1]);
    // dot: -10 vs -0.9 -> c0 first.
    assert.deepEqual(new CentroidRouter(centroids, dim, 'dot').nearest(query, 0, 2), [0, 1]);
  });

  test('ties go to the lower centroid index (exact duplicate centroids)', () => {
    const rng = new SeededRandom(5);
    const dim = 4;
    const base = randomMatrix(3, dim, rng);
    // Rows: A B A C B A  -> duplicates at (0,2,5) and (1,4).
    const order = [0, 1, 0, 2, 1, 0];
    const centroids = new Float32Array(order.length * dim);
    order.forEach((src, i) => centroids.set(base.subarray(src * dim, (src + 1) * dim), i * dim));
    for (const metric of METRICS) {
      const router = new CentroidRouter(centroids, dim, metric);
      const queries = randomMatrix(40, dim, rng);
      // Queries that are exactly the duplicated centroids, too.
      const all = new Float32Array(queries.length + base.length);
      all.set(queries);
      all.set(base, queries.length);
      const rows = all.length / dim;
      for (let q = 0; q < rows; q++) {
        for (let probes = 1; probes <= order.length; probes++) {
          const got = router.nearest(all, q, probes);
          assert.deepEqual(got, naiveNearest(metric, centroids, all, q, dim, probes), `${metric} q ${q} p ${probes}`);
          // Within a group of equal centroids, indexes appear in ascending order.
          for (const group of [[0, 2, 5], [1, 4]]) {
            const positions = group.map((c) => got.indexOf(c)).filter((p) => p >= 0);
            assert.deepEqual(positions, [...positions].sort((a, b) => a - b), `${metric} q ${q}: ${got.join(',')}`);
            // A later duplicate is never probed without the earlier ones.
            const present = group.map((c) => got.includes(c));
            for (let i = 1; i < present.length; i++) if (present[i]) assert.ok(present[i - 1]);
          }
        }
        const a = router.assign(all, q);
        assert.ok(a === 0 || a === 1 || a === 3, `${metric}: assign returned duplicate index ${a}`);
      }
    }
  });

  test('all centroids identical: nearest is 0..p-1 and assign is 0', () => {
    const dim = 3;
    const centroids = new Float32Array(5 * dim).fill(0.25);
    const query = Float32Array.from([0.3, -1, 2]);
    for (const metric of METRICS) {
      const router = new CentroidRouter(centroids, dim, metric);
      assert.equal(router.assign(query, 0), 0);
      for (let p = 1; p <= 5; p++) assert.deepEqual(router.nearest(query, 0, p), Array.from({ length: p }, (_, i) => i));
    }
  });

  test('assign() equals nearest(..., 1)[0] and the naive argmin', () => {
    const rng = new SeededRandom(77);
    const dim = 5;
    for (const metric of METRICS) {
      const centroids = randomMatrix(9, dim, rng);
      const router = new CentroidRouter(centroids, dim, metric);
      const vectors = randomMatrix(200, dim, rng);
      for (let r = 0; r < 200; r++) {
        const a = router.assign(vectors, r);
        assert.equal(a, router.nearest(vectors, r, 1)[0]);
        assert.equal(a, naiveNearest(metric, centroids, vectors, r, dim, 1)[0]);
        // The vector's own shard is the first one its query probes, for any num_probes.
        assert.equal(router.nearest(vectors, r, 4)[0], a);
      }
    }
  });

  test('num_probes above k is clamped to k; below 1 is clamped to 1', () => {
    const rng = new SeededRandom(3);
    const dim = 4;
    const k = 6;
    const centroids = randomMatrix(k, dim, rng);
    const router = new CentroidRouter(centroids, dim, 'l2');
    const q = randomMatrix(1, dim, rng);
    const full = naiveNearest('l2', centroids, q, 0, dim, k);
    for (const p of [k, k + 1, 100]) assert.deepEqual(router.nearest(q, 0, p), full);
    assert.deepEqual([...full].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(router.nearest(q, 0, 0), [full[0]]);
    assert.deepEqual(router.nearest(q, 0, -3), [full[0]]);
  });

  test('malformed centroid arrays throw ConfigValidationError', () => {
    assert.throws(() => new CentroidRouter(new Float32Array(0), 4, 'l2'), ConfigValidationError);
    assert.throws(() => new CentroidRouter(new Float32Array(10), 4, 'l2'), ConfigValidationError);
    assert.throws(() => new CentroidRouter(new Float32Array(8), 0, 'l2'), ConfigValidationError);
    assert.throws(() => new CentroidRouter(new Float32Array(8), -2, 'cosine'), ConfigValidationError);
    assert.throws(
      () => new CentroidRouter(new Float32Array(7), 3, 'dot'),
      (err: unknown) => err instanceof ConfigValidationError && /7/.test(err.message) && /3/.test(err.message),
    );
    // Valid shapes are accepted.
    assert.equal(new CentroidRouter(new Float32Array(12), 4, 'l2').numCentroids, 3);
    assert.equal(new CentroidRouter(new Float32Array(4), 4, 'l2').numCentroids, 1);
  });
});
