/**
 * Tests of LSH sharding: hyperplane generation and centring (src/writer/lsh-training.ts) and the
 * shared writer/router math with query-directed multi-probe (src/common/routing/lsh-routing.ts),
 * on real data (Fashion-MNIST t10k, raw pixels 0..255). Reference computations (hash codes,
 * perturbation scores, exact neighbours, bit-order probing) are written independently here.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { ConfigValidationError, InputRecordError, InvalidQueryError } from '../src/common/errors.ts';
import { defaultNumHashBits, LshRouting, type LshRoutingParams } from '../src/common/routing/lsh-routing.ts';
import { openIdxSource, readIdxImages } from '../src/writer/input/idx-source.ts';
import { generateHyperplanes, meanCenter } from '../src/writer/lsh-training.ts';
import { FASHION_IMAGES } from './helpers/fixtures.ts';

const DIM = 784;
const BASE_COUNT = 4000;
const QUERY_START = 9000;
const QUERY_COUNT = 200;
const TOP_K = 10;

let base: Float32Array;
let queries: Float32Array;
/** Exact top-10 (squared L2, ties by index) of each query among the base vectors. */
let exactTopK: number[][];

function row(m: Float32Array, r: number): Float32Array {
  return m.subarray(r * DIM, (r + 1) * DIM);
}

function makeRouting(opts: { bits: number; numDbs: number; seed: number; center: Float32Array | null; defaultNumProbes?: number }): LshRouting {
  return new LshRouting({
    hyperplanes: generateHyperplanes(opts.bits, DIM, opts.seed),
    numHashBits: opts.bits,
    dim: DIM,
    center: opts.center,
    numDbs: opts.numDbs,
    defaultNumProbes: opts.defaultNumProbes ?? 1,
  });
}

/** Independent reference projections <h_i, x - c>, float64, and their signs as a code. */
function naiveProjections(h: Float32Array, bits: number, x: Float32Array, c: Float32Array | null): number[] {
  const out: number[] = [];
  for (let i = 0; i < bits; i++) {
    let s = 0;
    for (let j = 0; j < DIM; j++) s += h[i * DIM + j] * (x[j] - (c === null ? 0 : c[j]));
    out.push(s);
  }
  return out;
}
function naiveCode(proj: number[]): number {
  return proj.reduce((code, p, i) => (p >= 0 ? code + 2 ** i : code), 0);
}
/** Σ over flipped bits of (|proj_i| / ||h_i||)². */
function naiveScore(h: Float32Array, proj: number[], flipMask: number): number {
  let s = 0;
  proj.forEach((p, i) => {
    if ((flipMask >> i) & 1) {
      let n2 = 0;
      for (let j = 0; j < DIM; j++) n2 += h[i * DIM + j] ** 2;
      s += (p * p) / n2;
    }
  });
  return s;
}
function popcount(x: number): number {
  let c = 0;
  for (let v = x; v; v &= v - 1) c++;
  return c;
}
/** Baseline "plain bit order" multi-probe: flip masks by (number of bits, mask), i.e. step-wise probing in bit-index order. */
function bitOrderProbes(home: number, bits: number, numDbs: number, probes: number): number[] {
  const masks = Array.from({ length: 2 ** bits }, (_, m) => m).sort((a, b) => popcount(a) - popcount(b) || a - b);
  const out: number[] = [];
  for (const m of masks) {
    const shard = (home ^ m) % numDbs;
    if (!out.includes(shard)) out.push(shard);
    if (out.length === probes) break;
  }
  return out;
}

/** Fraction of the exact top-10 neighbours of each query that lie in the probed shards. */
function routingRecall(shardOf: Int32Array, probed: number[][]): number {
  let hit = 0;
  let total = 0;
  exactTopK.forEach((nn, q) => {
    const set = new Set(probed[q]);
    for (const id of nn) {
      total++;
      if (set.has(shardOf[id])) hit++;
    }
  });
  return hit / total;
}

