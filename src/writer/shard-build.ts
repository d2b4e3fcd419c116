/**
 * Phase 2 of a build: the assignment pass. Reads the input again, routes every record with the
 * run's routing function, writes the rows of the shards this process builds through bounded
 * buffers, then finishes (indexes) those shards `concurrency` at a time and uploads each one as
 * soon as it is finished. Except for HASH builds, each non-empty shard's folder also gets
 * `id-filter.bin`, a Bloom filter of its ids (src/common/routing/id-filter.ts) for Get-by-id
 * routing, listed in the shard's files like its index files. A single-process build builds every
 * shard; worker i of N in a distributed build builds the shards i, i+N, i+2N, ...
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import { ConfigValidationError, VectorIndexError, errorMessage } from '../common/errors.ts';
import { kvKeyBytes, kvValueBytes } from './kv-keys.ts';
import { shardDirName, shardPrefix, type ShardEntry } from '../common/manifest.ts';
import { ID_FILTER_FILE, IdFilterBuilder } from '../common/routing/id-filter.ts';
import { FilterStatsBuilder, filterRowOf } from '../common/filter/filter-expr.ts';
import type { ShardRouting } from '../common/routing/shard-routing.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';
import { openShardWriterFactory } from './backends/open-shard-writer.ts';
import type { ShardIndexWriter } from './backends/shard-index-writer.ts';
import type { BuildPlan } from './build-plan.ts';
import type { BuildProgress } from './build-progress.ts';
import type { VectorSource } from './input/vector-record.ts';
import { uploadFolder } from './publish.ts';
import { createRecordAssigner } from './record-assigner.ts';
import { ShardBuffers, type KvEntryBytes, type ShardBufferLimits } from './shard-buffers.ts';
import type { Payload } from './input/vector-record.ts';

/** Which shards a process builds: worker `index` of `count` builds db ids ≡ index (mod count). */
export interface WorkerSlice {
  index: number;
  count: number;
}

/** Options of {@link buildShards}. */
export interface ShardBuildOptions {
  plan: BuildPlan;
  routing: ShardRouting;
  source: VectorSource;
  store: ObjectStore;
  /** Default: every shard (worker 0 of 1). */
  worker?: WorkerSlice;
  /** Shards indexed (and, for sqlite-vec, written) concurrently; default 2. */
  concurrency?: number;
  /** Local scratch folder; shards are built in `<workDir>/db=00007/`. */
  workDir: string;
  bufferLimits?: ShardBufferLimits;
  /**
   * Called for every written record in read order with its read ordinal (0-based, counting every
   * input record), its shard and its vector (valid during the call only), in the order records
   * reach their shard (the end-to-end recall's ground truth, search-recall.ts).
   */
  onAssigned?: (ordinal: number, dbId: number, vector: Float32Array) => void;
  progress: BuildProgress;
  log: Logger;
}

/** The shards a process built and uploaded. */
export interface BuiltShards {
  /** Entries of the shards built here, ascending db id. */
  shards: ShardEntry[];
  /** Payload keys seen in the records of these shards, sorted. */
  payloadColumns: string[];
  /** Vectors per shard for EVERY shard (db id index), including shards built elsewhere. */
  counts: number[];
}

/**
 * Parses `i/N` (0 <= i < N).
 * @throws ConfigValidationError when malformed.
 */
export function parseWorkerSlice(text: string): WorkerSlice {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) throw new ConfigValidationError(`worker must be i/N with 0 <= i < N (e.g. 0/4), got ${JSON.stringify(text)}`);
  return { index, count };
}

/** One record routed to its shard, as the shard writers take it. */
export interface AssignedRow {
  dbId: number;
  id: string;
  /** `Float32Array` of length dim (copied by the buffers). */
  vector: Float32Array;
  /** The payload as JSON object text, or null. */
  payloadJson: string | null;
  /**
   * The payload object, when the producer has it (its keys are collected as payload columns and
   * its filter-column values as filter statistics); undefined otherwise.
   */
  payload?: Payload;
  /** KV builds: key and value bytes. */
  kv?: KvEntryBytes;
}

