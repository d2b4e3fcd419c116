/**
 * Point lookup by id (ShardIndexReader.fetchByIds) on real shards of every backend, built from
 * real Fashion-MNIST vectors in temp folders: every id's payload and exact stored float32 vector
 * come back (bit-equal, also on quantized indexes: usearch i8, sqlite-vec int8, LanceDB hnsw_sq),
 * in request order across chunk boundaries; absent ids and ids differing only in case are
 * undefined; repeated ids each get a row; includePayload=false gives payload_json "";
 * includeVector=false gives no vector property; ids with quotes, backslashes and non-ASCII text
 * are found (LanceDB's SQL filter quoting); a fetch after close() rejects with a VectorIndexError
 * naming the shard.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Metric } from '../src/common/distance.ts';
import { VectorIndexError } from '../src/common/errors.ts';
import { computeInt8Scale, type SqliteVecQuantization } from '../src/common/sqlite-vec-layout.ts';
import { DEFAULT_USEARCH_PARAMS, type UsearchIndexParams } from '../src/common/usearch-layout.ts';
import { LanceShardReader } from '../src/shard-node/lancedb-shard-reader.ts';
import type { FetchedRow, ShardIndexReader } from '../src/shard-node/shard-index-reader.ts';
import { SqliteVecShardReader } from '../src/shard-node/sqlite-vec-shard-reader.ts';
import { UsearchShardReader } from '../src/shard-node/usearch-shard-reader.ts';
import { LanceShardWriter, type LanceIndexPlan } from '../src/writer/backends/lancedb-shard-writer.ts';
import type { ShardIndexWriter } from '../src/writer/backends/shard-index-writer.ts';
import { SqliteVecShardWriter } from '../src/writer/backends/sqlite-vec-shard-writer.ts';
import { UsearchShardWriter } from '../src/writer/backends/usearch-shard-writer.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import { FASHION_IMAGES, FASHION_LABELS, tempDir } from './helpers/fixtures.ts';

const n = 1200;
const dim = 784;
/** Rows whose ids exercise quoting (LanceDB filter literals) and case sensitivity. */
const SPECIAL_IDS: Record<number, string> = {
  3: "it's",
  4: "''",
  5: 'back\\slash',
  6: '"double"',
  7: 'héllo ✓ 日本',
  8: 'Mixed-Case',
  9: 'a, b) OR (1 = 1',
};
/** The row whose vector is all zeros (kept out of sqlite-vec's cosine vec_index). */
const ZERO_ROW = 11;

