/**
 * sqlite-vec shard files (real files in a temp folder, real Fashion-MNIST vectors): exact results
 * equal brute force for l2 (squared) and cosine; int8 + re-ranking keeps recall@10 >= 0.95;
 * payloads round-trip; bad configs, empty shards, corrupt and missing files fail with errors that
 * name the shard and file; the reader never writes; the worker pool builds the same files as the
 * in-thread writer and rejects (never hangs) when a worker fails.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';
import { distance, type Metric } from '../src/common/distance.ts';
import { ConfigValidationError, VectorIndexError } from '../src/common/errors.ts';
import { sha256Hex } from '../src/common/file-digest.ts';
import {
  SQLITE_VEC_FILE_NAME,
  checkSqliteVecConfig,
  computeInt8Scale,
  parseSqliteVecIndexParams,
  sqliteVecIndexParams,
} from '../src/common/sqlite-vec-layout.ts';
import { mergeTopK, type ScoredHit } from '../src/common/topk-merge.ts';
import { exactTopK } from '../src/eval/exact-knn.ts';
import { SqliteVecShardReader } from '../src/shard-node/sqlite-vec-shard-reader.ts';
import type { BuiltShard, ShardIndexWriter } from '../src/writer/backends/shard-index-writer.ts';
import { SqliteVecShardWriter, type SqliteVecShardWriterOptions } from '../src/writer/backends/sqlite-vec-shard-writer.ts';
import { WriterWorkerPool } from '../src/writer/backends/writer-worker-pool.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import { FASHION_IMAGES, FASHION_LABELS, tempDir } from './helpers/fixtures.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const n = 2000;
const dim = 784;
const nq = 50;
const k = 10;

/** Relative closeness with a tiny absolute floor (cosine distances can be ~0). */
function close(got: number, want: number, rel = 1e-3): boolean {
  return Math.abs(got - want) <= rel * Math.max(Math.abs(want), 1e-6);
}

