/**
 * End-to-end recall of a built run (issue 22): what a query gets from routing plus the shard
 * search at a given HNSW beam width (ef), measured on the shard indexes the build just made,
 * before they are published. The routing-only curve (routing-recall.ts) assumes an exact search
 * within each probed shard and a 20k sample; this one measures what nodes serve.
 *
 * Method:
 * 1. Queries: `queries` vectors of the input (drawn from the training sample, seeded), each known
 *    by its record ordinal (0-based read order).
 * 2. Ground truth ({@link GroundTruthScan}): during the build's assignment pass every written
 *    record is fed in read order; records are gathered in chunks and each chunk is searched
 *    exactly for every query (usearch `exactSearch`, multi-threaded SIMD), keeping each query's
 *    running exact top-k over ALL the run's vectors, the query's own record excluded (held out:
 *    it is in the data, but it is not its own neighbour). A record is identified by (shard, key)
 *    where key is its row number in its shard (the order records reach a shard; usearch keys are
 *    those row numbers, usearch-layout.ts), so no id strings are kept.
 * 3. Shard search ({@link measureSearchRecall}): each query is routed with the run's routing; for
 *    each of its first P probed shards up to the last one holding one of its exact neighbours
 *    (later ones cannot add a true neighbour) and each ef in `efs`, the shard's index (memory-mapped as a
 *    node maps it) is searched for max(k + 1, ef) results (a node asks for max(top_k, ef)), the
 *    query's own row dropped, and the first k kept. recall[p - 1][j] is the mean over queries of
 *    |merged top-k of the first p shards at ef[j] ∩ exact top-k| / k.
 *
 * Cost: the ground truth is queries x N x dim multiply-adds, so the query count is set from a
 * per-vector budget ({@link searchRecallQueries}: the measurement stays a fixed fraction of the
 * build's own per-vector work whatever N is), between {@link MIN_SEARCH_RECALL_QUERIES} and
 * `--recall-queries`; the shard search is queries x P x |efs| HNSW searches, independent of N
 * but for the slowly growing search cost per shard.
 *
 * Where it runs: in a single-process build (build-snapshot.ts, built-recall.ts), after the shards
 * are built and uploaded and before the manifest is written (the shard folders are still in the
 * work folder). In a distributed build (`build --plan / --worker / publish`, distributed-recall.ts)
 * the same steps are split: `--plan` stores the queries (vectors + ordinals) beside the plan; each
 * worker feeds {@link GroundTruthScan} only the records of its own shards ({@link
 * GroundTruthScan.partial}: a partial exact top-k, distances comparable across workers), routes
 * every query and searches its own shards ({@link searchShard}) for those that probe them within
 * the measured probes, and uploads that partial (recall-partial.ts; about queries x own shards x
 * |efs| x k x 12 bytes); `publish` merges the partial ground truths by distance
 * ({@link mergeGroundTruths}), routes each query with the run's routing ({@link routeQueries}) and
 * merges the per-shard hits of its first p shards ({@link recallTable}), the code
 * {@link measureSearchRecall} runs in one process. No shard is downloaded and no worker reads
 * records beyond its own shards'.
 */
import { BatchMatches, exactSearch, type Index, Matches } from 'usearch';
import type { Metric } from '../common/distance.ts';
import type { SearchRecall } from '../common/manifest.ts';
import type { ShardRouting } from '../common/routing/shard-routing.ts';
import { usearchMetric } from '../common/usearch-layout.ts';
import { exactChunkRows } from './chunked-exact-search.ts';

/**
 * Beam widths measured (64 is the default ef_search). No ef below 32: a sample query is itself a
 * node of its shard's graph, which helps a narrow beam find its neighbours (measured at ef 16 on
 * 100k clustered vectors: 0.96 predicted vs 0.93 served to held-out queries); from 32 up the
 * table and served recall agree within sampling error.
 */
