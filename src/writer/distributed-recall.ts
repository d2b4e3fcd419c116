/**
 * End-to-end recall of a distributed build (`build --plan` / `--worker i/N` / `publish`): the
 * same `search_recall` table a single-process build measures (search-recall.ts), computed from
 * per-worker partials, so no shard is downloaded and no worker reads records beyond its own shards'.
 *
 * - `--plan` stores the sample queries' vectors as `runs/<run_id>/recall/queries.npy` and their
 *   record ordinals in the plan ({@link storeRecallQueries}).
 * - Each worker notes, while partitioning its slice, where each query's own record went (shard and
 *   row in its partition: the marker's `recall_rows`), so the worker that builds that shard knows
 *   the record's row and excludes it as the single-process scan does. While it writes its own
 *   shards it feeds their records to a {@link GroundTruthScan} (a partial exact top-k over its own
 *   shards), then searches each of its non-empty shards at every ef for the queries that probe it
 *   within the measured probes, and uploads both as its partial (recall-partial.ts) before its
 *   receipts ({@link WorkerRecall}).
 * - `publish` ({@link mergeRecallPartials}) merges the partial ground truths by distance, routes
 *   each query with the run's routing (centroid offsets included) and merges the per-shard hits of
 *   its first p shards with the single-process code (recallTable).
 *
 * Recall is advisory: a partial that is missing, damaged or describes other shard files than the
 * receipts (a worker rerun after it) makes `publish` log a warning naming the worker and key and
 * publish the run with the routing-only curve (`routing_recall`), never fail.
 */
import type { Logger } from 'pino';
import { errorMessage, ObjectNotFoundError } from '../common/errors.ts';
import { sha256Hex } from '../common/file-digest.ts';
import type { ObjectRef, SearchRecall, ShardEntry } from '../common/manifest.ts';
import { encodeNpyFloat32 } from '../common/npy.ts';
import { loadShardRouting } from '../common/routing/load-routing.ts';
import type { ShardRouting } from '../common/routing/shard-routing.ts';
import { loadVectorMeta } from '../common/routing/vector-meta.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';
import { USEARCH_INDEX_FILE } from '../common/usearch-layout.ts';
import type { BuildPlan } from './build-plan.ts';
import { openBuiltIndex } from './built-recall.ts';
import type { PartitionMarker } from './partition-exchange.ts';
import { decodeRecallPartial, encodeRecallPartial, recallPartialKey, recallPrefix, recallQueriesKey, type RecallPartial, type ShardRecallHits } from './recall-partial.ts';
import {
  formatSearchRecall,
  gatherRows,
  GroundTruthScan,
  MAX_MEASURED_PROBES,
  measuredProbes,
  mergeGroundTruths,
  recallTable,
  routeQueries,
  SEARCH_RECALL_EFS,
  searchShard,
} from './search-recall.ts';
import type { WorkerSlice } from './shard-build.ts';
import { RECALL_K } from './routing-recall.ts';

/** The plan's reference to its recall queries. */
export type RecallQueriesRef = NonNullable<BuildPlan['recall_queries']>;

/**
 * `--plan`: stores the sample queries' vectors (float32 npy [queries, dim]).
 * @returns the plan's `recall_queries` (key, bytes, sha256, ordinals).
 * @throws StorageError from the store.
 */
export async function storeRecallQueries(store: ObjectStore, runId: string, dim: number, queries: { vectors: Float32Array; ordinals: number[] }): Promise<RecallQueriesRef> {
  const bytes = encodeNpyFloat32(queries.vectors, [queries.ordinals.length, dim]);
  const ref: ObjectRef = { ref: recallQueriesKey(runId), bytes: bytes.length, sha256: sha256Hex(bytes) };
  await store.put(ref.ref, bytes);
  return { ...ref, ordinals: [...queries.ordinals] };
}

/**
 * Reads the sample queries' vectors, checked against the plan's size, sha256 and shape.
 * @throws ShardIntegrityError / ManifestParseError when they do not match; ObjectNotFoundError.
 */
