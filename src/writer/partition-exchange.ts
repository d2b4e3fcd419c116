/**
 * The shuffle of a distributed build (`build --worker i/N`): N workers read the input once in
 * total and exchange per-shard partitions through the object store.
 *
 * Phase 1 (partition): worker i reads only its slice of the input (records `[start, end)` of
 * {@link workerSlices}: whole Parquet parts and row groups, read by range), assigns every record
 * with the run's routing, appends it to a local spill file of its shard (constant memory), uploads
 * each non-empty spill file as `runs/<run_id>/partitions/n=0003/db=00007/worker=00001.bin` and
 * then, last, its done-marker `runs/<run_id>/partitions/n=0003/done/worker=00001.json` (counts and
 * payload columns per shard).
 * Phase 2 (gather): worker i polls the store until all N markers exist (bounded by `waitSeconds`;
 * a DeadlineExceededError names the workers still missing), checks that they describe the same
 * slices and add up to the plan's counts, and streams its shards' partitions, worker 0 first, so
 * every shard receives its records in input order, as in a single-process build.
 *
 * A rerun worker overwrites its partitions and marker with the same content; partitions are never
 * deleted by a failing worker (others may be reading them); `publish` deletes them.
 *
 * Balanced CLUSTER runs: the plan stores fitted centroid offsets, so a record's shard is a pure
 * function of its vector and every worker assigns exactly as a single-process build does, whatever
 * its slice. Only a legacy balanced plan without offsets uses the streaming capacity cap; a worker
 * then sees only its slice and caps every shard at `ceil(balance_factor * slice_records / num_dbs)`
 * (createRecordAssigner sized with the slice): a shard holds at most the sum of the slices' caps,
 * i.e. at most N more than the global cap.
 */
import { createReadStream } from 'node:fs';
import { appendFile, mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import { z } from 'zod';
import { ConfigValidationError, DeadlineExceededError, ManifestParseError, ObjectNotFoundError } from '../common/errors.ts';
import { parseJsonWith } from '../common/json-schema-parse.ts';
import { runPrefix, shardDirName } from '../common/manifest.ts';
import type { ShardRouting } from '../common/routing/shard-routing.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';
import type { BuildPlan } from './build-plan.ts';
import type { BuildProgress } from './build-progress.ts';
import type { VectorRecord, VectorSource } from './input/vector-record.ts';
import { kvKeyBytes, kvValueBytes } from './kv-keys.ts';
import { createRecordAssigner } from './record-assigner.ts';
import type { AssignedRow, WorkerSlice } from './shard-build.ts';

/** A worker's slice of the input: record positions `[start, end)`. */
export interface InputSlice {
  start: number;
  end: number;
}

/**
 * Splits `total` records into `count` contiguous slices of about equal size whose boundaries are
 * split points of the input (Parquet part and row-group starts), so no row group is read by two
 * workers. Without split points the boundaries are exact (each worker then reads the input up to
 * its slice's end).
 * @param splitPoints ascending record positions, the first 0; undefined: any position.
 * @returns `count` slices covering `[0, total)` in order (some may be empty when there are fewer
 *   split points than workers).
 */
export function workerSlices(total: number, count: number, splitPoints?: readonly number[]): InputSlice[] {
  const bounds = [0];
  for (let i = 1; i < count; i++) {
    const target = Math.round((i * total) / count);
    let at = target;
    if (splitPoints !== undefined && splitPoints.length > 0) {
      at = splitPoints[0];
      for (const p of splitPoints) if (Math.abs(p - target) < Math.abs(at - target)) at = p;
    }
    bounds.push(Math.min(total, Math.max(bounds[bounds.length - 1], at)));
  }
  bounds.push(total);
  return Array.from({ length: count }, (_, i) => ({ start: bounds[i], end: bounds[i + 1] }));
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** Key prefix of a run's partitions: `runs/<run_id>/partitions/`. */
export function partitionsPrefix(runId: string): string {
  return `${runPrefix(runId)}partitions/`;
}

/** Key of worker `worker`'s partition of shard `dbId`: `runs/<run>/partitions/n=0003/db=00007/worker=00001.bin`. */
export function partitionKey(runId: string, workers: number, dbId: number, worker: number): string {
  return `${partitionsPrefix(runId)}n=${pad(workers, 4)}/${shardDirName(dbId)}/worker=${pad(worker, 5)}.bin`;
}

/** Key of worker `worker`'s done-marker: `runs/<run>/partitions/n=0003/done/worker=00001.json`. */
export function markerKey(runId: string, workers: number, worker: number): string {
  return `${partitionsPrefix(runId)}n=${pad(workers, 4)}/done/worker=${pad(worker, 5)}.json`;
}

/** A worker's done-marker: what its partitions hold. */
export const PartitionMarkerSchema = z.object({
  worker: z.number().int().nonnegative(),
  workers: z.number().int().positive(),
  slice: z.object({ start: z.number().int().nonnegative(), end: z.number().int().nonnegative() }),
  /** Records read from the slice (duplicates counted). */
  records: z.number().int().nonnegative(),
  /** Records written to partitions. */
  vectors: z.number().int().nonnegative(),
  /** Per shard (index = db id): rows and bytes of this worker's partition (0: no object). */
  rows: z.array(z.number().int().nonnegative()),
  bytes: z.array(z.number().int().nonnegative()),
  /** Per shard: payload keys of its rows, sorted. */
  payload_columns: z.array(z.array(z.string())),
  /**
   * Plans with end-to-end recall queries (distributed-recall.ts): each sample query whose record is
   * in this slice, as [record ordinal, shard, row in this worker's partition of that shard].
   */
  recall_rows: z.array(z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative(), z.number().int().nonnegative()])).optional(),
});
export type PartitionMarker = z.infer<typeof PartitionMarkerSchema>;