function shardSizes(routing: LshRouting): number[] {
  const sizes = new Array<number>(routing.numDbs).fill(0);
  for (let r = 0; r < BASE_COUNT; r++) sizes[routing.assign({ vector: row(base, r), location: `base ${r}` })]++;
  return sizes;
}
const balance = (sizes: number[]): number => Math.max(...sizes) / (BASE_COUNT / sizes.length);

before(async () => {
  base = (await readIdxImages(FASHION_IMAGES, { limit: BASE_COUNT })).vectors;
  queries = (await readIdxImages(FASHION_IMAGES, { start: QUERY_START, limit: QUERY_COUNT })).vectors;
  exactTopK = [];
  for (let q = 0; q < QUERY_COUNT; q++) {
    const d = new Float64Array(BASE_COUNT);
    for (let r = 0; r < BASE_COUNT; r++) {
      let s = 0;
      for (let j = 0; j < DIM; j++) {
        const t = queries[q * DIM + j] - base[r * DIM + j];
        s += t * t;
      }
      d[r] = s;
    }
    const ids = Array.from({ length: BASE_COUNT }, (_, r) => r).sort((a, b) => d[a] - d[b] || a - b);
    exactTopK.push(ids.slice(0, TOP_K));
  }
});

describe('LSH training', () => {
  test('generateHyperplanes is deterministic per seed, differs across seeds, and is ~N(0,1)', () => {
    const a = generateHyperplanes(8, DIM, 42);
    assert.equal(a.length, 8 * DIM);
    assert.deepEqual(generateHyperplanes(8, DIM, 42), a);
    const b = generateHyperplanes(8, DIM, 43);
    let differing = 0;
    for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) differing++;
    assert.ok(differing > 0.99 * a.length, `only ${differing} of ${a.length} values differ between seeds`);
    // Odd total length exercises the unpaired last Box–Muller output.
    const odd = generateHyperplanes(3, 5, 9);
    assert.equal(odd.length, 15);
    assert.ok(odd.every((x) => Number.isFinite(x)) && odd[14] !== 0);
    let sum = 0;
    let sq = 0;
    for (const v of a) {
      assert.ok(Number.isFinite(v));
      sum += v;
      sq += v * v;
    }
    const mean = sum / a.length;
    const variance = sq / a.length - mean * mean;
    assert.ok(Math.abs(mean) < 0.05, `mean ${mean}`);
    assert.ok(Math.abs(variance - 1) < 0.06, `variance ${variance}`);
  });

  test('meanCenter equals the column means of the sample; bad samples are rejected', () => {
    const c = meanCenter(base, DIM);
    assert.equal(c.length, DIM);
    for (const j of [0, 100, 406, 783]) {
      let s = 0;
      for (let r = 0; r < BASE_COUNT; r++) s += base[r * DIM + j];
      assert.equal(c[j], Math.fround(s / BASE_COUNT), `column ${j}`);
    }
    assert.ok(c[406] > 50, `Fashion-MNIST centre pixel mean ${c[406]} should be far from 0`);
    assert.throws(() => meanCenter(new Float32Array(0), DIM), ConfigValidationError);
    assert.throws(() => meanCenter(new Float32Array(10), 3), ConfigValidationError);
    assert.throws(() => generateHyperplanes(0, DIM, 1), ConfigValidationError);
    assert.throws(() => generateHyperplanes(31, DIM, 1), ConfigValidationError);
    assert.throws(() => generateHyperplanes(4, 0, 1), ConfigValidationError);
  });

  test('defaultNumHashBits = ceil(log2(num_dbs)), at least 1', () => {
    const cases: Array<[number, number]> = [[1, 1], [2, 1], [3, 2], [4, 2], [5, 3], [8, 3], [9, 4], [16, 4], [17, 5], [1000, 10], [1024, 10], [1025, 11]];
    for (const [numDbs, bits] of cases) assert.equal(defaultNumHashBits(numDbs), bits, `num_dbs ${numDbs}`);
    assert.throws(() => defaultNumHashBits(0), ConfigValidationError);
  });
});

