/**
 * Tests of the fvecs/bvecs/ivecs and Parquet readers and of column selection (payload, routing
 * and shard id columns) across JSONL, IDX, Parquet, npy and vecs input. Every input file is
 * written by the test into a temp dir (Parquet with hyparquet-writer, vecs bytes by hand), except
 * the bundled Fashion-MNIST files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { parquetMetadata } from 'hyparquet';
import type { SchemaElement } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { ConfigValidationError, InputRecordError } from '../src/common/errors.ts';
import { encodeNpy } from '../src/common/npy.ts';
import { toPayloadValue, toRoutingScalar, toShardId } from '../src/writer/input/column-selection.ts';
import { openIdxSource } from '../src/writer/input/idx-source.ts';
import { openJsonlSource } from '../src/writer/input/jsonl-source.ts';
import { detectVectorFormat, openVectorSource } from '../src/writer/input/open-vector-source.ts';
import { planRowRanges } from '../src/writer/input/parquet-layout.ts';
import { openParquetSource } from '../src/writer/input/parquet-source.ts';
import { openVecsSource, readIvecs, readVecsVectors } from '../src/writer/input/vecs-source.ts';
import type { VectorRecord, VectorSource } from '../src/writer/input/vector-record.ts';
import { FASHION_IMAGES, FASHION_LABELS, tempDir } from './helpers/fixtures.ts';

/** Reads all records of one pass. */
async function collect(source: VectorSource): Promise<VectorRecord[]> {
  const out: VectorRecord[] = [];
  for await (const r of source.records()) out.push(r);
  return out;
}

/** Creates a temp dir, runs `fn`, removes the dir. */
async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await tempDir('input-formats');
  try {
    await fn(dir.path);
  } finally {
    await dir.remove();
  }
}

/** Asserts that `promise` rejects with an error of `type` whose message matches every pattern. */
async function rejectsWith(
  promise: Promise<unknown>,
  type: new (...args: never[]) => Error,
  ...patterns: (RegExp | string)[]
): Promise<void> {
  await assert.rejects(promise, (err: Error) => {
    assert.ok(err instanceof type, `expected ${type.name}, got ${err.name}: ${err.message}`);
    for (const p of patterns) {
      if (typeof p === 'string') assert.ok(err.message.includes(p), `${JSON.stringify(p)} not in: ${err.message}`);
      else assert.match(err.message, p);
    }
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// fvecs / bvecs / ivecs, written by hand
// ---------------------------------------------------------------------------------------------

type Kind = 'fvecs' | 'bvecs' | 'ivecs';

/** Encodes rows as a vecs file: per row int32 LE dim (or `dims[i]` when given), then elements. */
function encodeVecs(kind: Kind, rows: number[][], dims?: number[]): Buffer {
  const parts = rows.map((row, i) => {
    const elementBytes = kind === 'bvecs' ? 1 : 4;
    const buf = Buffer.alloc(4 + row.length * elementBytes);
    buf.writeInt32LE(dims?.[i] ?? row.length, 0);
    row.forEach((v, j) => {
      if (kind === 'fvecs') buf.writeFloatLE(v, 4 + 4 * j);
      else if (kind === 'ivecs') buf.writeInt32LE(v, 4 + 4 * j);
      else buf.writeUInt8(v, 4 + j);
    });
    return buf;
  });
  return Buffer.concat(parts);
}

const FROWS = [
  [0.5, -1.25, 3],
  [1e-3, 2, 1e30],
  [-7, 0, 0.1],
  [4, 4, 4],
  [9.75, -0.5, 2],
];

test('fvecs: dim and count up front, ids are row numbers, vectors and locations round-trip', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'base.fvecs');
    await writeFile(path, encodeVecs('fvecs', FROWS));
    const source = await openVectorSource({ format: 'auto', path });
    assert.equal(source.dim, 3);
    assert.equal(source.count, 5);
    const records = await collect(source);
    assert.deepEqual(records.map((r) => r.id), ['0', '1', '2', '3', '4']);
    assert.deepEqual(records.map((r) => [...r.vector]), FROWS.map((row) => row.map(Math.fround)));
    assert.ok(records[0].vector instanceof Float32Array);
    assert.equal(records[4].location, `${path} record 4`);
    assert.equal(records[0].payload, undefined);
    // A slice: start 3, limit beyond the end.
    const slice = await openVecsSource({ path, start: 3, limit: 10 });
    assert.equal(slice.count, 2);
    assert.deepEqual((await collect(slice)).map((r) => [r.id, r.vector[0]]), [['3', 4], ['4', 9.75]]);
    const middle = await collect(await openVecsSource({ path, start: 1, limit: 2 }));
    assert.deepEqual(middle.map((r) => r.id), ['1', '2']);
    await rejectsWith(openVecsSource({ path, start: 6 }), ConfigValidationError, 'base.fvecs: start 6 is beyond the 5 records');
  });
});