// --- partition file format -----------------------------------------------------------------
// A partition file is a sequence of rows, each:
//   u32 id bytes | id (UTF-8) | i32 payload bytes (-1: null) | payload JSON (UTF-8)
//   | [KV builds: u32 key bytes | key | u32 value bytes | value] | dim x f32 vector
// all little-endian.

const utf8Decoder = new TextDecoder();

/** Encodes one row of a partition file. */
export function encodePartitionRow(id: string, payloadJson: string | null, vector: Float32Array, kv?: { key: Uint8Array; value: Uint8Array }): Buffer {
  const idBytes = Buffer.from(id, 'utf8');
  const payloadBytes = payloadJson === null ? undefined : Buffer.from(payloadJson, 'utf8');
  const kvLength = kv === undefined ? 0 : 8 + kv.key.length + kv.value.length;
  const buf = Buffer.allocUnsafe(8 + idBytes.length + (payloadBytes?.length ?? 0) + kvLength + vector.length * 4);
  let at = buf.writeUInt32LE(idBytes.length, 0);
  at += idBytes.copy(buf, at);
  at = buf.writeInt32LE(payloadBytes === undefined ? -1 : payloadBytes.length, at);
  if (payloadBytes !== undefined) at += payloadBytes.copy(buf, at);
  if (kv !== undefined) {
    at = buf.writeUInt32LE(kv.key.length, at);
    buf.set(kv.key, at);
    at += kv.key.length;
    at = buf.writeUInt32LE(kv.value.length, at);
    buf.set(kv.value, at);
    at += kv.value.length;
  }
  Buffer.from(vector.buffer, vector.byteOffset, vector.length * 4).copy(buf, at);
  return buf;
}

/**
 * Decodes the rows of a partition file, streamed from disk (one 1 MiB read at a time).
 * @throws ConfigValidationError naming the file when it ends inside a row.
 */