export async function loadRecallQueries(store: ObjectStore, plan: BuildPlan, ref: RecallQueriesRef): Promise<Float32Array> {
  return loadVectorMeta(store, ref, [ref.ordinals.length, plan.index.dim], plan.run_id);
}

/**
 * A worker's part of the measurement: fed its own shards' rows in the order they reach the
 * shards ({@link observe}), then searches its built shards and uploads its partial ({@link finish}).
 */
export class WorkerRecall {
  private readonly scan: GroundTruthScan;
  private readonly rowsSeen: number[];
  /** Per shard: row in the shard -> ordinal of the sample query whose own record it is. */
  private readonly queryRows = new Map<number, Map<number, number>>();

  private constructor(
    private readonly plan: BuildPlan,
    private readonly queries: Float32Array,
    private readonly worker: WorkerSlice,
    markers: readonly PartitionMarker[],
  ) {
    const ordinals = plan.recall_queries?.ordinals ?? [];
    this.scan = new GroundTruthScan({ queries, ordinals, dim: plan.index.dim, metric: plan.index.metric, numDbs: plan.sharding.num_dbs });
    this.rowsSeen = new Array<number>(plan.sharding.num_dbs).fill(0);
    // A shard's rows arrive worker 0's partition first (partition-exchange.ts): a row of worker w's
    // partition is at (rows of workers < w) + its row there.
    const offset = new Array<number>(plan.sharding.num_dbs).fill(0);
    for (const m of markers) {
      for (const [ordinal, dbId, row] of m.recall_rows ?? []) {
        if (dbId % worker.count !== worker.index) continue;
        let rows = this.queryRows.get(dbId);
        if (rows === undefined) this.queryRows.set(dbId, (rows = new Map()));
        rows.set(offset[dbId] + row, ordinal);
      }
      m.rows.forEach((n, dbId) => (offset[dbId] += n));
    }
  }

  /**
   * The worker's measurement, or undefined (logged) when the run measures none: a plan without
   * recall queries (not a usearch CLUSTER / LSH build, `--recall-queries 0`, or planned by an
   * older shardfleet), a marker without `recall_rows`, or queries that cannot be read.
   */
  static async open(store: ObjectStore, plan: BuildPlan, worker: WorkerSlice, markers: readonly PartitionMarker[], log: Logger): Promise<WorkerRecall | undefined> {
    const ref = plan.recall_queries;
    if (ref === undefined) return undefined;
    const who = `worker ${worker.index}/${worker.count}`;
    const without = markers.filter((m) => m.recall_rows === undefined).map((m) => m.worker);
    if (without.length > 0) {
      log.warn({ run_id: plan.run_id, workers: without }, `${who}: the partition markers of worker(s) ${without.join(', ')} do not locate the recall queries; no end-to-end recall partial (publish keeps the routing-only curve)`);
      return undefined;
    }
    try {
      return new WorkerRecall(plan, await loadRecallQueries(store, plan, ref), worker, markers);
    } catch (err) {
      log.warn({ run_id: plan.run_id, err: errorMessage(err) }, `${who}: cannot read the recall queries ${ref.ref}; no end-to-end recall partial (publish keeps the routing-only curve)`);
      return undefined;
    }
  }

  /** One row of this worker's shard `dbId`, in the order rows reach the shard (vector copied). */
  observe(dbId: number, vector: Float32Array): void {
    const row = this.rowsSeen[dbId]++;
    this.scan.observe(this.queryRows.get(dbId)?.get(row) ?? -1, dbId, vector);
  }

