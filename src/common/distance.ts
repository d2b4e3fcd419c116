/**
 * Distance functions shared by the writer (k-means, assignment, brute force) and the router
 * (routing). Every function returns a score where LOWER IS BETTER, matching the scores the shard
 * indexes return, so scores from different shards merge directly.
 */
import { z } from 'zod';
import { METRICS } from './choice-lists.ts';

/** Distance metrics: squared Euclidean, cosine distance (1 - cos), negated dot product. */
export const MetricSchema = z.enum(METRICS);
/** A distance metric name. */
export type Metric = z.infer<typeof MetricSchema>;

/**
 * Squared Euclidean distance between row `aRow` of `a` and row `bRow` of `b`, both row-major
 * float32 matrices with `dim` columns. Accumulates in float64.
 */
export function squaredL2(a: Float32Array, aRow: number, b: Float32Array, bRow: number, dim: number): number {
  let sum = 0;
  const ao = aRow * dim;
  const bo = bRow * dim;
  for (let i = 0; i < dim; i++) {
    const d = a[ao + i] - b[bo + i];
    sum += d * d;
  }
  return sum;
}

/** Dot product of row `aRow` of `a` and row `bRow` of `b` (row-major, `dim` columns). */
export function dot(a: Float32Array, aRow: number, b: Float32Array, bRow: number, dim: number): number {
  let sum = 0;
  const ao = aRow * dim;
  const bo = bRow * dim;
  for (let i = 0; i < dim; i++) sum += a[ao + i] * b[bo + i];
  return sum;
}

/** Euclidean norm of row `row` of a row-major matrix with `dim` columns. */
export function norm(a: Float32Array, row: number, dim: number): number {
  return Math.sqrt(dot(a, row, a, row, dim));
}

/**
 * Distance (lower is better) between row `aRow` of `a` and row `bRow` of `b` under `metric`:
 * l2 -> squared Euclidean; cosine -> 1 - cos (1 when either vector is zero, i.e. cos taken as 0);
 * dot -> -<a, b>.
 */
export function distance(
  metric: Metric,
  a: Float32Array,
  aRow: number,
  b: Float32Array,
  bRow: number,
  dim: number,
): number {
  switch (metric) {
    case 'l2':
      return squaredL2(a, aRow, b, bRow, dim);
    case 'dot':
      return -dot(a, aRow, b, bRow, dim);
    case 'cosine': {
      const na = norm(a, aRow, dim);
      const nb = norm(b, bRow, dim);
      if (na === 0 || nb === 0) return 1;
      return 1 - dot(a, aRow, b, bRow, dim) / (na * nb);
    }
  }
}