test('bvecs and ivecs: elements become float32; an explicit kind overrides the extension', async () => {
  await withTempDir(async (dir) => {
    const b = join(dir, 'base.bvecs');
    await writeFile(b, encodeVecs('bvecs', [[0, 255, 7, 128], [1, 2, 3, 4]]));
    const brecs = await collect(await openVectorSource({ format: 'auto', path: b }));
    assert.deepEqual(brecs.map((r) => [...r.vector]), [[0, 255, 7, 128], [1, 2, 3, 4]]);
    assert.ok(brecs[0].vector instanceof Float32Array);

    const i = join(dir, 'labels.ivecs');
    await writeFile(i, encodeVecs('ivecs', [[-5, 2147483647], [16777216, 3]]));
    const irecs = await collect(await openVecsSource({ path: i }));
    assert.deepEqual(irecs.map((r) => [...r.vector]), [[-5, Math.fround(2147483647)], [16777216, 3]]);

    // Same bytes, read with an explicit kind from a file without a vecs extension.
    const other = join(dir, 'base.bin');
    await writeFile(other, encodeVecs('ivecs', [[1, 2]]));
    await rejectsWith(openVecsSource({ path: other }), ConfigValidationError, 'base.bin', 'pass kind');
    assert.deepEqual((await collect(await openVecsSource({ path: other, kind: 'ivecs' })))[0].vector, new Float32Array([1, 2]));
  });
});

test('fvecs: ids from a text file or an integer .npy; count mismatch names both files', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'base.fvecs');
    await writeFile(path, encodeVecs('fvecs', FROWS));
    const text = join(dir, 'ids.txt');
    await writeFile(text, 'a\nb\nc\nd\ne\n');
    const sliced = await collect(await openVectorSource({ format: 'fvecs', path, idsPath: text, start: 2, limit: 2 }));
    assert.deepEqual(sliced.map((r) => [r.id, r.vector[0]]), [['c', -7], ['d', 4]]);

    const npy = join(dir, 'ids.npy');
    await writeFile(npy, encodeNpy(new BigInt64Array([100n, 200n, 300n, 400n, 9007199254740993n]), [5]));
    const records = await collect(await openVecsSource({ path, idsPath: npy }));
    assert.deepEqual(records.map((r) => r.id), ['100', '200', '300', '400', '9007199254740993']);

    const short = join(dir, 'short.txt');
    await writeFile(short, 'x\ny\n');
    await rejectsWith(openVecsSource({ path, idsPath: short }), ConfigValidationError, short, path, 'has 2 ids but');
  });
});

test('vecs: a size that is not a multiple of the record size, a bad first dim, a header mismatch', async () => {
  await withTempDir(async (dir) => {
    const cut = join(dir, 'cut.fvecs');
    const bytes = encodeVecs('fvecs', FROWS);
    await writeFile(cut, bytes.subarray(0, bytes.length - 4));
    await rejectsWith(openVecsSource({ path: cut }), ConfigValidationError, cut, /file size 76 bytes is not a multiple of the fvecs record size 16/);

    // The same bytes read as bvecs: record size 4 + 3 = 7 does not divide 80.
    const asB = join(dir, 'wrong.bvecs');
    await writeFile(asB, bytes);
    await rejectsWith(openVecsSource({ path: asB }), ConfigValidationError, 'wrong.bvecs', /record size 7/);

    const zero = join(dir, 'zero.ivecs');
    await writeFile(zero, encodeVecs('ivecs', [[]]));
    await rejectsWith(openVecsSource({ path: zero }), ConfigValidationError, 'zero.ivecs', 'dimension 0');

    // Record 2 claims dim 2 but holds 3 elements: total size is still a multiple of 16.
    const bad = join(dir, 'bad.fvecs');
    await writeFile(bad, encodeVecs('fvecs', FROWS, [3, 3, 2, 3, 3]));
    const source = await openVecsSource({ path: bad });
    assert.equal(source.count, 5);
    await rejectsWith(collect(source), InputRecordError, `${bad} record 2: dimension header is 2, expected 3`);
    // A slice that skips the bad record reads fine.
    assert.equal((await collect(await openVecsSource({ path: bad, limit: 2 }))).length, 2);

    const empty = join(dir, 'empty.fvecs');
    await writeFile(empty, Buffer.alloc(0));
    const none = await openVecsSource({ path: empty });
    assert.deepEqual([none.count, none.dim, (await collect(none)).length], [0, undefined, 0]);
  });
});

