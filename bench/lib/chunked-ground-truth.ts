/**
 * Exact top-k ground truth over an `.fvecs` base file too large to hold in memory: the base is
 * read in chunks, each chunk brute-forced against all queries with usearch `exactSearch`
 * (multi-threaded, SIMD), and each query's running top-k merged with the chunk's. Memory: one
 * chunk plus the queries. Cached beside the data.
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { exactSearch, MetricKind, type BatchMatches } from 'usearch';
import { readFvecsRows } from './clustered-data.ts';

/** Exact neighbours of every query: `queries x k` row indices and squared-l2 distances, best first. */
export interface ExactNeighbours {
  k: number;
  queries: number;
  /** Base row indices (= the ids the writer gives an `.fvecs` record without an ids file). */
  rows: Int32Array;
  distances: Float32Array;
}

/**
 * Merges a candidate (row, dist) into the sorted top-k slot `q` (ascending distance); ties keep
 * the smaller row first, as the writer's input order would.
 */
export function mergeCandidate(nb: ExactNeighbours, q: number, row: number, dist: number): void {
  const { k } = nb;
  const o = q * k;
  const last = o + k - 1;
  if (dist > nb.distances[last] || (dist === nb.distances[last] && row >= nb.rows[last])) return;
  let i = last;
  while (i > o && (nb.distances[i - 1] > dist || (nb.distances[i - 1] === dist && nb.rows[i - 1] > row))) {
    nb.distances[i] = nb.distances[i - 1];
    nb.rows[i] = nb.rows[i - 1];
    i--;
  }
  nb.distances[i] = dist;
  nb.rows[i] = row;
}

/**
 * Base rows per exactSearch call. usearch's exact search allocates queries x rows keys and
 * distances (12 B each) per call, so 8,192 rows x 1,000 queries take ~100 MB; larger chunks cost
 * memory and, measured on 2 cores, more CPU per row (cache misses): 0.07 ms per row at 4-8k rows
 * against 0.12 ms at 64k.
 */
export const GT_CHUNK_ROWS = 8192;

/**
 * Exact top-`k` squared-l2 neighbours of `queries` (queryCount x dim) among the `n` records of
 * `basePath`, computed in chunks of `chunkRows`.
 * @param threads usearch threads (0 = all cores).
 */
export function chunkedExactNeighbours(basePath: string, n: number, dim: number, queries: Float32Array, k: number, options: { chunkRows?: number; threads?: number; log?: (line: string) => void } = {}): ExactNeighbours {
  const chunkRows = options.chunkRows ?? GT_CHUNK_ROWS;
  const queryCount = queries.length / dim;
  const nb: ExactNeighbours = { k, queries: queryCount, rows: new Int32Array(queryCount * k).fill(-1), distances: new Float32Array(queryCount * k).fill(Infinity) };
  const chunk = new Float32Array(chunkRows * dim);
  const scratch = new ArrayBuffer(chunkRows * (dim + 1) * 4);
  const fd = openSync(basePath, 'r');
  try {
    for (let start = 0; start < n; start += chunkRows) {
      const rows = Math.min(chunkRows, n - start);
      readFvecsRows(fd, basePath, dim, start, rows, chunk, scratch);
      const m = exactSearch(chunk.subarray(0, rows * dim), queries, dim, Math.min(k, rows), MetricKind.L2sq, options.threads ?? 0) as BatchMatches;
      const per = Math.min(k, rows);
      for (let q = 0; q < queryCount; q++) {
        for (let j = 0; j < per; j++) mergeCandidate(nb, q, start + Number(m.keys[q * per + j]), m.distances[q * per + j]);
      }
      options.log?.(`ground truth: ${(start + rows).toLocaleString('en')} / ${n.toLocaleString('en')} base vectors`);
    }
  } finally {
    closeSync(fd);
  }
  return nb;
}

/**
 * {@link chunkedExactNeighbours}, cached in `cacheFile` (int32 rows then float32 distances).
 * @returns the neighbours and whether they came from the cache.
 */
export function cachedExactNeighbours(cacheFile: string, basePath: string, n: number, dim: number, queries: Float32Array, k: number, log?: (line: string) => void): { nb: ExactNeighbours; reused: boolean; seconds: number } {
  const queryCount = queries.length / dim;
  if (existsSync(cacheFile)) {
    const buf = readFileSync(cacheFile);
    if (buf.length === queryCount * k * 8) {
      const copy = new Uint8Array(buf).buffer;
      return { nb: { k, queries: queryCount, rows: new Int32Array(copy, 0, queryCount * k), distances: new Float32Array(copy, queryCount * k * 4, queryCount * k) }, reused: true, seconds: 0 };
    }
  }
  const started = performance.now();
  const nb = chunkedExactNeighbours(basePath, n, dim, queries, k, { log });
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  writeFileSync(tmp, Buffer.concat([Buffer.from(nb.rows.buffer), Buffer.from(nb.distances.buffer)]));
  renameSync(tmp, cacheFile);
  return { nb, reused: false, seconds: (performance.now() - started) / 1000 };
}

/** Recall@k of one result list (ids as decimal row strings) against query `q`'s exact rows. */
export function recallOf(nb: ExactNeighbours, q: number, ids: readonly string[]): number {
  const truth = new Set<number>();
  for (let j = 0; j < nb.k; j++) truth.add(nb.rows[q * nb.k + j]);
  let hit = 0;
  for (const id of ids.slice(0, nb.k)) if (truth.has(Number(id))) hit++;
  return hit / nb.k;
}
