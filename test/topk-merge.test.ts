/**
 * Tests of the top-k merge (src/common/topk-merge.ts) against a naive reference: concatenate,
 * keep each id's lowest score, sort by (score, id), take k.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { TopKHeap, mergeTopK, type ScoredHit } from '../src/common/topk-merge.ts';
import { SeededRandom } from '../src/writer/seeded-random.ts';

function byScoreThenId(a: ScoredHit, b: ScoredHit): number {
  if (a.score !== b.score) return a.score < b.score ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Naive reference merge. */
function naiveMerge(lists: readonly (readonly ScoredHit[])[], k: number): Array<{ id: string; score: number }> {
  const best = new Map<string, number>();
  for (const hit of lists.flat()) {
    const seen = best.get(hit.id);
    if (seen === undefined || hit.score < seen) best.set(hit.id, hit.score);
  }
  return [...best.entries()]
    .map(([id, score]) => ({ id, score, payload_json: '' }))
    .sort(byScoreThenId)
    .slice(0, k)
    .map(({ id, score }) => ({ id, score }));
}

function idsAndScores(hits: readonly ScoredHit[]): Array<{ id: string; score: number }> {
  return hits.map(({ id, score }) => ({ id, score }));
}

/** Random hit lists with overlapping ids and many tied (coarsely quantised) scores. */
function randomLists(rng: SeededRandom): ScoredHit[][] {
  const numLists = rng.nextInt(6);
  const idSpace = 1 + rng.nextInt(40);
  const quantum = [0.5, 0.1, 0.001][rng.nextInt(3)];
  return Array.from({ length: numLists }, () => {
    const len = rng.nextInt(15);
    return Array.from({ length: len }, () => ({
      id: `id-${rng.nextInt(idSpace)}`,
      score: Math.round(((rng.next() * 4 - 2) / quantum)) * quantum,
      payload_json: JSON.stringify({ r: rng.nextInt(1000) }),
    }));
  });
}

describe('mergeTopK', () => {
  test('equals the naive reference over many random cases (including k above the total)', () => {
    const rng = new SeededRandom(8080);
    for (let trial = 0; trial < 2000; trial++) {
      const lists = randomLists(rng);
      const total = lists.reduce((s, l) => s + l.length, 0);
      const k = 1 + rng.nextInt(total + 10);
      const got = mergeTopK(lists, k);
      assert.deepEqual(idsAndScores(got), naiveMerge(lists, k), `trial ${trial} k=${k}`);
      // Every returned hit is one of the input hits, payload included.
      for (const hit of got) assert.ok(lists.some((l) => l.includes(hit)), `trial ${trial}: ${hit.id} not from the input`);
    }
  });

  test('a duplicate id keeps its best score and that hit\'s payload', () => {
    const lists: ScoredHit[][] = [
      [
        { id: 'a', score: 0.9, payload_json: '"a-far"' },
        { id: 'b', score: 0.2, payload_json: '"b"' },
      ],
      [
        { id: 'a', score: 0.1, payload_json: '"a-near"' },
        { id: 'c', score: 0.5, payload_json: '"c"' },
      ],
      [{ id: 'a', score: 0.4, payload_json: '"a-mid"' }],
    ];
    const got = mergeTopK(lists, 10);
    assert.deepEqual(
      got.map((h) => [h.id, h.score, h.payload_json]),
      [
        ['a', 0.1, '"a-near"'],
        ['b', 0.2, '"b"'],
        ['c', 0.5, '"c"'],
      ],
    );
    // A duplicate that would fall outside the top-k in its worse copy still ranks by its best.
    assert.deepEqual(mergeTopK(lists, 1).map((h) => h.id), ['a']);
  });

  test('equal scores are ordered by id (ascending, code-unit order)', () => {
    const lists: ScoredHit[][] = [
      [
        { id: 'm', score: 1, payload_json: '' },
        { id: 'B', score: 1, payload_json: '' },
      ],
      [
        { id: 'a', score: 1, payload_json: '' },
        { id: 'z', score: 0.5, payload_json: '' },
        { id: 'b', score: 1, payload_json: '' },
      ],
    ];
    assert.deepEqual(mergeTopK(lists, 10).map((h) => h.id), ['z', 'B', 'a', 'b', 'm']);
    // Truncation keeps the lowest ids among the tied scores.
    assert.deepEqual(mergeTopK(lists, 3).map((h) => h.id), ['z', 'B', 'a']);
  });

  test('negative scores (negated dot products) sort lowest first', () => {
    const lists: ScoredHit[][] = [[{ id: 'x', score: -3, payload_json: '' }], [{ id: 'y', score: -7, payload_json: '' }, { id: 'w', score: 2, payload_json: '' }]];
    assert.deepEqual(mergeTopK(lists, 2).map((h) => h.id), ['y', 'x']);
  });

  test('no lists, empty lists and generators', () => {
    assert.deepEqual(mergeTopK([], 5), []);
    assert.deepEqual(mergeTopK([[], []], 5), []);
    function* gen(): Generator<ScoredHit[]> {
      yield [{ id: 'q', score: 2, payload_json: '' }];
      yield [{ id: 'p', score: 1, payload_json: '' }];
    }
    assert.deepEqual(mergeTopK(gen(), 5).map((h) => h.id), ['p', 'q']);
  });
});

