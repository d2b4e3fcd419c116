/**
 * A distributed build worker's part of the end-to-end recall measurement (search-recall.ts,
 * distributed-recall.ts): its partial exact top-k of every sample query over the records of its
 * own shards, and what each of its shards returns for the queries that probe it at every ef.
 * Stored as `runs/<run_id>/recall/n=0002/worker=00001.bin`, a compact binary file:
 *
 *   "SFRECALL" | u32 header bytes | header JSON ({@link RecallPartialHeaderSchema}) | body
 *
 * body (all little-endian; a hit is f64 record key + f32 distance, 12 bytes):
 *   per query (header.queries):       u32 count | f64 own record key (-1: not here) | count hits
 *   per shard (header.shards order):  u32 asked | per asked query: u32 query index
 *                                     | per ef (header.ef): u32 count | count hits
 *
 * The header records the body's size and sha256, so a truncated or damaged file is detected before
 * any of it is used; every count, query index, record key and distance is checked on decode.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ManifestParseError } from '../common/errors.ts';
import { parseJsonWith } from '../common/json-schema-parse.ts';
import { runPrefix } from '../common/manifest.ts';
import { keyShard, type PartialGroundTruth, type ShardHits } from './search-recall.ts';

/** Format version of a recall partial. */
export const RECALL_PARTIAL_VERSION = 1;
const MAGIC = Buffer.from('SFRECALL', 'latin1');
const HIT_BYTES = 12;

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** Key prefix of a run's recall objects: `runs/<run_id>/recall/`. */
export function recallPrefix(runId: string): string {
  return `${runPrefix(runId)}recall/`;
}

/** Key of a distributed run's sample query vectors (float32 npy, [queries, dim]): `runs/<run_id>/recall/queries.npy`. */
export function recallQueriesKey(runId: string): string {
  return `${recallPrefix(runId)}queries.npy`;
}

/** Key of worker `worker` of `workers`' recall partial: `runs/<run_id>/recall/n=0002/worker=00001.bin`. */
export function recallPartialKey(runId: string, workers: number, worker: number): string {
  return `${recallPrefix(runId)}n=${pad(workers, 4)}/worker=${pad(worker, 5)}.bin`;
}

/** The JSON header of a recall partial. */
export const RecallPartialHeaderSchema = z.object({
  format_version: z.literal(RECALL_PARTIAL_VERSION),
  run_id: z.string(),
  worker: z.number().int().nonnegative(),
  workers: z.number().int().positive(),
  /** Neighbours per query. */
  k: z.number().int().positive(),
  /** Sample queries (the plan's, in its order). */
  queries: z.number().int().nonnegative(),
  /** Beam widths searched, ascending. */
  ef: z.array(z.number().int().positive()),
  /** The worker's shards: db id, vectors, and the sha256 of the index file searched. */
  shards: z.array(z.object({ db_id: z.number().int().nonnegative(), vector_count: z.number().int().nonnegative(), index_sha256: z.string() })),
  /** Vectors the partial ground truth scanned (the shards' vectors). */
  vectors: z.number().int().nonnegative(),
  /** Exact-search time of the ground truth, and of the shard searches, seconds. */
  ground_truth_seconds: z.number().nonnegative(),
  search_seconds: z.number().nonnegative(),
  body_bytes: z.number().int().nonnegative(),
  body_sha256: z.string(),
});
export type RecallPartialHeader = z.infer<typeof RecallPartialHeaderSchema>;

/** One shard's hits: the queries that probe it (ascending query indices) and hits[i][j] at ef[j]. */
export interface ShardRecallHits {
  dbId: number;
  queries: number[];
  hits: ShardHits[][];
}

/** A decoded recall partial. */
export interface RecallPartial {
  header: RecallPartialHeader;
  truth: PartialGroundTruth;
  shards: ShardRecallHits[];
}

/** The header fields {@link encodeRecallPartial} fills in. */
export type RecallPartialHeaderInput = Omit<RecallPartialHeader, 'format_version' | 'body_bytes' | 'body_sha256' | 'k' | 'queries' | 'vectors' | 'ground_truth_seconds'>;

/**
 * Encodes a worker's partial.
 * @param shards in the order of `header.shards`.
 */
export function encodeRecallPartial(header: RecallPartialHeaderInput, truth: PartialGroundTruth, shards: readonly ShardRecallHits[]): Buffer {
  const nq = truth.self.length;
  let size = 0;
  for (let qi = 0; qi < nq; qi++) size += 12 + truth.keys[qi].length * HIT_BYTES;
  for (const s of shards) {
    size += 4 + s.queries.length * 4;
    for (const row of s.hits) for (const h of row) size += 4 + h.keys.length * HIT_BYTES;
  }
  const body = Buffer.allocUnsafe(size);
  let at = 0;
  const hits = (keys: readonly number[], dist: ArrayLike<number>): void => {
    at = body.writeUInt32LE(keys.length, at);
    for (let i = 0; i < keys.length; i++) {
      at = body.writeDoubleLE(keys[i], at);
      at = body.writeFloatLE(dist[i], at);
    }
  };
  for (let qi = 0; qi < nq; qi++) {
    at = body.writeUInt32LE(truth.keys[qi].length, at);
    at = body.writeDoubleLE(truth.self[qi], at);
    for (let i = 0; i < truth.keys[qi].length; i++) {
      at = body.writeDoubleLE(truth.keys[qi][i], at);
      at = body.writeFloatLE(truth.distances[qi][i], at);
    }
  }
  for (const s of shards) {
    at = body.writeUInt32LE(s.queries.length, at);
    s.queries.forEach((qi, i) => {
      at = body.writeUInt32LE(qi, at);
      for (const h of s.hits[i]) hits(h.keys, h.dist);
    });
  }
  const full: RecallPartialHeader = {
    format_version: RECALL_PARTIAL_VERSION,
    ...header,
    k: truth.k,
    queries: nq,
    vectors: truth.vectors,
    ground_truth_seconds: +truth.seconds.toFixed(3),
    body_bytes: body.length,
    body_sha256: createHash('sha256').update(body).digest('hex'),
  };
  const json = Buffer.from(JSON.stringify(full), 'utf8');
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32LE(json.length, 0);
  return Buffer.concat([MAGIC, len, json, body]);
}