describe('LshRouting', () => {
  test('hashCode matches a naive reference, centred and uncentred', () => {
    const bits = 10;
    const h = generateHyperplanes(bits, DIM, 5);
    const center = meanCenter(base, DIM);
    for (const c of [center, null]) {
      const routing = new LshRouting({ hyperplanes: h, numHashBits: bits, dim: DIM, center: c, numDbs: 1000, defaultNumProbes: 1 });
      const codes = new Set<number>();
      for (let r = 0; r < 1000; r++) {
        const want = naiveCode(naiveProjections(h, bits, row(base, r), c));
        assert.equal(routing.hashCode(row(base, r)), want, `row ${r} centred=${c !== null}`);
        assert.equal(routing.assign({ vector: row(base, r), location: `row ${r}` }), want % 1000);
        codes.add(want);
      }
      assert.ok(codes.size > 1);
    }
  });

  test('assign == route()[0] for every record of the streaming source (num_dbs 16 and 12)', async () => {
    const center = meanCenter(base, DIM);
    const routings = [makeRouting({ bits: 4, numDbs: 16, seed: 3, center }), makeRouting({ bits: 4, numDbs: 12, seed: 3, center }), makeRouting({ bits: 6, numDbs: 5, seed: 8, center: null })];
    const source = await openIdxSource({ imagesPath: FASHION_IMAGES, limit: 3000 });
    let n = 0;
    for await (const rec of source.records()) {
      for (const routing of routings) {
        const shard = routing.assign({ vector: rec.vector, location: rec.location });
        for (const numProbes of [1, 3]) {
          const probed = routing.route({ vector: rec.vector, numProbes, shardIds: [] });
          assert.equal(probed.length, numProbes);
          assert.equal(probed[0], shard, `${rec.location} num_dbs ${routing.numDbs} probes ${numProbes}`);
        }
      }
      n++;
    }
    assert.equal(n, 3000);
  });

  test('probe order is by non-decreasing Σ margin² and covers every shard (num_dbs = 2^bits)', () => {
    const bits = 6;
    const numDbs = 64;
    const h = generateHyperplanes(bits, DIM, 11);
    const center = meanCenter(base, DIM);
    const routing = new LshRouting({ hyperplanes: h, numHashBits: bits, dim: DIM, center, numDbs, defaultNumProbes: 1 });
    let differsFromBitOrder = 0;
    for (let q = 0; q < 50; q++) {
      const v = row(queries, q);
      const proj = naiveProjections(h, bits, v, center);
      const home = naiveCode(proj);
      const seq = routing.probeSequence(v, numDbs);
      assert.deepEqual([...seq].sort((a, b) => a - b), Array.from({ length: numDbs }, (_, i) => i), `query ${q}: not a permutation`);
      assert.equal(seq[0], home);
      const scores = seq.map((code) => naiveScore(h, proj, code ^ home));
      const allSorted = Array.from({ length: numDbs }, (_, m) => naiveScore(h, proj, m)).sort((a, b) => a - b);
      for (let k = 0; k < numDbs; k++) {
        if (k > 0) assert.ok(scores[k] >= scores[k - 1] * (1 - 1e-12), `query ${q}: score ${scores[k]} at probe ${k} < ${scores[k - 1]}`);
        // The k-th probe has the k-th smallest score among all 2^bits perturbations.
        assert.ok(Math.abs(scores[k] - allSorted[k]) <= 1e-9 * Math.max(1, allSorted[k]), `query ${q} probe ${k}`);
      }
      if (seq.slice(0, 4).join() !== bitOrderProbes(home, bits, numDbs, 4).join()) differsFromBitOrder++;
      // Prefixes agree with the full sequence.
      assert.deepEqual(routing.probeSequence(v, 5), seq.slice(0, 5));
    }
    assert.ok(differsFromBitOrder > 25, `query-directed order equals bit order for ${50 - differsFromBitOrder}/50 queries`);
  });

  test('probing with num_dbs < 2^bits returns distinct shards covering all shards', () => {
    const center = meanCenter(base, DIM);
    for (const [bits, numDbs] of [[6, 40], [8, 3], [5, 17]] as const) {
      const routing = makeRouting({ bits, numDbs, seed: 21, center });
      for (let q = 0; q < 30; q++) {
        const seq = routing.probeSequence(row(queries, q), numDbs);
        assert.equal(new Set(seq).size, numDbs, `bits ${bits} num_dbs ${numDbs} query ${q}`);
        assert.ok(seq.every((s) => Number.isInteger(s) && s >= 0 && s < numDbs));
        assert.equal(seq[0], routing.assign({ vector: row(queries, q), location: `query ${q}` }));
      }
    }
  });

  test('query-directed probing beats bit-order probing on routing recall; centring improves balance', () => {
    const bits = 4;
    const numDbs = 16;
    const seeds = [1, 2, 3, 4, 5];
    const center = meanCenter(base, DIM);
    const qd = [0, 0, 0, 0];
    const bo = [0, 0, 0, 0];
    let balCentred = 0;
    let balUncentred = 0;
    let top2Uncentred = 0;
    let top2Centred = 0;
    for (const seed of seeds) {
      const routing = makeRouting({ bits, numDbs, seed, center });
      const shardOf = new Int32Array(BASE_COUNT);
      for (let r = 0; r < BASE_COUNT; r++) shardOf[r] = routing.assign({ vector: row(base, r), location: `base ${r}` });
      for (let p = 1; p <= 4; p++) {
        const probedQd: number[][] = [];
        const probedBo: number[][] = [];
        for (let q = 0; q < QUERY_COUNT; q++) {
          probedQd.push(routing.route({ vector: row(queries, q), numProbes: p, shardIds: [] }));
          probedBo.push(bitOrderProbes(routing.hashCode(row(queries, q)), bits, numDbs, p));
        }
        qd[p - 1] += routingRecall(shardOf, probedQd) / seeds.length;
        bo[p - 1] += routingRecall(shardOf, probedBo) / seeds.length;
      }
      const sizesC = shardSizes(routing);
      const sizesU = shardSizes(makeRouting({ bits, numDbs, seed, center: null }));
      const top2 = (s: number[]): number => [...s].sort((a, b) => b - a).slice(0, 2).reduce((a, b) => a + b, 0) / BASE_COUNT;
      balCentred += balance(sizesC) / seeds.length;
      balUncentred += balance(sizesU) / seeds.length;
      top2Centred += top2(sizesC) / seeds.length;
      top2Uncentred += top2(sizesU) / seeds.length;
    }
    const f = (x: number): string => x.toFixed(3);
    console.log(`LSH Fashion-MNIST (base ${BASE_COUNT}, ${QUERY_COUNT} queries, top-${TOP_K} l2, ${numDbs} shards, ${bits} bits, mean of seeds ${seeds.join(',')})`);
    console.log(`  routing recall  num_probes:        1      2      3      4`);
    console.log(`  query-directed (centred)        ${qd.map(f).join('  ')}`);
    console.log(`  bit order      (centred)        ${bo.map(f).join('  ')}`);
    console.log(`  balance max/mean: centred ${f(balCentred)}, uncentred ${f(balUncentred)}; share of vectors in the 2 largest shards: centred ${f(top2Centred)}, uncentred ${f(top2Uncentred)}`);
    assert.ok(Math.abs(qd[0] - bo[0]) < 1e-12, 'num_probes 1 is the home shard for both');
    assert.ok(qd[1] > bo[1], `num_probes 2: query-directed ${qd[1]} <= bit order ${bo[1]}`);
    assert.ok(qd[3] > bo[3], `num_probes 4: query-directed ${qd[3]} <= bit order ${bo[3]}`);
    for (let p = 1; p < 4; p++) assert.ok(qd[p] >= qd[p - 1]);
    assert.ok(balCentred < balUncentred, `centred balance ${balCentred} >= uncentred ${balUncentred}`);
    assert.ok(top2Uncentred > 0.5, `uncentred: only ${top2Uncentred} of vectors in the 2 largest shards`);
  });

  test('shard_ids override routing; num_probes 0 uses the default; bad probes and ids are InvalidQueryError', () => {
    const routing = makeRouting({ bits: 4, numDbs: 10, seed: 1, center: meanCenter(base, DIM), defaultNumProbes: 3 });
    const v = row(queries, 0);
    assert.deepEqual(routing.route({ vector: v, numProbes: 0, shardIds: [7, 2] }), [7, 2]);
    assert.deepEqual(routing.route({ vector: v, numProbes: 5, shardIds: [9] }), [9]);
    assert.throws(() => routing.route({ vector: v, numProbes: 0, shardIds: [10] }), InvalidQueryError);
    assert.throws(() => routing.route({ vector: v, numProbes: 0, shardIds: [2, 2] }), InvalidQueryError);
    assert.equal(routing.route({ vector: v, numProbes: 0, shardIds: [] }).length, 3);
    assert.equal(routing.route({ vector: v, numProbes: 10, shardIds: [] }).length, 10);
    assert.throws(() => routing.route({ vector: v, numProbes: 11, shardIds: [] }), InvalidQueryError);
    assert.throws(() => routing.route({ vector: v, numProbes: -1, shardIds: [] }), InvalidQueryError);
    assert.throws(() => routing.route({ vector: v.subarray(0, 10), numProbes: 1, shardIds: [] }), InvalidQueryError);
    assert.throws(() => routing.probeSequence(v, 0), InvalidQueryError);
    assert.throws(
      () => routing.assign({ vector: v.subarray(0, 10), location: 'data.jsonl line 3' }),
      (err: unknown) => err instanceof InputRecordError && err.message.includes('data.jsonl line 3'),
    );
  });

  test('bad shapes and parameters are ConfigValidationError', () => {
    const h = generateHyperplanes(4, DIM, 1);
    const ok: LshRoutingParams = { hyperplanes: h, numHashBits: 4, dim: DIM, center: null, numDbs: 16, defaultNumProbes: 2 };
    assert.equal(new LshRouting(ok).numDbs, 16);
    const bad: Array<[string, Partial<LshRoutingParams>]> = [
      ['hyperplanes too short', { hyperplanes: h.subarray(0, 3 * DIM) }],
      ['bits mismatch', { numHashBits: 3 }],
      ['dim mismatch', { dim: 783 }],
      ['center wrong length', { center: new Float32Array(DIM - 1) }],
      ['2^bits < num_dbs', { numDbs: 17 }],
      ['zero bits', { numHashBits: 0, hyperplanes: new Float32Array(0) }],
      ['31 bits', { numHashBits: 31, hyperplanes: new Float32Array(31 * DIM).fill(1) }],
      ['num_dbs 0', { numDbs: 0 }],
      ['default probes > num_dbs', { defaultNumProbes: 17 }],
      ['default probes 0', { defaultNumProbes: 0 }],
      ['zero hyperplane', { hyperplanes: new Float32Array(4 * DIM) }],
      ['NaN hyperplane', { hyperplanes: Float32Array.from(h, (x, k) => (k === 5 ? NaN : x)) }],
      ['NaN center', { center: new Float32Array(DIM).fill(NaN) }],
    ];
    for (const [name, change] of bad) {
      assert.throws(() => new LshRouting({ ...ok, ...change }), ConfigValidationError, name);
    }
  });
});
