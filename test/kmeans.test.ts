/**
 * Tests of the seeded k-means trainer (src/writer/kmeans.ts) and its PRNG
 * (src/writer/seeded-random.ts): determinism, recovery of well-separated blobs, cosine
 * normalisation, degenerate samples and argument validation; balanced (capacity-constrained)
 * training on synthetic data (real-data figures are in balanced-assignment.test.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { ConfigValidationError } from '../src/common/errors.ts';
import type { Metric } from '../src/common/distance.ts';
import { trainKMeans } from '../src/writer/kmeans.ts';
import { SeededRandom } from '../src/writer/seeded-random.ts';

/** A standard normal deviate (Box-Muller) from the seeded generator. */
function gaussian(rng: SeededRandom): number {
  const u = 1 - rng.next(); // (0, 1]
  const v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** `n` points of dimension `dim` with uniform coordinates in [-1, 1). */
function uniformSample(n: number, dim: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  const out = new Float32Array(n * dim);
  for (let i = 0; i < out.length; i++) out[i] = rng.next() * 2 - 1;
  return out;
}

interface Blobs {
  sample: Float32Array;
  centres: Float64Array;
  numBlobs: number;
}

/**
 * `numBlobs` Gaussian blobs (std `sigma`) in `dim` dimensions. Blob b's centre is `spread` along
 * axis b (so any two centres are spread * sqrt(2) apart); `perBlob` points each, interleaved.
 */
function makeBlobs(numBlobs: number, dim: number, perBlob: number, spread: number, sigma: number, seed: number): Blobs {
  const rng = new SeededRandom(seed);
  const centres = new Float64Array(numBlobs * dim);
  for (let b = 0; b < numBlobs; b++) centres[b * dim + b] = spread;
  const sample = new Float32Array(numBlobs * perBlob * dim);
  for (let p = 0; p < perBlob; p++) {
    for (let b = 0; b < numBlobs; b++) {
      const row = p * numBlobs + b;
      for (let i = 0; i < dim; i++) sample[row * dim + i] = centres[b * dim + i] + sigma * gaussian(rng);
    }
  }
  return { sample, centres, numBlobs };
}

function euclid(a: Float32Array, ao: number, b: Float64Array | Float32Array, bo: number, dim: number): number {
  let s = 0;
  for (let i = 0; i < dim; i++) {
    const d = a[ao + i] - b[bo + i];
    s += d * d;
  }
  return Math.sqrt(s);
}

function assertBitIdentical(a: Float32Array, b: Float32Array): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    // Object.is distinguishes -0/+0 and treats NaN as equal to itself: a bit-level comparison.
    assert.ok(Object.is(a[i], b[i]), `element ${i} differs: ${a[i]} vs ${b[i]}`);
  }
}

describe('SeededRandom', () => {
  test('the same seed gives the same sequence, a different seed a different one', () => {
    const a = new SeededRandom(12345);
    const b = new SeededRandom(12345);
    const c = new SeededRandom(12346);
    const seqA = Array.from({ length: 100 }, () => a.next());
    const seqB = Array.from({ length: 100 }, () => b.next());
    const seqC = Array.from({ length: 100 }, () => c.next());
    assert.deepEqual(seqA, seqB);
    assert.notDeepEqual(seqA, seqC);
  });

  test('next() is in [0, 1) and roughly uniform; nextInt(n) is an integer in [0, n)', () => {
    const rng = new SeededRandom(7);
    const buckets = new Array<number>(10).fill(0);
    const draws = 20_000;
    for (let i = 0; i < draws; i++) {
      const x = rng.next();
      assert.ok(x >= 0 && x < 1, `next() returned ${x}`);
      buckets[Math.floor(x * 10)]++;
    }
    for (const count of buckets) assert.ok(Math.abs(count - draws / 10) < draws / 10 * 0.1, `bucket count ${count}`);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const v = rng.nextInt(5);
      assert.ok(Number.isInteger(v) && v >= 0 && v < 5, `nextInt(5) returned ${v}`);
      seen.add(v);
    }
    assert.equal(seen.size, 5);
  });

  test('only the low 32 bits of the seed are used', () => {
    const a = new SeededRandom(5);
    const b = new SeededRandom(5 + 2 ** 32);
    for (let i = 0; i < 10; i++) assert.equal(a.next(), b.next());
  });
});

