/**
 * Distributed build for Kubernetes Indexed Jobs (or any N machines sharing the store):
 *
 * 1. `build --plan`: one process reads the input once, trains the routing and stores the routing
 *    metadata plus `runs/<run_id>/_plan.json`.
 * 2. `build --worker i/N` (N processes running at once, e.g. an Indexed Job with parallelism N):
 *    each reads the plan and only its slice of the input (whole Parquet parts / row groups),
 *    assigns its records with the stored routing and exchanges per-shard partitions with the
 *    other workers through the store (partition-exchange.ts), so N workers read the input once
 *    in total; then it builds and uploads the shards i, i+N, ... from their partitions; for each
 *    it writes a receipt `runs/<run_id>/receipts/db=00007.json` (the shard's manifest entry and
 *    payload columns) after the shard's files are uploaded.
 * 3. `publish`: checks that every shard has a receipt and that every file it lists exists with
 *    the recorded size and sha256 (a ShardCoverageError naming the shards otherwise), merges the
 *    workers' end-to-end recall partials into `search_recall` (distributed-recall.ts; a missing or
 *    damaged partial only drops the table, with a warning), then writes the manifest and moves
 *    `_CURRENT`, and deletes the partitions and the recall objects.
 *
 * A failed or restarted worker can simply run again: it rebuilds its shards and overwrites their
 * files and receipts; nothing is visible to readers until `publish` succeeds.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import { z } from 'zod';
import { ConfigValidationError, ObjectNotFoundError, PreconditionFailedError, ShardCoverageError, errorMessage } from '../common/errors.ts';
import { digestFile } from '../common/file-digest.ts';
import { parseJsonWith } from '../common/json-schema-parse.ts';
import { ShardEntrySchema, manifestKey as makeManifestKey, shardDirName, type ShardEntry } from '../common/manifest.ts';
import { loadShardRouting } from '../common/routing/load-routing.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';
import { assembleManifest, type BuildOptions, type BuildResult } from './build-snapshot.ts';
import { loadPlan, newRunId, planKey, planRun, receiptKey, storePlan, type BuildPlan } from './build-plan.ts';
import { DEFAULT_BACKEND } from './build-options.ts';
import { BuildProgress } from './build-progress.ts';
import type { VectorSource } from './input/vector-record.ts';
import { publishManifest } from './publish.ts';
import { assertRunIdUnused, WriteTracker } from './run-writes.ts';
import { assertNotShardyfusionPrefix } from './foreign-prefix.ts';
import { writeShards, type WorkerSlice } from './shard-build.ts';
import { deletePartitions, gatherShardRows, partitionsPrefix, waitForMarkers, writePartitions } from './partition-exchange.ts';
import { deleteRecallObjects, mergeRecallPartials, storeRecallQueries, WorkerRecall } from './distributed-recall.ts';
import { recallPrefix } from './recall-partial.ts';
import { logDefaultEf } from './default-ef.ts';

/** A shard's build receipt. */
export const ShardReceiptSchema = z.object({
  shard: ShardEntrySchema,
  payload_columns: z.array(z.string()),
  /** Wall time of the worker that built it, seconds. */
  worker_seconds: z.number().nonnegative(),
  /** The worker that built it (`--worker i/N`), whose recall partial covers it (absent: an older shardfleet). */
  worker: z.object({ index: z.number().int().nonnegative(), count: z.number().int().positive() }).optional(),
});
export type ShardReceipt = z.infer<typeof ShardReceiptSchema>;

/** Options of {@link planDistributedBuild}: those of a single-process build, minus local build settings. */
export type DistributedPlanOptions = Omit<BuildOptions, 'concurrency' | 'workDir'>;

/**
 * Phase 1: plans a run and stores the plan for the workers.
 * @returns the plan (its run_id is what workers and publish need).
 * @throws as planRun; PreconditionFailedError when the run id already has a plan (checked before
 *   the input is read); ConfigValidationError naming `--run-id` when the run id already has other
 *   objects. A failure deletes every object the plan step wrote (no orphan `vector_meta`).
 */
