/**
 * Tests of balanced CLUSTER shards by fitted centroid offsets (src/writer/centroid-offsets.ts,
 * CentroidRouter offsets, createRecordAssigner): on seeded skewed clustered data the fitted
 * offsets cap the sample's shards, the whole data set follows within 1.5x of the mean, the
 * assignment is a pure function of the vector (input order and worker slices do not matter, unlike
 * the legacy streaming cap), and routing recall beats the streaming cap's at one probe.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CentroidRouter } from '../src/common/cluster-routing.ts';
import { ConfigValidationError } from '../src/common/errors.ts';
import type { ShardingSpec } from '../src/common/manifest.ts';
import { ClusterRouting } from '../src/common/routing/cluster-shard-routing.ts';
import { balancedCapacity, CapacityAssigner } from '../src/writer/balanced-assignment.ts';
import { fitCentroidOffsets } from '../src/writer/centroid-offsets.ts';
import { trainKMeans } from '../src/writer/kmeans.ts';
import { createRecordAssigner } from '../src/writer/record-assigner.ts';
import { SeededRandom } from '../src/writer/seeded-random.ts';

const DIM = 16;
const K = 8;
const FACTOR = 1.2;


/** `rows` vectors of 60 anisotropic Gaussian clusters with lognormal weights (seeded). */
function skewedData(rows: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  const centres = Array.from({ length: 60 }, () => Float64Array.from({ length: DIM }, () => 4 * rng.nextGaussian()));
  const spreads = centres.map(() => Float64Array.from({ length: DIM }, () => Math.exp(0.5 * rng.nextGaussian())));
  const weights = centres.map(() => Math.exp(1.5 * rng.nextGaussian()));
  const total = weights.reduce((a, b) => a + b, 0);
  const out = new Float32Array(rows * DIM);
  for (let r = 0; r < rows; r++) {
    let u = rng.next() * total;
    let c = 0;
    while (c < weights.length - 1 && u > weights[c]) u -= weights[c++];
    for (let i = 0; i < DIM; i++) out[r * DIM + i] = centres[c][i] + spreads[c][i] * rng.nextGaussian();
  }
  return out;
}

const SAMPLE_ROWS = 4000;
const ALL_ROWS = 16000;
const data = skewedData(ALL_ROWS, 5);
const sample = data.subarray(0, SAMPLE_ROWS * DIM);
const trained = trainKMeans(sample, DIM, { k: K, metric: 'l2', seed: 42, balanceFactor: FACTOR });
const capacity = balancedCapacity(SAMPLE_ROWS, K, FACTOR);
const fitted = fitCentroidOffsets(sample, new CentroidRouter(trained.centroids, DIM, 'l2'), capacity);
const routing = new ClusterRouting(trained.centroids, DIM, 'l2', 1, fitted.offsets);

function sizes(assign: (row: number) => number, rows: number): number[] {
  const counts = new Array<number>(K).fill(0);
  for (let r = 0; r < rows; r++) counts[assign(r)]++;
  return counts;
}

const maxOverMean = (counts: number[]): number => Math.max(...counts) / (counts.reduce((a, b) => a + b, 0) / counts.length);

/** Routing recall@10 at `probes` over 200 of the rows as queries (exact neighbours by brute force). */
function recall(route: ClusterRouting, shardOf: Int32Array, probes: number): number {
  let hit = 0;
  let total = 0;
  for (let q = 0; q < 200; q++) {
    const qr = SAMPLE_ROWS + q * 37;
    const dists: [number, number][] = [];
    for (let r = 0; r < ALL_ROWS; r++) {
      if (r === qr) continue;
      let s = 0;
      for (let i = 0; i < DIM; i++) s += (data[r * DIM + i] - data[qr * DIM + i]) ** 2;
      dists.push([s, r]);
    }
    dists.sort((a, b) => a[0] - b[0]);
    const probed = new Set(route.route({ vector: data.subarray(qr * DIM, (qr + 1) * DIM), numProbes: probes, shardIds: [] }));
    for (const [, r] of dists.slice(0, 10)) {
      total++;
      if (probed.has(shardOf[r])) hit++;
    }
  }
  return hit / total;
}

