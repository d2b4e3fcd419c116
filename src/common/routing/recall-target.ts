/**
 * Recall-targeted probing (issue 15), query side: a query's `target_recall` becomes the smallest
 * num_probes whose value on the run's measured routing recall curve (manifest `routing_recall`,
 * see src/writer/routing-recall.ts) reaches it.
 */
import { InvalidQueryError } from '../errors.ts';
import type { RoutingRecall } from '../manifest.ts';

/** Result of {@link probesForRecall}. */
export interface ProbesForRecall {
  /** The smallest num_probes (1-based) whose curve value reaches the target, or that of the curve's best value. */
  numProbes: number;
  /** False when no value within the limit reaches the target (numProbes is then that of the best value). */
  reached: boolean;
}

/**
 * The smallest num_probes p in 1..maxProbes with curve[p - 1] >= target; when none reaches it,
 * the smallest p of the best value within the limit, with `reached` false.
 * @param curve recall_at_probes (length num_dbs, values in [0, 1]).
 * @param maxProbes upper limit (default: the curve's length).
 */
export function probesForRecall(curve: readonly number[], target: number, maxProbes = curve.length): ProbesForRecall {
  const limit = Math.min(maxProbes, curve.length);
  let best = 0;
  for (let p = 0; p < limit; p++) {
    if (curve[p] >= target) return { numProbes: p + 1, reached: true };
    if (curve[p] > curve[best]) best = p;
  }
  return { numProbes: best + 1, reached: false };
}

/**
 * The num_probes a query asks for, with `target_recall` resolved: an explicit num_probes (> 0) or
 * shard ids win and are returned unchanged; otherwise a target_recall (0 = unset) gives the
 * smallest num_probes reaching it on the curve. A curve always reaches 1.0 with every shard
 * probed, so every target in (0, 1] is met; a hand-edited curve that never reaches the target
 * gives the num_probes of its best value.
 * @param targetRecall the request's target_recall, 0 = unset.
 * @param numProbes the request's num_probes, 0 = the manifest's default.
 * @returns num_probes to route with (0 = the manifest's default).
 * @throws InvalidQueryError naming target_recall when it is outside (0, 1] (or not finite), or
 *   when it is used and the run has no routing recall curve (EXPLICIT, CEL or HASH routing, or a
 *   snapshot built before curves existed).
 */
export function resolveTargetRecall(targetRecall: number, numProbes: number, shardIdsGiven: boolean, curve: RoutingRecall | undefined, runId: string): number {
  if (targetRecall === 0) return numProbes;
  if (!Number.isFinite(targetRecall) || targetRecall < 0 || targetRecall > 1) {
    throw new InvalidQueryError(`target_recall must be in (0, 1] (0 = unset), got ${targetRecall}`);
  }
  if (numProbes !== 0 || shardIdsGiven) return numProbes;
  if (curve === undefined) {
    throw new InvalidQueryError(
      `target_recall needs a routing recall curve, and run ${runId} has none (only cluster and lsh builds measure one; rebuild, or give num_probes)`,
    );
  }
  return probesForRecall(curve.recall_at_probes, targetRecall).numProbes;
}