  /**
   * Searches this worker's built shards (still in `workDir`) and uploads the partial.
   * @param shards the entries of the shards this worker built (their files give the index sha256).
   * @returns the partial's key and size, and the seconds spent (ground truth, shard searches).
   * @throws VectorIndexError naming a shard whose built index cannot be opened; StorageError.
   */
  async finish(store: ObjectStore, routing: ShardRouting, workDir: string, shards: readonly ShardEntry[]): Promise<{ key: string; bytes: number; groundTruthSeconds: number; searchSeconds: number }> {
    const { plan } = this;
    const dim = plan.index.dim;
    const truth = this.scan.partial();
    const started = performance.now();
    const efs = SEARCH_RECALL_EFS;
    const orders = routeQueries(routing, this.queries, dim, measuredProbes(routing));
    const hits: ShardRecallHits[] = [];
    for (const shard of shards) {
      const asking = orders.flatMap((order, qi) => (order.includes(shard.db_id) ? [qi] : []));
      if (shard.vector_count === 0 || asking.length === 0) {
        hits.push({ dbId: shard.db_id, queries: [], hits: [] });
        continue;
      }
      const index = openBuiltIndex(plan, workDir, shard.db_id);
      const found = searchShard(index, shard.db_id, gatherRows(this.queries, dim, asking), asking.map((qi) => truth.self[qi]), truth.k, efs);
      hits.push({ dbId: shard.db_id, queries: asking, hits: found });
    }
    const searchSeconds = (performance.now() - started) / 1000;
    const key = recallPartialKey(plan.run_id, this.worker.count, this.worker.index);
    const bytes = encodeRecallPartial(
      {
        run_id: plan.run_id,
        worker: this.worker.index,
        workers: this.worker.count,
        ef: [...efs],
        shards: shards.map((s) => ({ db_id: s.db_id, vector_count: s.vector_count, index_sha256: indexSha256(s) })),
        search_seconds: +searchSeconds.toFixed(3),
      },
      truth,
      hits,
    );
    await store.put(key, bytes);
    return { key, bytes: bytes.length, groundTruthSeconds: truth.seconds, searchSeconds };
  }
}

/** The sha256 of a shard's usearch index file ('' for an empty shard). */
function indexSha256(shard: ShardEntry): string {
  return shard.files.find((f) => f.path === USEARCH_INDEX_FILE)?.sha256 ?? '';
}

/** A shard's receipt as publish reads it: its entry and the worker that built it. */
export interface BuiltBy {
  shard: ShardEntry;
  worker?: WorkerSlice;
}

/**
 * `publish`: the run's `search_recall` from the workers' partials, or undefined when the plan has
 * no recall queries or a partial cannot be used; in that case a warning names every worker and
 * key concerned and says the manifest keeps the routing-only curve. Never throws: recall is
 * advisory and must not fail a publish.
 * @param receipts every shard's receipt (all num_dbs of them, checked by publish).
 */