describe('fitCentroidOffsets', () => {
  test('caps the sample, and the whole data set stays within 1.5x of the mean where plain nearest-centroid does not', () => {
    const plain = new CentroidRouter(trainKMeans(sample, DIM, { k: K, metric: 'l2', seed: 42 }).centroids, DIM, 'l2');
    const plainSizes = sizes((r) => plain.assign(data, r), ALL_ROWS);
    assert.ok(maxOverMean(plainSizes) > 1.5, `the data should be skewed for plain routing: ${plainSizes.join(',')}`);
    assert.ok(Math.max(...fitted.counts) <= capacity, `sample counts ${fitted.counts.join(',')} exceed ${capacity}`);
    // The router with offsets reproduces the fitted counts on the sample exactly.
    assert.deepEqual(sizes((r) => routing.centroids.assign(data, r), SAMPLE_ROWS), fitted.counts);
    const all = sizes((r) => routing.centroids.assign(data, r), ALL_ROWS);
    assert.ok(maxOverMean(all) <= 1.5, `whole data max/mean ${maxOverMean(all).toFixed(3)} (sizes ${all.join(',')})`);
  });

  test('is deterministic and rejects a capacity that cannot hold the sample', () => {
    const again = fitCentroidOffsets(sample, new CentroidRouter(trained.centroids, DIM, 'l2'), capacity);
    assert.deepEqual(Array.from(again.offsets), Array.from(fitted.offsets));
    assert.throws(() => fitCentroidOffsets(sample, new CentroidRouter(trained.centroids, DIM, 'l2'), Math.floor(SAMPLE_ROWS / K) - 1), ConfigValidationError);
  });
});

describe('balanced assignment with offsets', () => {
  const spec = (offsets?: number[]): ShardingSpec => ({
    strategy: 'cluster',
    num_dbs: K,
    num_probes: 1,
    centroids: { ref: 'x', bytes: 0, sha256: '' },
    seed: 42,
    centroids_source: 'kmeans',
    balance_factor: FACTOR,
    ...(offsets === undefined ? {} : { centroid_offsets: offsets }),
  });
  const record = (r: number) => ({ id: `${r}`, vector: data.slice(r * DIM, (r + 1) * DIM), location: `row ${r}` });

  test('does not depend on the input order (a reversed pass or a worker reading a slice agrees); the legacy streaming cap does', () => {
    const forward = createRecordAssigner(spec(Array.from(fitted.offsets)), routing, ALL_ROWS);
    const ahead = Array.from({ length: ALL_ROWS }, (_, r) => forward(record(r)));
    const backward = createRecordAssigner(spec(Array.from(fitted.offsets)), routing, ALL_ROWS);
    for (let r = ALL_ROWS - 1; r >= 0; r--) assert.equal(backward(record(r)), ahead[r], `row ${r}`);
    const slice = createRecordAssigner(spec(Array.from(fitted.offsets)), routing, ALL_ROWS);
    for (let r = ALL_ROWS / 2; r < ALL_ROWS; r++) assert.equal(slice(record(r)), ahead[r], `row ${r} read by a worker from the middle`);

    const legacyRouting = new ClusterRouting(trained.centroids, DIM, 'l2', 1);
    const legacyForward = createRecordAssigner(spec(), legacyRouting, ALL_ROWS);
    const legacyAhead = Array.from({ length: ALL_ROWS }, (_, r) => legacyForward(record(r)));
    const legacyBackward = createRecordAssigner(spec(), legacyRouting, ALL_ROWS);
    let differ = 0;
    for (let r = ALL_ROWS - 1; r >= 0; r--) if (legacyBackward(record(r)) !== legacyAhead[r]) differ++;
    assert.ok(differ > 0, 'the legacy streaming cap depends on the input order');
  });

  test('routing recall at one probe beats the streaming first-fit cap at the same factor', () => {
    const offsetsShard = Int32Array.from({ length: ALL_ROWS }, (_, r) => routing.centroids.assign(data, r));
    const legacyRouting = new ClusterRouting(trained.centroids, DIM, 'l2', 1);
    const capped = new CapacityAssigner(legacyRouting.centroids, ALL_ROWS, FACTOR);
    const streamShard = Int32Array.from({ length: ALL_ROWS }, (_, r) => capped.assign(data, r));
    const ours = recall(routing, offsetsShard, 1);
    const theirs = recall(legacyRouting, streamShard, 1);
    console.log(`[offsets] recall@10 at 1 probe: offsets ${ours.toFixed(4)}, streaming cap ${theirs.toFixed(4)}`);
    assert.ok(ours > theirs, `offsets ${ours} vs streaming ${theirs}`);
  });

  test('CentroidRouter rejects offsets of the wrong length or non-finite', () => {
    assert.throws(() => new CentroidRouter(trained.centroids, DIM, 'l2', [1, 2]), ConfigValidationError);
    assert.throws(() => new CentroidRouter(trained.centroids, DIM, 'l2', new Array<number>(K).fill(Number.NaN)), ConfigValidationError);
  });
});
