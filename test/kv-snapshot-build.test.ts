/**
 * KV + vector snapshots, build side (issue 14): real builds on a file:// store of 2,000 JSONL
 * records with keys and values, composite (`--kv slatedb` with lancedb and usearch) and unified
 * (`--kv sqlite` with sqlite-vec). Each shard's published files are downloaded and sha256-checked
 * against the manifest, then opened with the shard node's KV readers: every key maps to its exact
 * value in shardOfKey(key)'s shard and nowhere else, absent keys are absent, and the vector side
 * still loads and searches. Bad input (duplicate, empty, mistyped keys) and bad flag combinations
 * fail with messages naming the record or the flags, with the store unchanged. Plus the CLI.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ConfigValidationError, InputRecordError } from '../src/common/errors.ts';
import { CURRENT_KEY, parseCurrentPointer, parseManifest, type Manifest } from '../src/common/manifest.ts';
import { canonicalKeyBytes, shardOfKey } from '../src/common/routing/key-hash-routing.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import type { ObjectStore } from '../src/common/storage/object-store.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import { SlateDbKvReader } from '../src/shard-node/slatedb-kv-reader.ts';
import { SqliteKvReader } from '../src/shard-node/sqlite-kv-reader.ts';
import type { KvStoreReader } from '../src/shard-node/kv-store-reader.ts';
import { LoadedRun } from '../src/shard-node/shard-node-state.ts';
import type { BackendOptions, KvOptions, ShardingOptions } from '../src/writer/build-options.ts';
import { buildSnapshot } from '../src/writer/build-snapshot.ts';
import { planDistributedBuild, publishRun, runBuildWorker } from '../src/writer/distributed-build.ts';
import { jsonlValueBytes, openJsonlSource } from '../src/writer/input/jsonl-source.ts';
import { openShardWriterFactory } from '../src/writer/backends/open-shard-writer.ts';
import type { IndexConfig, KvSpec } from '../src/common/manifest.ts';
import { existsSync, readdirSync } from 'node:fs';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { SchemaElement } from 'hyparquet';
import { quietLogger, tempDir } from './helpers/fixtures.ts';
import { startS3rver, type S3rverHandle } from './helpers/s3rver.ts';

const BIN = fileURLToPath(new URL('../bin/shardfleet.js', import.meta.url));
const execFileP = promisify(execFile);
const N = 2000;
const DIM = 8;
const NUM_DBS = 4;

interface Line {
  id: string;
  key: string | number;
  value: unknown;
  vector: number[];
  payload: { i: number };
}

/** Record i: key `user:<i>` (or the integer i * 7919 - 3000), values of every JSON kind. */
function line(i: number, intKeys = false): Line {
  const values: unknown[] = [`text value ${i} é`, { n: i, tags: ['a', i % 3] }, i, i % 2 === 0, null, [i, i + 1], ''];
  const vector = Array.from({ length: DIM }, (_, d) => Math.sin(i * 0.37 + d * 1.3) + (i % 5) * 0.1);
  const key = intKeys ? i * 7919 - 3000 : `user:${i}`;
  // A KV record's id is its key's text: lines leave `id` out (writers derive it).
  return { id: String(key), key, value: values[i % values.length], vector, payload: { i } };
}

/** Downloads every file of every shard, checking its size and sha256 against the manifest. */
async function download(store: ObjectStore, manifest: Manifest, into: string): Promise<string[]> {
  const dirs: string[] = [];
  for (const shard of manifest.shards) {
    const local = join(into, `db=${shard.db_id}`);
    await mkdir(local, { recursive: true });
    for (const f of shard.files) {
      const bytes = await store.get(shard.url + f.path);
      assert.equal(bytes.length, f.bytes, `${f.path} size`);
      assert.equal(createHash('sha256').update(bytes).digest('hex'), f.sha256, `${f.path} sha256`);
      await mkdir(dirname(join(local, f.path)), { recursive: true });
      await writeFile(join(local, f.path), bytes);
    }
    dirs.push(local);
  }
  return dirs;
}

