/**
 * Tests of the evaluation helpers: recall@k as ANN-benchmarks counts it (src/eval/recall.ts),
 * nearest-rank percentiles, and exact brute-force top-k (src/eval/exact-knn.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { distance, type Metric } from '../src/common/distance.ts';
import { exactTopK } from '../src/eval/exact-knn.ts';
import { percentile, recallAtK } from '../src/eval/recall.ts';
import { SeededRandom } from '../src/writer/seeded-random.ts';

describe('recallAtK', () => {
  test('a result tied with the k-th true distance is a hit, a farther one a miss', () => {
    // dot: scores are negated dot products, lower is better; best first: -10, -9, ..., -1.
    const trueScores = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1].map((d) => -d);
    // Nine exact matches plus one tied with the 10th true score: all hits.
    const tied = [...trueScores.slice(0, 9), -1];
    assert.equal(recallAtK('dot', tied, trueScores, 10), 1);
    // The same but the 10th returned is farther than the 10th true score (by more than 1e-3).
    const farther = [...trueScores.slice(0, 9), -0.9];
    assert.equal(recallAtK('dot', farther, trueScores, 10), 0.9);
    // Within epsilon (1e-3) counts as tied.
    assert.equal(recallAtK('dot', [...trueScores.slice(0, 9), -1 + 0.0005], trueScores, 10), 1);
    // A different id at the same distance as a true neighbour (duplicate vector) is a hit too:
    // only distances matter.
    assert.equal(recallAtK('cosine', [0.1, 0.1, 0.2], [0.1, 0.15, 0.2], 3), 1);
    assert.equal(recallAtK('cosine', [0.1, 0.3, 0.25], [0.1, 0.15, 0.2], 3), 1 / 3);
  });

  test('sqrt is applied to l2 scores (squared distances) before comparing with epsilon', () => {
    // True 10th squared distance 100 -> distance 10; threshold 10.001.
    const trueScores = [1, 4, 9, 16, 25, 36, 49, 64, 81, 100];
    const nine = trueScores.slice(0, 9);
    // 100.015 squared-distance: sqrt = 10.00075 <= 10.001 -> hit (it would be a miss without sqrt,
    // since 100.015 > 100.001).
    const justOver = 100.015;
    assert.ok(Math.sqrt(justOver) <= 10 + 1e-3 && justOver > 100 + 1e-3, 'test setup');
    assert.equal(recallAtK('l2', [...nine, justOver], trueScores, 10), 1);
    // The same squared score is a miss under a metric without sqrt.
    assert.equal(recallAtK('cosine', [...nine, justOver], trueScores, 10), 0.9);
    // 100.1 squared-distance: sqrt = 10.005 > 10.001 -> miss.
    assert.equal(recallAtK('l2', [...nine, 100.1], trueScores, 10), 0.9);
    // Tiny negative squared distances (float error) are clamped to 0, not NaN.
    assert.equal(recallAtK('l2', [-1e-9], [0], 1), 1);
  });

  test('matches a direct count from the definition on random cases', () => {
    const rng = new SeededRandom(5);
    for (const metric of ['l2', 'cosine', 'dot'] as const satisfies readonly Metric[]) {
      for (let trial = 0; trial < 300; trial++) {
        const k = 1 + rng.nextInt(12);
        const nTrue = 1 + rng.nextInt(15);
        const sign = metric === 'dot' ? -1 : 1;
        const trueScores = Array.from({ length: nTrue }, () => sign * rng.nextInt(20)).sort((a, b) => a - b);
        const returned = Array.from({ length: rng.nextInt(15) }, () => sign * rng.nextInt(25)).sort((a, b) => a - b);
        const kk = Math.min(k, nTrue);
        const toDist = (s: number): number => (metric === 'l2' ? Math.sqrt(s) : s);
        const limit = toDist(trueScores[kk - 1]) + 1e-3;
        // The first min(k, #true) returned results are judged; recall is a fraction in [0, 1].
        const hits = returned.slice(0, kk).filter((s) => toDist(s) <= limit).length;
        const recall = recallAtK(metric, returned, trueScores, k);
        assert.equal(recall, hits / kk, `${metric} trial ${trial}`);
        assert.ok(recall >= 0 && recall <= 1, `${metric} trial ${trial}: recall ${recall}`);
      }
    }
  });

  test('only the first k returned results count; fewer than k true results use their count', () => {
    const trueScores = [1, 2, 3];
    // k = 2: the threshold is the 2nd true score; the 3rd returned result is ignored.
    assert.equal(recallAtK('cosine', [1, 3, 1], trueScores, 2), 0.5);
    // k = 5 but only 3 true results: the threshold is the last true score and only the first 3
    // returned results count (recall never exceeds 1).
    assert.equal(recallAtK('cosine', [1, 2, 3, 3, 3], trueScores, 5), 1);
    assert.equal(recallAtK('cosine', [1, 4], trueScores, 5), 1 / 3);
    // No true results: recall is 1 by convention.
    assert.equal(recallAtK('l2', [1, 2], [], 10), 1);
  });
});

describe('percentile (nearest rank)', () => {
  /** Nearest-rank definition: the smallest value v such that at least p% of values are <= v. */
  function byDefinition(values: readonly number[], p: number): number {
    const sorted = [...values].sort((a, b) => a - b);
    for (const v of sorted) {
      const atOrBelow = sorted.filter((x) => x <= v).length;
      if (atOrBelow * 100 >= p * sorted.length) return v;
    }
    return sorted[sorted.length - 1];
  }

  test('known arrays', () => {
    // 1..10 shuffled: the p-th percentile of 10 values is the ceil(p/10)-th smallest.
    const ten = [7, 3, 10, 1, 9, 2, 8, 4, 6, 5];
    assert.equal(percentile(ten, 50), 5); // ceil(0.5 * 10) = 5th value
    assert.equal(percentile(ten, 90), 9); // 9th
    assert.equal(percentile(ten, 91), 10); // ceil(9.1) = 10th
    assert.equal(percentile(ten, 100), 10);
    assert.equal(percentile(ten, 10), 1);
    assert.equal(percentile(ten, 11), 2);
    assert.equal(percentile(ten, 0), 1); // the minimum
    // Wikipedia's nearest-rank example: 15, 20, 35, 40, 50.
    const five = [50, 15, 40, 20, 35];
    assert.equal(percentile(five, 5), 15); // rank ceil(0.25) = 1
    assert.equal(percentile(five, 30), 20); // rank ceil(1.5) = 2
    assert.equal(percentile(five, 40), 20); // rank ceil(2) = 2
    assert.equal(percentile(five, 50), 35); // rank ceil(2.5) = 3
    assert.equal(percentile(five, 100), 50);
    assert.equal(percentile([4.5], 99), 4.5);
    assert.ok(Number.isNaN(percentile([], 50)));
  });

  test('does not reorder its input and equals the definition on random arrays', () => {
    const rng = new SeededRandom(13);
    for (let trial = 0; trial < 300; trial++) {
      const values = Array.from({ length: 1 + rng.nextInt(40) }, () => rng.nextInt(30) - 10);
      const copy = [...values];
      const p = [0, 1, 25, 50, 75, 90, 95, 99, 99.9, 100, rng.next() * 100][rng.nextInt(11)];
      assert.equal(percentile(values, p), byDefinition(values, p), `trial ${trial} p=${p}`);
      assert.deepEqual(values, copy);
    }
  });
});