export async function* readPartitionRows(path: string, dbId: number, dim: number, kv: boolean): AsyncGenerator<AssignedRow> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let at = 0;
    for (;;) {
      const row = decodeRow(pending, at, dbId, dim, kv);
      if (row === undefined) break;
      at = row.next;
      yield row.row;
    }
    pending = pending.subarray(at);
  }
  if (pending.length > 0) throw new ConfigValidationError(`partition file ${path} ends inside a row (${pending.length} bytes left)`);
}

/** Decodes the row at `at`, or undefined when `buf` does not hold all of it. */
function decodeRow(buf: Buffer, at: number, dbId: number, dim: number, kv: boolean): { row: AssignedRow; next: number } | undefined {
  let p = at;
  const need = (n: number) => p + n <= buf.length;
  if (!need(4)) return undefined;
  const idLength = buf.readUInt32LE(p);
  p += 4;
  if (!need(idLength + 4)) return undefined;
  const id = utf8Decoder.decode(buf.subarray(p, p + idLength));
  p += idLength;
  const payloadLength = buf.readInt32LE(p);
  p += 4;
  let payloadJson: string | null = null;
  if (payloadLength >= 0) {
    if (!need(payloadLength)) return undefined;
    payloadJson = utf8Decoder.decode(buf.subarray(p, p + payloadLength));
    p += payloadLength;
  }
  let entry: AssignedRow['kv'];
  if (kv) {
    if (!need(4)) return undefined;
    const keyLength = buf.readUInt32LE(p);
    p += 4;
    if (!need(keyLength + 4)) return undefined;
    const key = Uint8Array.prototype.slice.call(buf, p, p + keyLength);
    p += keyLength;
    const valueLength = buf.readUInt32LE(p);
    p += 4;
    if (!need(valueLength)) return undefined;
    const value = Uint8Array.prototype.slice.call(buf, p, p + valueLength);
    p += valueLength;
    entry = { key, value };
  }
  if (!need(dim * 4)) return undefined;
  const vector = new Float32Array(dim);
  new Uint8Array(vector.buffer).set(buf.subarray(p, p + dim * 4));
  p += dim * 4;
  return { row: { dbId, id, vector, payloadJson, kv: entry }, next: p };
}

/** Options of {@link writePartitions}. */
export interface WritePartitionsOptions {
  plan: BuildPlan;
  routing: ShardRouting;
  source: VectorSource;
  /** The store partitions and markers are written to (not a WriteTracker: a failed worker keeps them). */
  store: ObjectStore;
  worker: WorkerSlice;
  /** Local scratch folder for the spill files. */
  workDir: string;
  progress: BuildProgress;
  log: Logger;
}

/** Bytes buffered per shard before they are appended to its spill file. */
const SPILL_CHUNK_BYTES = 256 * 1024;
/** Uploads of partition files at once. */
const UPLOAD_CONCURRENCY = 4;

/**
 * Phase 1: reads this worker's slice, assigns its records and uploads one partition per shard
 * that got rows, then the done-marker.
 * @returns the marker written.
 * @throws ConfigValidationError when the input's record count differs from the plan's (the input
 *   changed since it was planned) or the slice yields another number of records; InputRecordError
 *   naming a record that cannot be routed; StorageError.
 */