export const SEARCH_RECALL_EFS: readonly number[] = [32, 64, 128, 256, 512];
/** Most num_probes rows measured (a table with fewer rows than num_dbs falls back to all shards for unmet targets). */
export const MAX_MEASURED_PROBES = 16;
/**
 * Ground-truth budget: multiply-adds per input vector (queries x dim). 100,000 gives 781 queries
 * at 128-d: about 16-23 µs of CPU per vector on this project's 2-core test machine (usearch
 * exactSearch in ~1M-pair chunks, 20-30 ns per (vector, query) pair, chunked-exact-search.ts;
 * 16,384-row chunks cost 83 ns a pair), beside the ~200-300 µs a vector costs to build. Fewer queries
 * make the table noisy: recall at num_probes 1 on clustered data is a mean of mostly 0-or-1
 * per-cluster outcomes (390 queries: +-0.01).
 */
export const GROUND_TRUTH_MACS_PER_VECTOR = 100_000;
/** Fewest sample queries (std error of a recall near 0.99 stays ~0.002 at 200 queries x 10 neighbours). */
export const MIN_SEARCH_RECALL_QUERIES = 200;

/**
 * Sample queries of the end-to-end measurement: floor(GROUND_TRUTH_MACS_PER_VECTOR / dim),
 * clamped to [MIN_SEARCH_RECALL_QUERIES, maxQueries] and to the sample rows.
 * @param maxQueries `--recall-queries` (default 1,000).
 */
export function searchRecallQueries(maxQueries: number, dim: number, sampleRows: number): number {
  const budget = Math.floor(GROUND_TRUTH_MACS_PER_VECTOR / Math.max(1, dim));
  return Math.max(0, Math.min(sampleRows, maxQueries, Math.max(MIN_SEARCH_RECALL_QUERIES, budget)));
}

/** A record's identity within a run: shard * 2^32 + row number in the shard (exact as a double). */
export function recordKey(dbId: number, row: number): number {
  return dbId * 0x1_0000_0000 + row;
}

/** The shard of a {@link recordKey}. */
export function keyShard(key: number): number {
  return Math.floor(key / 0x1_0000_0000);
}

/** Exact top-k of the sample queries over a run, as {@link GroundTruthScan.finish} returns it. */
export interface GroundTruth {
  k: number;
  dim: number;
  /** Query vectors, row-major (only queries whose own record was seen). */
  queries: Float32Array;
  /** Per query: its own record ({@link recordKey}). */
  self: number[];
  /** Per query: its exact top-k records ({@link recordKey}), nearest first (fewer when the run is tiny). */
  neighbours: number[][];
  /** Vectors scanned. */
  vectors: number;
  /** Time spent in the exact search, seconds. */
  seconds: number;
}

/**
 * One scan's exact top-k of every sample query over the records it saw (a distributed build's
 * worker sees only its own shards' records), as {@link GroundTruthScan.partial} returns it.
 * Partials of scans over disjoint sets of records merge into the run's ground truth
 * ({@link mergeGroundTruths}): distances are usearch's exact float32 distances, comparable across
 * scans.
 */
export interface PartialGroundTruth {
  k: number;
  /** Per query (the scan's query order): its own record ({@link recordKey}), or -1 when not seen by this scan. */
  self: number[];
  /** Per query: the nearest records seen (at most k, the query's own excluded), nearest first. */
  keys: number[][];
  /** Per query: their distances, ascending (same length as `keys`). */
  distances: number[][];
  /** Vectors scanned. */
  vectors: number;
  /** Time spent in the exact search, seconds. */
  seconds: number;
}

/**
 * Merges partial ground truths of scans over disjoint record sets into the run's ground truth:
 * per query, the k nearest of the union by distance (ties: the earlier partial first, as one scan
 * keeps the earlier record); queries no partial saw the own record of (an earlier duplicate of an
 * id kept last) are dropped, as {@link GroundTruthScan.finish} drops them.
 * @param queries every query vector, row-major, in the partials' query order.
 * @throws RangeError when the partials disagree on k or the query count, or two partials claim a
 *   query's own record (they did not scan disjoint records).
 */