/** Options of {@link writeShards}: those of {@link buildShards} without the source and routing. */
export type WriteShardsOptions = Omit<ShardBuildOptions, 'source' | 'routing'>;

/** What {@link writeShards} needs from its caller about the rows it is fed. */
export interface AssignedInput {
  rows: AsyncIterable<AssignedRow>;
  /** Called after the last row, before any shard is finished: checks counts (throws to abort). */
  verify(counts: readonly number[]): void;
  /** Payload columns known beyond the rows' `payload` objects (e.g. from partition markers). */
  payloadColumns?: Iterable<string>;
  /** The progress total of the write stage (rows). */
  total: number;
}

/**
 * Runs the assignment pass and builds this process's shards.
 * @throws InputRecordError naming the record when it cannot be routed (e.g. an out-of-range
 *   shard_id); ConfigValidationError when the input differs from the plan's or a CLUSTER shard
 *   is empty; VectorIndexError naming the shard; StorageError on upload. Nothing of a shard is
 *   uploaded before every record has been assigned.
 */
export async function buildShards(o: ShardBuildOptions): Promise<BuiltShards> {
  const { plan, routing, source } = o;
  const worker = o.worker ?? { index: 0, count: 1 };
  const mine = (dbId: number): boolean => dbId % worker.count === worker.index;
  const assign = createRecordAssigner(plan.sharding, routing, plan.input.vectors);
  const keptLast = new Map(Object.entries(plan.duplicates_kept_last));
  let ordinal = 0;
  let written = 0;
  async function* rows(): AsyncGenerator<AssignedRow> {
    for await (const record of source.records()) {
      const current = ordinal++;
      const keep = keptLast.get(record.id);
      if (keep !== undefined && keep !== current) continue; // an earlier occurrence of an id kept last
      const dbId = assign(record);
      written++;
      o.onAssigned?.(current, dbId, record.vector);
      const kv = plan.kv === undefined || !mine(dbId) ? undefined : { key: kvKeyBytes(record), value: kvValueBytes(record) };
      yield { dbId, id: record.id, vector: record.vector, payloadJson: record.payload ? JSON.stringify(record.payload) : null, payload: record.payload, kv };
    }
  }
  return writeShards(o, {
    rows: rows(),
    total: plan.input.vectors,
    verify: () => {
      if (ordinal !== plan.input.records || written !== plan.input.vectors) {
        throw new ConfigValidationError(
          `the input changed since run ${plan.run_id} was planned: read ${ordinal} records (${written} vectors), the plan has ${plan.input.records} (${plan.input.vectors}) from ${plan.input.description}`,
        );
      }
    },
  });
}

/**
 * Writes already assigned rows into this process's shards (rows of other shards are counted and
 * dropped), then indexes and uploads each shard.
 * @throws what `input.verify` throws; ConfigValidationError when a CLUSTER shard built here is
 *   empty; VectorIndexError naming the shard; StorageError on upload.
 */