describe('trainKMeans', () => {
  test('the same sample and seed give bit-identical centroids; another seed gives different ones', () => {
    const dim = 6;
    const sample = uniformSample(500, dim, 99);
    for (const metric of ['l2', 'cosine', 'dot'] as const) {
      const a = trainKMeans(sample, dim, { k: 8, metric, seed: 42 });
      const b = trainKMeans(Float32Array.from(sample), dim, { k: 8, metric, seed: 42 });
      const c = trainKMeans(sample, dim, { k: 8, metric, seed: 43 });
      assert.equal(a.centroids.length, 8 * dim);
      assertBitIdentical(a.centroids, b.centroids);
      assert.equal(a.iterations, b.iterations);
      assert.deepEqual(a.clusterSizes, b.clusterSizes);
      let differs = false;
      for (let i = 0; i < a.centroids.length; i++) if (!Object.is(a.centroids[i], c.centroids[i])) differs = true;
      assert.ok(differs, `${metric}: seed 43 gave the same centroids as seed 42`);
    }
  });

  test('does not modify the caller sample (cosine normalises a copy)', () => {
    const dim = 4;
    const sample = uniformSample(50, dim, 3);
    const before = Float32Array.from(sample);
    trainKMeans(sample, dim, { k: 3, metric: 'cosine', seed: 1 });
    trainKMeans(sample, dim, { k: 3, metric: 'l2', seed: 1 });
    assertBitIdentical(sample, before);
  });

  test('recovers well-separated Gaussian blobs: one centroid near each true centre', () => {
    const dim = 8;
    const numBlobs = 4;
    const perBlob = 150;
    const sigma = 0.3;
    for (const seed of [1, 2, 3, 4, 5]) {
      const blobs = makeBlobs(numBlobs, dim, perBlob, 20, sigma, 1000 + seed);
      const result = trainKMeans(blobs.sample, dim, { k: numBlobs, metric: 'l2', seed });
      const owner: number[] = [];
      for (let c = 0; c < numBlobs; c++) {
        let best = -1;
        let bestD = Infinity;
        for (let b = 0; b < numBlobs; b++) {
          const d = euclid(result.centroids, c * dim, blobs.centres, b * dim, dim);
          if (d < bestD) {
            bestD = d;
            best = b;
          }
        }
        // The mean of 150 points with std 0.3 per axis lies within ~0.3/sqrt(150)*sqrt(8) ~ 0.07.
        assert.ok(bestD < 0.25, `seed ${seed}: centroid ${c} is ${bestD} from the nearest blob centre`);
        owner.push(best);
      }
      assert.deepEqual([...owner].sort(), [0, 1, 2, 3], `seed ${seed}: blobs per centroid ${owner.join(',')}`);
      // Every blob's points end up in one cluster each.
      assert.deepEqual([...result.clusterSizes].sort((x, y) => x - y), [perBlob, perBlob, perBlob, perBlob]);
      assert.equal(result.clusterSizes.reduce((s, x) => s + x, 0), numBlobs * perBlob);
    }
  });

  test('centroids are the means of their assigned points at convergence (l2)', () => {
    const dim = 3;
    const n = 300;
    const sample = uniformSample(n, dim, 17);
    const k = 5;
    const result = trainKMeans(sample, dim, { k, metric: 'l2', seed: 9, maxIterations: 200 });
    assert.ok(result.iterations < 200, 'did not converge within 200 iterations');
    // Recompute assignment independently and compare the means with the returned centroids.
    const sums = new Float64Array(k * dim);
    const counts = new Array<number>(k).fill(0);
    for (let p = 0; p < n; p++) {
      let best = 0;
      let bestD = Infinity;
      for (let c = 0; c < k; c++) {
        const d = euclid(sample, p * dim, result.centroids, c * dim, dim);
        if (d < bestD) {
          bestD = d;
          best = c;
        }
      }
      counts[best]++;
      for (let i = 0; i < dim; i++) sums[best * dim + i] += sample[p * dim + i];
    }
    assert.deepEqual(result.clusterSizes, counts);
    for (let c = 0; c < k; c++) {
      for (let i = 0; i < dim; i++) {
        const mean = sums[c * dim + i] / counts[c];
        assert.ok(Math.abs(mean - result.centroids[c * dim + i]) < 1e-5, `centroid ${c} axis ${i}`);
      }
    }
  });

  test('n < k and k < 1 throw ConfigValidationError', () => {
    const dim = 4;
    const sample = uniformSample(5, dim, 1);
    assert.throws(() => trainKMeans(sample, dim, { k: 6, metric: 'l2', seed: 1 }), ConfigValidationError);
    assert.throws(() => trainKMeans(sample, dim, { k: 0, metric: 'l2', seed: 1 }), ConfigValidationError);
    assert.throws(() => trainKMeans(sample, dim, { k: 2.5, metric: 'l2', seed: 1 }), ConfigValidationError);
    // n == k is fine.
    const ok = trainKMeans(sample, dim, { k: 5, metric: 'l2', seed: 1 });
    assert.equal(ok.centroids.length, 5 * dim);
  });

  test('cosine metric gives unit-norm centroids', () => {
    const dim = 8;
    // Points at varying scales, so unnormalised means would not be unit length.
    const rng = new SeededRandom(21);
    const n = 400;
    const sample = new Float32Array(n * dim);
    for (let p = 0; p < n; p++) {
      const scale = 0.1 + rng.next() * 50;
      for (let i = 0; i < dim; i++) sample[p * dim + i] = scale * (rng.next() * 2 - 1);
    }
    const k = 6;
    const result = trainKMeans(sample, dim, { k, metric: 'cosine', seed: 5 });
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let i = 0; i < dim; i++) s += result.centroids[c * dim + i] ** 2;
      assert.ok(Math.abs(Math.sqrt(s) - 1) < 1e-5, `centroid ${c} has norm ${Math.sqrt(s)}`);
    }
  });

  test('many identical points and k above the number of distinct points: k finite centroids', () => {
    const dim = 4;
    const distinct = [
      [1, 2, 3, 4],
      [-1, 0, 0, 5],
      [0, 0, 0, 0],
    ];
    const n = 90;
    const sample = new Float32Array(n * dim);
    for (let p = 0; p < n; p++) sample.set(distinct[p % distinct.length], p * dim);
    for (const metric of ['l2', 'cosine', 'dot'] as const satisfies readonly Metric[]) {
      for (const k of [3, 5, 10]) {
        const result = trainKMeans(sample, dim, { k, metric, seed: 11 });
        assert.equal(result.centroids.length, k * dim, `${metric} k=${k}`);
        for (let i = 0; i < result.centroids.length; i++) {
          assert.ok(Number.isFinite(result.centroids[i]), `${metric} k=${k}: element ${i} is ${result.centroids[i]}`);
        }
        assert.equal(result.clusterSizes.length, k);
        assert.equal(result.clusterSizes.reduce((s, x) => s + x, 0), n);
      }
    }
    // All points identical.
    const same = new Float32Array(20 * dim).fill(0.5);
    const r = trainKMeans(same, dim, { k: 4, metric: 'l2', seed: 2 });
    assert.equal(r.centroids.length, 4 * dim);
    for (const v of r.centroids) assert.equal(v, 0.5);
  });

  test('onIteration is called once per completed iteration with the maximum', () => {
    const dim = 2;
    const sample = uniformSample(100, dim, 8);
    const calls: Array<[number, number]> = [];
    const result = trainKMeans(sample, dim, { k: 4, metric: 'l2', seed: 3, maxIterations: 7, onIteration: (i, m) => calls.push([i, m]) });
    assert.ok(calls.length >= 1 && calls.length <= 7);
    calls.forEach(([i, m], idx) => {
      assert.equal(i, idx + 1);
      assert.equal(m, 7);
    });
    assert.ok(result.iterations >= calls.length && result.iterations <= 7);
  });
});