export function mergeGroundTruths(queries: Float32Array, dim: number, parts: readonly PartialGroundTruth[]): GroundTruth {
  const nq = queries.length / dim;
  const k = parts[0]?.k ?? 10;
  for (const [i, part] of parts.entries()) {
    if (part.k !== k || part.self.length !== nq || part.keys.length !== nq || part.distances.length !== nq) {
      throw new RangeError(`ground truth part ${i}: k ${part.k} and ${part.self.length} queries, expected k ${k} and ${nq} queries`);
    }
  }
  const kept: number[] = [];
  const self: number[] = [];
  const neighbours: number[][] = [];
  for (let qi = 0; qi < nq; qi++) {
    const owners = parts.filter((part) => part.self[qi] >= 0);
    if (owners.length > 1) throw new RangeError(`ground truth: ${owners.length} parts hold the own record of query ${qi}`);
    if (owners.length === 0) continue;
    const all = parts.flatMap((part) => part.keys[qi].map((key, i) => ({ key, d: part.distances[qi][i] })));
    all.sort((x, y) => x.d - y.d); // stable: ties keep the part order
    kept.push(qi);
    self.push(owners[0].self[qi]);
    neighbours.push(all.slice(0, k).map((x) => x.key));
  }
  const out = new Float32Array(kept.length * dim);
  kept.forEach((qi, i) => out.set(queries.subarray(qi * dim, (qi + 1) * dim), i * dim));
  return {
    k,
    dim,
    queries: out,
    self,
    neighbours,
    vectors: parts.reduce((s, part) => s + part.vectors, 0),
    seconds: parts.reduce((s, part) => s + part.seconds, 0),
  };
}

/** Options of {@link GroundTruthScan}. */
export interface GroundTruthScanOptions {
  /** Query vectors, row-major, `ordinals.length` rows. */
  queries: Float32Array;
  /** Record ordinal (0-based read order) of each query. */
  ordinals: readonly number[];
  dim: number;
  metric: Metric;
  numDbs: number;
  /** Neighbours per query (default 10). */
  k?: number;
  /** Rows per exact-search chunk (default {@link exactChunkRows} of the query count: ~1M pairs a call). */
  chunkRows?: number;
}

/**
 * Streams a run's records once and keeps every query's exact top-k over all of them (see the
 * module comment, step 2). Feed records in read order with {@link observe} exactly as they are
 * written to shards, then call {@link finish}.
 */
export class GroundTruthScan {
  private readonly k: number;
  private readonly dim: number;
  private readonly chunkRows: number;
  private readonly chunk: Float32Array;
  private readonly chunkKeys: number[] = [];
  private readonly chunkOrdinals: number[] = [];
  private readonly rowsPerShard: number[];
  private readonly queryOf = new Map<number, number>();
  private readonly self: number[];
  /** Per query: top-k distances ascending, and their record keys. */
  private readonly bestDist: Float64Array[];
  private readonly bestKey: number[][];
  private vectors = 0;
  private ms = 0;

  /** @throws RangeError when `queries` does not hold ordinals.length rows of `dim`. */
  constructor(private readonly o: GroundTruthScanOptions) {
    this.k = o.k ?? 10;
    this.dim = o.dim;
    if (o.queries.length !== o.ordinals.length * o.dim) throw new RangeError(`ground truth: ${o.queries.length} query values for ${o.ordinals.length} queries of dim ${o.dim}`);
    this.chunkRows = o.chunkRows ?? exactChunkRows(o.ordinals.length);
    this.chunk = new Float32Array(this.chunkRows * o.dim);
    this.rowsPerShard = new Array<number>(o.numDbs).fill(0);
    o.ordinals.forEach((ord, qi) => this.queryOf.set(ord, qi));
    this.self = new Array<number>(o.ordinals.length).fill(-1);
    this.bestDist = o.ordinals.map(() => new Float64Array(0));
    this.bestKey = o.ordinals.map(() => []);
  }