/** Checks every key's value in its shard, its absence elsewhere, and absent keys. */
async function checkKv(manifest: Manifest, lines: Line[], open: (dir: string, dbId: number) => Promise<KvStoreReader>, dirs: string[]): Promise<void> {
  const keyOf = (l: Line): Uint8Array => canonicalKeyBytes(typeof l.key === 'number' ? BigInt(l.key) : l.key);
  const absent = [canonicalKeyBytes('user:absent'), canonicalKeyBytes(123456789n), canonicalKeyBytes('doc-1')];
  let total = 0;
  for (const shard of manifest.shards) {
    const reader = await open(dirs[shard.db_id], shard.db_id);
    try {
      const keys = lines.map(keyOf);
      const got = await reader.getMany(keys);
      let here = 0;
      lines.forEach((l, i) => {
        const home = shardOfKey(keys[i], NUM_DBS);
        if (home === shard.db_id) {
          here++;
          assert.ok(got[i] !== undefined, `key ${String(l.key)} missing in its shard ${home}`);
          assert.deepEqual(Buffer.from(got[i]!), Buffer.from(jsonlValueBytes(l.value)), `value of key ${String(l.key)}`);
        } else {
          assert.equal(got[i], undefined, `key ${String(l.key)} (shard ${home}) found in shard ${shard.db_id}`);
        }
      });
      assert.deepEqual(await reader.getMany(absent), absent.map(() => undefined));
      assert.equal(shard.kv_entries, here, `shard ${shard.db_id} kv_entries`);
      assert.equal(shard.vector_count, here, `shard ${shard.db_id} vector_count`);
      total += here;
    } finally {
      await reader.close();
    }
  }
  assert.equal(total, lines.length);
}


