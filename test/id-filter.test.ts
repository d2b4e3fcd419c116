/**
 * Per-shard id filters (Get-by-id routing): the Bloom filter itself (no false negatives, measured
 * false-positive rate, format roundtrip, corrupt files named), the writer writing `id-filter.bin`
 * into every non-empty shard of non-HASH builds (single-process and distributed), and
 * loadIdFilters picking the shard that really holds each id, verified against the manifest.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { xxh3 } from '@node-rs/xxhash';
import Database from 'better-sqlite3';
import { ShardIntegrityError, StorageError } from '../src/common/errors.ts';
import { sha256Hex } from '../src/common/file-digest.ts';
import { parseManifest, type Manifest } from '../src/common/manifest.ts';
import {
  DEFAULT_BITS_PER_KEY,
  ID_FILTER_FILE,
  ID_FILTER_HEADER_BYTES,
  ID_FILTER_SEED,
  IdFilter,
  IdFilterBuilder,
  hashCountFor,
} from '../src/common/routing/id-filter.ts';
import { loadIdFilters } from '../src/common/routing/id-filter-set.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { USEARCH_ROWS_FILE } from '../src/common/usearch-layout.ts';
import { buildSnapshot } from '../src/writer/build-snapshot.ts';
import { planDistributedBuild, publishRun, runBuildWorker } from '../src/writer/distributed-build.ts';
import { openJsonlSource } from '../src/writer/input/jsonl-source.ts';
import { buildFashionSnapshot, quietLogger, tempDir, TINY_JSONL } from './helpers/fixtures.ts';

const N = 20_000;
const present = Array.from({ length: N }, (_, i) => `rec-${i}`);
const absent = Array.from({ length: N }, (_, i) => `absent-${i}`);

describe('IdFilter', () => {
  test(`no false negatives for ${N} ids; false-positive rate on ${N} absent ids < 2% at 10 bits/id`, () => {
    const filter = IdFilter.build(present, N);
    assert.equal(filter.count, N);
    assert.equal(filter.numHashes, 7);
    assert.equal(hashCountFor(DEFAULT_BITS_PER_KEY), 7);
    for (const id of present) assert.ok(filter.mightContain(id), `false negative for ${id}`);
    const fp = absent.filter((id) => filter.mightContain(id)).length;
    const rate = fp / N;
    const bytes = filter.serialize().length;
    console.log(`# id filter: ${fp} false positives of ${N} absent ids = ${(rate * 100).toFixed(3)}% (theory ${(100 * (1 - Math.exp(-7 / 10)) ** 7).toFixed(3)}%); ${bytes} bytes = ${(bytes / N).toFixed(4)} bytes/id`);
    assert.ok(rate < 0.02, `false-positive rate ${rate}`);
    assert.equal(bytes, ID_FILTER_HEADER_BYTES + (N * 10) / 8);
  });

  test('the incremental builder gives the same filter as build(); unicode ids hash as UTF-8', () => {
    const builder = new IdFilterBuilder();
    const ids = [...present.slice(0, 3000), 'é', 'e\u0301', '日本語', '🙂'];
    for (const id of ids) builder.add(id);
    assert.equal(builder.count, ids.length);
    const a = builder.build().serialize();
    const b = IdFilter.build(ids, ids.length).serialize();
    assert.deepEqual(a, b);
    const f = IdFilter.parse(a, 'x');
    for (const id of ids) assert.ok(f.mightContain(id));
    assert.throws(() => IdFilter.build(['a', 'b', 'c'], 2), RangeError);
    // The filter hashes the string natively; that must equal xxh3_64 of its UTF-8 bytes.
    const utf8 = new TextEncoder();
    for (const id of [...ids.slice(-4), 'lone \uD800 surrogate', '']) {
      assert.equal(xxh3.xxh64(id, ID_FILTER_SEED), xxh3.xxh64(utf8.encode(id), ID_FILTER_SEED), JSON.stringify(id));
    }
  });

  test('serialize / parse roundtrip keeps the header and every answer; an empty filter is valid', () => {
    const filter = IdFilter.build(present.slice(0, 1000), 1000, 12);
    const bytes = filter.serialize();
    assert.equal(Buffer.from(bytes.subarray(0, 8)).toString('latin1'), 'SFIDBLM1');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    assert.equal(view.getUint32(8, true), 1);
    assert.equal(view.getUint32(12, true), 8);
    assert.equal(view.getBigUint64(16, true), 12000n);
    assert.equal(view.getBigUint64(24, true), 1000n);
    const back = IdFilter.parse(bytes, 'mem');
    assert.equal(back.numBits, 12000);
    assert.equal(back.numHashes, 8);
    assert.equal(back.count, 1000);
    assert.deepEqual(back.serialize(), bytes);
    for (const id of [...present.slice(0, 2000), ...absent.slice(0, 2000)]) assert.equal(back.mightContain(id), filter.mightContain(id), id);
    const empty = IdFilter.parse(IdFilter.build([], 0).serialize(), 'empty');
    assert.equal(empty.numBits, 64);
    assert.equal(empty.mightContain('anything'), false);
  });

  test('truncated, wrong-magic and inconsistent bytes throw ShardIntegrityError naming the source', () => {
    const good = IdFilter.build(present.slice(0, 100), 100).serialize();
    const source = 'shard 3 file runs/r/shards/db=00003/id-filter.bin';
    const bad = (bytes: Uint8Array, pattern: RegExp) =>
      assert.throws(() => IdFilter.parse(bytes, source), (err: unknown) => {
        assert.ok(err instanceof ShardIntegrityError, String(err));
        assert.ok(err.message.includes(source), err.message);
        assert.match(err.message, pattern);
        return true;
      });
    bad(good.subarray(0, 10), /truncated/);
    bad(good.subarray(0, good.length - 1), /truncated/);
    bad(new Uint8Array([...good, 0]), /needs/);
    const magic = Uint8Array.from(good);
    magic[0] = 'X'.charCodeAt(0);
    bad(magic, /bad magic/);
    const version = Uint8Array.from(good);
    version[8] = 2;
    bad(version, /version 2/);
    const hashes = Uint8Array.from(good);
    new DataView(hashes.buffer).setUint32(12, 0, true);
    bad(hashes, /num_hashes 0/);
    const bits = Uint8Array.from(good);
    new DataView(bits.buffer).setBigUint64(16, 1001n, true);
    bad(bits, /num_bits 1001/);
  });
});

/** Every shard's ids, read from its usearch rows.sqlite in the store: db id -> ids. */
async function idsByShard(store: FileObjectStore, manifest: Manifest, scratch: string): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  await mkdir(scratch, { recursive: true });
  for (const shard of manifest.shards) {
    if (shard.vector_count === 0) continue;
    const local = join(scratch, `rows-${manifest.run_id}-${shard.db_id}.sqlite`);
    await store.download(shard.url + USEARCH_ROWS_FILE, local, { maxBytes: shard.files.find((f) => f.path === USEARCH_ROWS_FILE)!.bytes });
    const db = new Database(local, { readonly: true });
    try {
      out.set(shard.db_id, (db.prepare('SELECT id FROM rows').all() as { id: string }[]).map((r) => r.id));
    } finally {
      db.close();
    }
  }
  return out;
}