test('vecs: records spanning several 4 MiB read batches keep their order and values', async () => {
  await withTempDir(async (dir) => {
    const dim = 1000; // record size 4004 bytes: 1047 records per 4 MiB batch
    const n = 2200;
    const buf = Buffer.alloc(n * (4 + 4 * dim));
    for (let r = 0; r < n; r++) {
      const off = r * (4 + 4 * dim);
      buf.writeInt32LE(dim, off);
      for (let j = 0; j < dim; j++) buf.writeFloatLE(r + j / 1024, off + 4 + 4 * j);
    }
    const path = join(dir, 'big.fvecs');
    await writeFile(path, buf);
    const records = await collect(await openVecsSource({ path, start: 1000 }));
    assert.equal(records.length, 1200);
    for (const [k, r] of records.entries()) {
      const row = 1000 + k;
      assert.equal(r.id, String(row));
      assert.equal(r.vector[0], row);
      assert.equal(r.vector[dim - 1], row + (dim - 1) / 1024);
    }
    // Corrupt the header of record 2100 (in a later batch).
    buf.writeInt32LE(999, 2100 * (4 + 4 * dim));
    await writeFile(path, buf);
    await rejectsWith(collect(await openVecsSource({ path })), InputRecordError, `${path} record 2100: dimension header is 999`);
  });
});

test('readIvecs loads ground truth rows; readVecsVectors loads a query slice row-major', async () => {
  await withTempDir(async (dir) => {
    const gt = join(dir, 'gt.ivecs');
    await writeFile(gt, encodeVecs('ivecs', [[3, 1, 2], [0, 4, 9], [7, 7, 7]]));
    const truth = await readIvecs(gt);
    assert.equal(truth.dim, 3);
    assert.deepEqual(truth.rows.map((r) => [...r]), [[3, 1, 2], [0, 4, 9], [7, 7, 7]]);
    assert.ok(truth.rows[0] instanceof Int32Array);
    assert.deepEqual((await readIvecs(gt, { start: 2 })).rows.map((r) => [...r]), [[7, 7, 7]]);

    const q = join(dir, 'q.fvecs');
    await writeFile(q, encodeVecs('fvecs', FROWS));
    const loaded = await readVecsVectors(q, { start: 3 });
    assert.equal(loaded.count, 2);
    assert.equal(loaded.dim, 3);
    assert.deepEqual([...loaded.vectors], [4, 4, 4, 9.75, -0.5, 2]);
  });
});

test('npy and vecs input reject column options, naming the option; Parquet-only options elsewhere too', async () => {
  await withTempDir(async (dir) => {
    const f = join(dir, 'base.fvecs');
    await writeFile(f, encodeVecs('fvecs', FROWS));
    const npy = join(dir, 'base.npy');
    await writeFile(npy, encodeNpy(new Float32Array([1, 2, 3, 4]), [2, 2]));
    await rejectsWith(openVectorSource({ format: 'auto', path: f, routingColumns: ['region'] }), ConfigValidationError, 'routingColumns', 'fvecs', f);
    await rejectsWith(openVectorSource({ format: 'auto', path: npy, shardIdColumn: 'shard' }), ConfigValidationError, 'shardIdColumn', 'npy');
    await rejectsWith(openVectorSource({ format: 'auto', path: npy, payloadColumns: ['x'] }), ConfigValidationError, 'payloadColumns');
    // Empty selections select nothing and are accepted.
    assert.equal((await collect(await openVectorSource({ format: 'auto', path: npy, payloadColumns: [], routingColumns: [] }))).length, 2);
    const jsonl = join(dir, 'a.jsonl');
    await writeFile(jsonl, '{"id":1,"vector":[1]}\n');
    await rejectsWith(openVectorSource({ format: 'auto', path: jsonl, vectorColumn: 'emb' }), ConfigValidationError, 'vectorColumn', 'parquet');
    await rejectsWith(openVectorSource({ format: 'auto', path: f, idColumn: 'key' }), ConfigValidationError, 'idColumn');
  });
});