  /**
   * One written record: its read ordinal (or -1 for a record known not to be a sample query's:
   * a distributed worker knows only its queries' ordinals), its shard and its vector (length dim;
   * copied). Records must arrive in the order they are added to each shard.
   */
  observe(ordinal: number, dbId: number, vector: Float32Array): void {
    const key = recordKey(dbId, this.rowsPerShard[dbId]++);
    const qi = this.queryOf.get(ordinal);
    if (qi !== undefined) this.self[qi] = key;
    this.chunk.set(vector, this.chunkKeys.length * this.dim);
    this.chunkKeys.push(key);
    this.chunkOrdinals.push(ordinal);
    this.vectors++;
    if (this.chunkKeys.length === this.chunkRows) this.flush();
  }

  /** Scans the last chunk and returns the ground truth of the queries whose own record was seen. */
  finish(): GroundTruth {
    return mergeGroundTruths(this.o.queries, this.dim, [this.partial()]);
  }

  /**
   * Scans the last chunk and returns every query's top-k over the records seen here, with
   * distances (the partial a distributed worker uploads; {@link mergeGroundTruths}).
   */
  partial(): PartialGroundTruth {
    this.flush();
    return {
      k: this.k,
      self: [...this.self],
      keys: this.bestKey.map((keys) => [...keys]),
      distances: this.bestDist.map((d) => Array.from(d)),
      vectors: this.vectors,
      seconds: this.ms / 1000,
    };
  }

  private flush(): void {
    const started = performance.now();
    this.scan();
    this.ms += performance.now() - started;
  }

  private scan(): void {
    const rows = this.chunkKeys.length;
    if (rows === 0 || this.o.ordinals.length === 0) {
      this.chunkKeys.length = 0;
      this.chunkOrdinals.length = 0;
      return;
    }
    const want = Math.min(rows, this.k + 1);
    // A copy when partial: usearch's native exactSearch reads the buffer from its start.
    const base = rows === this.chunkRows ? this.chunk : this.chunk.slice(0, rows * this.dim);
    const m = exactSearch(base, this.o.queries, this.dim, want, usearchMetric(this.o.metric), 0) as BatchMatches;
    for (let qi = 0; qi < this.o.ordinals.length; qi++) {
      const found = Number(m.counts[qi]);
      for (let j = 0; j < found; j++) {
        const row = Number(m.keys[qi * want + j]);
        if (this.chunkOrdinals[row] === this.o.ordinals[qi]) continue;
        this.insert(qi, m.distances[qi * want + j], this.chunkKeys[row]);
      }
    }
    this.chunkKeys.length = 0;
    this.chunkOrdinals.length = 0;
  }

  private insert(qi: number, dist: number, key: number): void {
    const d = this.bestDist[qi];
    const keys = this.bestKey[qi];
    if (d.length === this.k && dist >= d[this.k - 1]) return;
    const next = new Float64Array(Math.min(this.k, d.length + 1));
    let i = 0;
    while (i < d.length && d[i] <= dist) i++;
    next.set(d.subarray(0, i));
    next[i] = dist;
    if (i + 1 < next.length) next.set(d.subarray(i, next.length - 1), i + 1);
    keys.splice(i, 0, key);
    if (keys.length > this.k) keys.length = this.k;
    this.bestDist[qi] = next;
  }
}

/** Options of {@link measureSearchRecall}. */
export interface SearchRecallOptions {
  truth: GroundTruth;
  routing: ShardRouting;
  /** The shard's built index (memory-mapped), or undefined for an empty shard. */
  openShard: (dbId: number) => Index | undefined;
  /** Beam widths (default SEARCH_RECALL_EFS), ascending. */
  efs?: readonly number[];
  /** Rows measured (default min(num_dbs, MAX_MEASURED_PROBES)). */
  maxProbes?: number;
}

/**
 * Measures the end-to-end recall table (module comment, step 3) in one process, every shard at hand.
 * @returns the manifest's `search_recall` (values rounded to 4 decimals, `seconds` unset), or
 *   undefined when no query has a ground truth.
 * @throws whatever usearch throws for a corrupt index (the caller names the shard).
 */