describe('the writer writes id-filter.bin and loadIdFilters routes ids', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: FileObjectStore;
  let cluster: Manifest;
  let clusterKey: string;
  before(async () => {
    dir = await tempDir('id-filter');
    store = new FileObjectStore(join(dir.path, 'store'));
    const built = await buildFashionSnapshot(store, { limit: 2000, numDbs: 4 });
    cluster = built.manifest;
    clusterKey = built.manifestKey;
  });
  after(async () => {
    await store.close();
    await dir.remove();
  });

  test('a CLUSTER build (Fashion-MNIST 2,000 x 784, 4 shards): every shard lists its filter; candidates hold each id, < 1.1 shards per id', async () => {
    const stored = parseManifest(await store.get(clusterKey), clusterKey);
    assert.deepEqual(stored.shards, cluster.shards);
    const held = await idsByShard(store, cluster, join(dir.path, 'rows'));
    for (const shard of cluster.shards) {
      assert.ok(shard.vector_count > 0);
      const entry = shard.files.find((f) => f.path === ID_FILTER_FILE);
      assert.ok(entry, `shard ${shard.db_id} lists ${ID_FILTER_FILE}`);
      assert.equal(entry.bytes, ID_FILTER_HEADER_BYTES + Math.ceil(Math.max(64, shard.vector_count * 10) / 8));
      assert.equal(held.get(shard.db_id)?.length, shard.vector_count);
    }
    const set = await loadIdFilters(store, cluster);
    assert.equal(set.filteredShards, 4);
    assert.deepEqual(set.unfiltered, []);
    let total = 0;
    let ids = 0;
    for (const [dbId, shardIds] of held) {
      for (const id of shardIds) {
        const c = set.candidates(id);
        assert.ok(c.includes(dbId), `id ${id} is in shard ${dbId}, candidates ${c}`);
        assert.deepEqual(c, [...c].sort((a, b) => a - b));
        total += c.length;
        ids++;
      }
    }
    assert.equal(ids, 2000);
    const mean = total / ids;
    const absentMean = absent.slice(0, 5000).reduce((s, id) => s + set.candidates(id).length, 0) / 5000;
    console.log(`# cluster build: ${mean.toFixed(4)} candidate shards per held id, ${absentMean.toFixed(4)} per absent id; filters ${set.bytes} bytes for 2000 ids (${(set.bytes / 2000).toFixed(3)} bytes/id)`);
    assert.ok(mean < 1.1, `mean candidates ${mean}`);
  });

  test('a shard without a filter in its files (older snapshot) is always a candidate; empty shards never are', async () => {
    const old: Manifest = structuredClone(cluster);
    old.shards[2].files = old.shards[2].files.filter((f) => f.path !== ID_FILTER_FILE);
    old.shards[3] = { ...old.shards[3], files: [], vector_count: 0, index_type: 'empty' };
    const set = await loadIdFilters(store, old);
    assert.deepEqual(set.unfiltered, [2]);
    assert.equal(set.filteredShards, 2);
    for (const id of absent.slice(0, 200)) {
      const c = set.candidates(id);
      assert.ok(c.includes(2));
      assert.ok(!c.includes(3));
    }
  });

  test('a tampered or missing filter file fails loadIdFilters naming the shard and file', async () => {
    const victim = cluster.shards[1];
    const key = victim.url + ID_FILTER_FILE;
    const original = await store.get(key);
    try {
      const tampered = Buffer.from(original);
      tampered[tampered.length - 1] ^= 0xff;
      await store.put(key, tampered);
      await assert.rejects(loadIdFilters(store, cluster), (err: unknown) => {
        assert.ok(err instanceof ShardIntegrityError, String(err));
        assert.match(err.message, /shard 1 of run .*id filter runs\/.*\/shards\/db=00001\/id-filter\.bin has sha256 [0-9a-f]{64}/);
        return true;
      });
      // A manifest that matches corrupt bytes still fails: the parser names the shard and file.
      const garbage = Buffer.from('not a filter at all, just some bytes here');
      await store.put(key, garbage);
      const lying: Manifest = structuredClone(cluster);
      const entry = lying.shards[1].files.find((f) => f.path === ID_FILTER_FILE)!;
      entry.bytes = garbage.length;
      entry.sha256 = sha256Hex(garbage);
      await assert.rejects(loadIdFilters(store, lying), (err: unknown) => {
        assert.ok(err instanceof ShardIntegrityError);
        assert.match(err.message, /shard 1 of run .*db=00001\/id-filter\.bin: not a valid id filter: bad magic/);
        return true;
      });
      await store.delete(key);
      await assert.rejects(loadIdFilters(store, cluster), (err: unknown) => {
        assert.ok(err instanceof StorageError);
        assert.match(err.message, /shard 1 of run .*db=00001\/id-filter\.bin is listed in the manifest but missing/);
        return true;
      });
    } finally {
      await store.put(key, original);
    }
    assert.equal((await loadIdFilters(store, cluster)).filteredShards, 4);
  });

  test('a HASH build writes no filter; its non-empty shards are all unfiltered candidates', async () => {
    const result = await buildSnapshot({
      store,
      source: await openJsonlSource({ path: TINY_JSONL }),
      sharding: { strategy: 'hash', numDbs: 3 },
      metric: 'l2',
      progress: false,
      log: quietLogger(),
    });
    for (const shard of result.manifest.shards) assert.ok(!shard.files.some((f) => f.path === ID_FILTER_FILE), `shard ${shard.db_id}`);
    const set = await loadIdFilters(store, result.manifest);
    assert.equal(set.filteredShards, 0);
    const nonEmpty = result.manifest.shards.filter((s) => s.vector_count > 0).map((s) => s.db_id);
    assert.deepEqual(set.candidates('t00'), nonEmpty);
  });

  test('a distributed EXPLICIT build (sqlite-vec, 2 workers) writes filters for its non-empty shards, none for the empty one', async () => {
    const log = quietLogger();
    const tiny = (await readFile(TINY_JSONL, 'utf8'))
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as { id: string });
    const path = join(dir.path, 'explicit.jsonl');
    await writeFile(path, tiny.map((r, i) => JSON.stringify({ ...r, shard_id: i % 3 })).join('\n')); // shard 3 stays empty
    const common = { store, sharding: { strategy: 'explicit', numDbs: 4 } as const, backend: { backend: 'sqlite-vec' } as const, metric: 'l2' as const, progress: false, log };
    const plan = await planDistributedBuild({ ...common, source: await openJsonlSource({ path }) });
    await Promise.all([0, 1].map(async (index) => runBuildWorker({ store, runId: plan.run_id, source: await openJsonlSource({ path }), worker: { index, count: 2 }, progress: false, pollMs: 50, log })));
    const { manifest } = await publishRun({ store, runId: plan.run_id, log });
    assert.deepEqual(manifest.shards.map((s) => s.vector_count), [14, 13, 13, 0]);
    assert.deepEqual(manifest.shards[3].files, []);
    for (const shard of manifest.shards.slice(0, 3)) assert.ok(shard.files.some((f) => f.path === ID_FILTER_FILE), `shard ${shard.db_id}`);
    const set = await loadIdFilters(store, manifest);
    assert.equal(set.filteredShards, 3);
    tiny.forEach((r, i) => assert.ok(set.candidates(r.id).includes(i % 3), r.id));
    assert.ok(tiny.every((r) => !set.candidates(r.id).includes(3)));
  });
});
