/**
 * Tests of balanced CLUSTER sharding on real data (Fashion-MNIST t10k, 784-dim raw pixels):
 * capacity-constrained k-means training (src/writer/kmeans.ts, `balanceFactor`) and the streaming
 * capped assignment (src/writer/balanced-assignment.ts, CapacityAssigner).
 *
 * Data: records 0..9799 are the indexed vectors (streamed with openIdxSource, as the writer does),
 * records 9800..9999 are 200 held-out queries. k = 16, training sample = every 2nd indexed vector.
 * Printed (not asserted): max/mean cluster sizes, the fraction of vectors placed in a non-nearest
 * shard, and routing recall@10 — the fraction of each query's exact top-10 (brute-force squared
 * L2 over all indexed vectors) that lies in the num_probes nearest shards — for plain vs balanced.
 * Asserted: only robust properties (caps hold, everything assigned, determinism, ordering).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { CentroidRouter } from '../src/common/cluster-routing.ts';
import { squaredL2 } from '../src/common/distance.ts';
import { ConfigValidationError } from '../src/common/errors.ts';
import { CapacityAssigner, balancedCapacity } from '../src/writer/balanced-assignment.ts';
import { openIdxSource } from '../src/writer/input/idx-source.ts';
import { trainKMeans, type KMeansResult } from '../src/writer/kmeans.ts';
import { FASHION_IMAGES } from './helpers/fixtures.ts';

const K = 16;
const SEED = 7;
const BALANCE = 1.1;
const NUM_QUERIES = 200;
const TOP = 10;

interface Fixture {
  dim: number;
  /** Indexed vectors, `Float32Array` of length n * dim. */
  base: Float32Array;
  n: number;
  /** Held-out queries, `Float32Array` of length NUM_QUERIES * dim. */
  queries: Float32Array;
  /** Training sample (every 2nd base row), `Float32Array` of length sampleRows * dim. */
  sample: Float32Array;
  sampleRows: number;
  /** Exact top-10 base rows per query (squared L2), best first. */
  truth: number[][];
  plain: KMeansResult;
  balanced: KMeansResult;
}

let fx: Fixture;

/** Streams every base vector through `assign` in input order (as the writer's second pass). */
async function streamAssign(assign: (vector: Float32Array) => number): Promise<Int32Array> {
  const source = await openIdxSource({ imagesPath: FASHION_IMAGES, limit: fx.n });
  const out = new Int32Array(fx.n);
  let row = 0;
  for await (const record of source.records()) out[row++] = assign(record.vector);
  assert.equal(row, fx.n);
  return out;
}

/** The `top` nearest base rows to query q by squared L2, best first (ties by lower row). */
function exactTop(q: number): number[] {
  const rows: number[] = [];
  const dists: number[] = [];
  for (let r = 0; r < fx.n; r++) {
    const d = squaredL2(fx.queries, q, fx.base, r, fx.dim);
    if (rows.length === TOP && d >= dists[TOP - 1]) continue;
    let i = rows.length === TOP ? TOP - 1 : rows.length;
    while (i > 0 && dists[i - 1] > d) {
      if (i < TOP) {
        rows[i] = rows[i - 1];
        dists[i] = dists[i - 1];
      }
      i--;
    }
    rows[i] = r;
    dists[i] = d;
    rows.length = Math.min(rows.length, TOP);
    dists.length = rows.length;
  }
  return rows;
}

/** Mean over the queries of |exact top-10 ∩ vectors of the numProbes nearest shards| / 10. */
function routingRecall(router: CentroidRouter, shardOf: Int32Array, numProbes: number): number {
  let total = 0;
  for (let q = 0; q < NUM_QUERIES; q++) {
    const probed = new Set(router.nearest(fx.queries, q, numProbes));
    let found = 0;
    for (const r of fx.truth[q]) if (probed.has(shardOf[r])) found++;
    total += found / TOP;
  }
  return total / NUM_QUERIES;
}

function maxOverMean(sizes: ArrayLike<number>): number {
  const arr = Array.from(sizes);
  const mean = arr.reduce((s, x) => s + x, 0) / arr.length;
  return Math.max(...arr) / mean;
}

function fmt(x: number): string {
  return x.toFixed(3);
}

