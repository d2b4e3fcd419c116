/**
 * Glue between a single-process build and the end-to-end recall measurement (search-recall.ts):
 * the ground-truth scan fed by the assignment pass, then the shard searches on the shard folders
 * the build left in its work folder (they stay there until the build ends, after upload).
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { errorMessage, VectorIndexError } from '../common/errors.ts';
import { shardDirName, type SearchRecall } from '../common/manifest.ts';
import type { ShardRouting } from '../common/routing/shard-routing.ts';
import { newUsearchIndex, USEARCH_INDEX_FILE, usearchParamsFromIndexParams, type UsearchIndexParams } from '../common/usearch-layout.ts';
import type { Index } from 'usearch';
import type { BuildPlan } from './build-plan.ts';
import type { BuildProgress } from './build-progress.ts';
import { formatSearchRecall, GroundTruthScan, measureSearchRecall } from './search-recall.ts';

/** A ground-truth scan for a plan's recall queries (numDbs and metric from the plan). */
export function groundTruthScan(plan: BuildPlan, queries: { vectors: Float32Array; ordinals: number[] }): GroundTruthScan {
  return new GroundTruthScan({ queries: queries.vectors, ordinals: queries.ordinals, dim: plan.index.dim, metric: plan.index.metric, numDbs: plan.sharding.num_dbs });
}

/** Options of {@link measureBuiltRecall}. */
export interface BuiltRecallOptions {
  plan: BuildPlan;
  routing: ShardRouting;
  truth: GroundTruthScan;
  /** The build's work folder, holding `db=<id>/index.usearch` of every non-empty shard. */
  workDir: string;
  /** Vectors per shard (db id index). */
  counts: readonly number[];
  progress: BuildProgress;
  log: Logger;
}

/**
 * Finishes the ground truth and measures the end-to-end recall table on the built usearch shards.
 * @returns the manifest's `search_recall` with `seconds` (ground-truth scan + shard searches), or
 *   undefined when no query could be measured.
 * @throws VectorIndexError naming the shard's index file when it cannot be opened.
 */
export function measureBuiltRecall(o: BuiltRecallOptions): SearchRecall | undefined {
  const { plan } = o;
  const stage = o.progress.stage('measure search recall', 1, 'steps');
  const started = performance.now();
  const truth = o.truth.finish();
  const params = usearchParamsFromIndexParams(plan.index.index_params, plan.index.metric);
  const table = measureSearchRecall({
    truth,
    routing: o.routing,
    openShard: (dbId) => (o.counts[dbId] === 0 ? undefined : openBuiltIndex(plan, o.workDir, dbId, params)),
  });
  stage.increment();
  stage.stop();
  if (table === undefined) return undefined;
  const seconds = truth.seconds + (performance.now() - started) / 1000;
  const out = { ...table, seconds: +seconds.toFixed(3), ground_truth_seconds: +truth.seconds.toFixed(3) };
  o.log.info(
    { run_id: plan.run_id, sample_queries: out.sample_queries, ground_truth_vectors: out.ground_truth_vectors, seconds: out.seconds, ground_truth_seconds: out.ground_truth_seconds },
    `search recall@${out.k} by num_probes x ef:\n${formatSearchRecall(out)}`,
  );
  return out;
}

/**
 * Memory-maps a shard's built usearch index in the build's work folder (`<workDir>/db=00007/index.usearch`),
 * as a node maps it, with expansion 1 (each search's result count sets its beam, search-recall.ts).
 * @param params the run's usearch parameters (default: from the plan).
 * @throws VectorIndexError naming the shard and file when it cannot be opened.
 */
export function openBuiltIndex(plan: BuildPlan, workDir: string, dbId: number, params?: UsearchIndexParams): Index {
  const file = join(workDir, shardDirName(dbId), USEARCH_INDEX_FILE);
  try {
    const index = newUsearchIndex(plan.index.dim, plan.index.metric, params ?? usearchParamsFromIndexParams(plan.index.index_params, plan.index.metric), 1);
    index.view(file);
    return index;
  } catch (err) {
    throw new VectorIndexError(`shard ${dbId} (${file}): cannot open the built index to measure recall: ${errorMessage(err)}`, { cause: err });
  }
}