export function measureSearchRecall(o: SearchRecallOptions): SearchRecall | undefined {
  const { truth, routing } = o;
  const { k, dim } = truth;
  const nq = truth.self.length;
  if (nq === 0 || truth.neighbours.every((n) => n.length === 0)) return undefined;
  const efs = [...(o.efs ?? SEARCH_RECALL_EFS)];
  const probes = measuredProbes(routing, o.maxProbes);
  const orders = routeQueries(routing, truth.queries, dim, probes);
  // hits[qi][rank][j]: what shard `orders[qi][rank]` returns at efs[j] (unset: not searched).
  const hits: (ShardHits[] | undefined)[][] = orders.map((order) => order.map(() => undefined));
  const lastRank = usefulRanks(orders, truth.neighbours);
  for (let dbId = 0; dbId < routing.numDbs; dbId++) {
    const asking: { qi: number; rank: number }[] = [];
    orders.forEach((order, qi) => {
      const rank = order.indexOf(dbId);
      if (rank >= 0 && rank <= lastRank[qi]) asking.push({ qi, rank });
    });
    if (asking.length === 0) continue;
    const index = o.openShard(dbId);
    if (index === undefined) continue;
    const found = searchShard(index, dbId, gatherRows(truth.queries, dim, asking.map((a) => a.qi)), asking.map((a) => truth.self[a.qi]), k, efs);
    asking.forEach(({ qi, rank }, i) => (hits[qi][rank] = found[i]));
  }
  return recallTable(truth, orders, efs, (qi, rank, j) => hits[qi][rank]?.[j]);
}

/** num_probes rows measured: min(num_dbs, maxProbes ?? MAX_MEASURED_PROBES). */
export function measuredProbes(routing: ShardRouting, maxProbes?: number): number {
  return Math.min(routing.numDbs, maxProbes ?? MAX_MEASURED_PROBES);
}

/** Each query's first `probes` shards in the run's probe order (row-major `queries`, `dim` columns). */
export function routeQueries(routing: ShardRouting, queries: Float32Array, dim: number, probes: number): number[][] {
  const nq = Math.floor(queries.length / dim);
  return Array.from({ length: nq }, (_, qi) => routing.route({ vector: queries.subarray(qi * dim, (qi + 1) * dim), numProbes: probes, shardIds: [] }));
}

/**
 * Per query, the last rank of its probe order whose shard holds one of its exact neighbours (-1:
 * none): later shards hold none, so they cannot add a true neighbour to its merged top-k (its row
 * stays constant from there on) and are neither searched nor merged.
 */
export function usefulRanks(orders: readonly (readonly number[])[], neighbours: readonly (readonly number[])[]): number[] {
  return orders.map((order, qi) => Math.max(-1, ...neighbours[qi].map((key) => order.indexOf(keyShard(key)))));
}

/** What one shard returns for one query at one ef: up to k hits, nearest first, the query's own record dropped. */
export interface ShardHits {
  /** Distances as the index computes them (its quantization), ascending. */
  dist: Float32Array;
  /** Record keys ({@link recordKey}). */
  keys: number[];
}

/**
 * Searches one shard's index for several queries at every ef as a node does: max(k + 1, ef)
 * results (a node asks for max(top_k, ef)), the query's own record dropped, the first k kept.
 * @param queries row-major query vectors, `self.length` rows (a fresh array, not a view: usearch
 *   reads the buffer from its start).
 * @param self per row: the query's own record key ({@link recordKey}), or -1.
 * @returns hits[row][j] at efs[j].
 * @throws whatever usearch throws for a corrupt index.
 */
