/**
 * recall@k as ANN-benchmarks counts it: a returned result counts when its distance is within the
 * k-th true distance (plus epsilon 1e-3), so exact duplicates in the data (Fashion-MNIST has some)
 * do not lower recall for returning a different copy of an equally near vector.
 * Source: Aumüller, Bernhardsson & Faithfull, "ANN-Benchmarks", Information Systems 2020
 * (`knn` metric, `get_recall_values`).
 */
import type { Metric } from '../common/distance.ts';

const EPSILON = 1e-3;

/** Converts a shardfleet score back to the distance ANN-benchmarks compares (sqrt for l2). */
function comparable(metric: Metric, score: number): number {
  return metric === 'l2' ? Math.sqrt(Math.max(0, score)) : score;
}

/**
 * recall@k of one query: the fraction of the `k` returned scores that are within the true k-th
 * score (+ epsilon). `trueScores` are the exact top-k scores, best first.
 */
export function recallAtK(metric: Metric, returnedScores: readonly number[], trueScores: readonly number[], k: number): number {
  if (trueScores.length === 0) return 1;
  // When there are fewer true neighbours than k, only that many returned results count (else
  // recall could exceed 1).
  const count = Math.min(k, trueScores.length);
  const threshold = comparable(metric, trueScores[count - 1]) + EPSILON;
  let hits = 0;
  for (const s of returnedScores.slice(0, count)) if (comparable(metric, s) <= threshold) hits++;
  return hits / count;
}

/** p-th percentile (0..100) of `values` by nearest rank; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}
