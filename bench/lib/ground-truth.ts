/**
 * Exact top-k ground truth (squared l2 scores, best first) computed once by brute force and cached
 * in bench/.cache (not committed), keyed by the dataset.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from './dataset.ts';

export const CACHE_DIR = join(import.meta.dirname, '..', '.cache');

/** Exact squared-l2 distances of one query to every base row (out has length n). */
export function l2SquaredAll(base: Float32Array, n: number, dim: number, query: Float32Array, qOffset: number, out: Float32Array): void {
  for (let r = 0; r < n; r++) {
    let s = 0;
    const o = r * dim;
    for (let d = 0; d < dim; d++) {
      const x = base[o + d] - query[qOffset + d];
      s += x * x;
    }
    out[r] = s;
  }
}

/** The `k` smallest values of `dist` with their rows, ascending. */
export function smallestK(dist: Float32Array, k: number): { rows: number[]; scores: number[] } {
  const rows: number[] = [];
  const scores: number[] = [];
  for (let r = 0; r < dist.length; r++) {
    const v = dist[r];
    if (scores.length === k && v >= scores[k - 1]) continue;
    let i = scores.length === k ? k - 1 : scores.length;
    if (scores.length < k) {
      scores.push(v);
      rows.push(r);
    }
    while (i > 0 && scores[i - 1] > v) {
      scores[i] = scores[i - 1];
      rows[i] = rows[i - 1];
      i--;
    }
    scores[i] = v;
    rows[i] = r;
  }
  return { rows, scores };
}

/**
 * The exact top-`k` squared-l2 scores of every query (`queryCount * k`, row-major), from the cache
 * when present. Logs progress to stderr while computing.
 */
export function groundTruth(ds: Dataset, k: number): Float32Array {
  const file = join(CACHE_DIR, `gt-${ds.key}-k${k}.f32`);
  if (existsSync(file)) {
    const buf = readFileSync(file);
    const gt = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    if (gt.length === ds.queryCount * k) return gt;
  }
  const started = performance.now();
  const gt = new Float32Array(ds.queryCount * k);
  const dist = new Float32Array(ds.baseCount);
  for (let q = 0; q < ds.queryCount; q++) {
    l2SquaredAll(ds.base, ds.baseCount, ds.dim, ds.queries, q * ds.dim, dist);
    gt.set(smallestK(dist, k).scores, q * k);
    if (q % 200 === 199) process.stderr.write(`ground truth ${q + 1}/${ds.queryCount}\n`);
  }
  mkdirSync(CACHE_DIR, { recursive: true });
  writeFileSync(file, Buffer.from(gt.buffer));
  process.stderr.write(`ground truth: ${ds.queryCount} queries x ${ds.baseCount} in ${((performance.now() - started) / 1000).toFixed(1)} s (cached in ${file})\n`);
  return gt;
}

/** The true top-k scores of query `q`. */
export function trueScores(gt: Float32Array, q: number, k: number): number[] {
  return Array.from(gt.subarray(q * k, (q + 1) * k));
}
