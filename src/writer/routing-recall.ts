/**
 * Recall-targeted probing (issue 15), build side: a CLUSTER or LSH build measures its own routing
 * recall on a sample of its data, so users (and `target_recall` queries) need not guess
 * num_probes.
 *
 * Method: up to `maxQueries` query vectors are drawn (seeded, without replacement) from a base of
 * up to `maxBase` vectors of the training sample. Each query's exact top-k within the base (the
 * query's own row excluded) is computed by brute force (usearch `exactSearch`, multi-threaded
 * SIMD, in base chunks: chunked-exact-search.ts); every base vector is assigned to a shard exactly as the writer assigns records (the run's
 * routing, centroid offsets included for a balanced CLUSTER run, or the streaming capacity-capped
 * assignment of a legacy balanced run without offsets), and each query is routed
 * with the run's own `ShardRouting.route` over all shards. recall_at_probes[p - 1] is the mean,
 * over queries, of the fraction of its top-k whose shard is among its first p probed shards:
 * the recall an exact search within each shard would get with num_probes = p. Since every
 * vector is in some shard the curve is non-decreasing and ends at exactly 1 at p = num_dbs.
 */
import { MetricKind } from 'usearch';
import type { Metric } from '../common/distance.ts';
import { ConfigValidationError } from '../common/errors.ts';
import type { RoutingRecall } from '../common/manifest.ts';
import { ClusterRouting } from '../common/routing/cluster-shard-routing.ts';
import { probesForRecall } from '../common/routing/recall-target.ts';
import type { ShardRouting } from '../common/routing/shard-routing.ts';
import { CapacityAssigner } from './balanced-assignment.ts';
import { chunkedExactSearch } from './chunked-exact-search.ts';
import { SeededRandom } from './seeded-random.ts';

export { probesForRecall } from '../common/routing/recall-target.ts';

/** Neighbours per query the curve is measured for. */
export const RECALL_K = 10;
/** Default number of sample queries. */
export const DEFAULT_RECALL_QUERIES = 1_000;
/** Default number of base vectors (the "data" the queries' exact top-k is taken in). */
export const DEFAULT_RECALL_BASE = 20_000;

/** Inputs of {@link measureRoutingRecall}. */
export interface RoutingRecallInput {
  /** The training sample, `Float32Array` of length rows * dim, row-major. */
  sample: Float32Array;
  dim: number;
  metric: Metric;
  /** The run's routing (CLUSTER or LSH). */
  routing: ShardRouting;
  /**
   * Legacy balanced CLUSTER runs (a balance factor, no centroid offsets): the balance factor, so
   * the base is assigned with the same streaming capacity cap. Unset when the routing carries
   * centroid offsets: then `routing.assign` is the build's assignment.
   */
  balanceFactor?: number | null;
  /** Neighbours per query (default 10; lowered to base rows - 1 for tiny inputs). */
  k?: number;
  /** Sample queries (default 1,000). */
  maxQueries?: number;
  /** Base vectors (default 20,000). */
  maxBase?: number;
  seed: number;
  /**
   * Progress: called once with (0, total queries) before the work, then with the number of
   * queries just finished (their sum reaches the total).
   */
  onQueries?: (done: number, total: number) => void;
}

/** Queries searched exactly per batch (so progress advances during a long measurement). */
const QUERY_BATCH = 256;

/**
 * Measures a run's routing recall curve on its training sample (see the module comment).
 * @returns the curve (length routing.numDbs, values rounded to 4 decimals, the last exactly 1),
 *   or undefined when the sample has fewer than 2 rows.
 * @throws InvalidQueryError from the routing only for a vector of the wrong length (never for a
 *   validated sample).
 */