export async function writePartitions(o: WritePartitionsOptions): Promise<PartitionMarker> {
  const { plan, source, worker, log } = o;
  const numDbs = plan.sharding.num_dbs;
  const dim = plan.index.dim;
  if (source.count !== undefined && source.count !== plan.input.records) {
    throw new ConfigValidationError(
      `the input changed since run ${plan.run_id} was planned: it has ${source.count} records, the plan has ${plan.input.records} from ${plan.input.description}`,
    );
  }
  const slices = workerSlices(plan.input.records, worker.count, source.recordsIn === undefined ? undefined : source.splitPoints?.());
  const slice = slices[worker.index];
  if (source.recordsIn === undefined && worker.count > 1) {
    log.warn({ input: source.description }, 'this input cannot be read by range (only Parquet can): the worker reads it up to the end of its slice and keeps its slice');
  }
  const assign = createRecordAssigner(plan.sharding, o.routing, slice.end - slice.start);
  const keptLast = new Map(Object.entries(plan.duplicates_kept_last));
  const spillDir = join(o.workDir, 'partitions');
  await rm(spillDir, { recursive: true, force: true });
  await mkdir(spillDir, { recursive: true });
  const spillPath = (dbId: number) => join(spillDir, `${shardDirName(dbId)}.bin`);
  const pending: Buffer[][] = Array.from({ length: numDbs }, () => []);
  const pendingBytes = new Array<number>(numDbs).fill(0);
  const rows = new Array<number>(numDbs).fill(0);
  const bytes = new Array<number>(numDbs).fill(0);
  const columns: Set<string>[] = Array.from({ length: numDbs }, () => new Set());
  const queryOrdinals = plan.recall_queries === undefined ? undefined : new Set(plan.recall_queries.ordinals);
  const recallRows: [number, number, number][] = [];
  const flush = async (dbId: number) => {
    if (pending[dbId].length === 0) return;
    await appendFile(spillPath(dbId), Buffer.concat(pending[dbId]));
    pending[dbId] = [];
    pendingBytes[dbId] = 0;
  };
  const stage = o.progress.stage('partition', slice.end - slice.start);
  let read = 0;
  let written = 0;
  const records: AsyncIterable<VectorRecord> =
    source.recordsIn !== undefined ? source.recordsIn(slice.start, slice.end) : positionsOf(source.records(), slice);
  for await (const record of records) {
    const ordinal = slice.start + read++;
    stage.increment();
    const keep = keptLast.get(record.id);
    if (keep !== undefined && keep !== ordinal) continue; // an earlier occurrence of an id kept last
    const dbId = assign(record);
    const kv = plan.kv === undefined ? undefined : { key: kvKeyBytes(record), value: kvValueBytes(record) };
    if (record.vector.length !== dim) throw new ConfigValidationError(`${record.location}: vector has ${record.vector.length} dimensions, the plan has ${dim}`);
    const encoded = encodePartitionRow(record.id, record.payload ? JSON.stringify(record.payload) : null, record.vector, kv);
    if (record.payload) for (const key of Object.keys(record.payload)) columns[dbId].add(key);
    if (queryOrdinals?.has(ordinal)) recallRows.push([ordinal, dbId, rows[dbId]]);
    pending[dbId].push(encoded);
    pendingBytes[dbId] += encoded.length;
    bytes[dbId] += encoded.length;
    rows[dbId]++;
    written++;
    if (pendingBytes[dbId] >= SPILL_CHUNK_BYTES) await flush(dbId);
  }
  for (let dbId = 0; dbId < numDbs; dbId++) await flush(dbId);
  stage.stop();
  if (read !== slice.end - slice.start) {
    throw new ConfigValidationError(
      `the input changed since run ${plan.run_id} was planned: worker ${worker.index}/${worker.count} read ${read} records of its slice ${slice.start}..${slice.end - 1} from ${source.description}`,
    );
  }
  const limit = pLimit(UPLOAD_CONCURRENCY);
  await Promise.all(
    rows.map((n, dbId) =>
      limit(async () => {
        const key = partitionKey(plan.run_id, worker.count, dbId, worker.index);
        if (n === 0) {
          await o.store.delete(key); // an earlier attempt's partition, if any
          return;
        }
        await o.store.upload(spillPath(dbId), key);
        await rm(spillPath(dbId), { force: true });
      }),
    ),
  );
  const marker: PartitionMarker = {
    worker: worker.index,
    workers: worker.count,
    slice,
    records: read,
    vectors: written,
    rows,
    bytes,
    payload_columns: columns.map((c) => [...c].sort()),
    ...(queryOrdinals === undefined ? {} : { recall_rows: recallRows }),
  };
  await o.store.put(markerKey(plan.run_id, worker.count, worker.index), JSON.stringify(marker));
  log.info({ run_id: plan.run_id, worker: `${worker.index}/${worker.count}`, slice, records: read, partition_bytes: bytes.reduce((a, b) => a + b, 0) }, 'partitions uploaded');
  return marker;
}