describe('TopKHeap', () => {
  test('k = 1 keeps only the best hit (lowest score, then lowest id)', () => {
    const heap = new TopKHeap(1);
    assert.equal(heap.size, 0);
    assert.deepEqual(heap.sorted(), []);
    heap.push({ id: 'c', score: 3, payload_json: '' });
    assert.equal(heap.size, 1);
    heap.push({ id: 'd', score: 4, payload_json: '' });
    assert.deepEqual(heap.sorted().map((h) => h.id), ['c']);
    heap.push({ id: 'b', score: 3, payload_json: '' });
    assert.deepEqual(heap.sorted().map((h) => h.id), ['b']);
    heap.push({ id: 'e', score: 3, payload_json: '' });
    assert.deepEqual(heap.sorted().map((h) => h.id), ['b']);
    heap.push({ id: 'z', score: -1, payload_json: '' });
    assert.deepEqual(heap.sorted().map((h) => h.id), ['z']);
    assert.equal(heap.size, 1);
  });

  test('k = 1 over random streams equals the minimum by (score, id)', () => {
    const rng = new SeededRandom(1);
    for (let trial = 0; trial < 300; trial++) {
      const heap = new TopKHeap(1);
      const hits: ScoredHit[] = Array.from({ length: 1 + rng.nextInt(30) }, () => ({
        id: `h${rng.nextInt(50)}`,
        score: rng.nextInt(5),
        payload_json: '',
      }));
      for (const h of hits) heap.push(h);
      const want = [...hits].sort(byScoreThenId)[0];
      assert.deepEqual(idsAndScores(heap.sorted()), idsAndScores([want]));
    }
  });

  test('random streams of distinct ids for several k equal a sort; sorted() does not consume', () => {
    const rng = new SeededRandom(99);
    for (let trial = 0; trial < 300; trial++) {
      const k = 1 + rng.nextInt(12);
      const n = rng.nextInt(40);
      const hits: ScoredHit[] = Array.from({ length: n }, (_, i) => ({ id: `id${i}`, score: rng.nextInt(8) / 2, payload_json: '' }));
      const heap = new TopKHeap(k);
      for (const h of hits) heap.push(h);
      const want = idsAndScores([...hits].sort(byScoreThenId).slice(0, k));
      assert.equal(heap.size, Math.min(k, n));
      assert.deepEqual(idsAndScores(heap.sorted()), want);
      assert.deepEqual(idsAndScores(heap.sorted()), want);
    }
  });
});

describe("mergeTopK with ties: 'list-order' (shardyfusion's merge)", () => {
  test('equal scores keep list order, then position; not id order', () => {
    const a: ScoredHit[] = [{ id: 'z', score: 1, payload_json: '' }, { id: 'y', score: 2, payload_json: '' }];
    const b: ScoredHit[] = [{ id: 'a', score: 1, payload_json: '' }, { id: 'b', score: 2, payload_json: '' }];
    assert.deepEqual(mergeTopK([a, b], 3, 'list-order').map((h) => h.id), ['z', 'a', 'y']);
    assert.deepEqual(mergeTopK([b, a], 3, 'list-order').map((h) => h.id), ['a', 'z', 'b']);
    assert.deepEqual(mergeTopK([a, b], 3).map((h) => h.id), ['a', 'z', 'b']);
  });

  test('random lists equal a stable sort of their concatenation (Python heapq.nsmallest)', () => {
    const rng = new SeededRandom(5);
    for (let trial = 0; trial < 200; trial++) {
      const lists: ScoredHit[][] = Array.from({ length: 1 + rng.nextInt(4) }, (_, l) =>
        Array.from({ length: rng.nextInt(8) }, (_, i) => ({ id: `l${l}-${i}`, score: rng.nextInt(4), payload_json: '' })).sort((x, y) => x.score - y.score),
      );
      const k = 1 + rng.nextInt(10);
      const want = lists.flat().map((h, order) => ({ h, order })).sort((x, y) => x.h.score - y.h.score || x.order - y.order).slice(0, k).map((x) => x.h.id);
      assert.deepEqual(mergeTopK(lists, k, 'list-order').map((h) => h.id), want);
    }
  });
});
