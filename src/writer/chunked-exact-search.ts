/**
 * Exact (brute-force) k-nearest-neighbour search of many queries over a base of vectors with
 * usearch's `exactSearch`, in base chunks sized so each call stays cheap.
 *
 * Why chunks: usearch's exact search (index_plugins.hpp, `exact_search_t`) allocates two
 * rows x queries matrices of (offset, distance) pairs (16 bytes a pair) per call, fills one,
 * transposes it in one thread and partial-sorts each query's row. Above glibc's largest mmap
 * threshold (32 MiB) every call maps fresh pages (page faults: system time) and the transpose
 * misses the cache. Measured on this project's 2-core machine at 128-d, 256-1,000 queries: 83 ns
 * of CPU per (vector, query) pair at 16,384 rows a call (200 MB, 30% of it system time) against
 * 20-30 ns at about 1M pairs a call (16 MB).
 */
import { exactSearch, type BatchMatches, type MetricKind } from 'usearch';

/** (vector, query) pairs per `exactSearch` call: 16 MiB of usearch's scratch matrices. */
export const EXACT_PAIRS_PER_CALL = 1 << 20;

/**
 * Base rows per `exactSearch` call for `queries` queries: EXACT_PAIRS_PER_CALL / queries,
 * clamped to [256, 16,384] (fewer rows make the per-call overhead and sort per query dominate).
 */
export function exactChunkRows(queries: number): number {
  return Math.max(256, Math.min(16_384, Math.floor(EXACT_PAIRS_PER_CALL / Math.max(1, queries))));
}

/** Each query's exact top-k, nearest first. */
export interface ExactTopK {
  k: number;
  /** Per query q: `counts[q]` hits (min(k, base rows)). */
  counts: Int32Array;
  /** Base row of hit j of query q at q * k + j. */
  rows: Int32Array;
  /** Distance (usearch's: squared l2, 1 - cosine, 1 - dot) of hit j of query q at q * k + j. */
  distances: Float32Array;
}

/**
 * Exact top-`k` of every query over `base` (same result as one `exactSearch` call over all of
 * `base`, ties aside), computed `chunkRows` base rows at a time.
 * @param base row-major base vectors (rows * dim values; may be a view).
 * @param queries row-major queries (may be a view).
 * @param metric usearch metric kind.
 * @param threads usearch threads per call (0 = all cores).
 * @param chunkRows base rows per call (default {@link exactChunkRows} of the query count).
 * @throws RangeError when k < 1 or a length is not a multiple of dim.
 */
export function chunkedExactSearch(base: Float32Array, queries: Float32Array, dim: number, k: number, metric: MetricKind, threads = 0, chunkRows?: number): ExactTopK {
  if (!(k >= 1) || base.length % dim !== 0 || queries.length % dim !== 0) throw new RangeError(`exact search: k ${k}, base ${base.length} and queries ${queries.length} values at dim ${dim}`);
  const baseRows = base.length / dim;
  const q = queries.length / dim;
  const counts = new Int32Array(q);
  const rows = new Int32Array(q * k).fill(-1);
  const distances = new Float32Array(q * k).fill(Infinity);
  if (baseRows === 0 || q === 0) return { k, counts, rows, distances };
  // usearch reads a typed array's buffer from its start (it ignores byteOffset): copy views.
  const ownQueries = queries.byteOffset === 0 && queries.byteLength === queries.buffer.byteLength ? queries : queries.slice();
  const step = Math.max(1, chunkRows ?? exactChunkRows(q));
  for (let start = 0; start < baseRows; start += step) {
    const end = Math.min(baseRows, start + step);
    const chunk = base.slice(start * dim, end * dim);
    const want = Math.min(k, end - start);
    const m = exactSearch(chunk, ownQueries, dim, want, metric, threads) as BatchMatches;
    for (let qi = 0; qi < q; qi++) {
      const found = q === 1 ? want : Number(m.counts[qi]);
      const at = qi * k;
      for (let j = 0; j < found; j++) {
        const d = m.distances[qi * want + j];
        // Candidates come nearest first: once one is not better than the worst kept, none is.
        if (counts[qi] === k && !(d < distances[at + k - 1])) break;
        let i = Math.min(counts[qi], k - 1);
        while (i > 0 && distances[at + i - 1] > d) {
          distances[at + i] = distances[at + i - 1];
          rows[at + i] = rows[at + i - 1];
          i--;
        }
        distances[at + i] = d;
        rows[at + i] = start + Number(m.keys[qi * want + j]);
        if (counts[qi] < k) counts[qi]++;
      }
    }
  }
  return { k, counts, rows, distances };
}
