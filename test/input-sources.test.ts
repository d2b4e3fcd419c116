/**
 * Tests of the input readers (IDX, npy, JSONL, openVectorSource) and the RecordValidator.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ConfigValidationError, InputRecordError } from '../src/common/errors.ts';
import { encodeNpy, encodeNpyFloat32 } from '../src/common/npy.ts';
import { openIdxSource, readIdxImages } from '../src/writer/input/idx-source.ts';
import { openJsonlSource } from '../src/writer/input/jsonl-source.ts';
import { openNpySource } from '../src/writer/input/npy-source.ts';
import { detectVectorFormat, openVectorSource } from '../src/writer/input/open-vector-source.ts';
import { RecordValidator } from '../src/writer/input/record-validator.ts';
import type { VectorRecord, VectorSource } from '../src/writer/input/vector-record.ts';

const FASHION = join(import.meta.dirname, '..', 'examples', 'data', 'fashion-mnist');
const IMAGES = join(FASHION, 't10k-images-idx3-ubyte.gz');
const LABELS = join(FASHION, 't10k-labels-idx1-ubyte.gz');
const TINY = join(import.meta.dirname, '..', 'examples', 'data', 'tiny.jsonl');

/** Reads all records of one pass. */
async function collect(source: VectorSource): Promise<VectorRecord[]> {
  const out: VectorRecord[] = [];
  for await (const r of source.records()) out.push(r);
  return out;
}

/** Runs a validator over a whole source (first pass) and returns it. */
async function validate(source: VectorSource, onDuplicate: 'error' | 'last' = 'error'): Promise<RecordValidator> {
  const validator = new RecordValidator({ description: source.description, dim: source.dim, onDuplicate });
  for await (const r of source.records()) validator.check(r);
  return validator;
}

/** Creates a temp dir, runs `fn`, removes the dir. */
async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'input-sources-test-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The shipped example, decompressed independently of the code under test. */
const rawImages = gunzipSync(await readFile(IMAGES));
const rawLabels = gunzipSync(await readFile(LABELS));

// ---------------------------------------------------------------------------------------------
// IDX
// ---------------------------------------------------------------------------------------------

test('IDX: the shipped Fashion-MNIST test set has 10000 images of 784 values with labels', async () => {
  assert.equal(rawImages.readUInt32BE(0), 2051);
  const source = await openIdxSource({ imagesPath: IMAGES, labelsPath: LABELS });
  assert.equal(source.count, 10000);
  assert.equal(source.dim, 784);
  const records = await collect(source);
  assert.equal(records.length, 10000);
  const first = records[0];
  assert.equal(first.id, '0');
  assert.equal(first.vector.length, 784);
  assert.deepEqual([...first.vector], [...rawImages.subarray(16, 16 + 784)]);
  assert.equal(first.payload?.label, rawLabels[8]);
  assert.equal(first.payload?.label, 9);
  assert.equal(first.payload?.label_name, 'Ankle boot');
  const last = records[9999];
  assert.equal(last.id, '9999');
  assert.deepEqual([...last.vector], [...rawImages.subarray(16 + 9999 * 784, 16 + 10000 * 784)]);
  assert.equal(last.payload?.label, rawLabels[8 + 9999]);
  assert.match(last.location, /t10k-images-idx3-ubyte\.gz record 9999$/);
  // A second pass starts again from the beginning.
  const again = await collect(await openIdxSource({ imagesPath: IMAGES, limit: 2 }));
  assert.deepEqual([...again[1].vector], [...rawImages.subarray(16 + 784, 16 + 2 * 784)]);
});

test('IDX: start/limit slicing gives the right ids, vectors and labels; idOffset shifts ids', async () => {
  const base = await openIdxSource({ imagesPath: IMAGES, labelsPath: LABELS, start: 0, limit: 9000 });
  assert.equal(base.count, 9000);
  const queries = await openIdxSource({ imagesPath: IMAGES, labelsPath: LABELS, start: 9000, idOffset: 100000 });
  assert.equal(queries.count, 1000);
  const records = await collect(queries);
  assert.equal(records.length, 1000);
  assert.equal(records[0].id, '109000');
  assert.equal(records[999].id, '109999');
  assert.deepEqual([...records[0].vector], [...rawImages.subarray(16 + 9000 * 784, 16 + 9001 * 784)]);
  assert.equal(records[5].payload?.label, rawLabels[8 + 9005]);
  const few = await collect(await openIdxSource({ imagesPath: IMAGES, start: 3, limit: 2, labelNames: null }));
  assert.deepEqual(few.map((r) => r.id), ['3', '4']);
});

