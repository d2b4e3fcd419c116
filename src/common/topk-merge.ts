/**
 * Merging per-shard top-k lists into one global top-k with a bounded heap, deduplicated by id.
 * Lower score is better. Ties are broken by id (ascending) so the result is deterministic.
 */

/** A scored search hit. */
export interface ScoredHit {
  id: string;
  /** Distance, lower is better. */
  score: number;
  /** Payload JSON text, or "" when absent. */
  payload_json: string;
}

/** True when `a` ranks strictly after (is worse than) `b`. */
function worse(a: ScoredHit, b: ScoredHit): boolean {
  return a.score > b.score || (a.score === b.score && a.id > b.id);
}

/**
 * A bounded max-heap holding the `k` best hits seen so far; the root is the worst kept hit, so a
 * new hit is compared with it in O(1) and inserted in O(log k).
 */
export class TopKHeap<T extends ScoredHit = ScoredHit> {
  private readonly heap: T[] = [];
  /** @param k capacity, >= 1. */
  constructor(readonly k: number) {}

  /** Number of hits held (<= k). */
  get size(): number {
    return this.heap.length;
  }

  /** Offers a hit; keeps it only if it ranks among the best k so far. */
  push(hit: T): void {
    const h = this.heap;
    if (h.length < this.k) {
      h.push(hit);
      this.siftUp(h.length - 1);
    } else if (h.length > 0 && worse(h[0], hit)) {
      h[0] = hit;
      this.siftDown(0);
    }
  }

  /** The kept hits, best first. Does not modify the heap. */
  sorted(): T[] {
    return [...this.heap].sort((a, b) => (worse(a, b) ? 1 : worse(b, a) ? -1 : 0));
  }

  private siftUp(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!worse(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let top = i;
      if (l < h.length && worse(h[l], h[top])) top = l;
      if (r < h.length && worse(h[r], h[top])) top = r;
      if (top === i) return;
      [h[i], h[top]] = [h[top], h[i]];
      i = top;
    }
  }
}

/**
 * How {@link mergeTopK} orders hits of equal score: `id` (by id, ascending: deterministic whatever
 * the order the lists arrive in; shardfleet's contract) or `list-order` (the earlier list first,
 * then the position within it: shardyfusion's merge, `heapq.nsmallest` over the shards' results in
 * probe order, vector/_merge.py:18-35 at b5ad9a1).
 */
export type MergeTies = 'id' | 'list-order';

/**
 * Merges several hit lists into the best `topK`, best first. When the same id appears more than
 * once (replicas, hedged calls, a vector stored in two shards) only its best-scoring hit counts.
 * Equal scores are ordered by `ties` (default `id`). O(n log k) for n input hits (`list-order`:
 * O(n log n)). Returns the input hit objects themselves, so extra fields (e.g. a hit's stored
 * vector) come through unchanged.
 */
export function mergeTopK<T extends ScoredHit>(lists: Iterable<readonly T[]>, topK: number, ties: MergeTies = 'id'): T[] {
  const best = new Map<string, T>();
  for (const list of lists) {
    for (const hit of list) {
      const seen = best.get(hit.id);
      if (seen === undefined || (ties === 'id' ? worse(seen, hit) : hit.score < seen.score)) best.set(hit.id, hit);
    }
  }
  if (ties === 'list-order') {
    // Map iteration keeps first-insertion order (list order, then position) and Array.sort is
    // stable: equal scores stay in that order, as heapq.nsmallest over the concatenation does.
    return [...best.values()].sort((a, b) => a.score - b.score).slice(0, topK);
  }
  const heap = new TopKHeap<T>(topK);
  for (const hit of best.values()) heap.push(hit);
  return heap.sorted();
}