export async function mergeRecallPartials(store: ObjectStore, plan: BuildPlan, receipts: readonly BuiltBy[], log: Logger): Promise<SearchRecall | undefined> {
  const ref = plan.recall_queries;
  if (ref === undefined) return undefined;
  const started = performance.now();
  const skip = (why: string): undefined => {
    log.warn({ run_id: plan.run_id }, `end-to-end recall (search_recall) not published: ${why}; the manifest keeps the routing-only curve (routing_recall), which target_recall then uses`);
    return undefined;
  };
  try {
    const unnamed = receipts.filter((r) => r.worker === undefined).map((r) => r.shard.db_id);
    if (unnamed.length > 0) return skip(`the receipts of shard(s) ${unnamed.join(', ')} name no worker (built by an older shardfleet)`);
    const counts = new Set(receipts.map((r) => r.worker!.count));
    if (counts.size !== 1) return skip(`the shards were built by runs of different worker counts (${[...counts].join(', ')}); rerun every worker with one --worker i/N count`);
    const n = [...counts][0];
    const workers = [...new Set(receipts.map((r) => r.worker!.index))].sort((a, b) => a - b);
    const problems: string[] = [];
    const partials: RecallPartial[] = [];
    // The largest partial a worker can write: its header, every query's top-k, and each query's
    // hits in at most the measured probes of shards (12 bytes a hit, 4-byte counts and indexes).
    const nq = ref.ordinals.length;
    const k = RECALL_K;
    const maxBytes = (1 << 20) + nq * (12 + 12 * k) + 4 * plan.sharding.num_dbs + nq * Math.min(plan.sharding.num_dbs, MAX_MEASURED_PROBES) * (4 + SEARCH_RECALL_EFS.length * (4 + 12 * k));
    for (const w of workers) {
      const key = recallPartialKey(plan.run_id, n, w);
      let partial: RecallPartial;
      try {
        partial = decodeRecallPartial(await store.get(key, { maxBytes }), key, { runId: plan.run_id, worker: w, workers: n, queries: ref.ordinals.length, ef: SEARCH_RECALL_EFS });
      } catch (err) {
        problems.push(`worker ${w}/${n}'s partial ${store.url}/${key}: ${err instanceof ObjectNotFoundError ? 'missing (the worker did not write it)' : errorMessage(err)}`);
        continue;
      }
      const built = receipts.filter((r) => r.worker!.index === w).map((r) => r.shard);
      const listed = new Map(partial.header.shards.map((s) => [s.db_id, s]));
      const stale = built.filter((s) => listed.get(s.db_id)?.vector_count !== s.vector_count || listed.get(s.db_id)?.index_sha256 !== indexSha256(s));
      if (stale.length > 0 || listed.size !== built.length) {
        problems.push(`worker ${w}/${n}'s partial ${store.url}/${key} describes other files of shard(s) ${stale.map((s) => s.db_id).join(', ') || [...listed.keys()].join(', ')} than their receipts (a worker was rerun after it)`);
        continue;
      }
      partials.push(partial);
    }
    if (problems.length > 0) return skip(problems.join('; '));
    const dim = plan.index.dim;
    const queries = await loadRecallQueries(store, plan, ref);
    const routing = await loadShardRouting(store, plan);
    const truth = mergeGroundTruths(queries, dim, partials.map((p) => p.truth));
    // The plan's index of each query kept in `truth` (mergeGroundTruths keeps those whose own record was seen).
    const kept = ref.ordinals.flatMap((_, qi) => (partials.some((p) => p.truth.self[qi] >= 0) ? [qi] : []));
    const byShard = new Map<number, Map<number, ShardRecallHits['hits'][number]>>();
    for (const p of partials) for (const s of p.shards) byShard.set(s.dbId, new Map(s.queries.map((qi, i) => [qi, s.hits[i]])));
    const orders = routeQueries(routing, truth.queries, dim, measuredProbes(routing));
    const table = recallTable(truth, orders, SEARCH_RECALL_EFS, (qi, rank, j) => byShard.get(orders[qi][rank])?.get(kept[qi])?.[j]);
    if (table === undefined) return skip('no sample query has a ground truth');
    const gt = partials.reduce((s, p) => s + p.header.ground_truth_seconds, 0);
    const seconds = gt + partials.reduce((s, p) => s + p.header.search_seconds, 0) + (performance.now() - started) / 1000;
    const out: SearchRecall = { ...table, seconds: +seconds.toFixed(3), ground_truth_seconds: +gt.toFixed(3) };
    log.info(
      { run_id: plan.run_id, workers: n, sample_queries: out.sample_queries, ground_truth_vectors: out.ground_truth_vectors, seconds: out.seconds, ground_truth_seconds: out.ground_truth_seconds },
      `search recall@${out.k} by num_probes x ef (merged from ${partials.length} worker partials):\n${formatSearchRecall(out)}`,
    );
    return out;
  } catch (err) {
    return skip(`it could not be merged: ${errorMessage(err)}`);
  }
}

/** Deletes a run's recall objects (queries and partials; after publish). @returns objects deleted. */
export async function deleteRecallObjects(store: ObjectStore, runId: string): Promise<number> {
  const objects = await store.list(recallPrefix(runId), { etags: false });
  for (const o of objects) await store.delete(o.key);
  return objects.length;
}