test('format detection knows fvecs, bvecs, ivecs and parquet', () => {
  assert.equal(detectVectorFormat('/data/sift_base.fvecs'), 'fvecs');
  assert.equal(detectVectorFormat('bigann_base.BVECS'), 'bvecs');
  assert.equal(detectVectorFormat('gt.ivecs'), 'ivecs');
  assert.equal(detectVectorFormat('s3-export/part-0001.parquet'), 'parquet');
  assert.throws(() => detectVectorFormat('a.fvec'), /a\.fvec.*fvecs.*parquet/);
});

// ---------------------------------------------------------------------------------------------
// Parquet, written with hyparquet-writer
// ---------------------------------------------------------------------------------------------

const LIST_FLOAT: SchemaElement[] = [
  { name: 'vector', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type: 'FLOAT', repetition_type: 'REQUIRED' },
];

/** Rows of the main Parquet fixture. */
const PQ = {
  id: ['a', 'b', 'c', 'd', 'e', 'f', 'g'],
  vector: [
    [1, 2, 3],
    [4, 5, 6],
    [7, 8, 9.5],
    [-1, 0.25, 1e-3],
    [0, 0, 1],
    [2, 2, 2],
    [3, 1, 4],
  ],
  region: ['eu', 'us', 'eu', 'ap', 'us', 'eu', null],
  count: [1n, 2n, 9007199254740993n, 4n, -5n, 6n, 7n],
  shard: [0, 1, 2, 1, 0, 3, 2],
  flag: [true, false, true, true, false, false, true],
};

/** Writes the main fixture (7 rows, row groups of 3) with the given codec; returns the path. */
async function writeMainParquet(dir: string, name: string, codec: 'SNAPPY' | 'UNCOMPRESSED' | 'GZIP'): Promise<string> {
  const path = join(dir, name);
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: 'id', data: PQ.id },
      { name: 'vector', data: PQ.vector },
      { name: 'region', data: PQ.region },
      { name: 'count', data: PQ.count },
      { name: 'shard', data: PQ.shard },
      { name: 'flag', data: PQ.flag },
    ],
    schema: [
      { name: 'root', num_children: 6 },
      { name: 'id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
      ...LIST_FLOAT,
      { name: 'region', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      { name: 'count', type: 'INT64', repetition_type: 'REQUIRED' },
      { name: 'shard', type: 'INT32', repetition_type: 'REQUIRED' },
      { name: 'flag', type: 'BOOLEAN', repetition_type: 'REQUIRED' },
    ],
    rowGroupSize: 3,
    codec,
    compressors: { GZIP: (input: Uint8Array) => gzipSync(input) },
  });
  await writeFile(path, new Uint8Array(buffer));
  return path;
}

test('Parquet list<float>: ids, vectors, default payload (all other columns), across row groups and codecs', async () => {
  await withTempDir(async (dir) => {
    for (const codec of ['SNAPPY', 'UNCOMPRESSED', 'GZIP'] as const) {
      const path = await writeMainParquet(dir, `main-${codec}.parquet`, codec);
      const meta = parquetMetadata(new Uint8Array(await readFile(path)));
      assert.equal(meta.row_groups.length, 3, 'fixture has 3 row groups');
      assert.equal(meta.row_groups[0].columns[0].meta_data?.codec, codec);
      const source = await openVectorSource({ format: 'auto', path });
      assert.equal(source.count, 7);
      assert.equal(source.dim, 3);
      const records = await collect(source);
      assert.deepEqual(records.map((r) => r.id), PQ.id, codec);
      assert.deepEqual(records.map((r) => [...r.vector]), PQ.vector.map((v) => v.map(Math.fround)));
      assert.ok(records[0].vector instanceof Float32Array);
      assert.equal(records[6].location, `${path} row 6`);
      assert.deepEqual(records[2].payload, { region: 'eu', count: '9007199254740993', shard: 2, flag: true });
      assert.deepEqual(records[6].payload, { region: null, count: 7, shard: 2, flag: true });
      assert.equal(records[0].routingContext, undefined);
      assert.equal(records[0].shardId, undefined);
    }
    // A slice that crosses a row group boundary (rows 2..4 live in groups 0 and 1).
    const path = join(dir, 'main-SNAPPY.parquet');
    const slice = await openParquetSource({ path, start: 2, limit: 3, payloadColumns: ['region'] });
    assert.equal(slice.count, 3);
    const records = await collect(slice);
    assert.deepEqual(records.map((r) => [r.id, r.location, r.payload]), [
      ['c', `${path} row 2`, { region: 'eu' }],
      ['d', `${path} row 3`, { region: 'ap' }],
      ['e', `${path} row 4`, { region: 'us' }],
    ]);
    // payloadColumns: [] stores no payload.
    assert.equal((await collect(await openParquetSource({ path, payloadColumns: [], limit: 1 })))[0].payload, undefined);
  });
});

