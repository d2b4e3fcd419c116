/**
 * Recall-targeted probing (issues 15 and 22), query side. With the run's end-to-end curve
 * (manifest `search_recall`, src/writer/search-recall.ts) a query's `target_recall` becomes the
 * cheapest (num_probes, ef) pair whose measured recall reaches it; runs without it (older
 * manifests, non-usearch backends) use the routing recall curve (manifest `routing_recall`,
 * src/writer/routing-recall.ts): the smallest num_probes whose value reaches it.
 */
import { InvalidQueryError } from '../errors.ts';
import type { RoutingRecall, SearchRecall } from '../manifest.ts';

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

/** Result of {@link probesAndEfForRecall}. */
export interface ProbesAndEf {
  /** num_probes, 1-based. */
  numProbes: number;
  /** HNSW beam width to search each probed shard with. */
  ef: number;
  /** The measured recall of the pair. */
  recall: number;
  /** False when no measured pair within the limits reaches the target (the pair is then the best one). */
  reached: boolean;
}

/**
 * Query cost of a (num_probes, ef) pair in the units {@link probesAndEfForRecall} minimises:
 * num_probes x max(ef, k), since an HNSW search visits O(ef) nodes per shard and every probed
 * shard is searched (a node searches its probed shards one after the other).
 */
export function probeEfCost(numProbes: number, ef: number, k: number): number {
  return numProbes * Math.max(ef, k);
}

/**
 * The cheapest (num_probes, ef) pair of an end-to-end recall table whose measured recall reaches
 * `target` (cost {@link probeEfCost}; ties: fewer probes, then smaller ef). When none does, the
 * pair of the best recall (ties: the cheapest), with `reached` false.
 * @param table the manifest's `search_recall` (`recall[p - 1][j]` at ef[j]).
 * @param limits `maxProbes`: only rows 1..maxProbes; `ef`: only this ef (the request fixed it), or
 *   when it was not measured, the largest measured ef below it (the conservative reading; the
 *   smallest measured one when all are above it), while the pair keeps the request's ef.
 */
export function probesAndEfForRecall(table: SearchRecall, target: number, limits: { maxProbes?: number; ef?: number } = {}): ProbesAndEf {
  const rows = Math.min(table.recall.length, limits.maxProbes ?? table.recall.length);
  let columns = table.ef.map((_, j) => j);
  if (limits.ef !== undefined && limits.ef > 0) {
    const fixed = limits.ef;
    const below = columns.filter((j) => table.ef[j] <= fixed);
    columns = [below.length > 0 ? below[below.length - 1] : 0];
  }
  const efOf = (j: number): number => (limits.ef !== undefined && limits.ef > 0 ? limits.ef : table.ef[j]);
  let met: ProbesAndEf | undefined;
  let best: ProbesAndEf | undefined;
  let metCost = Infinity;
  let bestCost = Infinity;
  for (let p = 1; p <= rows; p++) {
    for (const j of columns) {
      const recall = table.recall[p - 1][j];
      const cost = probeEfCost(p, efOf(j), table.k);
      const pair = { numProbes: p, ef: efOf(j), recall, reached: true };
      if (recall >= target && cost < metCost) [met, metCost] = [pair, cost];
      if (best === undefined || recall > best.recall || (recall === best.recall && cost < bestCost)) [best, bestCost] = [pair, cost];
    }
  }
  return met ?? { ...best!, reached: false };
}

/** What a query's `target_recall` resolves to: num_probes (0 = the manifest's default) and ef (0 = the request's, i.e. the shard's default when unset). */
export interface ResolvedTarget {
  numProbes: number;
  ef: number;
}

/**
 * The num_probes (and ef) a query asks for, with `target_recall` resolved: an explicit num_probes
 * (> 0) or shard ids win and are returned unchanged; otherwise a target_recall (0 = unset) gives
 * - with the run's end-to-end table (`search`, manifest `search_recall`): the cheapest
 *   (num_probes, ef) pair reaching it ({@link probesAndEfForRecall}; a request ef > 0 is kept and
 *   only num_probes is chosen). When no measured pair reaches it and the table stops short of
 *   num_dbs rows, every shard is probed at the table's largest ef (or the request's);
 * - else with the routing recall curve: the smallest num_probes reaching it on the curve (a curve
 *   always reaches 1.0 with every shard probed; a hand-edited curve that never reaches the target
 *   gives the num_probes of its best value), ef unchanged.
 * @param targetRecall the request's target_recall, 0 = unset.
 * @param numProbes the request's num_probes, 0 = the manifest's default.
 * @param ef the request's ef, 0 = unset.
 * @returns num_probes to route with (0 = the manifest's default) and ef to search with (the
 *   request's when it gave one or no table chose one).
 * @throws InvalidQueryError naming target_recall when it is outside (0, 1] (or not finite), or
 *   when it is used and the run has neither curve (EXPLICIT, CEL or HASH routing, or a snapshot
 *   built before curves existed).
 */
export function resolveTargetRecall(
  targetRecall: number,
  numProbes: number,
  shardIdsGiven: boolean,
  curve: RoutingRecall | undefined,
  runId: string,
  search?: SearchRecall,
  ef = 0,
  numDbs = curve?.recall_at_probes.length ?? search?.recall.length ?? 0,
): ResolvedTarget {
  if (targetRecall === 0) return { numProbes, ef };
  if (!Number.isFinite(targetRecall) || targetRecall < 0 || targetRecall > 1) {
    throw new InvalidQueryError(`target_recall must be in (0, 1] (0 = unset), got ${targetRecall}`);
  }
  if (numProbes !== 0 || shardIdsGiven) return { numProbes, ef };
  if (search !== undefined) {
    const pick = probesAndEfForRecall(search, targetRecall, { ef });
    if (!pick.reached && search.recall.length < numDbs) return { numProbes: numDbs, ef: ef || search.ef[search.ef.length - 1] };
    return { numProbes: pick.numProbes, ef: pick.ef };
  }
  if (curve === undefined) {
    throw new InvalidQueryError(
      `target_recall needs a routing recall curve, and run ${runId} has none (only cluster and lsh builds measure one; rebuild, or give num_probes)`,
    );
  }
  return { numProbes: probesForRecall(curve.recall_at_probes, targetRecall).numProbes, ef };
}