before(async () => {
  const source = await openIdxSource({ imagesPath: FASHION_IMAGES });
  const { dim } = source;
  const total = source.count ?? 0;
  assert.ok(dim !== undefined);
  assert.equal(total, 10_000);
  const all = new Float32Array(total * dim);
  let row = 0;
  for await (const record of source.records()) all.set(record.vector, row++ * dim);
  const n = total - NUM_QUERIES;
  const base = all.subarray(0, n * dim);
  const queries = all.subarray(n * dim);
  const sampleRows = Math.ceil(n / 2);
  const sample = new Float32Array(sampleRows * dim);
  for (let s = 0; s < sampleRows; s++) sample.set(base.subarray(2 * s * dim, (2 * s + 1) * dim), s * dim);
  fx = { dim, base, n, queries, sample, sampleRows, truth: [], plain: undefined!, balanced: undefined! };
  fx.truth = Array.from({ length: NUM_QUERIES }, (_, q) => exactTop(q));
  let t0 = performance.now();
  fx.plain = trainKMeans(sample, dim, { k: K, metric: 'l2', seed: SEED });
  const plainMs = performance.now() - t0;
  t0 = performance.now();
  fx.balanced = trainKMeans(sample, dim, { k: K, metric: 'l2', seed: SEED, balanceFactor: BALANCE });
  const balancedMs = performance.now() - t0;
  console.log(
    `[balanced] training on ${sampleRows}x${dim}, k=${K}: plain ${plainMs.toFixed(0)} ms (${fx.plain.iterations} it), ` +
      `balanced(${BALANCE}) ${balancedMs.toFixed(0)} ms (${fx.balanced.iterations} it)`,
  );
});

describe('balanced k-means training on Fashion-MNIST', () => {
  test('balanced max/mean on the sample <= cap/mean (~balanceFactor); plain is visibly worse', () => {
    const cap = balancedCapacity(fx.sampleRows, K, BALANCE);
    const mean = fx.sampleRows / K;
    const plainRatio = maxOverMean(fx.plain.clusterSizes);
    const balancedRatio = maxOverMean(fx.balanced.clusterSizes);
    console.log(
      `[balanced] sample max/mean: plain ${fmt(plainRatio)} (sizes ${fx.plain.clusterSizes.join(',')}); ` +
        `balanced ${fmt(balancedRatio)} (sizes ${fx.balanced.clusterSizes.join(',')}; cap ${cap})`,
    );
    assert.equal(fx.balanced.capacity, cap);
    assert.ok(Math.max(...fx.balanced.clusterSizes) <= cap);
    assert.ok(balancedRatio <= cap / mean + 1e-12);
    assert.ok(balancedRatio <= BALANCE + K / fx.sampleRows + 1e-12, 'only rounding above the factor');
    assert.equal(fx.balanced.clusterSizes.reduce((s, x) => s + x, 0), fx.sampleRows);
    assert.ok(plainRatio > BALANCE + 0.1, `plain k-means max/mean ${plainRatio} is not visibly worse`);
  });
});

describe('CapacityAssigner on Fashion-MNIST', () => {
  test('never exceeds capacity, assigns everything; plain vs balanced figures (non-nearest, recall)', async () => {
    const rows: string[] = [];
    const recalls = new Map<string, number[]>();
    for (const [name, trained] of [['plain', fx.plain], ['balanced', fx.balanced]] as const) {
      const router = new CentroidRouter(trained.centroids, fx.dim, 'l2');
      const nearest = await streamAssign((v) => router.assign(v, 0));
      const assigner = new CapacityAssigner(router, fx.n, BALANCE);
      const capped = await streamAssign((v) => assigner.assign(v, 0));
      assert.equal(assigner.capacity, Math.ceil((BALANCE * fx.n) / K));
      assert.ok(Math.max(...assigner.counts) <= assigner.capacity, `${name}: counts ${assigner.counts.join(',')}`);
      assert.equal(assigner.counts.reduce((s, x) => s + x, 0), fx.n);
      assert.equal(assigner.assigned, fx.n);
      const recount = new Array<number>(K).fill(0);
      let displaced = 0;
      for (let r = 0; r < fx.n; r++) {
        assert.ok(capped[r] >= 0 && capped[r] < K);
        recount[capped[r]]++;
        if (capped[r] !== nearest[r]) displaced++;
      }
      assert.deepEqual(recount, assigner.counts);
      assert.equal(displaced, assigner.displaced);
      const nearestCounts = new Array<number>(K).fill(0);
      for (const c of nearest) nearestCounts[c]++;
      const r1Plain = routingRecall(router, nearest, 1);
      const r2Plain = routingRecall(router, nearest, 2);
      const r1 = routingRecall(router, capped, 1);
      const r2 = routingRecall(router, capped, 2);
      const rAll = routingRecall(router, capped, K);
      assert.equal(rAll, 1, 'probing every shard finds everything');
      assert.ok(r2 >= r1 && r2Plain >= r1Plain);
      recalls.set(name, [r1Plain, r2Plain, r1, r2]);
      rows.push(
        `${name} centroids: nearest-assign max/mean ${fmt(maxOverMean(nearestCounts))}, ` +
          `capped(${BALANCE}) max/mean ${fmt(maxOverMean(assigner.counts))}, non-nearest ${fmt(displaced / fx.n)}, ` +
          `recall@10 np=1/np=2: nearest-assign ${fmt(r1Plain)}/${fmt(r2Plain)}, capped ${fmt(r1)}/${fmt(r2)}`,
      );
    }
    for (const line of rows) console.log(`[balanced] ${line}`);
    // Robust: probing 2 shards recovers most of the top-10 even with the cap.
    const [, , , balancedR2] = recalls.get('balanced')!;
    assert.ok(balancedR2 > 0.5, `balanced recall@10 with 2 probes ${balancedR2}`);
  });

  test('a large factor (100) equals plain nearest assignment; assignment is deterministic', async () => {
    const router = new CentroidRouter(fx.balanced.centroids, fx.dim, 'l2');
    const loose = new CapacityAssigner(router, fx.n, 100);
    assert.ok(loose.capacity >= fx.n);
    const nearest = await streamAssign((v) => router.assign(v, 0));
    const got = await streamAssign((v) => loose.assign(v, 0));
    assert.deepEqual(got, nearest);
    assert.equal(loose.displaced, 0);
    const a = new CapacityAssigner(router, fx.n, 1);
    const b = new CapacityAssigner(router, fx.n, 1);
    const first = await streamAssign((v) => a.assign(v, 0));
    const second = await streamAssign((v) => b.assign(v, 0));
    assert.deepEqual(first, second);
    assert.deepEqual(a.counts, b.counts);
    assert.ok(Math.max(...a.counts) <= Math.ceil(fx.n / K));
  });
});