describe('fetch by id', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let base: Float32Array;
  let ids: string[];
  let payloads: (string | null)[];

  before(async () => {
    dir = await tempDir('fetch-by-id');
    const images = await readIdxImages(FASHION_IMAGES, { limit: n, labelsPath: FASHION_LABELS });
    base = images.vectors;
    base.fill(0, ZERO_ROW * dim, (ZERO_ROW + 1) * dim);
    ids = Array.from({ length: n }, (_, i) => SPECIAL_IDS[i] ?? `fm-${i}`);
    // Real labels; one null payload in 50 (fetched as "").
    payloads = ids.map((id, i) => (i % 50 === 0 ? null : JSON.stringify({ id, label: images.labels![i] })));
  });
  after(async () => dir.remove());

  const vectorOf = (row: number): Float32Array => base.subarray(row * dim, (row + 1) * dim);

  /** Feeds every row to `writer` in three batches, then finishes it. */
  async function feed(writer: ShardIndexWriter): Promise<void> {
    for (const [from, to] of [
      [0, 400],
      [400, 900],
      [900, n],
    ]) {
      await writer.add({ ids: ids.slice(from, to), vectors: base.slice(from * dim, to * dim), payloads: payloads.slice(from, to) });
    }
    await writer.finish();
  }

  /** Asserts `got` is bit-equal to row `row`'s stored vector. */
  function assertExactVector(got: Float32Array | undefined, row: number, what: string): void {
    assert.ok(got instanceof Float32Array, `${what}: a Float32Array vector`);
    assert.equal(got.length, dim, `${what}: vector length`);
    assert.deepEqual(new Uint8Array(got.buffer, got.byteOffset, got.byteLength), new Uint8Array(base.buffer, base.byteOffset + row * dim * 4, dim * 4), `${what}: bit-equal vector`);
  }

  /** The full fetchByIds contract on an open reader of all `n` rows with db id `dbId`. */
  async function checkReader(reader: ShardIndexReader, dbId: number): Promise<void> {
    // Every id, in a scrambled order (more than one 500-id chunk), each with payload and vector.
    const order = Array.from({ length: n }, (_, i) => (i * 7919) % n);
    const all = await reader.fetchByIds(
      order.map((r) => ids[r]),
      true,
      true,
    );
    assert.equal(all.length, n);
    all.forEach((got, i) => {
      const row = order[i];
      assert.ok(got !== undefined, `${ids[row]} is found`);
      assert.equal(got.payload_json, payloads[row] ?? '', `${ids[row]}: payload`);
      assertExactVector(got.vector, row, ids[row]);
    });

    // Absent ids, ids differing only in case, repeats, and present ids, in one request.
    const request = ['fm-10', 'FM-10', 'mixed-case', 'Mixed-Case', 'nope', '', 'fm-10', "it's", 'IT\'S', 'fm-10 ', 'fm-1200', 'Mixed-Case'];
    const got = await reader.fetchByIds(request, true, true);
    assert.equal(got.length, request.length);
    const expectRow = (slot: number, row: number): void => {
      const r = got[slot];
      assert.ok(r !== undefined, `slot ${slot} (${request[slot]}) is found`);
      assert.equal(r.payload_json, payloads[row] ?? '');
      assertExactVector(r.vector, row, `slot ${slot}`);
    };
    expectRow(0, 10);
    expectRow(3, 8);
    expectRow(6, 10);
    expectRow(7, 3);
    expectRow(11, 8);
    for (const slot of [1, 2, 4, 5, 8, 9, 10]) assert.equal(got[slot], undefined, `slot ${slot} (${JSON.stringify(request[slot])}) is absent`);
    assert.notEqual(got[0], got[6], 'a repeated id gets its own row object');
    assert.notEqual(got[0]!.vector, got[6]!.vector, 'a repeated id gets its own vector copy');

    // Only absent ids, and no ids.
    assert.deepEqual(await reader.fetchByIds(['x', 'y', 'x'], true, true), [undefined, undefined, undefined]);
    assert.deepEqual(await reader.fetchByIds([], true, true), []);

    // Neither payload nor vector: payload_json "" and no vector property.
    const specials = Object.keys(SPECIAL_IDS).map(Number);
    const bare = await reader.fetchByIds(
      specials.map((r) => ids[r]),
      false,
      false,
    );
    for (const [i, r] of bare.entries()) {
      assert.deepEqual(r, { payload_json: '' }, `${specials[i]}: bare row`);
      assert.ok(r !== undefined && !('vector' in r), 'no vector property');
    }

    // Payload only, vector only (the zero-vector row included).
    const [payloadOnly] = await reader.fetchByIds([ids[20]], true, false);
    assert.deepEqual(payloadOnly, { payload_json: payloads[20] });
    const vectorOnly = (await reader.fetchByIds([ids[ZERO_ROW], ids[0]], false, true)) as FetchedRow[];
    assert.equal(vectorOnly[0].payload_json, '');
    assertExactVector(vectorOnly[0].vector, ZERO_ROW, 'zero-vector row');
    assert.equal(vectorOnly[1].payload_json, '', 'row 0 has payload null, and none was asked');
    assertExactVector(vectorOnly[1].vector, 0, 'row 0');

    // After close: rejects naming the shard; close stays idempotent.
    reader.close();
    reader.close();
    await assert.rejects(reader.fetchByIds([ids[1]], true, true), (err: unknown) => {
      assert.ok(err instanceof VectorIndexError, `a VectorIndexError, got ${String(err)}`);
      assert.match(err.message, new RegExp(`^shard ${dbId}\\b`));
      assert.match(err.message, /closed/);
      return true;
    });
  }

  for (const [metric, quantization] of [
    ['l2', 'f32'],
    ['cosine', 'i8'],
  ] as const) {
    test(`usearch ${metric} ${quantization}`, async () => {
      const shardDir = join(dir.path, `usearch-${metric}-${quantization}`);
      const params: UsearchIndexParams = { ...DEFAULT_USEARCH_PARAMS, quantization };
      await feed(new UsearchShardWriter({ dir: shardDir, dbId: 21, dim, metric, params, threads: 2 }));
      const reader = UsearchShardReader.open(shardDir, 21, { dim, metric, params, vectorCount: n });
      await checkReader(reader, 21);
    });
  }

  for (const [metric, quantization] of [
    ['l2', 'none'],
    ['cosine', 'none'],
    ['l2', 'int8'],
    ['cosine', 'int8'],
  ] as [Metric, SqliteVecQuantization][]) {
    test(`sqlite-vec ${metric} ${quantization}`, async () => {
      const shardDir = join(dir.path, `sqlite-vec-${metric}-${quantization}`);
      const int8Scale = quantization === 'int8' ? computeInt8Scale(base.subarray(0, 500 * dim)) : undefined;
      await feed(new SqliteVecShardWriter({ dir: shardDir, dbId: 22, dim, metric, quantization, int8Scale }));
      const reader = SqliteVecShardReader.open(shardDir, 22, metric, { quantization, int8Scale });
      await checkReader(reader, 22);
    });
  }

  for (const [metric, indexType] of [
    ['l2', 'ivf_flat'],
    ['cosine', 'hnsw_sq'],
  ] as [Metric, LanceIndexPlan['indexType']][]) {
    test(`LanceDB ${metric} ${indexType}`, async () => {
      const shardDir = join(dir.path, `lance-${metric}-${indexType}`);
      const writer = new LanceShardWriter({ dir: shardDir, dbId: 23, dim, metric, plan: { indexType } });
      await feed(writer);
      const reader = await LanceShardReader.open(shardDir, 23, metric, indexType);
      assert.equal(reader.indexType, indexType);
      await checkReader(reader, 23);
    });
  }
});