test('Parquet: routing columns keep raw scalars, shard id column fills shardId', async () => {
  await withTempDir(async (dir) => {
    const path = await writeMainParquet(dir, 'main.parquet', 'SNAPPY');
    const records = await collect(
      await openVectorSource({
        format: 'parquet',
        path,
        routingColumns: ['region', 'count', 'flag'],
        shardIdColumn: 'shard',
        payloadColumns: ['flag'],
        limit: 6,
      }),
    );
    assert.deepEqual(records.map((r) => r.shardId), PQ.shard.slice(0, 6));
    assert.deepEqual(records[2].routingContext, { region: 'eu', count: 9007199254740993n, flag: true });
    assert.equal(typeof records[0].routingContext?.count, 'bigint');
    assert.deepEqual(records[1].payload, { flag: false });
    // Row 6 has a null region: named in the error.
    await rejectsWith(
      collect(await openParquetSource({ path, routingColumns: ['region'] })),
      InputRecordError,
      `${path} row 6: routing column "region" is null`,
    );
    // An INT64 column with a negative value as shard id: row 4 (count = -5).
    await rejectsWith(
      collect(await openParquetSource({ path, shardIdColumn: 'count' })),
      InputRecordError,
      `${path} row 2: shard id column "count" must be a non-negative safe integer, got 9007199254740993`,
    );
    await rejectsWith(
      collect(await openParquetSource({ path, shardIdColumn: 'count', start: 3 })),
      InputRecordError,
      `${path} row 4`,
      'got -5',
    );
  });
});

test('Parquet: unknown columns name the column and the file and list the available columns', async () => {
  await withTempDir(async (dir) => {
    const path = await writeMainParquet(dir, 'main.parquet', 'SNAPPY');
    const list = 'available columns: id, vector, region, count, shard, flag';
    const cases: [Parameters<typeof openParquetSource>[0], string][] = [
      [{ path, vectorColumn: 'embedding' }, 'unknown vector column "embedding"'],
      [{ path, idColumn: 'key' }, 'unknown id column "key"'],
      [{ path, payloadColumns: ['region', 'colour'] }, 'unknown payload column "colour"'],
      [{ path, routingColumns: ['regoin'] }, 'unknown routing column "regoin"'],
      [{ path, shardIdColumn: 'db' }, 'unknown shard id column "db"'],
    ];
    for (const [options, message] of cases) {
      await rejectsWith(openParquetSource(options), ConfigValidationError, message, `in ${path}`, list);
    }
    // A column that is not a vector.
    await rejectsWith(openParquetSource({ path, vectorColumn: 'region' }), ConfigValidationError, 'vector column "region" has type BYTE_ARRAY (UTF8)');
    // Not a Parquet file at all.
    const fake = join(dir, 'fake.parquet');
    await writeFile(fake, 'not parquet at all, just text');
    await rejectsWith(openParquetSource({ path: fake }), ConfigValidationError, `${fake}: not a valid Parquet file`);
  });
});

test('Parquet fixed-size binary float32 vectors with INT64 ids; dim from the schema', async () => {
  await withTempDir(async (dir) => {
    const vectors = [
      [1.5, -2, 3, 0],
      [0.1, 0.2, 0.3, 0.4],
      [9, 8, 7, 6],
    ];
    const path = join(dir, 'fixed.parquet');
    const buffer = parquetWriteBuffer({
      columnData: [
        { name: 'key', data: [5n, 9223372036854775807n, -3n] },
        { name: 'emb', data: vectors.map((v) => new Uint8Array(new Float32Array(v).buffer)) },
      ],
      schema: [
        { name: 'root', num_children: 2 },
        { name: 'key', type: 'INT64', repetition_type: 'REQUIRED' },
        { name: 'emb', type: 'FIXED_LEN_BYTE_ARRAY', type_length: 16, repetition_type: 'REQUIRED' },
      ],
      codec: 'UNCOMPRESSED',
    });
    await writeFile(path, new Uint8Array(buffer));
    const source = await openParquetSource({ path, vectorColumn: 'emb', idColumn: 'key', start: 1 });
    assert.equal(source.dim, 4);
    assert.equal(source.count, 2);
    const records = await collect(source);
    assert.deepEqual(records.map((r) => r.id), ['9223372036854775807', '-3']);
    assert.deepEqual(records.map((r) => [...r.vector]), vectors.slice(1).map((v) => v.map(Math.fround)));
    assert.equal(records[0].payload, undefined); // no other columns
    // The default `id` column is absent: ids are row indexes.
    const byRow = await collect(await openParquetSource({ path, vectorColumn: 'emb' }));
    assert.deepEqual(byRow.map((r) => r.id), ['0', '1', '2']);
    assert.deepEqual(byRow[0].payload, { key: 5 });
  });
});