export async function planDistributedBuild(o: DistributedPlanOptions): Promise<BuildPlan> {
  const runId = o.runId ?? newRunId();
  await assertNotShardyfusionPrefix(o.store, 'build');
  if (o.runId !== undefined) {
    if (await o.store.head(planKey(runId))) throw new PreconditionFailedError(planKey(runId), `run ${runId} is already planned; pass a new --run-id`);
    await assertRunIdUnused(o.store, runId);
  }
  const store = new WriteTracker(o.store);
  try {
    return await planAndStore(o, store, runId);
  } catch (err) {
    await store.deleteWritten(o.log, runId); // no orphan vector_meta of a run that has no plan
    throw err;
  }
}

/** Plans the run through `store` (a tracker) and stores the plan. */
async function planAndStore(o: DistributedPlanOptions, store: ObjectStore, runId: string): Promise<BuildPlan> {
  const progress = o.progress instanceof BuildProgress ? o.progress : new BuildProgress(o.progress ?? true, o.log);
  const { plan, recallQueries } = await planRun({
    store,
    source: o.source,
    sharding: o.sharding,
    backend: o.backend ?? DEFAULT_BACKEND,
    metric: o.metric,
    seed: o.seed,
    sampleSize: o.sampleSize,
    onDuplicate: o.onDuplicate,
    kv: o.kv,
    filterColumns: o.filterColumns,
    recall: o.recall,
    runId,
    progress,
    log: o.log,
  }).catch((err: unknown) => {
    progress.abort();
    throw err;
  });
  // The end-to-end recall's sample queries, for the workers and publish (distributed-recall.ts).
  if (recallQueries !== undefined) plan.recall_queries = await storeRecallQueries(store, runId, plan.index.dim, recallQueries);
  const key = await storePlan(store, plan);
  o.log.info({ run_id: runId, plan: key, vectors: plan.input.vectors, num_dbs: plan.sharding.num_dbs }, 'build planned');
  return plan;
}

/** Options of {@link runBuildWorker}. */
export interface BuildWorkerOptions {
  store: ObjectStore;
  runId: string;
  /** The same input the plan was made from (the worker reads only its slice of it). */
  source: VectorSource;
  worker: WorkerSlice;
  concurrency?: number;
  workDir?: string;
  progress?: boolean;
  /** Longest wait for the other workers' partitions, seconds (`--worker-wait`; default 3600). */
  waitSeconds?: number;
  /** First poll interval of that wait, ms (default 500). */
  pollMs?: number;
  /** How long another worker's marker that exists but does not parse is retried, ms (default 15,000). */
  unreadableGraceMs?: number;
  log: Logger;
}

/** Default `--worker-wait`: one hour. */
export const DEFAULT_WORKER_WAIT_SECONDS = 3600;

/**
 * Phase 2: this worker's part of the shuffle (partition-exchange.ts: reads its slice of the input,
 * uploads per-shard partitions and its done-marker, waits for every worker's marker), then builds
 * and uploads its shards from the partitions and writes their receipts.
 * @returns the db ids built.
 * @throws SnapshotNotFoundError when the run has no plan; ConfigValidationError when the input
 *   differs from the plan's, the workers read different inputs, or the store holds a shardyfusion
 *   snapshot (foreign-prefix.ts); DeadlineExceededError naming the workers whose partitions did
 *   not arrive within `waitSeconds`; as writeShards otherwise.
 */