test('IDX: readIdxImages loads a slice into one row-major array with labels', async () => {
  const q = await readIdxImages(IMAGES, { start: 9998, labelsPath: LABELS });
  assert.equal(q.count, 2);
  assert.equal(q.dim, 784);
  assert.equal(q.vectors.length, 2 * 784);
  assert.deepEqual([...q.vectors.subarray(784)], [...rawImages.subarray(16 + 9999 * 784)]);
  assert.deepEqual([...(q.labels ?? [])], [rawLabels[8 + 9998], rawLabels[8 + 9999]]);
});

test('IDX: plain (uncompressed) files, wrong magic, count mismatch and truncation', async () => {
  await withTempDir(async (dir) => {
    const header = Buffer.alloc(16);
    header.writeUInt32BE(2051, 0);
    header.writeUInt32BE(3, 4);
    header.writeUInt32BE(2, 8);
    header.writeUInt32BE(2, 12);
    const images = join(dir, 'img-idx3-ubyte');
    await writeFile(images, Buffer.concat([header, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])]));
    const plain = await collect(await openIdxSource({ imagesPath: images, start: 1 }));
    assert.deepEqual(plain.map((r) => [...r.vector]), [[5, 6, 7, 8], [9, 10, 11, 12]]);

    // Labels file passed as images: wrong magic.
    await assert.rejects(openIdxSource({ imagesPath: LABELS }), (err: Error) => {
      assert.ok(err instanceof ConfigValidationError);
      assert.match(err.message, /t10k-labels-idx1-ubyte\.gz: wrong IDX magic number 2049/);
      return true;
    });

    // 2 labels for 3 images.
    const labels = join(dir, 'lbl-idx1-ubyte');
    const lh = Buffer.alloc(8);
    lh.writeUInt32BE(2049, 0);
    lh.writeUInt32BE(2, 4);
    await writeFile(labels, Buffer.concat([lh, Buffer.from([0, 1])]));
    await assert.rejects(openIdxSource({ imagesPath: images, labelsPath: labels }), /has 2 labels but .* has 3 images/);

    // Gzip file cut short: error names the file and the record.
    const cut = join(dir, 'cut-idx3-ubyte.gz');
    const whole = gzipSync(Buffer.concat([header, Buffer.from([1, 2, 3, 4, 5, 6])]));
    await writeFile(cut, whole);
    const source = await openIdxSource({ imagesPath: cut });
    await assert.rejects(collect(source), (err: Error) => {
      assert.ok(err instanceof InputRecordError);
      assert.match(err.message, /cut-idx3-ubyte\.gz record 1: file ends early/);
      return true;
    });
    await writeFile(cut, whole.subarray(0, whole.length - 10)); // corrupt gzip stream
    await assert.rejects(collect(await openIdxSource({ imagesPath: cut })), /cut-idx3-ubyte\.gz record \d/);
  });
});

// ---------------------------------------------------------------------------------------------
// JSONL
// ---------------------------------------------------------------------------------------------

test('JSONL: a good file gives ids, vectors, payloads and line locations; blank lines skipped', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'good.jsonl');
    await writeFile(
      path,
      '{"id": "a", "vector": [1, 2.5, -3], "payload": {"k": "v"}}\n\n{"id": 7, "vector": [0, 0, 1e-3]}\r\n',
    );
    const source = await openJsonlSource({ path });
    assert.equal(source.dim, undefined);
    const records = await collect(source);
    assert.equal(records.length, 2);
    assert.equal(records[0].id, 'a');
    assert.deepEqual([...records[0].vector], [1, 2.5, -3]);
    assert.deepEqual(records[0].payload, { k: 'v' });
    assert.equal(records[0].location, `${path} line 1`);
    assert.equal(records[1].id, '7');
    assert.equal(records[1].location, `${path} line 3`);
    assert.equal(records[1].payload, undefined);
    assert.deepEqual([...records[1].vector], [0, 0, Math.fround(1e-3)]);
    const summary = (await validate(source)).finish();
    assert.deepEqual(summary, { records: 2, count: 2, dim: 3, duplicatesDropped: 0 });
  });
});