/** The records at positions `[slice.start, slice.end)` of a full pass (for sources without ranges). */
async function* positionsOf(records: AsyncIterable<VectorRecord>, slice: InputSlice): AsyncGenerator<VectorRecord> {
  let at = 0;
  for await (const record of records) {
    if (at >= slice.end) return;
    if (at++ >= slice.start) yield record;
  }
}

/** Options of {@link waitForMarkers}. */
export interface WaitOptions {
  /** Longest wait for the other workers, seconds (`build --worker-wait`). */
  waitSeconds: number;
  /** First poll interval, ms (doubles up to 10 s; default 500). */
  pollMs?: number;
  /** How long a marker that exists but does not parse is retried, ms (default {@link UNREADABLE_MARKER_GRACE_MS}). */
  unreadableGraceMs?: number;
  log: Logger;
}

/** How long a marker that exists but does not parse is retried before it fails the worker, ms. */
export const UNREADABLE_MARKER_GRACE_MS = 15_000;

/**
 * Phase 2, step 1: polls the store until every worker's marker exists and checks them.
 * @returns the N markers, by worker index.
 * @throws DeadlineExceededError naming the workers (and marker keys) still missing after
 *   `waitSeconds` and `--worker-wait`; ConfigValidationError when the markers describe other
 *   slices than this worker computes or do not add up to the plan's records and vectors (the
 *   workers read different inputs); ManifestParseError naming the marker when one still does not
 *   parse `unreadableGraceMs` after it was first seen (a marker being written is
 *   retried until then).
 */
export async function waitForMarkers(store: ObjectStore, plan: BuildPlan, worker: WorkerSlice, mySlice: InputSlice, o: WaitOptions): Promise<PartitionMarker[]> {
  const deadline = Date.now() + o.waitSeconds * 1000;
  const markers: (PartitionMarker | undefined)[] = new Array(worker.count).fill(undefined);
  /** When each marker was first seen but unreadable (a store that shows an object while it is written). */
  const unreadableSince = new Map<number, number>();
  let delay = o.pollMs ?? 500;
  for (;;) {
    for (let w = 0; w < worker.count; w++) {
      if (markers[w] !== undefined) continue;
      const key = markerKey(plan.run_id, worker.count, w);
      try {
        markers[w] = parseJsonWith(PartitionMarkerSchema, await store.get(key), `partition marker ${key}`);
      } catch (err) {
        if (err instanceof ObjectNotFoundError) continue;
        if (!(err instanceof ManifestParseError)) throw err;
        // S3 itself makes an object visible only whole, but some S3-compatible servers (s3rver)
        // serve it while it is being written: retry a damaged marker for a grace period first.
        const since = unreadableSince.get(w) ?? Date.now();
        unreadableSince.set(w, since);
        if (Date.now() - since >= (o.unreadableGraceMs ?? UNREADABLE_MARKER_GRACE_MS) || Date.now() >= deadline) throw err;
        o.log.debug({ run_id: plan.run_id, key, err: (err as Error).message }, 'partition marker unreadable; retrying');
      }
    }
    const missing = markers.flatMap((m, w) => (m === undefined ? [w] : []));
    if (missing.length === 0) break;
    if (Date.now() >= deadline) {
      throw new DeadlineExceededError(
        `worker ${worker.index}/${worker.count} of run ${plan.run_id} waited ${o.waitSeconds} s (--worker-wait) for the partitions of worker(s) ${missing.map((w) => `${w}/${worker.count}`).join(', ')}; ` +
          `missing: ${missing.map((w) => `${store.url}/${markerKey(plan.run_id, worker.count, w)}`).join(', ')}. Start every worker (all N run at once), or rerun the missing ones`,
        [],
      );
    }
    o.log.debug({ run_id: plan.run_id, missing }, 'waiting for other workers\' partitions');
    await sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
    delay = Math.min(delay * 2, 10_000);
  }
  const all = markers as PartitionMarker[];
  const mine = all[worker.index];
  if (mine.slice.start !== mySlice.start || mine.slice.end !== mySlice.end) {
    throw new ConfigValidationError(`worker ${worker.index}/${worker.count}: its marker describes slice ${mine.slice.start}..${mine.slice.end}, expected ${mySlice.start}..${mySlice.end}`);
  }
  let expectedStart = 0;
  for (const m of all) {
    if (m.slice.start !== expectedStart || m.rows.length !== plan.sharding.num_dbs || m.records !== m.slice.end - m.slice.start) {
      throw new ConfigValidationError(
        `the workers of run ${plan.run_id} read different inputs: worker ${m.worker}/${worker.count} wrote slice ${m.slice.start}..${m.slice.end} (${m.records} records) for ${m.rows.length} shards, expected a slice from ${expectedStart} for ${plan.sharding.num_dbs} shards`,
      );
    }
    expectedStart = m.slice.end;
  }
  const records = all.reduce((s, m) => s + m.records, 0);
  const vectors = all.reduce((s, m) => s + m.vectors, 0);
  if (expectedStart !== plan.input.records || records !== plan.input.records || vectors !== plan.input.vectors) {
    throw new ConfigValidationError(
      `the workers of run ${plan.run_id} read ${records} records (${vectors} vectors) in total, the plan has ${plan.input.records} (${plan.input.vectors}) from ${plan.input.description}`,
    );
  }
  return all;
}

