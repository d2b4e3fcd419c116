/**
 * chunkedExactSearch (the build's routing-recall and ground-truth brute force in base chunks):
 * the same top-k as one usearch exactSearch over the whole base, whatever the chunk size, and
 * exactChunkRows keeps a call near 1M (vector, query) pairs.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { exactSearch, MetricKind, type BatchMatches } from 'usearch';
import { chunkedExactSearch, exactChunkRows, EXACT_PAIRS_PER_CALL } from '../src/writer/chunked-exact-search.ts';
import { SeededRandom } from '../src/writer/seeded-random.ts';

function randomRows(rng: SeededRandom, rows: number, dim: number): Float32Array {
  const out = new Float32Array(rows * dim);
  for (let i = 0; i < out.length; i++) out[i] = rng.next() * 2 - 1;
  return out;
}

describe('chunkedExactSearch', () => {
  const dim = 12;
  const rng = new SeededRandom(7);
  const base = randomRows(rng, 301, dim);
  const queries = randomRows(rng, 23, dim);

  for (const metric of [MetricKind.L2sq, MetricKind.Cos, MetricKind.IP]) {
    test(`${metric}: equals one exactSearch over the whole base for chunks of 1, 7, 64 and 1,000 rows`, () => {
      const k = 10;
      const whole = exactSearch(base, queries, dim, k, metric, 1) as BatchMatches;
      for (const chunkRows of [1, 7, 64, 1000]) {
        const got = chunkedExactSearch(base, queries, dim, k, metric, 1, chunkRows);
        for (let q = 0; q < 23; q++) {
          assert.equal(got.counts[q], k);
          for (let j = 0; j < k; j++) {
            assert.ok(Math.abs(got.distances[q * k + j] - whole.distances[q * k + j]) <= 1e-5, `chunks of ${chunkRows}, query ${q}, hit ${j}: distance`);
            // Random data: no ties, so the rows agree too.
            assert.equal(got.rows[q * k + j], Number(whole.keys[q * k + j]), `chunks of ${chunkRows}, query ${q}, hit ${j}: row`);
          }
        }
      }
    });
  }

  test('views of larger buffers are read at their offset; k above the base size returns every row', () => {
    const buffer = new Float32Array(500 * dim);
    buffer.set(base.subarray(0, 5 * dim), 100 * dim);
    const view = buffer.subarray(100 * dim, 105 * dim);
    const q = new Float32Array(3 * dim);
    q.set(queries.subarray(0, 2 * dim), dim);
    const got = chunkedExactSearch(view, q.subarray(dim, 3 * dim), dim, 8, MetricKind.L2sq, 1, 2);
    const whole = exactSearch(base.slice(0, 5 * dim), queries.slice(0, 2 * dim), dim, 5, MetricKind.L2sq, 1) as BatchMatches;
    for (let qi = 0; qi < 2; qi++) {
      assert.equal(got.counts[qi], 5);
      for (let j = 0; j < 5; j++) assert.equal(got.rows[qi * 8 + j], Number(whole.keys[qi * 5 + j]));
      assert.equal(got.rows[qi * 8 + 5], -1);
    }
  });

  test('a single query', () => {
    const got = chunkedExactSearch(base, queries.subarray(0, dim), dim, 3, MetricKind.L2sq, 1, 50);
    const whole = exactSearch(base, queries.slice(0, dim), dim, 3, MetricKind.L2sq, 1);
    assert.deepEqual([...got.rows], [...whole.keys].map(Number));
  });

  test('exactChunkRows: about EXACT_PAIRS_PER_CALL pairs a call, within [256, 16,384] rows', () => {
    assert.equal(exactChunkRows(1000), Math.floor(EXACT_PAIRS_PER_CALL / 1000));
    assert.equal(exactChunkRows(781) * 781 <= EXACT_PAIRS_PER_CALL, true);
    assert.equal(exactChunkRows(1), 16_384);
    assert.equal(exactChunkRows(100_000), 256);
  });
});