/** Sample of blobs of unequal sizes: `sizes[b]` points around centre b (spread 10 along axis b). */
function unequalBlobs(sizes: readonly number[], dim: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  const n = sizes.reduce((s, x) => s + x, 0);
  const out = new Float32Array(n * dim);
  let row = 0;
  sizes.forEach((size, b) => {
    for (let p = 0; p < size; p++, row++) {
      for (let i = 0; i < dim; i++) out[row * dim + i] = (i === b ? 10 : 0) + gaussian(rng);
    }
  });
  return out;
}

describe('trainKMeans with balanceFactor', () => {
  test('no cluster exceeds ceil(balanceFactor * n / k) on skewed data, where plain k-means does', () => {
    const dim = 6;
    const sample = unequalBlobs([600, 100, 60, 40], dim, 5);
    const n = 800;
    const k = 4;
    // Seed 5: k-means++ finds the four blobs, so plain sizes are the skewed 600/100/60/40.
    const plain = trainKMeans(sample, dim, { k, metric: 'l2', seed: 5 });
    assert.equal(plain.capacity, undefined);
    assert.ok(Math.max(...plain.clusterSizes) > 1.25 * (n / k), `plain sizes ${plain.clusterSizes.join(',')}`);
    for (const balanceFactor of [1, 1.1, 1.25]) {
      for (const metric of ['l2', 'cosine', 'dot'] as const) {
        const r = trainKMeans(sample, dim, { k, metric, seed: 5, balanceFactor });
        const cap = Math.ceil((balanceFactor * n) / k);
        assert.equal(r.capacity, cap);
        assert.equal(r.clusterSizes.reduce((s, x) => s + x, 0), n);
        assert.ok(Math.max(...r.clusterSizes) <= cap, `${metric} f=${balanceFactor}: sizes ${r.clusterSizes.join(',')} cap ${cap}`);
        for (const v of r.centroids) assert.ok(Number.isFinite(v));
      }
    }
  });

  test('balanced training is deterministic (bit-identical centroids for the same seed)', () => {
    const dim = 5;
    const sample = unequalBlobs([300, 80, 20], dim, 8);
    const a = trainKMeans(sample, dim, { k: 5, metric: 'l2', seed: 4, balanceFactor: 1.05 });
    const b = trainKMeans(Float32Array.from(sample), dim, { k: 5, metric: 'l2', seed: 4, balanceFactor: 1.05 });
    assertBitIdentical(a.centroids, b.centroids);
    assert.deepEqual(a.clusterSizes, b.clusterSizes);
    assert.equal(a.iterations, b.iterations);
  });

  test('a factor so large that the cap never binds gives exactly the plain result', () => {
    const dim = 4;
    const sample = uniformSample(400, dim, 31);
    for (const metric of ['l2', 'cosine'] as const) {
      const plain = trainKMeans(sample, dim, { k: 6, metric, seed: 2 });
      const loose = trainKMeans(sample, dim, { k: 6, metric, seed: 2, balanceFactor: 100 });
      assertBitIdentical(plain.centroids, loose.centroids);
      assert.deepEqual(plain.clusterSizes, loose.clusterSizes);
      // A cap that binds rarely still respects it; with factor 3 it may or may not bind.
      const mid = trainKMeans(sample, dim, { k: 6, metric, seed: 2, balanceFactor: 3 });
      assert.ok(Math.max(...mid.clusterSizes) <= Math.ceil((3 * 400) / 6));
    }
  });

  test('factor 1 on identical points fills the clusters evenly (n divisible by k: all equal)', () => {
    const dim = 3;
    const same = new Float32Array(40 * dim).fill(2);
    const r = trainKMeans(same, dim, { k: 4, metric: 'l2', seed: 1, balanceFactor: 1 });
    assert.deepEqual(r.clusterSizes, [10, 10, 10, 10]);
    const odd = trainKMeans(new Float32Array(41 * dim).fill(2), dim, { k: 4, metric: 'l2', seed: 1, balanceFactor: 1 });
    assert.ok(Math.max(...odd.clusterSizes) <= 11);
    assert.equal(odd.clusterSizes.reduce((s, x) => s + x, 0), 41);
  });

  test('k = 1 with a balance factor is plain k-means (the cap cannot bind)', () => {
    const dim = 3;
    const sample = uniformSample(50, dim, 4);
    const r = trainKMeans(sample, dim, { k: 1, metric: 'l2', seed: 1, balanceFactor: 1 });
    assert.deepEqual(r.clusterSizes, [50]);
    assert.equal(r.capacity, 50);
  });

  test('invalid balance factors throw ConfigValidationError', () => {
    const dim = 2;
    const sample = uniformSample(20, dim, 1);
    for (const balanceFactor of [0.99, 0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(
        () => trainKMeans(sample, dim, { k: 2, metric: 'l2', seed: 1, balanceFactor }),
        ConfigValidationError,
        `balanceFactor ${balanceFactor}`,
      );
    }
  });
});