test('Parquet variable binary and list<double> vectors: a wrong length names the row', async () => {
  await withTempDir(async (dir) => {
    const f32 = (v: number[]): Uint8Array => new Uint8Array(new Float32Array(v).buffer);
    const path = join(dir, 'binary.parquet');
    const buffer = parquetWriteBuffer({
      columnData: [
        { name: 'id', data: [10, 11, 12] },
        { name: 'vector', data: [f32([1, 2]), f32([3, 4]), f32([5, 6, 7])] },
      ],
      schema: [
        { name: 'root', num_children: 2 },
        { name: 'id', type: 'INT32', repetition_type: 'REQUIRED' },
        { name: 'vector', type: 'BYTE_ARRAY', repetition_type: 'REQUIRED' },
      ],
    });
    await writeFile(path, new Uint8Array(buffer));
    const source = await openParquetSource({ path });
    assert.equal(source.dim, 2); // from row 0
    await rejectsWith(collect(source), InputRecordError, `${path} row 2: vector has 3 dimensions, expected 2 (12 bytes; expected 8)`);
    const ok = await collect(await openParquetSource({ path, limit: 2 }));
    assert.deepEqual(ok.map((r) => [r.id, ...r.vector]), [['10', 1, 2], ['11', 3, 4]]);

    const doubles = join(dir, 'doubles.parquet');
    const dbuf = parquetWriteBuffer({
      columnData: [
        { name: 'id', data: ['x', 'y'] },
        { name: 'vector', data: [[0.1, 0.2], [0.3, null]] },
      ],
      schema: [
        { name: 'root', num_children: 2 },
        { name: 'id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
        { name: 'vector', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
      ],
    });
    await writeFile(doubles, new Uint8Array(dbuf));
    const first = await collect(await openParquetSource({ path: doubles, limit: 1 }));
    assert.deepEqual([...first[0].vector], [Math.fround(0.1), Math.fround(0.2)]);
    await rejectsWith(collect(await openParquetSource({ path: doubles })), InputRecordError, `${doubles} row 1: vector element 1 is null`);
  });
});

test('Parquet batches: split inside row groups only when the columns read have offset indexes', () => {
  const write = (offsetIndex: boolean): ReturnType<typeof parquetMetadata> =>
    parquetMetadata(
      parquetWriteBuffer({
        columnData: [
          { name: 'id', data: Array.from({ length: 10 }, (_, i) => i), type: 'INT32', offsetIndex },
          { name: 'other', data: Array.from({ length: 10 }, (_, i) => i), type: 'INT32', offsetIndex: false },
        ],
        rowGroupSize: 6,
        pageSize: 8, // two INT32 values per page: offset indexes are written only for several pages
      }),
    );
  const indexed = write(true);
  assert.deepEqual(planRowRanges(indexed, ['id'], 1, 10, 4), [
    { rowStart: 1, rowEnd: 5 },
    { rowStart: 5, rowEnd: 6 },
    { rowStart: 6, rowEnd: 10 },
  ]);
  // `other` has no offset index: reading it makes each row group one batch.
  assert.deepEqual(planRowRanges(indexed, ['id', 'other'], 1, 9, 4), [
    { rowStart: 1, rowEnd: 6 },
    { rowStart: 6, rowEnd: 9 },
  ]);
  assert.deepEqual(planRowRanges(write(false), ['id'], 0, 10, 4), [
    { rowStart: 0, rowEnd: 6 },
    { rowStart: 6, rowEnd: 10 },
  ]);
});

test('Parquet: reading in row batches inside row groups (offset indexes) gives every row once, in order', async () => {
  await withTempDir(async (dir) => {
    const n = 23;
    const path = join(dir, 'paged.parquet');
    const buffer = parquetWriteBuffer({
      columnData: [
        { name: 'id', data: Array.from({ length: n }, (_, i) => `r${i}`) },
        { name: 'vector', data: Array.from({ length: n }, (_, i) => [i, -i]) },
        { name: 'tag', data: Array.from({ length: n }, (_, i) => i * 10) },
      ],
      schema: [
        { name: 'root', num_children: 3 },
        { name: 'id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
        ...LIST_FLOAT,
        { name: 'tag', type: 'INT32', repetition_type: 'REQUIRED' },
      ],
      rowGroupSize: 10,
      pageSize: 16,
    });
    await writeFile(path, new Uint8Array(buffer));
    const meta = parquetMetadata(new Uint8Array(buffer));
    assert.ok(meta.row_groups[0].columns.every((c) => c.offset_index_length !== undefined), 'fixture has offset indexes');
    assert.equal(planRowRanges(meta, ['id', 'vector', 'tag'], 3, 21, 3).length, 8, 'batches split row groups');
    const records = await collect(await openParquetSource({ path, batchRows: 3, start: 3, limit: 18 }));
    assert.deepEqual(records.map((r) => r.id), Array.from({ length: 18 }, (_, k) => `r${k + 3}`));
    assert.deepEqual(records.map((r) => [...r.vector]), Array.from({ length: 18 }, (_, k) => [k + 3, -(k + 3)]));
    assert.deepEqual(records.map((r) => r.payload?.tag), Array.from({ length: 18 }, (_, k) => (k + 3) * 10));
    await rejectsWith(openParquetSource({ path, batchRows: 0 }), ConfigValidationError, 'batchRows');
  });
});

// ---------------------------------------------------------------------------------------------
// JSONL columns
// ---------------------------------------------------------------------------------------------

test('JSONL: shard_id and routing_context on a line fill shardId and routingContext', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'routed.jsonl');
    await writeFile(
      path,
      [
        '{"id":"a","vector":[1,2],"shard_id":3,"routing_context":{"region":"eu","tier":2,"vip":true}}',
        '{"id":"b","vector":[3,4],"payload":{"k":1}}',
      ].join('\n'),
    );
    const records = await collect(await openJsonlSource({ path }));
    assert.equal(records[0].shardId, 3);
    assert.deepEqual(records[0].routingContext, { region: 'eu', tier: 2, vip: true });
    assert.equal(records[0].payload, undefined);
    assert.equal(records[1].shardId, undefined);
    assert.equal(records[1].routingContext, undefined);
    assert.deepEqual(records[1].payload, { k: 1 });
  });
});