describe('KV + vector snapshot builds', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let n = 0;

  async function jsonl(lines: object[]): Promise<string> {
    const path = join(dir.path, `input-${n++}.jsonl`);
    // Lines with a key leave the id out (a KV record's id is its key); `keepId` lines keep it.
    const text = lines.map((l) => {
      const { id, keepId, ...rest } = l as { id?: unknown; keepId?: boolean; key?: unknown };
      return JSON.stringify(rest.key === undefined || keepId ? { id, ...rest } : rest);
    });
    await writeFile(path, text.join('\n') + '\n');
    return path;
  }

  async function build(store: FileObjectStore, path: string, kv: KvOptions | undefined, backend: BackendOptions, sharding: ShardingOptions = { strategy: 'hash', numDbs: NUM_DBS }) {
    const source = await openJsonlSource({ path });
    return buildSnapshot({ store, source, sharding, backend, metric: 'l2', ...(kv ? { kv } : {}), progress: false, log: quietLogger() });
  }

  /** The vector side loads as usual and every record is found in its key's shard. */
  async function checkVectors(store: FileObjectStore, manifest: Manifest, lines: Line[], cache: string): Promise<void> {
    const dbIds = manifest.shards.map((s) => s.db_id);
    const run = new LoadedRun(manifest, dbIds);
    await run.load(store, cache, quietLogger());
    try {
      const outcomes = await run.search(Float32Array.from(lines[0].vector), 10, dbIds, false);
      const byId = new Map(lines.map((l) => [l.id, l]));
      let hits = 0;
      for (const o of outcomes) {
        assert.equal(o.error, undefined, `shard ${o.dbId}: ${o.error}`);
        for (const hit of o.hits ?? []) {
          const l = byId.get(hit.id)!;
          assert.equal(o.dbId, shardOfKey(canonicalKeyBytes(typeof l.key === 'number' ? BigInt(l.key) : l.key), NUM_DBS));
          hits++;
        }
      }
      assert.ok(hits >= 10);
    } finally {
      run.close();
    }
  }

  async function storeSnapshot(store: FileObjectStore): Promise<string[]> {
    return (await store.list('')).map((o) => `${o.key}:${o.etag}`).sort();
  }

  before(async () => {
    dir = await tempDir('kv-snapshot-build');
  });
  after(async () => {
    await dir.remove();
  });

  const lines = Array.from({ length: N }, (_, i) => line(i));

  for (const backend of ['lancedb', 'usearch'] as const) {
    test(`composite: --kv slatedb --backend ${backend}, ${N} records`, async () => {
      const store = new FileObjectStore(join(dir.path, `store-slatedb-${backend}`));
      const result = await build(store, await jsonl(lines), { backend: 'slatedb' }, { backend });
      const stored = parseManifest(await store.get(result.manifestKey), result.manifestKey);
      assert.deepEqual(stored.kv, { backend: 'slatedb', key_type: 'string' });
      assert.equal(parseCurrentPointer(await store.get(CURRENT_KEY)).run_id, result.runId);
      for (const s of stored.shards) {
        assert.ok(s.files.some((f) => f.path.startsWith('kv/manifest/')), `shard ${s.db_id} lists its SlateDB manifest`);
        assert.ok(s.files.some((f) => f.path.startsWith('kv/compacted/') && f.path.endsWith('.sst')), `shard ${s.db_id} lists its SSTs`);
        assert.ok(!s.files.some((f) => f.path.startsWith('kv/wal/')));
      }
      const dirs = await download(store, stored, join(dir.path, `dl-slatedb-${backend}`));
      await checkKv(stored, lines, (d, id) => SlateDbKvReader.open(d, id), dirs);
      await checkVectors(store, stored, lines, join(dir.path, `cache-slatedb-${backend}`));
    });
  }

  test(`unified: --kv sqlite --backend sqlite-vec, ${N} records`, async () => {
    const store = new FileObjectStore(join(dir.path, 'store-sqlite'));
    const result = await build(store, await jsonl(lines), { backend: 'sqlite' }, { backend: 'sqlite-vec' });
    const stored = parseManifest(await store.get(result.manifestKey), result.manifestKey);
    assert.deepEqual(stored.kv, { backend: 'sqlite', key_type: 'string' });
    for (const s of stored.shards) assert.deepEqual(s.files.map((f) => f.path), ['shard.sqlite'], 'one file per shard: vectors and kv together');
    const dirs = await download(store, stored, join(dir.path, 'dl-sqlite'));
    await checkKv(stored, lines, async (d, id) => SqliteKvReader.open(d, 'shard.sqlite', id), dirs);
    await checkVectors(store, stored, lines, join(dir.path, 'cache-sqlite'));
  });

  test('integer keys: key_type int, stored as 8-byte signed little-endian, hash-routed by those bytes', async () => {
    const store = new FileObjectStore(join(dir.path, 'store-int'));
    const intLines = Array.from({ length: 300 }, (_, i) => line(i, true));
    const result = await build(store, await jsonl(intLines), { backend: 'sqlite' }, { backend: 'sqlite-vec' });
    assert.equal(result.manifest.kv?.key_type, 'int');
    const dirs = await download(store, result.manifest, join(dir.path, 'dl-int'));
    await checkKv(result.manifest, intLines, async (d, id) => SqliteKvReader.open(d, 'shard.sqlite', id), dirs);
  });

  test('records without key: the id is the key, an absent value is empty', async () => {
    const store = new FileObjectStore(join(dir.path, 'store-nokey'));
    const plain = lines.slice(0, 100).map((l) => ({ id: l.id, vector: l.vector }));
    const result = await build(store, await jsonl(plain), { backend: 'slatedb' }, { backend: 'lancedb' });
    assert.deepEqual(result.manifest.kv, { backend: 'slatedb', key_type: 'string' });
    const dirs = await download(store, result.manifest, join(dir.path, 'dl-nokey'));
    for (const shard of result.manifest.shards) {
      const reader = await SlateDbKvReader.open(dirs[shard.db_id], shard.db_id);
      const mine = plain.filter((p) => shardOfKey(canonicalKeyBytes(p.id), NUM_DBS) === shard.db_id);
      const got = await reader.getMany(mine.map((p) => canonicalKeyBytes(p.id)));
      assert.deepEqual(got.map((v) => v?.length), mine.map(() => 0));
      await reader.close();
    }
  });

  test('a vector-only build has no kv section and no kv_entries (as before); the manifest checks the kv section', async () => {
    const store = new FileObjectStore(join(dir.path, 'store-plain'));
    const result = await build(store, await jsonl(lines.slice(0, 100)), undefined, { backend: 'sqlite-vec' });
    assert.equal(result.manifest.kv, undefined);
    assert.ok(result.manifest.shards.every((s) => s.kv_entries === undefined));
    const withKv = { ...result.manifest, kv: { backend: 'sqlite', key_type: 'string' } };
    assert.throws(() => parseManifest(JSON.stringify(withKv), 'm'), /shard 0 has no kv_entries although the manifest has a kv section/);
    const entries = { ...withKv, shards: withKv.shards.map((s) => ({ ...s, kv_entries: s.vector_count })) };
    assert.deepEqual(parseManifest(JSON.stringify(entries), 'm').kv, { backend: 'sqlite', key_type: 'string' });
    const lance = { ...entries, index: { ...entries.index, backend: 'lancedb', index_type: 'auto', index_params: {} } };
    assert.throws(() => parseManifest(JSON.stringify(lance), 'm'), /kv backend sqlite \(unified\) needs index backend sqlite-vec/);
    assert.throws(() => parseManifest(JSON.stringify({ ...entries, kv: { backend: 'rocksdb', key_type: 'string' } }), 'm'));
  });

  test('--strategy cel with --kv slatedb: each key is in the shard its routing context names', async () => {
    const store = new FileObjectStore(join(dir.path, 'store-cel'));
    const cel = lines.slice(0, 300).map((l) => ({ ...l, routing_context: { region: l.payload.i % 3 === 0 ? 'eu' : 'us' } }));
    const result = await build(store, await jsonl(cel), { backend: 'slatedb' }, { backend: 'lancedb' }, {
      strategy: 'cel',
      celExpr: 'region',
      celColumns: { region: 'string' },
      routingValues: ['eu', 'us'],
    });
    const dirs = await download(store, result.manifest, join(dir.path, 'dl-cel'));
    for (const shard of result.manifest.shards) {
      const reader = await SlateDbKvReader.open(dirs[shard.db_id], shard.db_id);
      const got = await reader.getMany(cel.map((l) => canonicalKeyBytes(l.key as string)));
      cel.forEach((l, i) => {
        const home = l.routing_context.region === 'eu' ? 0 : 1;
        assert.equal(got[i] !== undefined, home === shard.db_id, `key ${String(l.key)} in shard ${shard.db_id}`);
      });
      await reader.close();
    }
    // A duplicate key whose two records go to different shards is still found (the check is global).
    const dup = cel.map((l, i) => (i === 2 ? { ...l, key: cel[0].key } : l)); // record 0 -> eu, record 2 -> us
    const path = await jsonl(dup);
    await assert.rejects(
      build(store, path, { backend: 'slatedb' }, { backend: 'lancedb' }, { strategy: 'cel', celExpr: 'region', celColumns: { region: 'string' }, routingValues: ['eu', 'us'] }),
      /line 3: duplicate key "user:0" \(record 1 of the input/,
    );
  });

  test('Parquet: --key-column (INT64) and --value-columns (one string column; two columns as a JSON object) through the CLI', async () => {
    const rowsN = 200;
    const path = join(dir.path, 'kv.parquet');
    const keys = Array.from({ length: rowsN }, (_, i) => BigInt(i) * 1_000_000_007n - 50n);
    const names = Array.from({ length: rowsN }, (_, i) => `name ${i}`);
    const counts = Array.from({ length: rowsN }, (_, i) => i * 3);
    const schema: SchemaElement[] = [
      { name: 'root', num_children: 5 },
      { name: 'id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
      { name: 'vector', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', type: 'FLOAT', repetition_type: 'REQUIRED' },
      { name: 'k', type: 'INT64', repetition_type: 'REQUIRED' },
      { name: 'name', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
      { name: 'count', type: 'INT32', repetition_type: 'REQUIRED' },
    ];
    const buffer = parquetWriteBuffer({
      columnData: [
        { name: 'id', data: Array.from({ length: rowsN }, (_, i) => `p-${i}`) },
        { name: 'vector', data: Array.from({ length: rowsN }, (_, i) => line(i).vector) },
        { name: 'k', data: keys },
        { name: 'name', data: names },
        { name: 'count', data: counts },
      ],
      schema,
      rowGroupSize: 64,
    });
    await writeFile(path, new Uint8Array(buffer));
    const cli = async (args: string[]) => execFileP(process.execPath, [BIN, ...args], { env: { ...process.env, SHARDFLEET_LOG_LEVEL: 'error' } });
    for (const [name, valueColumns, expected] of [
      ['one', 'name', (i: number) => names[i]],
      ['two', 'name,count', (i: number) => JSON.stringify({ name: names[i], count: counts[i] })],
    ] as const) {
      const storePath = join(dir.path, `store-parquet-${name}`);
      const out = await cli(['build', '--store', storePath, '--input', path, '--strategy', 'hash', '--num-dbs', String(NUM_DBS), '--kv', 'slatedb', '--backend', 'usearch', '--key-column', 'k', '--value-columns', valueColumns, '--no-progress']);
      assert.match(out.stdout, /kv slatedb \(int keys\)/);
      const store = new FileObjectStore(storePath);
      const pointer = parseCurrentPointer(await store.get(CURRENT_KEY));
      const manifest = parseManifest(await store.get(pointer.manifest_ref), pointer.manifest_ref);
      assert.deepEqual(manifest.kv, { backend: 'slatedb', key_type: 'int' });
      assert.deepEqual(manifest.payload_columns, valueColumns === 'name' ? ['count'] : [], 'key and value columns are not payload by default');
      const dirs = await download(store, manifest, join(dir.path, `dl-parquet-${name}`));
      let found = 0;
      for (const shard of manifest.shards) {
        const reader = await SlateDbKvReader.open(dirs[shard.db_id], shard.db_id);
        const got = await reader.getMany(keys.map((k) => canonicalKeyBytes(k)));
        keys.forEach((k, i) => {
          if (shardOfKey(canonicalKeyBytes(k), NUM_DBS) !== shard.db_id) return assert.equal(got[i], undefined);
          assert.equal(Buffer.from(got[i]!).toString('utf8'), expected(i));
          found++;
        });
        await reader.close();
      }
      assert.equal(found, rowsN);
    }
  });

  describe('failures name the record or the flags and leave the store unchanged', () => {
    let store: FileObjectStore;
    before(async () => {
      store = new FileObjectStore(join(dir.path, 'store-fail'));
      await build(store, await jsonl(lines.slice(0, 50)), { backend: 'sqlite' }, { backend: 'sqlite-vec' });
    });

    async function rejectsUnchanged(fn: () => Promise<unknown>, check: (err: unknown) => boolean): Promise<void> {
      const before = await storeSnapshot(store);
      const current = (await store.get(CURRENT_KEY)).toString();
      await assert.rejects(fn(), check);
      assert.deepEqual(await storeSnapshot(store), before, 'a failed build changed the store');
      assert.equal((await store.get(CURRENT_KEY)).toString(), current);
    }

    for (const [kv, backend] of [['slatedb', 'lancedb'], ['sqlite', 'sqlite-vec']] as const) {
      test(`duplicate key (--kv ${kv}): names both records`, async () => {
        const dup = lines.slice(0, 200).map((l, i) => (i === 150 ? { ...l, key: lines[20].key } : l));
        const path = await jsonl(dup);
        await rejectsUnchanged(() => build(store, path, { backend: kv }, { backend }), (err) => {
          assert.ok(err instanceof InputRecordError, String(err));
          assert.match(err.message, new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} line 151: duplicate key "user:20" \\(record 21 of the input`));
          return true;
        });
      });
    }

    test('an id that is not the key names the line (a KV record id is its key)', async () => {
      const path = await jsonl(lines.slice(0, 20).map((l, i) => (i === 9 ? { ...l, id: 'doc-9', keepId: true } : l)));
      await rejectsUnchanged(() => build(store, path, { backend: 'slatedb' }, { backend: 'usearch' }), (err) => {
        assert.ok(err instanceof InputRecordError, String(err));
        assert.match(err.message, /line 10: id "doc-9" differs from key "user:9": in a KV snapshot a record's id is its key/);
        return true;
      });
    });

    test('an empty key names the line', async () => {
      const path = await jsonl(lines.slice(0, 20).map((l, i) => (i === 7 ? { ...l, key: '' } : l)));
      await rejectsUnchanged(() => build(store, path, { backend: 'slatedb' }, { backend: 'lancedb' }), (err) => {
        assert.ok(err instanceof InputRecordError, String(err));
        assert.match(err.message, /line 8: "key" must not be empty/);
        return true;
      });
    });

    test('a key of the wrong type (fractional, object) names the line', async () => {
      for (const bad of [1.5, { a: 1 }, true]) {
        const path = await jsonl(lines.slice(0, 20).map((l, i) => (i === 3 ? { ...l, key: bad } : l)));
        await rejectsUnchanged(() => build(store, path, { backend: 'slatedb' }, { backend: 'usearch' }), (err) => {
          assert.ok(err instanceof InputRecordError, String(err));
          assert.match(err.message, /line 4: "key" must be a non-empty string or an integer/);
          return true;
        });
      }
    });

    test('keys of mixed types name both records', async () => {
      const path = await jsonl(lines.slice(0, 20).map((l, i) => (i === 5 ? { ...l, key: 5 } : l)));
      await rejectsUnchanged(() => build(store, path, { backend: 'sqlite' }, { backend: 'sqlite-vec' }), (err) => {
        assert.ok(err instanceof InputRecordError, String(err));
        assert.match(err.message, /line 6: key of type int, but .* line 1 has a key of type string/);
        return true;
      });
    });

    test('--kv sqlite with --backend lancedb names both flags', async () => {
      const path = await jsonl(lines.slice(0, 20));
      await rejectsUnchanged(() => build(store, path, { backend: 'sqlite' }, { backend: 'lancedb' }), (err) => {
        assert.ok(err instanceof ConfigValidationError, String(err));
        assert.match(err.message, /--kv sqlite .* needs --backend sqlite-vec, got --backend lancedb/);
        return true;
      });
    });

    test('--kv with a vector-routed strategy names the flags', async () => {
      const path = await jsonl(lines.slice(0, 20));
      await rejectsUnchanged(() => build(store, path, { backend: 'slatedb' }, { backend: 'lancedb' }, { strategy: 'cluster', numDbs: 2, numProbes: 1 }), (err) => {
        assert.ok(err instanceof ConfigValidationError, String(err));
        assert.match(err.message, /--kv slatedb needs --strategy hash or --strategy cel .* got --strategy cluster/);
        return true;
      });
    });
  });

  test('CLI: build --kv sqlite --backend sqlite-vec (hash, the default with --kv) publishes a KV snapshot; --kv sqlite --backend lancedb fails', async () => {
    const storePath = join(dir.path, 'store-cli');
    const input = await jsonl(lines.slice(0, 200));
    const cli = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
      try {
        const { stdout, stderr } = await execFileP(process.execPath, [BIN, ...args], { env: { ...process.env, SHARDFLEET_LOG_LEVEL: 'error' } });
        return { code: 0, stdout, stderr };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    };
    // No --strategy: --kv defaults to hash (issue 23; it used to be refused as cluster).
    const ok = await cli(['build', '--store', storePath, '--input', input, '--num-dbs', '3', '--kv', 'sqlite', '--backend', 'sqlite-vec', '--no-progress']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /published run .*\(hash, sqlite-vec\), kv sqlite \(string keys\)/);
    const store = new FileObjectStore(storePath);
    const pointer = parseCurrentPointer(await store.get(CURRENT_KEY));
    const manifest = parseManifest(await store.get(pointer.manifest_ref), pointer.manifest_ref);
    assert.deepEqual(manifest.kv, { backend: 'sqlite', key_type: 'string' });
    assert.equal(manifest.shards.reduce((s, sh) => s + (sh.kv_entries ?? 0), 0), 200);

    const bad = await cli(['build', '--store', storePath, '--input', input, '--strategy', 'hash', '--num-dbs', '3', '--kv', 'sqlite', '--backend', 'lancedb', '--no-progress']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--kv sqlite .*needs --backend sqlite-vec, got --backend lancedb/);
    assert.equal(parseCurrentPointer(await store.get(CURRENT_KEY)).run_id, pointer.run_id);
  });
});

describe('KV + vector snapshots on an S3 server (s3rver)', () => {
  let s3: S3rverHandle;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const lines = Array.from({ length: N }, (_, i) => line(i));
  let input: string;
  before(async () => {
    s3 = await startS3rver();
    dir = await tempDir('kv-snapshot-s3');
    input = join(dir.path, 'input.jsonl');
    await writeFile(input, lines.map((l) => JSON.stringify(l)).join('\n'));
  });
  after(async () => {
    await s3.stop();
    await dir.remove();
  });

  test('single-process build, --kv slatedb --backend usearch', async () => {
    const store = openObjectStore(s3.url('kv-single'), s3.connection);
    try {
      const source = await openJsonlSource({ path: input });
      const result = await buildSnapshot({ store, source, sharding: { strategy: 'hash', numDbs: NUM_DBS }, backend: { backend: 'usearch' }, metric: 'l2', kv: { backend: 'slatedb' }, progress: false, log: quietLogger() });
      const stored = parseManifest(await store.get(result.manifestKey), result.manifestKey);
      assert.deepEqual(stored.kv, { backend: 'slatedb', key_type: 'string' });
      const dirs = await download(store, stored, join(dir.path, 'dl-single'));
      await checkKv(stored, lines, (d, id) => SlateDbKvReader.open(d, id), dirs);
    } finally {
      await store.close();
    }
  });

  test('distributed build (plan, 2 workers, publish), --kv sqlite --backend sqlite-vec', async () => {
    const store = openObjectStore(s3.url('kv-dist'), s3.connection);
    try {
      const plan = await planDistributedBuild({
        store,
        source: await openJsonlSource({ path: input }),
        sharding: { strategy: 'hash', numDbs: NUM_DBS },
        backend: { backend: 'sqlite-vec' },
        metric: 'l2',
        kv: { backend: 'sqlite' },
        runId: 'kv-dist-1',
        progress: false,
        log: quietLogger(),
      });
      assert.deepEqual(plan.kv, { backend: 'sqlite', key_type: 'string' });
      // The workers exchange partitions, so they run at once.
      await Promise.all([0, 1].map(async (index) => runBuildWorker({ store, runId: plan.run_id, source: await openJsonlSource({ path: input }), worker: { index, count: 2 }, progress: false, pollMs: 50, log: quietLogger() })));
      const result = await publishRun({ store, runId: plan.run_id, log: quietLogger() });
      assert.equal(parseCurrentPointer(await store.get(CURRENT_KEY)).run_id, 'kv-dist-1');
      assert.deepEqual(result.manifest.kv, { backend: 'sqlite', key_type: 'string' });
      const dirs = await download(store, result.manifest, join(dir.path, 'dl-dist'));
      await checkKv(result.manifest, lines, async (d, id) => SqliteKvReader.open(d, 'shard.sqlite', id), dirs);
    } finally {
      await store.close();
    }
  });
});

describe('shard writers with a KV store (the writer-side backstop)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    dir = await tempDir('kv-shard-writers');
  });
  after(async () => {
    await dir.remove();
  });
  const enc = new TextEncoder();
  const rows = (keys: string[]) => ({
    ids: keys.map((k) => `id-${k}`),
    vectors: Float32Array.from({ length: keys.length * 4 }, (_, i) => i + 1),
    payloads: keys.map(() => null),
    keys: keys.map((k) => enc.encode(k)),
    values: keys.map((k) => enc.encode(`v-${k}`)),
  });
  const cases: [string, IndexConfig, KvSpec][] = [
    ['unified sqlite-vec (worker thread)', { dim: 4, metric: 'l2', backend: 'sqlite-vec', index_type: 'flat', index_params: { quantization: 'none' } }, { backend: 'sqlite', key_type: 'string' }],
    ['composite lancedb + SlateDB', { dim: 4, metric: 'l2', backend: 'lancedb', index_type: 'auto', index_params: {} }, { backend: 'slatedb', key_type: 'string' }],
  ];
  for (const [name, index, kv] of cases) {
    test(`${name}: finish reports kvEntries; a duplicate key fails naming it and abort removes the KV files`, async () => {
      const factory = await openShardWriterFactory(index, 1, kv);
      try {
        const okDir = join(dir.path, `${kv.backend}-ok`);
        await mkdir(okDir, { recursive: true });
        const ok = factory.create(okDir, 0);
        await ok.add(rows(['a', 'b']));
        await ok.add(rows(['c']));
        const built = await ok.finish();
        assert.equal(built.vectorCount, 3);
        assert.equal(built.kvEntries, 3);

        const badDir = join(dir.path, `${kv.backend}-dup`);
        await mkdir(badDir, { recursive: true });
        const bad = factory.create(badDir, 1);
        await bad.add(rows(['x', 'y']));
        await assert.rejects(
          (async () => {
            await bad.add(rows(['z', 'x']));
            await bad.finish();
          })(),
          /duplicate key "x"/,
        );
        await bad.abort();
        // The KV store's files are gone (LanceDB's abort leaves its table folder; the build's work dir is removed anyway).
        assert.ok(!existsSync(join(badDir, 'kv')), `abort left ${readdirSync(badDir).join(', ')}`);
        assert.ok(!existsSync(join(badDir, 'shard.sqlite')), 'abort left the sqlite-vec file');
      } finally {
        await factory.close();
      }
    });
  }
});