export async function runBuildWorker(o: BuildWorkerOptions): Promise<number[]> {
  const started = performance.now();
  await assertNotShardyfusionPrefix(o.store, 'build shards');
  const plan = await loadPlan(o.store, o.runId);
  const routing = await loadShardRouting(o.store, plan);
  const workDir = o.workDir ?? (await mkdtemp(join(tmpdir(), `shardfleet-worker-${o.runId}-${o.worker.index}-`)));
  // A failed worker deletes the shard files and receipts it wrote (a retry builds them again);
  // its partitions stay (other workers may be reading them; a rerun overwrites them).
  const store = new WriteTracker(o.store);
  const progress = new BuildProgress(o.progress ?? true, o.log);
  try {
    const marker = await writePartitions({ plan, routing, source: o.source, store: o.store, worker: o.worker, workDir, progress, log: o.log });
    const markers = await waitForMarkers(o.store, plan, o.worker, marker.slice, { waitSeconds: o.waitSeconds ?? DEFAULT_WORKER_WAIT_SECONDS, pollMs: o.pollMs, unreadableGraceMs: o.unreadableGraceMs, log: o.log });
    const mine = (dbId: number) => dbId % o.worker.count === o.worker.index;
    const expected = Array.from({ length: plan.sharding.num_dbs }, (_, dbId) => (mine(dbId) ? markers.reduce((s, m) => s + m.rows[dbId], 0) : 0));
    const gatherDir = join(workDir, 'gather');
    await mkdir(gatherDir, { recursive: true });
    const recall = await WorkerRecall.open(o.store, plan, o.worker, markers, o.log);
    async function* rows() {
      for (let dbId = 0; dbId < plan.sharding.num_dbs; dbId++) {
        if (!mine(dbId)) continue;
        for await (const row of gatherShardRows(o.store, plan, markers, dbId, gatherDir)) {
          recall?.observe(dbId, row.vector);
          yield row;
        }
      }
    }
    const built = await writeShards(
      { plan, store, worker: o.worker, concurrency: o.concurrency, workDir, progress, log: o.log },
      {
        rows: rows(),
        total: expected.reduce((a, b) => a + b, 0),
        payloadColumns: markers.flatMap((m) => m.payload_columns.flatMap((c, dbId) => (mine(dbId) ? c : []))),
        verify: (counts) => {
          const wrong = counts.flatMap((c, dbId) => (c !== expected[dbId] ? [dbId] : []));
          if (wrong.length > 0) throw new ConfigValidationError(`run ${plan.run_id}: shard(s) ${wrong.join(', ')} got other row counts from the partitions than the markers list`);
        },
      },
    );
    // The recall partial goes up before the receipts: a shard with a receipt has its partial.
    if (recall !== undefined && built.shards.length > 0) {
      const partial = await recall.finish(store, routing, workDir, built.shards);
      o.log.info(
        { run_id: o.runId, worker: `${o.worker.index}/${o.worker.count}`, partial: partial.key, bytes: partial.bytes, ground_truth_seconds: +partial.groundTruthSeconds.toFixed(3), search_seconds: +partial.searchSeconds.toFixed(3) },
        'recall partial uploaded',
      );
    }
    const seconds = (performance.now() - started) / 1000;
    for (const shard of built.shards) {
      const receipt: ShardReceipt = { shard, payload_columns: built.payloadColumns, worker_seconds: +seconds.toFixed(3), worker: { ...o.worker } };
      await store.put(receiptKey(o.runId, shard.db_id), JSON.stringify(receipt, null, 2));
    }
    const ids = built.shards.map((s) => s.db_id);
    o.log.info({ run_id: o.runId, worker: `${o.worker.index}/${o.worker.count}`, shards: ids, slice: marker.slice }, 'worker shards uploaded');
    return ids;
  } catch (err) {
    progress.abort();
    await store.deleteWritten(o.log, o.runId);
    throw err;
  } finally {
    if (!o.workDir) await rm(workDir, { recursive: true, force: true });
  }
}

/** Options of {@link publishRun}. */
export interface PublishRunOptions {
  store: ObjectStore;
  runId: string;
  /** `sha256` (default) downloads and hashes every file; `size` checks sizes only (HEAD). */
  verify?: 'sha256' | 'size';
  log: Logger;
}

/**
 * Phase 3: checks that every shard of the plan exists with matching sizes and checksums, then
 * publishes the manifest and moves `_CURRENT`.
 * @throws ShardCoverageError listing every shard that has no receipt or a missing / mismatched
 *   file (nothing is published); SnapshotNotFoundError when the run has no plan;
 *   PreconditionFailedError when another publisher moved `_CURRENT` concurrently;
 *   ConfigValidationError when the store holds a shardyfusion snapshot (foreign-prefix.ts).
 */