export function searchShard(index: Index, dbId: number, queries: Float32Array, self: readonly number[], k: number, efs: readonly number[]): ShardHits[][] {
  const out: ShardHits[][] = self.map(() => []);
  const size = Number(index.size());
  efs.forEach((ef) => {
    const wanted = Math.min(Math.max(k + 1, ef), size);
    const found = index.search(queries, wanted, 0);
    const r = found instanceof Matches ? { keys: found.keys, distances: found.distances, counts: [BigInt(found.keys.length)] } : found;
    const stride = found instanceof Matches ? 0 : wanted;
    self.forEach((own, i) => {
      const n = Number(r.counts[i]);
      const keys: number[] = [];
      const dist: number[] = [];
      for (let h = 0; h < n && keys.length < k; h++) {
        const key = recordKey(dbId, Number(r.keys[i * stride + h]));
        if (key === own) continue;
        keys.push(key);
        dist.push(r.distances[i * stride + h]);
      }
      out[i].push({ dist: Float32Array.from(dist), keys });
    });
  });
  return out;
}

/**
 * The table from the per-shard hits (module comment, step 3, the merge): for each query, num_probes
 * p and efs[j], the first p shards' hits at efs[j] merged by distance (top k) and compared with
 * the exact top-k; shards past {@link usefulRanks} are not merged.
 * @param orders each query's probe order (at least `probes` shards, fewer when num_dbs is smaller).
 * @param hitsAt the hits of shard `orders[qi][rank]` at efs[j] for query qi, or undefined (an empty
 *   or unsearched shard).
 * @returns the manifest's `search_recall` (values rounded to 4 decimals, `seconds` unset), or
 *   undefined when no query has a ground truth.
 */
export function recallTable(
  truth: GroundTruth,
  orders: readonly (readonly number[])[],
  efs: readonly number[],
  hitsAt: (qi: number, rank: number, j: number) => ShardHits | undefined,
  probes = orders[0]?.length ?? 0,
): SearchRecall | undefined {
  const { k } = truth;
  const nq = truth.self.length;
  if (nq === 0 || probes === 0 || truth.neighbours.every((n) => n.length === 0)) return undefined;
  const lastRank = usefulRanks(orders, truth.neighbours);
  const sums = Array.from({ length: probes }, () => new Float64Array(efs.length));
  const routed = new Float64Array(probes);
  let counted = 0;
  for (let qi = 0; qi < nq; qi++) {
    const exact = new Set(truth.neighbours[qi]);
    if (exact.size === 0) continue;
    counted++;
    const shards = orders[qi];
    for (let p = 0; p < probes; p++) {
      const inShards = truth.neighbours[qi].filter((key) => shards.slice(0, p + 1).includes(keyShard(key))).length;
      routed[p] += inShards / exact.size;
    }
    for (let j = 0; j < efs.length; j++) {
      const merged: { d: number; key: number }[] = [];
      for (let p = 0; p < probes; p++) {
        const h = p < shards.length && p <= lastRank[qi] ? hitsAt(qi, p, j) : undefined;
        if (h) h.keys.forEach((key, i) => merged.push({ d: h.dist[i], key }));
        merged.sort((a, b) => a.d - b.d);
        if (merged.length > k) merged.length = k;
        sums[p][j] += merged.filter((m) => exact.has(m.key)).length / exact.size;
      }
    }
  }
  const round = (x: number): number => Math.round((x / counted) * 1e4) / 1e4;
  return {
    k,
    sample_queries: counted,
    ground_truth_vectors: truth.vectors,
    ef: [...efs],
    recall: sums.map((row) => Array.from(row, round)),
    routing_recall_at_probes: Array.from(routed, round),
  };
}

/** Rows `rows` of a row-major matrix, as a fresh array. */
export function gatherRows(data: Float32Array, dim: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => out.set(data.subarray(r * dim, (r + 1) * dim), i * dim));
  return out;
}

/** The table for messages: one line per num_probes, `p=2: ef16 0.9012, ef32 0.9433, ...`. */
export function formatSearchRecall(t: SearchRecall): string {
  return t.recall.map((row, i) => `p=${i + 1}: ${row.map((r, j) => `ef${t.ef[j]} ${r.toFixed(4)}`).join(', ')}`).join('\n');
}