export async function writeShards(o: WriteShardsOptions, input: AssignedInput): Promise<BuiltShards> {
  const { plan, progress, log } = o;
  const worker = o.worker ?? { index: 0, count: 1 };
  const numDbs = plan.sharding.num_dbs;
  const mine = (dbId: number): boolean => dbId % worker.count === worker.index;
  const concurrency = Math.max(1, o.concurrency ?? 2);
  const factory = await openShardWriterFactory(plan.index, concurrency, plan.kv);
  const writers: (ShardIndexWriter | undefined)[] = [];
  try {
    for (let dbId = 0; dbId < numDbs; dbId++) {
      if (!mine(dbId)) {
        writers.push(undefined);
        continue;
      }
      const dir = join(o.workDir, shardDirName(dbId));
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      writers.push(factory.create(dir, dbId));
    }
    const buffers = new ShardBuffers(writers, plan.index.dim, o.bufferLimits);
    // Id filters (Get-by-id routing) for every strategy but HASH, whose ids route by their hash:
    // fed as records are assigned (8 bytes per id, never the id strings), sized at the end.
    const idFilters = plan.sharding.strategy === 'hash' ? undefined : writers.map((w) => (w === undefined ? undefined : new IdFilterBuilder()));
    // Filtered search: per-shard statistics of the filter columns (the router skips shards they rule out).
    const filterColumns = plan.index.filter_columns ?? [];
    const filterStats = filterColumns.length === 0 ? undefined : writers.map((w) => (w === undefined ? undefined : new FilterStatsBuilder(filterColumns)));
    const payloadColumns = new Set<string>(input.payloadColumns);
    const assigning = progress.stage('assign+write', input.total);
    for await (const row of input.rows) {
      const { dbId } = row;
      if (row.payload && mine(dbId)) for (const key of Object.keys(row.payload)) payloadColumns.add(key);
      await buffers.add(dbId, row.id, row.vector, row.payloadJson, row.kv);
      idFilters?.[dbId]?.add(row.id);
      filterStats?.[dbId]?.add(filterRowOf(row.payload, filterColumns));
      assigning.increment();
    }
    await buffers.flushAll();
    assigning.stop();
    input.verify(buffers.counts);
    const counts = buffers.counts;
    const empty = counts.flatMap((c, dbId) => (c === 0 && mine(dbId) ? [dbId] : []));
    if (empty.length > 0) {
      if (plan.sharding.strategy === 'cluster') {
        throw new ConfigValidationError(
          `shard(s) ${empty.join(', ')} received no vectors (their centroids are nearest to no input vector); use fewer shards or other centroids`,
        );
      }
      log.warn({ run_id: plan.run_id, empty_shards: empty }, 'some shards received no vectors; they are published empty');
    }
    const mean = plan.input.vectors / numDbs;
    log.info(
      { run_id: plan.run_id, min: Math.min(...counts), max: Math.max(...counts), mean: +mean.toFixed(1), max_over_mean: mean > 0 ? +(Math.max(...counts) / mean).toFixed(3) : null },
      'shard sizes',
    );

    // Finish (index) each of this process's shards, then upload it, `concurrency` at a time.
    const limit = pLimit(concurrency);
    const indexing = progress.stage('index+upload', writers.filter(Boolean).length, 'shards');
    const shards = await Promise.all(
      writers.flatMap((writer, dbId) =>
        writer === undefined
          ? []
          : [
              limit(async (): Promise<ShardEntry> => {
                const url = shardPrefix(plan.run_id, dbId);
                if (counts[dbId] === 0) {
                  await writer.abort();
                  indexing.increment();
                  return { db_id: dbId, url, files: [], vector_count: 0, checkpoint_id: '', index_type: 'empty', ...(plan.kv ? { kv_entries: 0 } : {}) };
                }
                const built = await writer.finish();
                if (plan.kv !== undefined && built.kvEntries !== built.vectorCount) {
                  throw new VectorIndexError(`shard ${dbId}: its KV store has ${built.kvEntries ?? 'no'} entries for ${built.vectorCount} vectors`);
                }
                const filter = idFilters?.[dbId];
                if (idFilters !== undefined && filter !== undefined) {
                  if (filter.count !== built.vectorCount) throw new VectorIndexError(`shard ${dbId}: its id filter has ${filter.count} ids for ${built.vectorCount} vectors`);
                  await writeFile(join(o.workDir, shardDirName(dbId), ID_FILTER_FILE), filter.build().serialize());
                  idFilters[dbId] = undefined; // release the hashes
                }
                const files = await uploadFolder(o.store, join(o.workDir, shardDirName(dbId)), url);
                files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
                indexing.increment();
                const entry: ShardEntry = { db_id: dbId, url, files, vector_count: built.vectorCount, checkpoint_id: built.checkpointId, index_type: built.indexType };
                if (plan.kv !== undefined) entry.kv_entries = built.kvEntries;
                const stats = filterStats?.[dbId];
                if (stats) entry.filter_stats = stats.finish();
                return entry;
              }),
            ],
      ),
    );
    indexing.stop();
    return { shards, payloadColumns: [...payloadColumns].sort(), counts };
  } catch (err) {
    await Promise.all(writers.map((w) => w?.abort()));
    log.debug({ err: errorMessage(err) }, 'shard build failed; writers aborted');
    throw err;
  } finally {
    await factory.close();
  }
}