export function measureRoutingRecall(input: RoutingRecallInput): RoutingRecall | undefined {
  const { sample, dim, routing } = input;
  const rows = Math.floor(sample.length / dim);
  const numDbs = routing.numDbs;
  if (rows < 2) return undefined;
  const rng = new SeededRandom(input.seed ^ 0x2545f491);
  const baseRows = Math.min(rows, input.maxBase ?? DEFAULT_RECALL_BASE);
  const base = baseRows === rows ? sample.subarray(0, rows * dim) : gatherRows(sample, dim, pickDistinct(rng, rows, baseRows));
  const k = Math.min(input.k ?? RECALL_K, baseRows - 1);
  const queryRows = pickDistinct(rng, baseRows, Math.min(baseRows, input.maxQueries ?? DEFAULT_RECALL_QUERIES));
  const queries = gatherRows(base, dim, queryRows);

  // Shard of every base vector, as the writer assigns records.
  const shardOf = new Int32Array(baseRows);
  if (input.balanceFactor != null && routing instanceof ClusterRouting && routing.centroids.offsets === undefined) {
    const capped = new CapacityAssigner(routing.centroids, baseRows, input.balanceFactor);
    for (let r = 0; r < baseRows; r++) shardOf[r] = capped.assign(base, r);
  } else {
    for (let r = 0; r < baseRows; r++) shardOf[r] = routing.assign({ vector: base.subarray(r * dim, (r + 1) * dim), location: `sample row ${r}` });
  }

  const hitsAtRank = new Float64Array(numDbs);
  const rank = new Int32Array(numDbs);
  input.onQueries?.(0, queryRows.length);
  for (let from = 0; from < queryRows.length; from += QUERY_BATCH) {
    const to = Math.min(queryRows.length, from + QUERY_BATCH);
    const matches = chunkedExactSearch(base, queries.subarray(from * dim, to * dim), dim, k + 1, usearchMetric(input.metric), 0);
    for (let qi = from; qi < to; qi++) {
      const order = routing.route({ vector: queries.subarray(qi * dim, (qi + 1) * dim), numProbes: numDbs, shardIds: [] });
      order.forEach((shard, i) => (rank[shard] = i));
      const self = queryRows[qi];
      const bi = qi - from;
      const found = matches.counts[bi];
      let taken = 0;
      for (let j = 0; j < found && taken < k; j++) {
        const row = matches.rows[bi * (k + 1) + j];
        if (row === self) continue;
        hitsAtRank[rank[shardOf[row]]]++;
        taken++;
      }
    }
    input.onQueries?.(to - from, queryRows.length);
  }
  const total = hitsAtRank.reduce((s, x) => s + x, 0);
  const curve: number[] = [];
  let cumulative = 0;
  for (let p = 0; p < numDbs; p++) {
    cumulative += hitsAtRank[p];
    curve.push(total === 0 ? 1 : Math.round((cumulative / total) * 1e4) / 1e4);
  }
  curve[numDbs - 1] = 1;
  return { k, sample_queries: queryRows.length, sample_size: baseRows, recall_at_probes: curve };
}

/** A curve for messages: `p=1: 0.9123, p=2: 0.9801, ...`. */
export function formatRecallCurve(curve: readonly number[]): string {
  return curve.map((r, i) => `p=${i + 1}: ${r.toFixed(4)}`).join(', ');
}

/** Build-time recall targets (`build --target-recall`, `--min-recall`, `--max-probes`). */
export interface RecallTargets {
  /** `--target-recall`: default num_probes := the smallest p whose curve value reaches it; in (0, 1]. */
  targetRecall?: number;
  /** `--min-recall`: refuse to publish unless the curve reaches it at `maxProbes` (default all shards); in (0, 1]. */
  minRecall?: number;
  /** `--max-probes`: the most probes the targets may use, 1..num_dbs. */
  maxProbes?: number;
  /** `--recall-queries`: sample queries of the curve (default 1,000); 0 = measure no curve. */
  sampleQueries?: number;
}

/**
 * Checks recall target options before any input is read.
 * @throws ConfigValidationError naming the CLI flag: a value outside (0, 1] or --max-probes not
 *   an integer in 1..num_dbs; any of them with a strategy other than cluster or lsh, or with
 *   --recall-queries 0 (no curve); --recall-queries not an integer >= 0.
 */