describe('sqlite-vec shards', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let base: Float32Array;
  let queries: Float32Array;
  let ids: string[];
  let payloads: (string | null)[];
  let int8Scale: number;

  before(async () => {
    dir = await tempDir('sqlite-vec');
    const images = await readIdxImages(FASHION_IMAGES, { limit: n, labelsPath: FASHION_LABELS });
    base = images.vectors;
    queries = (await readIdxImages(FASHION_IMAGES, { start: 5000, limit: nq })).vectors;
    ids = Array.from({ length: n }, (_, i) => `fm-${i}`);
    // Real labels, one null payload in 97, one non-ASCII payload.
    payloads = ids.map((id, i) => (i % 97 === 0 ? null : JSON.stringify({ id, label: images.labels![i], note: i === 5 ? 'héllo ✓ 日本' : '' })));
    // As the build does: max |x| of a training sample / 127 (the first 500 rows here).
    int8Scale = computeInt8Scale(base.subarray(0, 500 * dim));
  });
  after(async () => dir.remove());

  const query = (q: number) => queries.subarray(q * dim, (q + 1) * dim);

  /** Builds a shard in this thread from `rows` (default all), in three batches of subarray views. */
  async function buildInThread(name: string, options: Omit<SqliteVecShardWriterOptions, 'dir' | 'dim'>, rows?: number[]) {
    const shardDir = join(dir.path, name);
    const writer = new SqliteVecShardWriter({ dir: shardDir, dim, ...options });
    const started = performance.now();
    await feed(writer, rows);
    const built = await writer.finish();
    return { shardDir, built, ms: performance.now() - started };
  }

  /** Feeds `rows` (default all) to a writer in three batches; returns the arrays passed. */
  async function feed(writer: ShardIndexWriter, rows?: number[], copyBatches = false): Promise<Float32Array[]> {
    const all = rows ?? ids.map((_, i) => i);
    const passed: Float32Array[] = [];
    const cut = [0, Math.floor(all.length / 3), Math.floor((2 * all.length) / 3), all.length];
    for (let b = 0; b < 3; b++) {
      const part = all.slice(cut[b], cut[b + 1]);
      let vectors: Float32Array;
      if (rows === undefined && !copyBatches) {
        vectors = base.subarray(cut[b] * dim, cut[b + 1] * dim); // a view into a larger buffer
      } else {
        vectors = new Float32Array(part.length * dim);
        part.forEach((r, j) => vectors.set(base.subarray(r * dim, (r + 1) * dim), j * dim));
      }
      passed.push(vectors);
      await writer.add({ ids: part.map((r) => ids[r]), vectors, payloads: part.map((r) => payloads[r]) });
    }
    return passed;
  }

  /** Asserts that `got` is the exact top-k of `rows` (default all) for query q. */
  function assertExact(got: ScoredHit[], q: number, metric: Metric, topK: number, label: string, rows?: number[]) {
    const want = exactTopK(base, ids, queries, q, dim, topK + 1, metric, rows);
    assert.equal(got.length, Math.min(topK, rows?.length ?? n), `${label}: hit count`);
    assert.equal(new Set(got.map((h) => h.id)).size, got.length, `${label}: duplicate ids`);
    for (let i = 0; i < got.length; i++) {
      assert.ok(close(got[i].score, want[i].score), `${label} rank ${i}: score ${got[i].score} vs brute force ${want[i].score}`);
      const row = Number(got[i].id.slice(3));
      const own = distance(metric, queries, q, base, row, dim);
      assert.ok(close(got[i].score, own), `${label} rank ${i}: ${got[i].id} scored ${got[i].score}, its distance is ${own}`);
    }
    // When no tie straddles the cut, the id sets must be identical.
    if (want.length <= topK || want[topK - 1].score < want[topK].score) {
      assert.deepEqual(new Set(got.map((h) => h.id)), new Set(want.slice(0, topK).map((h) => h.id)), `${label}: ids`);
    }
  }

  test('config: dot, bad quantization and bad int8 scales are rejected', () => {
    assert.throws(() => checkSqliteVecConfig('dot', {}), (e: unknown) => e instanceof ConfigValidationError && /l2 and cosine.*not "dot"/.test(e.message));
    assert.equal(checkSqliteVecConfig('l2', { quantization: 'int8' }), 'l2');
    assert.equal(checkSqliteVecConfig('cosine', { quantization: 'int8', int8Scale: 0.5, dim: 784 }), 'cosine');
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => checkSqliteVecConfig('l2', { quantization: 'int8', int8Scale: bad }), ConfigValidationError, `scale ${bad}`);
    }
    assert.throws(() => checkSqliteVecConfig('l2', { quantization: 'pq' as 'int8' }), ConfigValidationError);
    assert.throws(() => checkSqliteVecConfig('l2', { dim: 8193 }), /1\.\.8192/);
    assert.throws(
      () => new SqliteVecShardWriter({ dir: join(dir.path, 'x'), dbId: 4, dim, metric: 'l2', quantization: 'int8' }),
      (e: unknown) => e instanceof ConfigValidationError && /shard 4.*int8Scale/.test(e.message),
    );
    assert.throws(() => new SqliteVecShardWriter({ dir: join(dir.path, 'x'), dbId: 4, dim, metric: 'dot', quantization: 'none' }), ConfigValidationError);
    assert.throws(() => new WriterWorkerPool({ concurrency: 0 }), ConfigValidationError);
    assert.deepEqual(parseSqliteVecIndexParams(sqliteVecIndexParams({ quantization: 'int8', int8Scale: 0.25 })), { quantization: 'int8', int8Scale: 0.25 });
    assert.throws(() => parseSqliteVecIndexParams({ quantization: 'int8', int8_scale: -2 }), ConfigValidationError);
  });

  for (const metric of ['l2', 'cosine'] as const) {
    test(`float32 ${metric}: results equal brute force, payloads round-trip, only shard.sqlite is left`, async (t) => {
      const { shardDir, built, ms } = await buildInThread(`float-${metric}`, { dbId: 2, metric, quantization: 'none' });
      assert.equal(built.vectorCount, n);
      assert.equal(built.indexType, 'flat');
      assert.match(built.checkpointId, /^[0-9a-f]{16}$/);
      assert.deepEqual(readdirSync(shardDir), [SQLITE_VEC_FILE_NAME]);
      const file = join(shardDir, SQLITE_VEC_FILE_NAME);
      assert.equal(built.checkpointId, sha256Hex(readFileSync(file)).slice(0, 16));
      t.diagnostic(`float32 ${metric}: built ${n} x ${dim} in ${ms.toFixed(0)} ms, ${statSync(file).size} bytes`);
      const reader = SqliteVecShardReader.open(shardDir, 2, metric, { quantization: 'none' });
      try {
        let searchMs = 0;
        for (let q = 0; q < nq; q++) {
          const started = performance.now();
          const got = await reader.search(query(q), k, false, {});
          searchMs += performance.now() - started;
          assertExact(got, q, metric, k, `${metric} q${q}`);
        }
        t.diagnostic(`float32 ${metric}: ${(searchMs / nq).toFixed(2)} ms/query (k=${k})`);
        const withPayload = await reader.search(query(0), 200, true, {});
        let nulls = 0;
        for (const hit of withPayload) {
          const row = Number(hit.id.slice(3));
          assert.equal(hit.payload_json, payloads[row] ?? '', `payload of ${hit.id}`);
          if (payloads[row] === null) nulls++;
        }
        assert.ok(nulls > 0, 'the sample includes rows with a null payload');
        assert.ok((await reader.search(query(1), 5, false, {})).every((h) => h.payload_json === ''));
        // The unicode payload round-trips (search with its own vector).
        const self = await reader.search(base.subarray(5 * dim, 6 * dim), 1, true, {});
        assert.equal(self[0].id, 'fm-5');
        assert.equal(JSON.parse(self[0].payload_json).note, 'héllo ✓ 日本');
      } finally {
        reader.close();
      }
    });

    test(`int8 ${metric}: re-ranked recall@10 >= 0.95 vs brute force, scores exact`, async (t) => {
      const { shardDir, built, ms } = await buildInThread(`int8-${metric}`, { dbId: 3, metric, quantization: 'int8', int8Scale });
      assert.equal(built.indexType, 'flat_int8');
      assert.equal(built.vectorCount, n);
      assert.deepEqual(readdirSync(shardDir), [SQLITE_VEC_FILE_NAME]);
      const reader = SqliteVecShardReader.open(shardDir, 3, metric, { quantization: 'int8', int8Scale });
      try {
        const recallAt = async (refineFactor?: number) => {
          let found = 0;
          for (let q = 0; q < nq; q++) {
            const got = await reader.search(query(q), k, false, refineFactor === undefined ? {} : { refineFactor });
            assert.equal(got.length, k);
            for (let i = 0; i < got.length; i++) {
              const own = distance(metric, queries, q, base, Number(got[i].id.slice(3)), dim);
              assert.ok(close(got[i].score, own, 1e-9), `re-ranked score of ${got[i].id} is exact`);
              if (i > 0) assert.ok(got[i - 1].score <= got[i].score, 'sorted best first');
            }
            const want = new Set(exactTopK(base, ids, queries, q, dim, k, metric).map((h) => h.id));
            found += got.filter((h) => want.has(h.id)).length;
          }
          return found / (nq * k);
        };
        const recall = await recallAt();
        const recall1 = await recallAt(1);
        const recall16 = await recallAt(16);
        t.diagnostic(`int8 ${metric}: built in ${ms.toFixed(0)} ms, ${statSync(join(shardDir, SQLITE_VEC_FILE_NAME)).size} bytes; recall@10 refine 1: ${recall1}, 4 (default): ${recall}, 16: ${recall16}`);
        assert.ok(recall >= 0.95, `recall@10 with the default refine factor is ${recall}`);
        assert.ok(recall16 >= recall, 'more candidates never lose recall');
        // topK * refine beyond vec0's limit is clamped to 4096: here every row is a candidate, so
        // the full ranking is exact.
        const everything = await reader.search(query(0), n, false, { refineFactor: 4 });
        assertExact(everything, 0, metric, n, `int8 ${metric} all rows`);
      } finally {
        reader.close();
      }
    });
  }

  test('topK above vec0 limits is clamped, topK <= 0 gives nothing', async () => {
    const reader = SqliteVecShardReader.open(join(dir.path, 'float-l2'), 2, 'l2');
    try {
      assert.equal((await reader.search(query(0), 5000, false, {})).length, n);
      assert.deepEqual(await reader.search(query(0), 0, false, {}), []);
      await assert.rejects(reader.search(new Float32Array(dim - 1), 3, false, {}), /shard 2: query has 783 values/);
      const nan = new Float32Array(dim);
      nan[7] = Number.NaN;
      await assert.rejects(reader.search(nan, 3, false, {}), /not finite/);
    } finally {
      reader.close();
    }
  });

  test('cosine with zero vectors: zero rows score 1, int8 rows quantized to zero are still found', async () => {
    // sqlite-vec gives a zero vector a NaN cosine distance, which breaks the whole KNN ordering;
    // the writer keeps such rows out of vec0 and the reader scores them exactly.
    const m = 300;
    const local = new Float32Array((m + 3) * dim);
    local.set(base.subarray(0, m * dim));
    const tiny = local.subarray((m + 2) * dim);
    tiny.fill(0.001); // quantizes to all zeros with a scale of ~2
    const localIds = [...ids.slice(0, m), 'zero-a', 'zero-b', 'tiny'];
    for (const quantization of ['none', 'int8'] as const) {
      const shardDir = join(dir.path, `zeros-${quantization}`);
      const writer = new SqliteVecShardWriter({ dir: shardDir, dbId: 8, dim, metric: 'cosine', quantization, int8Scale: quantization === 'int8' ? int8Scale : undefined });
      await writer.add({ ids: localIds, vectors: local, payloads: localIds.map(() => null) });
      await writer.finish();
      const reader = SqliteVecShardReader.open(shardDir, 8, 'cosine', { quantization });
      try {
        for (let q = 0; q < 5; q++) {
          // Every row, so the zero rows (score 1) are inside the result.
          const got = await reader.search(query(q), m + 3, false, { refineFactor: 20 });
          const want = exactTopK(local, localIds, queries, q, dim, m + 3, 'cosine');
          assert.equal(got.length, m + 3);
          for (let i = 0; i < got.length; i++) assert.ok(close(got[i].score, want[i].score), `${quantization} q${q} rank ${i}: ${got[i].score} vs ${want[i].score}`);
          const zero = got.find((h) => h.id === 'zero-a');
          assert.equal(zero?.score, 1);
        }
        // Self-queries find themselves (they do not when a zero vector sits in vec0).
        for (const r of [0, 17, 299]) assert.equal((await reader.search(local.subarray(r * dim, (r + 1) * dim), 1, false, {}))[0].id, localIds[r]);
        const tinyHit = await reader.search(tiny, 1, false, {});
        assert.equal(tinyHit[0].id, 'tiny');
        assert.ok(Math.abs(tinyHit[0].score) < 1e-6);
        // A zero query: every row scores 1 (cos taken as 0), ties by id.
        const zeroQuery = await reader.search(new Float32Array(dim), 3, false, {});
        assert.deepEqual(zeroQuery.map((h) => h.score), [1, 1, 1]);
        assert.deepEqual(zeroQuery.map((h) => h.id), [...localIds].sort().slice(0, 3));
      } finally {
        reader.close();
      }
    }
  });

  test('include_vector returns the exact stored float32 vector: float32 and int8 shards, unindexed zero rows, zero queries', async () => {
    const m = 300;
    const local = new Float32Array((m + 1) * dim);
    local.set(base.subarray(0, m * dim)); // the last row stays all zeros (kept out of vec0 for cosine)
    const localIds = [...ids.slice(0, m), 'zero'];
    const stored = (id: string): Float32Array => {
      const row = id === 'zero' ? m : Number(id.slice(3));
      return local.slice(row * dim, (row + 1) * dim);
    };
    for (const metric of ['l2', 'cosine'] as const) {
      for (const quantization of ['none', 'int8'] as const) {
        const label = `${metric}/${quantization}`;
        const shardDir = join(dir.path, `vectors-${metric}-${quantization}`);
        const writer = new SqliteVecShardWriter({ dir: shardDir, dbId: 12, dim, metric, quantization, int8Scale: quantization === 'int8' ? int8Scale : undefined });
        await writer.add({ ids: localIds, vectors: local, payloads: localIds.map((id) => JSON.stringify({ id })) });
        await writer.finish();
        const reader = SqliteVecShardReader.open(shardDir, 12, metric, { quantization });
        try {
          for (const [what, q, topK] of [
            ['query 0', query(0), k],
            ['query 1, every row', query(1), m + 1],
            ['zero query', new Float32Array(dim), 5],
          ] as const) {
            for (const includePayload of [false, true]) {
              const got = await reader.search(q, topK, includePayload, { includeVector: true });
              assert.equal(got.length, topK, `${label} ${what}: hit count`);
              for (const hit of got) {
                assert.ok(hit.vector instanceof Float32Array, `${label} ${what}: ${hit.id} carries a vector`);
                assert.deepEqual(hit.vector, stored(hit.id), `${label} ${what}: stored vector of ${hit.id}`);
                assert.equal(hit.payload_json, includePayload ? JSON.stringify({ id: hit.id }) : '');
              }
              if (topK === m + 1) assert.ok(got.some((h) => h.id === 'zero'), `${label}: the zero row is among all rows`);
            }
          }
          // Same ranking with and without vectors; no vector property unless asked.
          const plain = await reader.search(query(2), k, false, {});
          assert.ok(plain.every((h) => !('vector' in h)), `${label}: no vector property unless asked`);
          const withVectors = await reader.search(query(2), k, false, { includeVector: true });
          assert.deepEqual(withVectors.map((h) => [h.id, h.score]), plain.map((h) => [h.id, h.score]), `${label}: same hits`);
        } finally {
          reader.close();
        }
      }
    }
  });

  test('an empty shard fails naming the shard and leaves no file', async () => {
    const shardDir = join(dir.path, 'empty');
    const writer = new SqliteVecShardWriter({ dir: shardDir, dbId: 5, dim, metric: 'l2', quantization: 'none' });
    await writer.add({ ids: [], vectors: new Float32Array(0), payloads: [] });
    await assert.rejects(writer.finish(), (e: unknown) => e instanceof VectorIndexError && /shard 5/.test(e.message) && e.message.includes(join(shardDir, SQLITE_VEC_FILE_NAME)));
    assert.throws(() => statSync(join(shardDir, SQLITE_VEC_FILE_NAME)), /ENOENT/);
  });

  test('bad rows are rejected naming the shard; rows written before stay, nothing of the bad batches', async () => {
    const shardDir = join(dir.path, 'bad-rows');
    const writer = new SqliteVecShardWriter({ dir: shardDir, dbId: 11, dim: 4, metric: 'l2', quantization: 'none' });
    await writer.add({ ids: ['a'], vectors: new Float32Array([1, 2, 3, 4]), payloads: [null] });
    await assert.rejects(writer.add({ ids: ['b', 'c'], vectors: new Float32Array(7), payloads: [null, null] }), /shard 11 .*expected 2 x 4 = 8/);
    await assert.rejects(writer.add({ ids: ['d'], vectors: new Float32Array([1, Number.NaN, 0, 0]), payloads: [null] }), /shard 11 .*"d" has a non-finite value/);
    const built = await writer.finish();
    assert.equal(built.vectorCount, 1);
    await assert.rejects(writer.add({ ids: ['e'], vectors: new Float32Array(4), payloads: [null] }), /after the writer was finished/);
    const reader = SqliteVecShardReader.open(shardDir, 11, 'l2');
    try {
      const hits = await reader.search(new Float32Array(4), 10, false, {});
      assert.deepEqual(hits.map((h) => h.id), ['a']);
      assert.ok(close(hits[0].score, 30, 1e-6), `squared distance 30, got ${hits[0].score}`); // float32 sqrt, squared
    } finally {
      reader.close();
    }
  });

  test('missing, garbage, truncated and mismatched files give VectorIndexError naming shard and file', async () => {
    const expectOpenError = (shardDir: string, metric: Metric, options = {}) => {
      const file = join(shardDir, SQLITE_VEC_FILE_NAME);
      assert.throws(
        () => SqliteVecShardReader.open(shardDir, 9, metric, options),
        (e: unknown) => e instanceof VectorIndexError && /^shard 9 /.test(e.message) && e.message.includes(file),
      );
    };
    const missing = join(dir.path, 'missing');
    mkdirSync(missing);
    expectOpenError(missing, 'l2');
    const garbage = join(dir.path, 'garbage');
    mkdirSync(garbage);
    writeFileSync(join(garbage, SQLITE_VEC_FILE_NAME), Buffer.from(Array.from({ length: 65536 }, (_, i) => (i * 7919 + 13) & 0xff)));
    expectOpenError(garbage, 'l2');
    // A real file cut in half: the schema opens, but the data pages are gone.
    const truncated = join(dir.path, 'truncated');
    cpSync(join(dir.path, 'float-l2'), truncated, { recursive: true });
    const file = join(truncated, SQLITE_VEC_FILE_NAME);
    truncateSync(file, Math.floor(statSync(file).size / 2));
    let failed = false;
    try {
      const reader = SqliteVecShardReader.open(truncated, 9, 'l2');
      try {
        await reader.search(query(0), k, true, {});
      } finally {
        reader.close();
      }
    } catch (e) {
      failed = e instanceof VectorIndexError && /^shard 9 /.test(e.message) && e.message.includes(file);
    }
    assert.ok(failed, 'a truncated file fails to open or to search, with a VectorIndexError naming shard 9 and the file');
    // The manifest and the file disagree.
    expectOpenError(join(dir.path, 'float-l2'), 'cosine');
    expectOpenError(join(dir.path, 'float-l2'), 'l2', { quantization: 'int8' });
    expectOpenError(join(dir.path, 'int8-l2'), 'l2', { quantization: 'int8', int8Scale: int8Scale * 2 });
    expectOpenError(join(dir.path, 'float-l2'), 'dot');
  });

  test('the reader is read-only: writes fail, the file bytes and folder are unchanged after searches', async () => {
    const shardDir = join(dir.path, 'int8-cosine');
    const file = join(shardDir, SQLITE_VEC_FILE_NAME);
    const before = sha256Hex(readFileSync(file));
    const mtime = statSync(file).mtimeMs;
    const reader = SqliteVecShardReader.open(shardDir, 3, 'cosine', { quantization: 'int8' });
    try {
      for (let q = 0; q < nq; q++) await reader.search(query(q), k, true, {});
      // Reach the private handle on purpose: even a direct write must be refused.
      const db = (reader as unknown as { db: Database.Database }).db;
      assert.throws(() => db.exec('DELETE FROM items'), /readonly|query_only|read-only/i);
      assert.throws(() => db.exec('CREATE TABLE x (a)'), /readonly|query_only|read-only/i);
      assert.deepEqual(readdirSync(shardDir), [SQLITE_VEC_FILE_NAME], 'no -journal / -wal / -shm while open');
    } finally {
      reader.close();
    }
    assert.equal(sha256Hex(readFileSync(file)), before);
    assert.equal(statSync(file).mtimeMs, mtime);
  });

  test('the worker pool (4 shards, concurrency 2) builds the same files and results as the in-thread writer', async (t) => {
    const shardRows = [0, 1, 2, 3].map((s) => ids.map((_, i) => i).filter((i) => i % 4 === s));
    const pool = new WriterWorkerPool({ concurrency: 2 });
    const started = performance.now();
    let poolBuilt: BuiltShard[];
    try {
      poolBuilt = await Promise.all(
        shardRows.map(async (rows, s) => {
          const writer = pool.createWriter({ backend: 'sqlite-vec', options: { dir: join(dir.path, `pool-${s}`), dbId: s, dim, metric: 'l2', quantization: 'int8', int8Scale } });
          assert.equal(writer.dbId, s);
          const passed = await feed(writer, rows, true);
          // Whole-buffer arrays are transferred to the worker (the caller's copy is detached).
          assert.ok(passed.every((v) => v.length === 0), 'batch buffers were transferred');
          return writer.finish();
        }),
      );
      // A view into a larger buffer is copied, the caller's data stays intact.
      const viewWriter = pool.createWriter({ backend: 'sqlite-vec', options: { dir: join(dir.path, 'pool-view'), dbId: 9, dim, metric: 'l2', quantization: 'none' } });
      const view = base.subarray(10 * dim, 20 * dim);
      await viewWriter.add({ ids: ids.slice(10, 20), vectors: view, payloads: payloads.slice(10, 20) });
      assert.equal(view.length, 10 * dim);
      assert.equal((await viewWriter.finish()).vectorCount, 10);
      // A view handed over (the build's ShardBuffers batches: handOverVectors) is transferred with
      // its whole buffer, not copied, and the worker reads the view's rows, not the buffer's first.
      const handed = base.slice(0, 40 * dim);
      const handedView = handed.subarray(10 * dim, 20 * dim);
      const handWriter = pool.createWriter({ backend: 'sqlite-vec', options: { dir: join(dir.path, 'pool-handover'), dbId: 10, dim, metric: 'l2', quantization: 'none' } });
      await handWriter.add({ ids: ids.slice(10, 20), vectors: handedView, payloads: payloads.slice(10, 20), handOverVectors: true });
      assert.equal(handed.length, 0, 'the whole buffer was transferred');
      assert.equal(handedView.length, 0);
      assert.equal((await handWriter.finish()).vectorCount, 10);
      const handReader = SqliteVecShardReader.open(join(dir.path, 'pool-handover'), 10, 'l2', { quantization: 'none' });
      try {
        for (const row of [10, 15, 19]) {
          const hits = await handReader.search(base.subarray(row * dim, (row + 1) * dim), 1, true, {});
          assert.equal(hits[0].id, ids[row], `row ${row} is stored under its own id`);
          assert.ok(hits[0].score <= 1e-6, `row ${row}'s vector is stored unchanged (score ${hits[0].score})`);
        }
      } finally {
        handReader.close();
      }
    } finally {
      await pool.close();
    }
    const poolMs = performance.now() - started;
    const threadStarted = performance.now();
    const inThread: Awaited<ReturnType<typeof buildInThread>>[] = [];
    for (let s = 0; s < 4; s++) inThread.push(await buildInThread(`thread-${s}`, { dbId: s, metric: 'l2', quantization: 'int8', int8Scale }, shardRows[s]));
    t.diagnostic(`4 int8 shards of ${n / 4} rows: pool (concurrency 2, incl. worker start-up) ${poolMs.toFixed(0)} ms, in-thread ${(performance.now() - threadStarted).toFixed(0)} ms`);
    for (let s = 0; s < 4; s++) {
      assert.equal(poolBuilt[s].vectorCount, shardRows[s].length);
      assert.equal(poolBuilt[s].indexType, 'flat_int8');
      assert.equal(poolBuilt[s].checkpointId, inThread[s].built.checkpointId, `shard ${s}: identical file content`);
      assert.deepEqual(readdirSync(join(dir.path, `pool-${s}`)), [SQLITE_VEC_FILE_NAME]);
    }
    const readers = [0, 1, 2, 3].map((s) => SqliteVecShardReader.open(join(dir.path, `pool-${s}`), s, 'l2', { quantization: 'int8', int8Scale }));
    const threadReaders = [0, 1, 2, 3].map((s) => SqliteVecShardReader.open(inThread[s].shardDir, s, 'l2', { quantization: 'int8', int8Scale }));
    try {
      let found = 0;
      for (let q = 0; q < nq; q++) {
        const lists = await Promise.all(readers.map((r) => r.search(query(q), k, true, {})));
        const threadLists = await Promise.all(threadReaders.map((r) => r.search(query(q), k, true, {})));
        assert.deepEqual(lists, threadLists, `q${q}: pool-built and in-thread shards answer identically`);
        const merged = mergeTopK(lists, k);
        const want = new Set(exactTopK(base, ids, queries, q, dim, k, 'l2').map((h) => h.id));
        found += merged.filter((h) => want.has(h.id)).length;
      }
      assert.ok(found / (nq * k) >= 0.95, `merged recall@10 over 4 shards is ${found / (nq * k)}`);
    } finally {
      for (const r of [...readers, ...threadReaders]) r.close();
    }
  });

  test('worker failures reject instead of hanging', { timeout: 60_000 }, async () => {
    const pool = new WriterWorkerPool({ concurrency: 2 });
    try {
      // A row of the wrong length is refused by the worker; the writer and the pool stay usable.
      const writer = pool.createWriter({ backend: 'sqlite-vec', options: { dir: join(dir.path, 'pool-bad'), dbId: 6, dim: 4, metric: 'l2', quantization: 'none' } });
      await assert.rejects(
        writer.add({ ids: ['a', 'b'], vectors: new Float32Array(5), payloads: [null, null] }),
        (e: unknown) => e instanceof VectorIndexError && /shard 6 /.test(e.message) && e.message.includes('pool-bad'),
      );
      await writer.add({ ids: ['a'], vectors: new Float32Array([1, 2, 3, 4]), payloads: [null] });
      assert.equal((await writer.finish()).vectorCount, 1);
      // An empty shard fails in the worker too.
      const empty = pool.createWriter({ backend: 'sqlite-vec', options: { dir: join(dir.path, 'pool-empty'), dbId: 4, dim: 4, metric: 'l2', quantization: 'none' } });
      await assert.rejects(empty.finish(), (e: unknown) => e instanceof VectorIndexError && /shard 4 .*received no vectors/.test(e.message));
      // Closing the pool rejects calls in flight.
      const inFlight = pool.createWriter({ backend: 'sqlite-vec', options: { dir: join(dir.path, 'pool-closed'), dbId: 1, dim: 4, metric: 'l2', quantization: 'none' } });
      const rejected = assert.rejects(
        inFlight.add({ ids: ['a'], vectors: new Float32Array(4), payloads: [null] }),
        (e: unknown) => e instanceof VectorIndexError && /shard 1 .*pool was closed/.test(e.message),
      );
      await pool.close();
      await rejected;
      assert.throws(() => pool.createWriter({ backend: 'sqlite-vec', options: { dir: join(dir.path, 'pool-closed'), dbId: 1, dim: 4, metric: 'l2', quantization: 'none' } }), /pool is closed/);
      await inFlight.abort(); // never throws
    } finally {
      await pool.close();
    }
    // A worker that dies (here: out of memory) rejects every call of its writers.
    const starved = new WriterWorkerPool({ concurrency: 1, resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 1 } });
    try {
      const writer = starved.createWriter({ backend: 'sqlite-vec', options: { dir: join(dir.path, 'pool-oom'), dbId: 7, dim: 4, metric: 'l2', quantization: 'none' } });
      const isCrash = (e: unknown) => e instanceof VectorIndexError && /shard 7 .*writer worker 0 crashed/.test(e.message) && e.message.includes('pool-oom');
      // 16 MB of old generation: enough for the worker to start on every Node line (Node 22 aborts
      // the whole process when a worker's limit is below its start-up snapshot), not for 200,000
      // ids and payloads (about 40 MB of strings once cloned into the worker).
      const n = 200_000;
      const big = { ids: Array.from({ length: n }, (_, i) => `id-${i}`), vectors: new Float32Array(n * 4), payloads: Array.from({ length: n }, (_, i) => `{"row":${i},"pad":"${'x'.repeat(100)}"}`) };
      await assert.rejects(writer.add(big), isCrash);
      await assert.rejects(writer.finish(), isCrash);
    } finally {
      await starved.close();
    }
  });

  test('the pool works when tsx is registered programmatically (as bin/shardfleet.js does), whatever per-process flags the parent has', { timeout: 60_000 }, async () => {
    const out = join(dir.path, 'programmatic');
    const poolUrl = new URL('../src/writer/backends/writer-worker-pool.ts', import.meta.url).href;
    const code = `
      import { register } from 'tsx/esm/api';
      register();
      const { WriterWorkerPool } = await import(${JSON.stringify(poolUrl)});
      const pool = new WriterWorkerPool(2);
      const writer = pool.createWriter({ backend: 'sqlite-vec', options: { dir: ${JSON.stringify(out)}, dbId: 3, dim: 2, metric: 'cosine', quantization: 'none' } });
      await writer.add({ ids: ['a', 'b'], vectors: new Float32Array([1, 0, 0, 1]), payloads: ['{"x":1}', null] });
      console.log(JSON.stringify(await writer.finish()));
      await pool.close();`;
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    delete env.NODE_TEST_CONTEXT;
    const child = spawn(process.execPath, ['--stack-trace-limit=20', '--use-largepages=off', '--input-type=module', '-e', code], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exitCode = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(exitCode, 0, stderr);
    const built = JSON.parse(stdout.trim()) as BuiltShard;
    assert.equal(built.vectorCount, 2);
    const reader = SqliteVecShardReader.open(out, 3, 'cosine');
    try {
      const hits = await reader.search(new Float32Array([1, 0.1]), 2, true, {});
      assert.deepEqual(hits.map((h) => h.id), ['a', 'b']);
      assert.equal(hits[0].payload_json, '{"x":1}');
    } finally {
      reader.close();
    }
  });

  test('node --cpu-prof profiles the writer workers too (each thread its own .cpuprofile in --cpu-prof-dir)', { timeout: 60_000 }, async () => {
    const out = join(dir.path, 'profiled');
    const profDir = join(dir.path, 'profiles');
    const poolUrl = new URL('../src/writer/backends/writer-worker-pool.ts', import.meta.url).href;
    const code = `
      const { WriterWorkerPool } = await import(${JSON.stringify(poolUrl)});
      const pool = new WriterWorkerPool(1);
      const writer = pool.createWriter({ backend: 'sqlite-vec', options: { dir: ${JSON.stringify(out)}, dbId: 0, dim: 2, metric: 'l2', quantization: 'none' } });
      await writer.add({ ids: ['a', 'b'], vectors: new Float32Array([1, 0, 0, 1]), payloads: [null, null] });
      await writer.finish();
      await pool.close();`;
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    delete env.NODE_TEST_CONTEXT;
    const child = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profDir, '--import', 'tsx', '--input-type=module', '-e', code], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exitCode = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(exitCode, 0, stderr);
    const urls = readdirSync(profDir).map((f) => {
      const profile = JSON.parse(readFileSync(join(profDir, f), 'utf8')) as { nodes: { callFrame: { url: string } }[] };
      return new Set(profile.nodes.map((n) => n.callFrame.url));
    });
    assert.ok(
      urls.some((u) => [...u].some((url) => url.endsWith('/writer-worker.ts'))),
      `a profile of the worker thread (writer-worker.ts) is among the ${urls.length} profiles written`,
    );
  });
});