/** What a partial must match (from the plan): its run, worker, k, query count and efs. */
export interface RecallPartialExpect {
  runId: string;
  worker: number;
  workers: number;
  queries: number;
  ef: readonly number[];
}

/**
 * Decodes and checks a worker's partial.
 * @param name the object's key, for messages.
 * @throws ManifestParseError naming `name` and what is wrong: not a recall partial, another run,
 *   worker, query count or ef list than `expect`, a body whose size or sha256 differs from the
 *   header's, or a count, query index, record key or distance out of range.
 */
export function decodeRecallPartial(buf: Buffer, name: string, expect: RecallPartialExpect): RecallPartial {
  const bad = (what: string): ManifestParseError => new ManifestParseError(`recall partial ${name}: ${what}`);
  if (buf.length < MAGIC.length + 4 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) throw bad('not a recall partial (no SFRECALL magic)');
  const headerBytes = buf.readUInt32LE(MAGIC.length);
  const bodyAt = MAGIC.length + 4 + headerBytes;
  if (bodyAt > buf.length) throw bad(`its header claims ${headerBytes} bytes, the file has ${buf.length}`);
  const header = parseJsonWith(RecallPartialHeaderSchema, buf.subarray(MAGIC.length + 4, bodyAt), `recall partial ${name}`);
  const body = buf.subarray(bodyAt);
  if (header.run_id !== expect.runId || header.worker !== expect.worker || header.workers !== expect.workers) {
    throw bad(`it is worker ${header.worker}/${header.workers}'s of run ${header.run_id}, expected worker ${expect.worker}/${expect.workers} of run ${expect.runId}`);
  }
  if (header.queries !== expect.queries || header.ef.join(',') !== expect.ef.join(',')) {
    throw bad(`it has ${header.queries} queries at ef ${header.ef.join(',')}, the plan has ${expect.queries} at ef ${expect.ef.join(',')}`);
  }
  if (body.length !== header.body_bytes) throw bad(`body has ${body.length} bytes, its header says ${header.body_bytes} (truncated?)`);
  const digest = createHash('sha256').update(body).digest('hex');
  if (digest !== header.body_sha256) throw bad(`body sha256 ${digest} differs from its header's ${header.body_sha256} (damaged)`);

  const rowsOf = new Map(header.shards.map((s) => [s.db_id, s.vector_count]));
  const { k } = header;
  let at = 0;
  const need = (n: number): void => {
    if (at + n > body.length) throw bad(`body ends early at byte ${at}`);
  };
  const u32 = (): number => {
    need(4);
    const v = body.readUInt32LE(at);
    at += 4;
    return v;
  };
  const checkKey = (key: number, dbId?: number): number => {
    const db = keyShard(key);
    const rows = rowsOf.get(db);
    if (!Number.isInteger(key) || key < 0 || rows === undefined || key - db * 0x1_0000_0000 >= rows || (dbId !== undefined && db !== dbId)) {
      throw bad(`record key ${key} at byte ${at} is not a row of ${dbId === undefined ? 'its shards' : `shard ${dbId}`}`);
    }
    return key;
  };
  const readHits = (dbId?: number, count?: number): ShardHits => {
    const n = count ?? u32();
    if (n > k) throw bad(`${n} hits at byte ${at} for k ${k}`);
    need(n * HIT_BYTES);
    const keys: number[] = [];
    const dist = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      keys.push(checkKey(body.readDoubleLE(at), dbId));
      dist[i] = body.readFloatLE(at + 8);
      if (!Number.isFinite(dist[i])) throw bad(`distance ${dist[i]} at byte ${at + 8}`);
      at += HIT_BYTES;
    }
    return { dist, keys };
  };
  const truth: PartialGroundTruth = { k, self: [], keys: [], distances: [], vectors: header.vectors, seconds: header.ground_truth_seconds };
  for (let qi = 0; qi < header.queries; qi++) {
    const n = u32();
    need(8);
    const self = body.readDoubleLE(at);
    at += 8;
    truth.self.push(self === -1 ? -1 : checkKey(self));
    const h = readHits(undefined, n);
    if (h.dist.some((d, i) => i > 0 && d < h.dist[i - 1])) throw bad(`query ${qi}'s exact neighbours are not sorted by distance`);
    truth.keys.push(h.keys);
    truth.distances.push(Array.from(h.dist));
  }
  const shards: ShardRecallHits[] = [];
  for (const s of header.shards) {
    const asked = u32();
    if (asked > header.queries) throw bad(`shard ${s.db_id}: ${asked} queries of ${header.queries}`);
    const queries: number[] = [];
    const hits: ShardHits[][] = [];
    for (let i = 0; i < asked; i++) {
      const qi = u32();
      if (qi >= header.queries || (i > 0 && qi <= queries[i - 1])) throw bad(`shard ${s.db_id}: query index ${qi} out of order or range`);
      queries.push(qi);
      hits.push(header.ef.map(() => readHits(s.db_id)));
    }
    shards.push({ dbId: s.db_id, queries, hits });
  }
  if (at !== body.length) throw bad(`${body.length - at} bytes left after the last shard`);
  return { header, truth, shards };
}