test('JSONL: bad shard_id or routing_context values name the line', async () => {
  await withTempDir(async (dir) => {
    const cases: [string, string][] = [
      ['{"id":1,"vector":[1],"shard_id":-1}', '"shard_id" must be a non-negative safe integer'],
      ['{"id":1,"vector":[1],"shard_id":1.5}', '"shard_id" must be a non-negative safe integer'],
      ['{"id":1,"vector":[1],"shard_id":"2"}', '"shard_id" must be a non-negative safe integer'],
      ['{"id":1,"vector":[1],"routing_context":{"region":{"nested":1}}}', 'routing_context.region: routing values must be'],
      ['{"id":1,"vector":[1],"routing_context":[1]}', '"routing_context" must be a JSON object'],
    ];
    const path = join(dir, 'bad.jsonl');
    for (const [line, message] of cases) {
      await writeFile(path, `{"id":0,"vector":[0]}\n${line}\n`);
      await rejectsWith(collect(await openJsonlSource({ path })), InputRecordError, `${path} line 2: ${message}`);
    }
  });
});

test('JSONL: routing, shard id and payload columns come from top-level fields first, then payload', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'cols.jsonl');
    await writeFile(
      path,
      [
        '{"id":"a","vector":[1],"region":"top","payload":{"region":"inner","shard":2,"name":"A","size":10}}',
        '{"id":"b","vector":[2],"payload":{"region":"us","shard":0,"name":"B","size":20},"routing_context":{"x":1}}',
      ].join('\n'),
    );
    const records = await collect(
      await openVectorSource({
        format: 'jsonl',
        path,
        routingColumns: ['region'],
        shardIdColumn: 'shard',
        payloadColumns: ['name', 'region'],
      }),
    );
    assert.deepEqual(records[0].routingContext, { region: 'top' });
    assert.deepEqual(records[1].routingContext, { x: 1, region: 'us' });
    assert.deepEqual(records.map((r) => r.shardId), [2, 0]);
    assert.deepEqual(records[0].payload, { name: 'A', region: 'top' });
    assert.deepEqual(records[1].payload, { name: 'B', region: 'us' });
    // Without column options the payload is the line's payload object, unchanged.
    assert.deepEqual((await collect(await openJsonlSource({ path })))[1].payload, { region: 'us', shard: 0, name: 'B', size: 20 });
  });
});