test('JSONL: the shipped tiny.jsonl has 40 records of dim 8 with payloads', async () => {
  const source = await openVectorSource({ format: 'auto', path: TINY });
  const records = await collect(source);
  assert.equal(records.length, 40);
  assert.ok(records.every((r) => r.vector.length === 8 && r.payload !== undefined));
  assert.equal((await validate(source)).finish().count, 40);
  const sliced = await collect(await openJsonlSource({ path: TINY, start: 38, limit: 5 }));
  assert.deepEqual(sliced.map((r) => r.location), [`${TINY} line 39`, `${TINY} line 40`]);
});

test('JSONL: a dimension mismatch on line 3 names line 3', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'dims.jsonl');
    await writeFile(path, '{"id":1,"vector":[1,2,3,4]}\n{"id":2,"vector":[1,2,3,4]}\n{"id":3,"vector":[1,2,3]}\n');
    await assert.rejects(validate(await openJsonlSource({ path })), (err: Error) => {
      assert.ok(err instanceof InputRecordError);
      assert.equal(err.message, `${path} line 3: vector has 3 dimensions, expected 4`);
      return true;
    });
  });
});

test('JSONL: an infinite element (1e400) names the line and the element index', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'inf.jsonl');
    await writeFile(path, '{"id":"x","vector":[1,2]}\n{"id":"y","vector":[3,1e400]}\n');
    await assert.rejects(validate(await openJsonlSource({ path })), (err: Error) => {
      assert.ok(err instanceof InputRecordError);
      assert.match(err.message, /inf\.jsonl line 2: vector element 1 is Infinity/);
      return true;
    });
  });
});

test('JSONL: malformed lines name the line', async () => {
  await withTempDir(async (dir) => {
    const cases: [string, RegExp][] = [
      ['{"id": 1, "vector": [1, 2]', /bad\.jsonl line 2: not valid JSON/],
      ['{"vector": [1, 2]}', /bad\.jsonl line 2: missing "id"/],
      ['{"id": 1}', /bad\.jsonl line 2: missing "vector"/],
      ['{"id": 1, "vector": [1, "2"]}', /bad\.jsonl line 2: vector\[1\]: vector elements must be numbers/],
      ['{"id": 1, "vector": [1, 2], "payload": [3]}', /bad\.jsonl line 2: "payload" must be a JSON object/],
      ['{"id": 12345678901234567890, "vector": [1, 2]}', /bad\.jsonl line 2: numeric "id" must be a safe integer/],
    ];
    for (const [line, expected] of cases) {
      const path = join(dir, 'bad.jsonl');
      await writeFile(path, `{"id": 0, "vector": [0, 0]}\n${line}\n`);
      await assert.rejects(collect(await openJsonlSource({ path })), (err: Error) => {
        assert.ok(err instanceof InputRecordError, line);
        assert.match(err.message, expected);
        return true;
      });
    }
  });
});

test('JSONL: a duplicate id names both locations; onDuplicate "last" keeps the last', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'dup.jsonl');
    await writeFile(
      path,
      [
        '{"id":"a","vector":[1,1]}',
        '{"id":"b","vector":[2,2]}',
        '',
        '{"id":"a","vector":[3,3]}',
        '{"id":"c","vector":[4,4]}',
        '{"id":"a","vector":[5,5]}',
      ].join('\n'),
    );
    const source = await openJsonlSource({ path });
    await assert.rejects(validate(source), (err: Error) => {
      assert.ok(err instanceof InputRecordError);
      assert.match(err.message, new RegExp(`^${path} line 4: duplicate id "a" \\(first seen at ${path} line 1\\)`));
      return true;
    });

    const validator = await validate(source, 'last');
    assert.deepEqual(validator.finish(), { records: 5, count: 3, dim: 2, duplicatesDropped: 2 });
    assert.deepEqual([...validator.duplicatesKeptLast()], [['a', 4]]);
    const keep = validator.createSecondPassFilter();
    const kept: string[] = [];
    for await (const r of source.records()) if (keep(r)) kept.push(`${r.id}=${r.vector[0]}`);
    assert.deepEqual(kept, ['b=2', 'c=4', 'a=5']);
  });
});

test('validator: a duplicate with a location that has no number falls back to the read position', () => {
  const v = new RecordValidator({ description: 'mem' });
  v.check({ id: 'q', vector: new Float32Array([1]), location: 'first' });
  assert.throws(
    () => v.check({ id: 'q', vector: new Float32Array([1]), location: 'second' }),
    /second: duplicate id "q" \(first seen at record 0 \(0-based, in read order\) of mem\)/,
  );
});

// ---------------------------------------------------------------------------------------------
// npy
// ---------------------------------------------------------------------------------------------