export function checkRecallTargets(t: RecallTargets | undefined, strategy: string, numDbs: number): void {
  if (t === undefined) return;
  if (t.sampleQueries !== undefined && (!Number.isInteger(t.sampleQueries) || t.sampleQueries < 0)) {
    throw new ConfigValidationError(`--recall-queries must be an integer >= 0 (0 = no recall curve), got ${t.sampleQueries}`);
  }
  const given = (['targetRecall', 'minRecall', 'maxProbes'] as const).filter((f) => t[f] !== undefined);
  if (given.length === 0) return;
  const flag = { targetRecall: '--target-recall', minRecall: '--min-recall', maxProbes: '--max-probes' } as const;
  if (strategy !== 'cluster' && strategy !== 'lsh') {
    throw new ConfigValidationError(`${flag[given[0]]} needs the cluster or lsh strategy (the ${strategy} strategy routes exactly and has no recall curve)`);
  }
  if (t.sampleQueries === 0) throw new ConfigValidationError(`${flag[given[0]]} needs the routing recall curve, which --recall-queries 0 turns off`);
  for (const f of ['targetRecall', 'minRecall'] as const) {
    const v = t[f];
    if (v !== undefined && !(Number.isFinite(v) && v > 0 && v <= 1)) throw new ConfigValidationError(`${flag[f]} must be a number in (0, 1], got ${v}`);
  }
  if (t.maxProbes !== undefined && (!Number.isInteger(t.maxProbes) || t.maxProbes < 1 || t.maxProbes > numDbs)) {
    throw new ConfigValidationError(`--max-probes must be an integer in 1..num_dbs (${numDbs}), got ${t.maxProbes}`);
  }
}

/**
 * Applies build-time recall targets to a measured curve.
 * @returns the default num_probes to publish: `--target-recall`'s choice, else `numProbes`
 *   unchanged.
 * @throws ConfigValidationError (nothing is published) giving the whole curve when `--min-recall`
 *   is not reached at `--max-probes` (or all shards), or `--target-recall` is not reached within
 *   `--max-probes`.
 */
export function applyRecallTargets(curve: RoutingRecall, t: RecallTargets | undefined, numProbes: number): number {
  if (t === undefined) return numProbes;
  const values = curve.recall_at_probes;
  const maxProbes = t.maxProbes ?? values.length;
  const at = t.maxProbes === undefined ? `with all ${values.length} shards probed` : `at --max-probes ${maxProbes}`;
  const measured = `measured on ${curve.sample_queries} sample queries, recall@${curve.k} at num_probes: ${formatRecallCurve(values)}`;
  if (t.minRecall !== undefined && values[maxProbes - 1] < t.minRecall) {
    throw new ConfigValidationError(
      `--min-recall ${t.minRecall} is not reached: routing recall ${at} is ${values[maxProbes - 1].toFixed(4)} (${measured}); the build is not published`,
    );
  }
  if (t.targetRecall === undefined) return numProbes;
  const chosen = probesForRecall(values, t.targetRecall, maxProbes);
  if (!chosen.reached) {
    throw new ConfigValidationError(
      `--target-recall ${t.targetRecall} is not reached ${at}: the best is ${values[chosen.numProbes - 1].toFixed(4)} (${measured}); the build is not published`,
    );
  }
  return chosen.numProbes;
}

function usearchMetric(metric: Metric): MetricKind {
  switch (metric) {
    case 'l2':
      return MetricKind.L2sq;
    case 'cosine':
      return MetricKind.Cos;
    case 'dot':
      return MetricKind.IP;
  }
}

/** `count` distinct integers of 0..n-1 (seeded partial Fisher-Yates), in draw order. */
function pickDistinct(rng: SeededRandom, n: number, count: number): number[] {
  const pool = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + rng.nextInt(n - i);
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, count);
}

function gatherRows(data: Float32Array, dim: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => out.set(data.subarray(r * dim, (r + 1) * dim), i * dim));
  return out;
}