export async function publishRun(o: PublishRunOptions): Promise<BuildResult> {
  await assertNotShardyfusionPrefix(o.store, 'publish');
  const plan = await loadPlan(o.store, o.runId);
  const numDbs = plan.sharding.num_dbs;
  const problems = new Map<number, string>();
  const receipts: ShardReceipt[] = [];
  const limit = pLimit(8);
  const scratch = await mkdtemp(join(tmpdir(), `shardfleet-publish-${o.runId}-`));
  try {
    await Promise.all(
      Array.from({ length: numDbs }, (_, dbId) =>
        limit(async () => {
          const key = receiptKey(o.runId, dbId);
          let receipt: ShardReceipt;
          try {
            receipt = parseJsonWith(ShardReceiptSchema, await o.store.get(key), `receipt ${key}`);
          } catch (err) {
            problems.set(dbId, err instanceof ObjectNotFoundError ? `no receipt (${key}): no worker finished this shard` : errorMessage(err));
            return;
          }
          if (receipt.shard.db_id !== dbId) {
            problems.set(dbId, `receipt ${key} describes shard ${receipt.shard.db_id}`);
            return;
          }
          const problem = await verifyShardFiles(o.store, receipt.shard, o.verify ?? 'sha256', join(scratch, shardDirName(dbId)));
          if (problem) problems.set(dbId, problem);
          else receipts.push(receipt);
        }),
      ),
    );
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  if (problems.size > 0) {
    const ids = [...problems.keys()].sort((a, b) => a - b);
    throw new ShardCoverageError(
      `run ${o.runId} cannot be published: ${ids.length} of ${numDbs} shards are missing or damaged: ` +
        ids.map((id) => `shard ${id}: ${problems.get(id)}`).join(' | '),
      ids,
    );
  }
  // End-to-end recall from the workers' partials; undefined (with a warning) when one cannot be used.
  const searchRecall = await mergeRecallPartials(o.store, plan, receipts, o.log);
  const createdAt = new Date();
  const buildSeconds = (createdAt.getTime() - Date.parse(plan.created_at)) / 1000;
  const manifest = assembleManifest(
    plan,
    receipts.map((r) => r.shard),
    receipts.flatMap((r) => r.payload_columns),
    Math.max(0, buildSeconds),
    createdAt,
    searchRecall,
  );
  logDefaultEf(plan, manifest, o.log);
  const key = makeManifestKey(o.runId, createdAt);
  await publishManifest(o.store, manifest, key);
  o.log.info({ run_id: o.runId, manifest: key, vectors: plan.input.vectors }, 'published');
  // The workers' partitions (a copy of the input) are not needed any more.
  try {
    const deleted = await deletePartitions(o.store, o.runId);
    if (deleted > 0) o.log.info({ run_id: o.runId, deleted }, 'deleted the build partitions');
  } catch (err) {
    o.log.warn({ run_id: o.runId, err: errorMessage(err) }, `could not delete the build partitions under ${partitionsPrefix(o.runId)}`);
  }
  try {
    await deleteRecallObjects(o.store, o.runId);
  } catch (err) {
    o.log.warn({ run_id: o.runId, err: errorMessage(err) }, `could not delete the recall queries and partials under ${recallPrefix(o.runId)}`);
  }
  return { runId: o.runId, manifestKey: key, manifest };
}

/** Checks one shard's files in the store; returns a problem description or undefined. */
async function verifyShardFiles(store: ObjectStore, shard: ShardEntry, verify: 'sha256' | 'size', scratch: string): Promise<string | undefined> {
  await mkdir(scratch, { recursive: true });
  for (const file of shard.files) {
    const key = shard.url + file.path;
    try {
      if (verify === 'size') {
        const info = await store.head(key);
        if (!info) return `file ${key} is missing`;
        if (info.size !== file.bytes) return `file ${key} has ${info.size} bytes, the receipt says ${file.bytes}`;
        continue;
      }
      const local = join(scratch, file.path.replaceAll('/', '__'));
      await store.download(key, local, { maxBytes: file.bytes });
      const { sha256, bytes } = await digestFile(local);
      await rm(local, { force: true });
      if (bytes !== file.bytes || sha256 !== file.sha256) {
        return `file ${key} has sha256 ${sha256} (${bytes} bytes), the receipt says ${file.sha256} (${file.bytes} bytes)`;
      }
    } catch (err) {
      return err instanceof ObjectNotFoundError ? `file ${key} is missing` : `cannot check ${key}: ${errorMessage(err)}`;
    }
  }
  return undefined;
}
