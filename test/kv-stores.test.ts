/**
 * The per-shard key-value stores of issue 14, both backends (SlateDB `composite`, SQLite `unified`),
 * on real files in a temp folder: 20,000 entries (string and binary keys, values of 0..4 KiB incl.
 * empty) read back byte for byte; absent keys are undefined; a duplicate key fails naming it; abort
 * leaves the shard folder as it was; a SlateDB database copied file by file (as the shard cache's
 * download does) opens and reads at the copy. Prints in-process timings (puts/s, getMany(100)
 * p50/p99) for both stores side by side; nothing is asserted about speed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { InputRecordError } from '../src/common/errors.ts';
import { digestFile, listFilesRecursive } from '../src/common/file-digest.ts';
import { describeKvKey } from '../src/common/kv-layout.ts';
import type { KvStoreReader } from '../src/shard-node/kv-store-reader.ts';
import { SlateDbKvReader } from '../src/shard-node/slatedb-kv-reader.ts';
import { SqliteKvReader } from '../src/shard-node/sqlite-kv-reader.ts';
import type { KvStoreFiles, KvStoreWriter } from '../src/writer/backends/kv-store-writer.ts';
import { SlateDbKvWriter } from '../src/writer/backends/slatedb-kv-writer.ts';
import { SqliteKvWriter } from '../src/writer/backends/sqlite-kv-writer.ts';
import { tempDir } from './helpers/fixtures.ts';

const N = 20_000;
const MAX_VALUE = 4096;
const GET_BATCH = 100;
const GET_ROUNDS = 300;

/** Deterministic bytes (xorshift32), so a failure reproduces. */
function bytes(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * Entry i: even i a UTF-8 string key (`user:<i>/名前`), odd i a binary key (0x00, 0xff, i as
 * 4 bytes big-endian, then 0..27 pseudo-random bytes, some of them 0x00). Value: (i * 7919) % 4097
 * pseudo-random bytes, so lengths cover 0..4096 (0 included).
 */
function entry(i: number): { key: Buffer; value: Buffer } {
  let key: Buffer;
  if (i % 2 === 0) key = Buffer.from(`user:${i}/名前`, 'utf8');
  else {
    const idx = Buffer.alloc(4);
    idx.writeUInt32BE(i);
    key = Buffer.concat([Buffer.from([0x00, 0xff]), idx, bytes(i + 1, i % 28)]);
  }
  return { key, value: bytes(i + 7, (i * 7919) % (MAX_VALUE + 1)) };
}

const ENTRIES = Array.from({ length: N }, (_, i) => entry(i));

/** Keys that are not in the store: prefixes and extensions of stored keys, empty, too long. */
const ABSENT: Buffer[] = [
  Buffer.from('user:'),
  Buffer.from('user:0'),
  Buffer.from('user:0/名前x'),
  Buffer.from(`user:${N}/名前`),
  Buffer.from([0x00]),
  Buffer.from([0x00, 0xff]),
  Buffer.concat([ENTRIES[1].key, Buffer.from([0])]),
  Buffer.alloc(0),
  Buffer.alloc(70_000, 1),
];

interface Backend {
  name: string;
  writer(dir: string): KvStoreWriter;
  reader(dir: string): Promise<KvStoreReader>;
  checkFiles(files: KvStoreFiles): void;
}

const BACKENDS: Backend[] = [
  {
    name: 'slatedb',
    writer: (dir) => new SlateDbKvWriter({ dir, dbId: 3 }),
    reader: (dir) => SlateDbKvReader.open(dir, 3),
    checkFiles: ({ files }) => {
      assert.ok(files.every((f) => f.startsWith('kv/')), files.join(', '));
      assert.ok(files.some((f) => /^kv\/manifest\/\d+\.manifest$/.test(f)), 'a manifest');
      assert.ok(files.some((f) => /^kv\/compacted\/[0-9A-Z]+\.sst$/.test(f)), 'an SST');
      assert.ok(!files.some((f) => f.startsWith('kv/wal/')), 'no WAL');
    },
  },
  {
    name: 'sqlite',
    writer: (dir) => new SqliteKvWriter({ dir, dbId: 3 }),
    reader: async (dir) => SqliteKvReader.open(dir, undefined, 3),
    checkFiles: ({ files }) => assert.deepEqual(files, ['kv.sqlite']),
  },
];

/** Timings per backend, printed side by side at the end. */
const timings = new Map<string, { putsPerSec: number; putsPerSecWithFinish: number; p50: number; p99: number; getsPerSec: number }>();

/** Reads every entry back through `reader` (in getMany calls of 1,000) and compares bytes. */
async function checkAll(reader: KvStoreReader): Promise<void> {
  for (let start = 0; start < N; start += 1000) {
    const slice = ENTRIES.slice(start, start + 1000);
    const got = await reader.getMany(slice.map((e) => e.key));
    assert.equal(got.length, slice.length);
    for (let j = 0; j < slice.length; j++) {
      const v = got[j];
      assert.ok(v !== undefined, `key ${describeKvKey(slice[j].key)} missing`);
      assert.equal(Buffer.compare(Buffer.from(v.buffer, v.byteOffset, v.byteLength), slice[j].value), 0, `value of ${describeKvKey(slice[j].key)}`);
    }
  }
}

async function writeAll(writer: KvStoreWriter): Promise<{ files: KvStoreFiles; putMs: number; totalMs: number }> {
  const t0 = performance.now();
  for (const e of ENTRIES) await writer.put(e.key, e.value);
  const putMs = performance.now() - t0;
  const files = await writer.finish();
  return { files, putMs, totalMs: performance.now() - t0 };
}

for (const backend of BACKENDS) {
  describe(`${backend.name} KV store`, () => {
    let tmp: { path: string; remove: () => Promise<void> };
    let dir: string;
    let written: KvStoreFiles;

    before(async () => {
      tmp = await tempDir(`kv-${backend.name}-`);
      dir = join(tmp.path, 'db=00003');
      const { files, putMs, totalMs } = await writeAll(backend.writer(dir));
      written = files;
      timings.set(backend.name, { putsPerSec: (N / putMs) * 1000, putsPerSecWithFinish: (N / totalMs) * 1000, p50: NaN, p99: NaN, getsPerSec: NaN });
    });
    after(async () => tmp.remove());

    test('finish lists the files and the entry count', async () => {
      assert.equal(written.entries, N);
      backend.checkFiles(written);
      const onDisk = (await listFilesRecursive(dir)).sort();
      assert.deepEqual(onDisk, [...written.files].sort(), 'exactly the listed files are left');
    });

    test('every key reads back exactly; absent keys are undefined; order and repeats kept', async () => {
      const reader = await backend.reader(dir);
      try {
        await checkAll(reader);
        assert.deepEqual(await reader.getMany(ABSENT), ABSENT.map(() => undefined));
        const mixed = [ENTRIES[5].key, ABSENT[0], ENTRIES[0].key, ENTRIES[5].key];
        const got = await reader.getMany(mixed);
        assert.equal(Buffer.compare(Buffer.from(got[0]!), ENTRIES[5].value), 0);
        assert.equal(got[1], undefined);
        assert.equal(got[2]?.length, 0, 'entry 0 has an empty value, which is not undefined');
        assert.equal(Buffer.compare(Buffer.from(got[3]!), ENTRIES[5].value), 0);
        assert.deepEqual(await reader.getMany([]), []);

        // Timings: getMany of 100 random keys.
        const samples: number[] = [];
        let seed = 12345;
        for (let r = 0; r < GET_ROUNDS; r++) {
          const keys: Buffer[] = [];
          for (let j = 0; j < GET_BATCH; j++) {
            seed = (seed * 1103515245 + 12345) % 2147483648;
            keys.push(ENTRIES[seed % N].key);
          }
          const t0 = performance.now();
          const vs = await reader.getMany(keys);
          samples.push((performance.now() - t0) * 1000);
          assert.equal(vs.length, GET_BATCH);
        }
        samples.sort((a, b) => a - b);
        const t = timings.get(backend.name)!;
        t.p50 = samples[Math.floor(samples.length * 0.5)];
        t.p99 = samples[Math.min(samples.length - 1, Math.floor(samples.length * 0.99))];
        t.getsPerSec = (GET_BATCH * samples.length) / (samples.reduce((s, x) => s + x, 0) / 1e6);
      } finally {
        await reader.close();
      }
      await reader.close(); // idempotent
      await assert.rejects(reader.getMany([ENTRIES[0].key]), /closed/);
    });

    test('a duplicate key is an error naming the key (string and binary keys)', async () => {
      for (const [dup, name] of [
        [Buffer.from('dup:7'), '"dup:7"'],
        [Buffer.from([0x00, 0x01, 0xfe]), '0x0001fe'],
      ] as const) {
        const sub = join(tmp.path, `dup-${name.length}`);
        const writer = backend.writer(sub);
        await assert.rejects(
          async () => {
            await writer.put(dup, Buffer.from('first'));
            for (let i = 0; i < 1500; i++) await writer.put(Buffer.from(`other:${i}`), Buffer.alloc(i % 10));
            await writer.put(dup, Buffer.from('second'));
            await writer.finish();
          },
          (err: unknown) => err instanceof InputRecordError && err.message.includes(`duplicate key ${name}`),
        );
        await assert.rejects(writer.finish(), /failed/, 'a failed writer does not finish');
        await writer.abort();
        assert.deepEqual(await readdir(sub).catch(() => []), []);
      }
    });

    test('abort leaves the shard folder as it was (after batches reached the disk)', async () => {
      const sub = join(tmp.path, 'abort');
      await mkdir(sub, { recursive: true });
      await writeFile(join(sub, 'index.bin'), 'vector index');
      const writer = backend.writer(sub);
      for (let i = 0; i < 2500; i++) await writer.put(ENTRIES[i].key, ENTRIES[i].value);
      await writer.abort();
      await writer.abort(); // idempotent
      assert.deepEqual(await listFilesRecursive(sub), ['index.bin']);
      await assert.rejects(writer.put(Buffer.from('x'), Buffer.alloc(0)), /aborted/);

      // A writer that never wrote leaves nothing either (not even the folder).
      const untouched = join(tmp.path, 'never');
      await backend.writer(untouched).abort();
      assert.deepEqual(await readdir(untouched).catch(() => []), []);
    });

    test('keys out of range are rejected, naming the problem', async () => {
      const writer = backend.writer(join(tmp.path, 'range'));
      await assert.rejects(writer.put(Buffer.alloc(0), Buffer.from('v')), (err: unknown) => err instanceof InputRecordError && /empty key/.test(err.message));
      await writer.abort();
      const w2 = backend.writer(join(tmp.path, 'range2'));
      await assert.rejects(w2.put(Buffer.alloc(65_536, 0x61), Buffer.from('v')), (err: unknown) => err instanceof InputRecordError && /65536 bytes/.test(err.message));
      await w2.abort();
    });

    if (backend.name === 'slatedb') {
      test('a database copied file by file (as the download does) opens and reads at the copy', async () => {
        const copy = join(tmp.path, 'cache', 'run-1', 'db=00003');
        const digests = new Map<string, string>();
        for (const f of written.files) {
          await mkdir(dirname(join(copy, f)), { recursive: true });
          await copyFile(join(dir, f), join(copy, f));
          const [a, b] = await Promise.all([digestFile(join(dir, f)), digestFile(join(copy, f))]);
          assert.equal(b.sha256, a.sha256, f);
          digests.set(f, a.sha256);
        }
        await rm(dir, { recursive: true, force: true }); // the original is gone: only the copy can answer
        const reader = await backend.reader(copy);
        try {
          await checkAll(reader);
          assert.deepEqual(await reader.getMany(ABSENT.slice(0, 3)), [undefined, undefined, undefined]);
        } finally {
          await reader.close();
        }
        // The reader adds checkpoint manifests but never rewrites a listed file, so the cache's
        // re-verification of a reused copy still passes.
        for (const [f, sha] of digests) assert.equal((await digestFile(join(copy, f))).sha256, sha, f);
        const after = await listFilesRecursive(copy);
        const added = after.filter((f) => !digests.has(f));
        assert.ok(added.every((f) => /^kv\/manifest\/\d+\.manifest$/.test(f)), `only manifests added: ${added.join(', ')}`);
        console.log(`# slatedb reader added to the copy: ${added.join(', ') || 'nothing'}`);
      });

      test('opening a folder without a database fails naming it', async () => {
        await assert.rejects(SlateDbKvReader.open(join(tmp.path, 'nothing'), 9), /shard 9 SlateDB kv .*no SlateDB database/);
      });
    } else {
      test('the kv table goes into an existing SQLite file (the unified backend) and abort removes only it', async () => {
        const sub = join(tmp.path, 'unified');
        await mkdir(sub, { recursive: true });
        const file = join(sub, 'shard.sqlite');
        const db = new Database(file);
        db.exec(`CREATE TABLE items (id TEXT); INSERT INTO items VALUES ('a')`);
        db.close();

        const aborted = new SqliteKvWriter({ dir: sub, fileName: 'shard.sqlite' });
        for (let i = 0; i < 1500; i++) await aborted.put(ENTRIES[i].key, ENTRIES[i].value);
        await aborted.abort();
        const check = new Database(file, { readonly: true });
        const tables = check.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).pluck().all();
        check.close();
        assert.deepEqual(tables, ['items']);

        const writer = new SqliteKvWriter({ dir: sub, fileName: 'shard.sqlite' });
        for (let i = 0; i < 100; i++) await writer.put(ENTRIES[i].key, ENTRIES[i].value);
        assert.deepEqual(await writer.finish(), { files: ['shard.sqlite'], entries: 100 });
        assert.deepEqual(await listFilesRecursive(sub), ['shard.sqlite']);
        const reader = SqliteKvReader.open(sub, 'shard.sqlite');
        try {
          const got = await reader.getMany(ENTRIES.slice(0, 101).map((e) => e.key));
          for (let i = 0; i < 100; i++) assert.equal(Buffer.compare(Buffer.from(got[i]!), ENTRIES[i].value), 0);
          assert.equal(got[100], undefined);
        } finally {
          await reader.close();
        }
        // Written once: a second writer refuses the non-empty table.
        const again = new SqliteKvWriter({ dir: sub, fileName: 'shard.sqlite' });
        await assert.rejects(again.finish(), /non-empty kv table/);
        await again.abort();
        assert.throws(() => new SqliteKvWriter({ dir: sub, fileName: '../escape.sqlite' }), /inside the shard folder/);
        assert.throws(() => SqliteKvReader.open(join(tmp.path, 'nothing'), undefined, 9), /shard 9 kv table .*opening failed/);
      });
    }
  });
}

after(() => {
  const rows = [...timings].map(([name, t]) => ({
    store: name,
    'puts/s (put calls)': Math.round(t.putsPerSec),
    'puts/s (incl. finish)': Math.round(t.putsPerSecWithFinish),
    'getMany(100) p50 µs': Math.round(t.p50),
    'getMany(100) p99 µs': Math.round(t.p99),
    'gets/s': Math.round(t.getsPerSec),
  }));
  console.log(`# KV store timings, ${N} entries, values 0..${MAX_VALUE} B, in-process (not asserted):`);
  for (const r of rows) console.log(`# ${JSON.stringify(r)}`);
});