describe('exactTopK', () => {
  /** Naive reference: score every row, sort by (score, id), take k. */
  function naiveTopK(
    base: Float32Array,
    ids: readonly string[],
    queries: Float32Array,
    q: number,
    dim: number,
    k: number,
    metric: Metric,
    rows: readonly number[],
  ): Array<{ id: string; score: number }> {
    return rows
      .map((r) => ({ id: ids[r], score: distance(metric, queries, q, base, r, dim) }))
      .sort((a, b) => (a.score !== b.score ? a.score - b.score : a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, k);
  }

  test('equals a naive sort for random data, all metrics, with and without a row subset', () => {
    const rng = new SeededRandom(77);
    const dim = 6;
    const n = 300;
    const base = new Float32Array(n * dim);
    // Coarse values, so some distances tie and the id tie-break matters.
    for (let i = 0; i < base.length; i++) base[i] = rng.nextInt(5) - 2;
    const ids = Array.from({ length: n }, (_, i) => `v${i}`);
    const numQueries = 15;
    const queries = new Float32Array(numQueries * dim);
    for (let i = 0; i < queries.length; i++) queries[i] = rng.nextInt(5) - 2;
    const allRows = ids.map((_, i) => i);
    for (const metric of ['l2', 'cosine', 'dot'] as const satisfies readonly Metric[]) {
      for (let q = 0; q < numQueries; q++) {
        for (const k of [1, 10, 37]) {
          const got = exactTopK(base, ids, queries, q, dim, k, metric).map(({ id, score }) => ({ id, score }));
          assert.deepEqual(got, naiveTopK(base, ids, queries, q, dim, k, metric, allRows), `${metric} q=${q} k=${k}`);
          const subset = allRows.filter(() => rng.next() < 0.3);
          const gotSubset = exactTopK(base, ids, queries, q, dim, k, metric, subset).map(({ id, score }) => ({ id, score }));
          assert.deepEqual(gotSubset, naiveTopK(base, ids, queries, q, dim, k, metric, subset), `${metric} q=${q} k=${k} subset`);
        }
      }
    }
  });

  test('k above the number of rows returns every row, best first', () => {
    const dim = 2;
    const base = Float32Array.from([3, 0, 1, 0, 2, 0]);
    const ids = ['c', 'a', 'b'];
    const got = exactTopK(base, ids, Float32Array.from([0, 0]), 0, dim, 10, 'l2');
    assert.deepEqual(got.map((h) => [h.id, h.score]), [
      ['a', 1],
      ['b', 4],
      ['c', 9],
    ]);
    // A subset given as a generator is honoured.
    function* rows(): Generator<number> {
      yield 0;
      yield 2;
    }
    assert.deepEqual(exactTopK(base, ids, Float32Array.from([0, 0]), 0, dim, 10, 'l2', rows()).map((h) => h.id), ['b', 'c']);
  });
});