/**
 * Phase 2, step 2: the rows of shard `dbId` from every worker's partition, worker 0 first (input
 * order), each partition downloaded to `workDir` (bounded by its marker's size) and removed after.
 * @throws ConfigValidationError when a partition holds another number of rows than its marker
 *   says; ObjectNotFoundError / StorageError from the store.
 */
export async function* gatherShardRows(
  store: ObjectStore,
  plan: BuildPlan,
  markers: readonly PartitionMarker[],
  dbId: number,
  workDir: string,
): AsyncGenerator<AssignedRow> {
  const parse = (plan.index.filter_columns ?? []).length > 0;
  for (const m of markers) {
    const expected = m.rows[dbId];
    if (expected === 0) continue;
    const key = partitionKey(plan.run_id, markers.length, dbId, m.worker);
    const local = join(workDir, `${shardDirName(dbId)}-from-${m.worker}.bin`);
    await store.download(key, local, { maxBytes: m.bytes[dbId] });
    try {
      const size = (await stat(local)).size;
      if (size !== m.bytes[dbId]) throw new ConfigValidationError(`partition ${key} has ${size} bytes, its marker says ${m.bytes[dbId]}`);
      let n = 0;
      for await (const row of readPartitionRows(local, dbId, plan.index.dim, plan.kv !== undefined)) {
        n++;
        if (parse && row.payloadJson !== null) row.payload = JSON.parse(row.payloadJson) as AssignedRow['payload'];
        yield row;
      }
      if (n !== expected) throw new ConfigValidationError(`partition ${key} holds ${n} rows, its marker says ${expected}`);
    } finally {
      await rm(local, { force: true });
    }
  }
}

/** Deletes every partition of a run (after publish). @returns the number of objects deleted. */
export async function deletePartitions(store: ObjectStore, runId: string): Promise<number> {
  const objects = await store.list(partitionsPrefix(runId), { etags: false });
  const limit = pLimit(8);
  await Promise.all(objects.map((o) => limit(() => store.delete(o.key))));
  return objects.length;
}
