/** Brute-force ground truth for recall checks in tests. */
import { distance } from '../../src/common/distance.ts';

/**
 * Exact top-k ids of each query over `base` by l2 distance, ties broken by row; record ids are
 * the row numbers as text.
 * @param base `Float32Array` of rows x dim; `queries` of queries x dim.
 * @returns one array of k ids per query.
 */
export function exactTopK(base: Float32Array, queries: Float32Array, dim: number, k: number): string[][] {
  const n = base.length / dim;
  const out: string[][] = [];
  for (let q = 0; q < queries.length / dim; q++) {
    const scored = Array.from({ length: n }, (_, r) => ({ r, d: distance('l2', queries, q, base, r, dim) }));
    scored.sort((a, b) => a.d - b.d || a.r - b.r);
    out.push(scored.slice(0, k).map((s) => String(s.r)));
  }
  return out;
}