test('JSONL: a selected column missing from a line, or a bad shard id column value, names the line and column', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'missing.jsonl');
    await writeFile(path, '{"id":"a","vector":[1],"payload":{"region":"eu"}}\n\n{"id":"b","vector":[2],"payload":{}}\n');
    await rejectsWith(
      collect(await openJsonlSource({ path, routingColumns: ['region'] })),
      InputRecordError,
      `${path} line 3: record has no routing column "region"`,
    );
    await rejectsWith(collect(await openJsonlSource({ path, payloadColumns: ['region'] })), InputRecordError, 'line 3', 'payload column "region"');
    await writeFile(path, '{"id":"a","vector":[1],"payload":{"db":"7"}}\n');
    await rejectsWith(
      collect(await openJsonlSource({ path, shardIdColumn: 'db' })),
      InputRecordError,
      `${path} line 1: shard id column "db" must be a non-negative safe integer, got "7"`,
    );
    await writeFile(path, '{"id":"a","vector":[1],"payload":{"region":["eu"]}}\n');
    await rejectsWith(collect(await openJsonlSource({ path, routingColumns: ['region'] })), InputRecordError, 'line 1', 'routing column "region" is array');
  });
});

// ---------------------------------------------------------------------------------------------
// IDX columns (bundled Fashion-MNIST)
// ---------------------------------------------------------------------------------------------

test('IDX: label as routing column and shard id column; payload columns restrict the payload', async () => {
  const rawLabels = gunzipSync(await readFile(FASHION_LABELS));
  const source = await openVectorSource({
    format: 'auto',
    path: FASHION_IMAGES,
    labelsPath: FASHION_LABELS,
    routingColumns: ['label'],
    shardIdColumn: 'label',
    payloadColumns: ['label_name'],
    start: 100,
    limit: 20,
  });
  const records = await collect(source);
  assert.equal(records.length, 20);
  for (const [k, r] of records.entries()) {
    const label = rawLabels[8 + 100 + k];
    assert.deepEqual(r.routingContext, { label });
    assert.equal(r.shardId, label);
    assert.deepEqual(Object.keys(r.payload ?? {}), ['label_name']);
  }
  assert.ok(new Set(records.map((r) => r.shardId)).size > 1, 'labels differ across 20 records');
  const first = rawLabels[8 + 100];
  assert.equal(records[0].payload?.label_name, ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'][first]);
});

test('IDX: unknown columns list label and label_name; without a labels file there are none', async () => {
  await rejectsWith(
    openIdxSource({ imagesPath: FASHION_IMAGES, labelsPath: FASHION_LABELS, routingColumns: ['colour'] }),
    ConfigValidationError,
    'unknown routing column "colour"',
    FASHION_IMAGES,
    'available columns: label, label_name',
  );
  await rejectsWith(
    openIdxSource({ imagesPath: FASHION_IMAGES, labelNames: null, labelsPath: FASHION_LABELS, payloadColumns: ['label_name'] }),
    ConfigValidationError,
    'available columns: label',
  );
  await rejectsWith(
    openIdxSource({ imagesPath: FASHION_IMAGES, routingColumns: ['label'] }),
    ConfigValidationError,
    'unknown routing column "label"',
    'available columns: none',
    'labels file',
  );
});

// ---------------------------------------------------------------------------------------------
// Shared conversions
// ---------------------------------------------------------------------------------------------

test('column values: payload JSON conversion, shard id and routing scalar checks', () => {
  assert.deepEqual(toPayloadValue({ a: 5n, b: 2n ** 60n, c: new Uint8Array([1, 2, 255]), d: new Date(0), e: [1n, null] }), {
    a: 5,
    b: '1152921504606846976',
    c: 'AQL/',
    d: '1970-01-01T00:00:00.000Z',
    e: [1, null],
  });
  assert.equal(toShardId(7n, 'shard id', 'x row 1'), 7);
  assert.throws(() => toShardId(2n ** 60n, 'shard id', 'x row 1'), /x row 1: shard id must be .* got 1152921504606846976/);
  assert.throws(() => toShardId(null, 'shard id', 'x row 2'), /x row 2: .* got null/);
  const bytes = new Uint8Array([1]);
  assert.equal(toRoutingScalar(bytes, 'k', 'l'), bytes);
  assert.throws(() => toRoutingScalar({}, 'k', 'f line 9'), (err: Error) => err instanceof InputRecordError && /f line 9: routing column "k" is Object/.test(err.message));
});