test('npy: vectors with a text ids file; ids count mismatch names both files', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'vecs.npy');
    const data = Float32Array.from({ length: 5 * 3 }, (_, i) => i * 0.5);
    await writeFile(path, encodeNpyFloat32(data, [5, 3]));
    const idsPath = join(dir, 'ids.txt');
    await writeFile(idsPath, 'doc-a\ndoc-b\n  doc-c  \n\ndoc-d\ndoc-e\n');
    const source = await openNpySource({ path, idsPath });
    assert.equal(source.dim, 3);
    assert.equal(source.count, 5);
    const records = await collect(source);
    assert.deepEqual(records.map((r) => r.id), ['doc-a', 'doc-b', 'doc-c', 'doc-d', 'doc-e']);
    assert.deepEqual([...records[4].vector], [6, 6.5, 7]);
    assert.equal(records[4].location, `${path} row 4`);

    const slice = await collect(await openNpySource({ path, idsPath, start: 2, limit: 2 }));
    assert.deepEqual(slice.map((r) => [r.id, r.vector[0]]), [['doc-c', 3], ['doc-d', 4.5]]);

    const shortIds = join(dir, 'short.txt');
    await writeFile(shortIds, 'a\nb\n');
    await assert.rejects(openNpySource({ path, idsPath: shortIds }), (err: Error) => {
      assert.ok(err instanceof ConfigValidationError);
      assert.ok(err.message.includes(shortIds) && err.message.includes(path), err.message);
      assert.match(err.message, /has 2 ids but .* has 5 rows/);
      return true;
    });
  });
});

test('npy: float64 vectors with int64 .npy ids; default ids are row numbers', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'f8.npy');
    await writeFile(path, encodeNpy(new Float64Array([1, 2, 3, 4, 5, 6]), [3, 2]));
    const idsPath = join(dir, 'ids.npy');
    await writeFile(idsPath, encodeNpy(new BigInt64Array([10n, 20n, 9007199254740993n]), [3]));
    const records = await collect(await openVectorSource({ format: 'auto', path, idsPath }));
    assert.deepEqual(records.map((r) => r.id), ['10', '20', '9007199254740993']);
    assert.deepEqual([...records[2].vector], [5, 6]);
    assert.ok(records[2].vector instanceof Float32Array);
    const plain = await collect(await openNpySource({ path }));
    assert.deepEqual(plain.map((r) => r.id), ['0', '1', '2']);
    // A file shorter than its header says is rejected at open.
    const bytes = await readFile(path);
    await writeFile(join(dir, 'cut.npy'), bytes.subarray(0, bytes.length - 8));
    await assert.rejects(openNpySource({ path: join(dir, 'cut.npy') }), /cut\.npy: truncated \.npy file/);
  });
});

// ---------------------------------------------------------------------------------------------
// Validator end checks and format detection
// ---------------------------------------------------------------------------------------------

test('empty input: finish() throws "no vectors in <source>"', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'empty.jsonl');
    await writeFile(path, '\n\n');
    const validator = await validate(await openJsonlSource({ path }));
    assert.throws(() => validator.finish(), (err: Error) => {
      assert.ok(err instanceof ConfigValidationError);
      assert.equal(err.message, `no vectors in ${path}`);
      return true;
    });
  });
});

test('fewer vectors than shards: ensureAtLeast throws "N vectors cannot fill M shards"', async () => {
  const validator = await validate(await openJsonlSource({ path: TINY, limit: 3 }));
  assert.equal(validator.finish().count, 3);
  validator.ensureAtLeast(3);
  assert.throws(() => validator.ensureAtLeast(4), (err: Error) => {
    assert.ok(err instanceof ConfigValidationError);
    assert.match(err.message, /^3 vectors cannot fill 4 shards/);
    return true;
  });
});

test('format detection by file name', async () => {
  assert.equal(detectVectorFormat('/x/train-images-idx3-ubyte.gz'), 'idx');
  assert.equal(detectVectorFormat('a.IDX'), 'idx');
  assert.equal(detectVectorFormat('a.npy'), 'npy');
  assert.equal(detectVectorFormat('a.ndjson'), 'jsonl');
  assert.throws(() => detectVectorFormat('a.csv'), /a\.csv.*idx.*npy.*jsonl/);
  await assert.rejects(openVectorSource({ format: 'jsonl', path: TINY, labelsPath: LABELS }), ConfigValidationError);
  const idx = await openVectorSource({ format: 'auto', path: IMAGES, labelsPath: LABELS, start: 9990 });
  assert.equal(idx.count, 10);
});