describe('CapacityAssigner on small inputs', () => {
  const dim = 2;
  // Centroids at x = 0, 1, 2, 3 on the first axis.
  const router = new CentroidRouter(Float32Array.from([0, 0, 1, 0, 2, 0, 3, 0]), dim, 'l2');

  test('overflow goes to the next-nearest centroid with room, ties to the lower index', () => {
    const assigner = new CapacityAssigner(router, 8, 1); // capacity 2
    assert.equal(assigner.capacity, 2);
    const at = (x: number): Float32Array => Float32Array.from([x, 0]);
    // Three vectors at x = 0: the third overflows to centroid 1 (the next nearest).
    assert.deepEqual([at(0), at(0), at(0)].map((v) => assigner.assign(v, 0)), [0, 0, 1]);
    // x = 1.5 is equidistant from 1 and 2: nearest is 1 (lower index), 1 has room.
    assert.equal(assigner.assign(at(1.5), 0), 1);
    // Now 0 and 1 are full; another x = 1.5 goes to 2, then x = 0 goes to 2, then 3.
    assert.equal(assigner.assign(at(1.5), 0), 2);
    assert.equal(assigner.assign(at(0), 0), 2);
    assert.equal(assigner.assign(at(0), 0), 3);
    assert.equal(assigner.displaced, 4);
    assert.deepEqual(assigner.counts, [2, 2, 2, 1]);
    // Reading a row of a multi-row matrix.
    assert.equal(assigner.assign(Float32Array.from([9, 9, 0.2, 0]), 1), 3);
    assert.deepEqual(assigner.counts, [2, 2, 2, 2]);
    // Beyond totalVectors with every shard full: a clear error.
    assert.throws(() => assigner.assign(at(0), 0), ConfigValidationError);
  });

  test('capacity = ceil(balanceFactor * total / k), never below ceil(total / k)', () => {
    assert.equal(new CapacityAssigner(router, 10, 1).capacity, 3);
    assert.equal(new CapacityAssigner(router, 100, 1.1).capacity, 28);
    assert.equal(new CapacityAssigner(router, 100, 1.25).capacity, 32);
    assert.equal(new CapacityAssigner(router, 0, 1.25).capacity, 0);
    for (const [total, factor] of [[9800, 1.1], [1, 1], [17, 1.0000001], [1000, 1.234]] as const) {
      assert.ok(balancedCapacity(total, 4, factor) * 4 >= total);
    }
  });

  test('invalid factors and counts throw ConfigValidationError', () => {
    for (const f of [0.5, 0, -2, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => new CapacityAssigner(router, 10, f), ConfigValidationError, `factor ${f}`);
    }
    for (const total of [-1, 2.5, Number.NaN]) {
      assert.throws(() => new CapacityAssigner(router, total, 1.1), ConfigValidationError, `total ${total}`);
    }
  });
});
