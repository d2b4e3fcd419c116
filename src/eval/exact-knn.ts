/**
 * Exact (brute-force) k-nearest-neighbour search, the ground truth for recall measurements.
 */
import { distance, type Metric } from '../common/distance.ts';
import { TopKHeap, type ScoredHit } from '../common/topk-merge.ts';

/**
 * The exact `k` nearest base rows to query row `q`, best first.
 * @param base `Float32Array` of length n * dim, row-major.
 * @param ids id of each base row (length n).
 * @param queries `Float32Array` of length m * dim, row-major.
 * @param rows optional subset of base rows to search (e.g. the rows of the probed shards).
 */
export function exactTopK(
  base: Float32Array,
  ids: readonly string[],
  queries: Float32Array,
  q: number,
  dim: number,
  k: number,
  metric: Metric,
  rows?: Iterable<number>,
): ScoredHit[] {
  const heap = new TopKHeap(k);
  const candidates = rows ?? ids.keys();
  for (const r of candidates) heap.push({ id: ids[r], score: distance(metric, queries, q, base, r, dim), payload_json: '' });
  return heap.sorted();
}
