/**
 * Issue 21: a shardyfusion prefix read in process (FileObjectStore over the unpacked genuine
 * samples): the translation of every sample compared with shardyfusion's own recorded manifest
 * (`expected/<name>.json` `published`), and "bad input gets a clear error and loses nothing":
 * - every malformed pointer / manifest gives its error class with a message naming `_CURRENT` or
 *   the manifest key and the field, bounded; a cold router (loadSnapshot) falls back to the
 *   earlier valid run when one exists, else throws that error;
 * - a missing, truncated or altered `shard.db` fails only that shard's load on a node
 *   (loadShard: download + verify + open), naming the shard and the file;
 * - `shardfleet build` (also `--plan`, `--worker`), `publish`, `rollback`, `cleanup` (real CLI
 *   processes) refuse a shardyfusion prefix, also when its `_CURRENT` is malformed or missing, and
 *   leave every file as it was (names, sizes, mtimes); `shardfleet history` lists its runs.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { cpSync, existsSync, openSync, closeSync, readFileSync, readSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Registry } from 'prom-client';
import { ManifestParseError, ShardIntegrityError, SnapshotNotFoundError, StorageError, VectorIndexError } from '../src/common/errors.ts';
import { CURRENT_KEY, parseCurrentPointer, type Manifest } from '../src/common/manifest.ts';
import { loadSnapshot } from '../src/common/snapshot-loader.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { createNodeMetrics } from '../src/shard-node/node-metrics.ts';
import { loadShard, type ShardLoaderDeps } from '../src/shard-node/run-loader.ts';
import { TINY_JSONL, quietLogger, tempDir } from './helpers/fixtures.ts';
import {
  SHARDYFUSION_SAMPLES,
  expectedSample,
  publishShardyfusionRunCopy,
  sampleQueries,
  unpackShardyfusionSamples,
  type ShardyfusionSample,
  type UnpackedSamples,
} from './helpers/shardyfusion-samples.ts';
import { treeState } from './helpers/tree-state.ts';

let samples: UnpackedSamples;
let work: Awaited<ReturnType<typeof tempDir>>;
let copies = 0;
before(async () => {
  samples = unpackShardyfusionSamples();
  work = await tempDir('sf-manifest-');
});
after(async () => {
  samples?.remove();
  await work?.remove();
});

/** A fresh copy of sample `name`'s prefix folder (tests may damage it). */
function copyOf(name: ShardyfusionSample): string {
  const dir = join(work.path, `${name}-${copies++}`);
  cpSync(samples.prefixDir(name), dir, { recursive: true });
  return dir;
}

/** The `_CURRENT` of a prefix folder, parsed as JSON. */
function pointerJson(prefixDir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(prefixDir, CURRENT_KEY), 'utf8')) as Record<string, unknown>;
}

/** The key of the manifest `_CURRENT` names (`manifests/<ts>_run_id=<id>/manifest`). */
function currentManifestKey(prefixDir: string): string {
  const ref = String(pointerJson(prefixDir).manifest_ref);
  return ref.slice(ref.lastIndexOf('/manifests/') + 1);
}

/** Rewrites the SQLite manifest at `key` of `prefixDir` through `edit` (a copy, serialized back). */
function editManifest(prefixDir: string, key: string, edit: (db: Database.Database) => void): void {
  const db = new Database(readFileSync(join(prefixDir, key)));
  try {
    edit(db);
    writeFileSync(join(prefixDir, key), db.serialize());
  } finally {
    db.close();
  }
}

/** Sets `custom.vector.<field>` (JSON path) of the manifest at `key`. */
function setVectorField(prefixDir: string, key: string, field: string, value: unknown): void {
  editManifest(prefixDir, key, (db) => db.prepare(`UPDATE build_meta SET custom = json_set(custom, '$.vector.${field}', json(?))`).run(JSON.stringify(value)));
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  assert.fail('expected a rejection');
}

/** Size of a file under a prefix folder. */
function sizeOf(prefixDir: string, key: string): number {
  return statSync(join(prefixDir, key)).size;
}

// ---------------------------------------------------------------------------------------------

describe('translation of every genuine sample equals shardyfusion’s recorded manifest', () => {
  for (const name of SHARDYFUSION_SAMPLES) {
    it(name, async () => {
      const want = expectedSample(name);
      const bm = want.published.build_meta;
      const custom = JSON.parse(String(bm.custom)) as { vector: Record<string, unknown>; sqlite_sidecar?: unknown };
      const prefixDir = samples.prefixDir(name);
      const loaded = await loadSnapshot(new FileObjectStore(prefixDir));
      const m: Manifest = loaded.manifest;
      assert.equal(loaded.fallbackFrom, undefined);
      assert.equal(loaded.manifestKey, currentManifestKey(prefixDir));
      assert.equal(loaded.pointer?.format, 'shardyfusion');
      assert.equal(loaded.pointer?.run_id, bm.run_id);
      assert.equal(loaded.publishedAt, new Date(Date.parse(String(pointerJson(prefixDir).updated_at))).toISOString());

      assert.equal(m.format, 'shardyfusion');
      assert.equal(m.run_id, bm.run_id);
      assert.equal(m.sharding.num_dbs, bm.num_dbs);
      assert.equal(m.index.dim, 784);
      assert.equal(m.index.metric, custom.vector.metric);
      assert.equal(m.index.backend, 'sqlite-vec');
      const unified = custom.vector.unified === true;
      if (unified) {
        assert.equal(m.sharding.strategy, 'hash');
        assert.equal(m.sharding.num_probes, bm.num_dbs, 'a unified search probes every shard');
        assert.deepEqual(m.kv, { backend: 'sqlite', key_type: bm.key_encoding === 'utf8' ? 'string' : 'int', key_encoding: bm.key_encoding });
      } else {
        assert.equal(m.sharding.strategy, custom.vector.sharding_strategy);
        assert.equal(m.sharding.num_probes, custom.vector.num_probes ?? 1);
        assert.equal(m.kv, undefined);
      }
      if (m.sharding.strategy === 'cluster') assert.equal(m.sharding.centroids.ref, `vector_meta/run_id=${bm.run_id}/centroids.npy`);
      if (m.sharding.strategy === 'lsh') {
        assert.equal(m.sharding.hyperplanes.ref, `vector_meta/run_id=${bm.run_id}/hyperplanes.npy`);
        assert.equal(m.sharding.num_hash_bits, 8);
      }

      const origin = m.shardyfusion;
      assert.ok(origin);
      assert.equal(origin.format_version, 4);
      assert.equal(origin.s3_prefix, bm.s3_prefix);
      assert.equal(origin.manifest_url, pointerJson(prefixDir).manifest_ref);
      assert.equal(origin.created_at, bm.created_at);
      assert.equal(origin.key_col, bm.key_col);
      assert.equal(origin.key_encoding, bm.key_encoding);
      assert.equal(origin.layout, unified ? 'unified' : 'vector');
      assert.equal(m.created_at, new Date(Date.parse(String(bm.created_at))).toISOString());

      const rows = want.published.shards as Array<{ db_id: number; db_url: string; row_count: number; db_bytes: number; checkpoint_id: string }>;
      assert.equal(m.shards.length, bm.num_dbs);
      for (const row of rows) {
        const s = m.shards[row.db_id];
        assert.equal(s.db_id, row.db_id);
        assert.equal(s.url, `${row.db_url.slice(String(bm.s3_prefix).length + 1)}/`);
        assert.match(s.url, /^shards\/run_id=[^/]+\/db=\d{5}\/attempt=00\/$/);
        assert.equal(s.vector_count, row.row_count);
        assert.equal(s.checkpoint_id, row.checkpoint_id);
        assert.deepEqual(s.files, [
          { path: 'shard.db', bytes: row.db_bytes },
          { path: 'shard.sidecar', bytes: sizeOf(prefixDir, `${s.url}shard.sidecar`) },
        ]);
        assert.equal(sizeOf(prefixDir, `${s.url}shard.db`), row.db_bytes, 'db_bytes is the size of shard.db');
      }
      assert.equal(m.build_stats.total_vectors, 2000);
    });
  }

  it('a db_id absent from the shards table is an empty shard (no files, 0 vectors)', async () => {
    const prefixDir = copyOf('fm-explicit-l2');
    editManifest(prefixDir, currentManifestKey(prefixDir), (db) => db.prepare('DELETE FROM shards WHERE db_id = 1').run());
    const m = (await loadSnapshot(new FileObjectStore(prefixDir))).manifest;
    assert.equal(m.shards.length, 3);
    const runId = m.run_id;
    assert.deepEqual(
      { url: m.shards[1].url, files: m.shards[1].files, vector_count: m.shards[1].vector_count },
      { url: `shards/run_id=${runId}/db=00001/`, files: [], vector_count: 0 },
    );
    assert.equal(m.shards[0].files.length, 2);
    assert.equal(m.shards[2].files.length, 2);
    assert.equal(m.build_stats.total_vectors, 2000, 'total_vectors comes from custom.vector as written');
  });
});

// ---------------------------------------------------------------------------------------------

/** A broken pointer: what to write and what the error must say. */
interface PointerCase {
  name: string;
  change: (p: Record<string, unknown>) => void;
  /** The field the message must name. */
  field: RegExp;
}

const POINTER_CASES: PointerCase[] = [
  { name: 'an unknown manifest_content_type', change: (p) => (p.manifest_content_type = 'application/json'), field: /manifest_content_type "application\/json"/ },
  { name: 'no manifest_ref', change: (p) => delete p.manifest_ref, field: /has no manifest_ref/ },
  { name: 'an updated_at that is not a time', change: (p) => (p.updated_at = 'yesterday at noon'), field: /updated_at "yesterday at noon"/ },
  { name: 'a manifest_ref without /manifests/', change: (p) => (p.manifest_ref = 's3://sfkit/fm-cluster-l2/manifest'), field: /manifest_ref "s3:\/\/sfkit\/fm-cluster-l2\/manifest"/ },
];

describe('a malformed shardyfusion _CURRENT', () => {
  for (const c of POINTER_CASES) {
    it(`${c.name}: ManifestParseError naming _CURRENT and the field; a cold router serves the newest manifest, or fails with it when there is none`, async () => {
      const prefixDir = copyOf('fm-cluster-l2');
      const goodKey = currentManifestKey(prefixDir);
      const p = pointerJson(prefixDir);
      c.change(p);
      writeFileSync(join(prefixDir, CURRENT_KEY), JSON.stringify(p));
      const err = (() => {
        try {
          parseCurrentPointer(readFileSync(join(prefixDir, CURRENT_KEY)));
        } catch (e) {
          return e as Error;
        }
        return assert.fail('parseCurrentPointer accepted it');
      })();
      assert.ok(err instanceof ManifestParseError, String(err));
      assert.match(err.message, /_CURRENT/);
      assert.match(err.message, /shardyfusion/);
      assert.match(err.message, c.field);

      const loaded = await loadSnapshot(new FileObjectStore(prefixDir));
      assert.equal(loaded.manifestKey, goodKey);
      assert.equal(loaded.fallbackFrom?.key, CURRENT_KEY);
      assert.match(loaded.fallbackFrom?.reason ?? '', c.field);

      rmSync(join(prefixDir, 'manifests'), { recursive: true });
      const cold = await rejection(loadSnapshot(new FileObjectStore(prefixDir)));
      assert.ok(cold instanceof ManifestParseError, String(cold));
      assert.match(cold.message, /_CURRENT/);
      assert.match(cold.message, c.field);
    });
  }

  it('no _CURRENT at all: SnapshotNotFoundError naming _CURRENT and the store', async () => {
    const prefixDir = copyOf('fm-cluster-l2');
    rmSync(join(prefixDir, CURRENT_KEY));
    const err = await rejection(loadSnapshot(new FileObjectStore(prefixDir)));
    assert.ok(err instanceof SnapshotNotFoundError, String(err));
    assert.match(err.message, /_CURRENT does not exist/);
    assert.ok(err.message.includes(prefixDir));
  });
});

/** A broken manifest: how to damage a run, and what the error must say. */
interface ManifestCase {
  name: string;
  sample: ShardyfusionSample;
  /** Damages the run whose manifest is at `key` (run id `runId`) in `prefixDir`. */
  damage: (prefixDir: string, key: string, runId: string) => void;
  /** The field (and value) the message must name, besides the manifest key. */
  field: RegExp;
}

const MANIFEST_CASES: ManifestCase[] = [
  {
    name: 'a manifest that is not SQLite',
    sample: 'fm-cluster-l2',
    damage: (d, key) => writeFileSync(join(d, key), 'PK\u0003\u0004 this is a zip file, not a database'),
    field: /is not a SQLite database: it is \d+ bytes starting with "PK\\u0003\\u0004 this is a z"…, not "SQLite format 3"/,
  },
  {
    name: 'a truncated SQLite manifest',
    sample: 'fm-cluster-l2',
    damage: (d, key) => truncateSync(join(d, key), 1000),
    field: /is truncated: its header says 3 pages of 4096 bytes \(12288 bytes\) but the object has 1000 bytes/,
  },
  {
    name: 'no build_meta table',
    sample: 'fm-cluster-l2',
    damage: (d, key) => editManifest(d, key, (db) => db.exec('DROP TABLE build_meta')),
    field: /build_meta/,
  },
  {
    name: 'two build_meta rows',
    sample: 'fm-cluster-l2',
    damage: (d, key) => editManifest(d, key, (db) => db.exec('INSERT INTO build_meta SELECT * FROM build_meta')),
    field: /more than one build_meta row/,
  },
  {
    name: 'format_version 3',
    sample: 'fm-cluster-l2',
    damage: (d, key) => editManifest(d, key, (db) => db.exec('UPDATE build_meta SET format_version = 3')),
    field: /build_meta\.format_version is 3/,
  },
  {
    name: 'custom without vector (a KV-only snapshot)',
    sample: 'fm-unified-utf8-cosine',
    damage: (d, key) => editManifest(d, key, (db) => db.exec(`UPDATE build_meta SET custom = json_remove(custom, '$.vector')`)),
    field: /custom\.vector is absent.*key-value-only/,
  },
  {
    name: 'an unknown metric',
    sample: 'fm-lsh-cosine',
    damage: (d, key) => setVectorField(d, key, 'metric', 'hamming'),
    field: /custom\.vector\.metric "hamming"/,
  },
  {
    name: 'an unknown sharding_strategy',
    sample: 'fm-cluster-l2',
    damage: (d, key) => setVectorField(d, key, 'sharding_strategy', 'kd_tree'),
    field: /custom\.vector\.sharding_strategy "kd_tree" is not one of cluster, lsh, explicit, cel \(shardyfusion's vector strategies\)$/,
  },
  {
    name: 'a db_url outside s3_prefix',
    sample: 'fm-cluster-l2',
    damage: (d, key) => editManifest(d, key, (db) => db.exec(`UPDATE shards SET db_url = 's3://elsewhere/fm-cluster-l2/shards/db=00001/attempt=00' WHERE db_id = 1`)),
    field: /shards\.db_url of db_id 1 "s3:\/\/elsewhere\/fm-cluster-l2\/shards\/db=00001\/attempt=00" is not under the snapshot's s3_prefix/,
  },
  {
    name: 'a .. segment in a db_url',
    sample: 'fm-cluster-l2',
    damage: (d, key) => editManifest(d, key, (db) => db.exec(`UPDATE shards SET db_url = s3_prefix || '/shards/../../other/db=00002/attempt=00' FROM build_meta WHERE db_id = 2`)),
    field: /shards\.db_url of db_id 2 .*\.\./,
  },
  {
    name: 'a centroids_ref whose object is missing',
    sample: 'fm-cluster-l2',
    damage: (d, _key, runId) => rmSync(join(d, 'vector_meta', `run_id=${runId}`, 'centroids.npy')),
    field: /custom\.vector\.centroids_ref .*centroids\.npy.* missing/,
  },
  {
    name: 'a db_id not below num_dbs',
    sample: 'fm-cluster-l2',
    damage: (d, key) => editManifest(d, key, (db) => db.exec('UPDATE shards SET db_id = 7 WHERE db_id = 3')),
    field: /shards row with db_id 7 is not below build_meta\.num_dbs 4/,
  },
  {
    name: 'a backend pair lancedb + sqlite',
    sample: 'fm-unified-u64be-l2',
    damage: (d, key) => editManifest(d, key, (db) => db.exec(`UPDATE build_meta SET custom = json_set(custom, '$.vector.backend', 'lancedb', '$.vector.kv_backend', 'sqlite')`)),
    field: /custom\.vector backend \+ kv_backend "lancedb" \+ "sqlite" is not served/,
  },
];

describe('a malformed shardyfusion manifest', () => {
  for (const c of MANIFEST_CASES) {
    it(`${c.name}: ManifestParseError naming the manifest key and the field`, async () => {
      const prefixDir = copyOf(c.sample);
      const key = currentManifestKey(prefixDir);
      c.damage(prefixDir, key, String(pointerJson(prefixDir).run_id));
      const err = await rejection(loadSnapshot(new FileObjectStore(prefixDir)));
      assert.ok(err instanceof ManifestParseError, String(err));
      assert.ok(err.message.includes(`manifest ${key}`), err.message);
      assert.match(err.message, /shardyfusion/);
      assert.match(err.message, c.field);
      assert.match(err.message, /tried the current one and 0 earlier/);
    });

    it(`${c.name}, in a newer run: a cold router serves the earlier valid run`, async () => {
      const prefixDir = copyOf(c.sample);
      const older = pointerJson(prefixDir);
      const olderKey = currentManifestKey(prefixDir);
      const newer = publishShardyfusionRunCopy(prefixDir, { runId: 'ffffffff-0000-4000-8000-00000000000f', createdAt: new Date() });
      assert.equal(currentManifestKey(prefixDir), newer.manifestKey);
      c.damage(prefixDir, newer.manifestKey, newer.runId);
      const loaded = await loadSnapshot(new FileObjectStore(prefixDir));
      assert.equal(loaded.manifest.run_id, older.run_id);
      assert.equal(loaded.manifestKey, olderKey);
      assert.equal(loaded.fallbackFrom?.key, newer.manifestKey);
      assert.match(loaded.fallbackFrom?.reason ?? '', c.field);
    });
  }
});

describe('messages about shardyfusion input stay bounded (at most 64 characters of a bad value)', () => {
  const long = 'x'.repeat(5000);
  const cases: Array<{ name: string; sample: ShardyfusionSample; damage: (prefixDir: string, key: string) => void; field: RegExp }> = [
    { name: 'a 5000-character metric', sample: 'fm-cluster-l2', damage: (d, key) => setVectorField(d, key, 'metric', long), field: /custom\.vector\.metric "x{64}"…\(4936 more characters\)/ },
    { name: 'a 5000-character strategy', sample: 'fm-cluster-l2', damage: (d, key) => setVectorField(d, key, 'sharding_strategy', long), field: /sharding_strategy "x{64}"…\(4936 more characters\)/ },
    { name: 'a dim that is a large object', sample: 'fm-cluster-l2', damage: (d, key) => setVectorField(d, key, 'dim', { a: long }), field: /custom\.vector\.dim is "\{\\"a\\":\\"x{58}"…\(4944 more characters\), not a positive integer/ },
    {
      name: 'a 5000-character db_url',
      sample: 'fm-cluster-l2',
      damage: (d, key) => editManifest(d, key, (db) => db.prepare('UPDATE shards SET db_url = ? WHERE db_id = 0').run(`s3://elsewhere/${long}`)),
      field: /shards\.db_url of db_id 0 "s3:\/\/elsewhere\/x{49}"…\(4951 more characters\) is not under/,
    },
    {
      name: 'a 5000-character backend',
      sample: 'fm-unified-utf8-cosine',
      damage: (d, key) => setVectorField(d, key, 'backend', long),
      field: /backend \+ kv_backend "x{64}"…\(4936 more characters\) \+ "sqlite-vec" is not served/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const prefixDir = copyOf(c.sample);
      c.damage(prefixDir, currentManifestKey(prefixDir));
      const err = await rejection(loadSnapshot(new FileObjectStore(prefixDir)));
      assert.ok(err instanceof ManifestParseError, String(err));
      assert.match(err.message, c.field);
      assert.ok(err.message.length < 600, `${err.message.length} characters: ${err.message.slice(0, 300)}`);
    });
  }

  for (const [field, value] of [
    ['manifest_content_type', long],
    ['updated_at', long],
    ['manifest_ref', `s3://sfkit/${'y'.repeat(3000)}`],
  ] as const) {
    it(`a long _CURRENT ${field}`, () => {
      const p = { format_version: 1, manifest_content_type: 'application/x-sqlite3', manifest_ref: 's3://sfkit/p/manifests/2026-12-06T07:28:43.060251Z_run_id=r/manifest', run_id: 'r', updated_at: '2026-12-06T07:28:43.060515Z', [field]: value };
      assert.throws(
        () => parseCurrentPointer(JSON.stringify(p)),
        (err: Error) => err instanceof ManifestParseError && err.message.includes(`_CURRENT (shardyfusion)`) && err.message.includes(field) && err.message.length < 400,
      );
    });
  }
});

// ---------------------------------------------------------------------------------------------

describe('a damaged shard file fails only that shard on a node (loadShard: download, verify, open)', () => {
  const metrics = createNodeMetrics(new Registry());
  const want = expectedSample('fm-unified-utf8-cosine');
  const query = sampleQueries()[want.queries[0].query_index];

  /** A damaged copy of the unified utf8 sample (4 shards), its manifest and a loader over it. */
  async function damaged(damage: (shardDir: string) => void): Promise<{ deps: ShardLoaderDeps; manifest: Manifest; shardDb: string; cacheDir: string }> {
    const prefixDir = copyOf('fm-unified-utf8-cosine');
    const manifest = (await loadSnapshot(new FileObjectStore(prefixDir))).manifest;
    damage(join(prefixDir, manifest.shards[2].url));
    const cacheDir = join(prefixDir, '..', `${prefixDir.split('/').pop()}-cache`);
    const deps: ShardLoaderDeps = { store: new FileObjectStore(prefixDir), cacheDir, log: quietLogger(), metrics };
    return { deps, manifest, shardDb: `${manifest.shards[2].url}shard.db`, cacheDir };
  }

  /** Every other shard loads, searches and gets as shardyfusion recorded; the damaged one leaves no cache folder. */
  async function othersServe(deps: ShardLoaderDeps, manifest: Manifest, cacheDir: string): Promise<void> {
    for (const entry of manifest.shards) {
      if (entry.db_id === 2) continue;
      const loaded = await loadShard(deps, manifest, entry, false);
      try {
        const hits = await loaded.reader.search(query, 10, false, {});
        assert.equal(hits.length, 10, `shard ${entry.db_id} answers`);
        const get = (want.kv_get ?? []).find((g) => g.shard === entry.db_id && g.present);
        assert.ok(get);
        const [value] = (await loaded.reader.kv?.getMany([Buffer.from(get.key_str, 'utf8')])) ?? [];
        assert.equal(Buffer.from(value ?? []).toString('utf8'), get.value, `key ${get.key_str} on shard ${entry.db_id}`);
      } finally {
        loaded.reader.close();
      }
    }
    const runDir = join(cacheDir, manifest.run_id);
    assert.deepEqual(readdirSync(runDir).filter((e) => e.includes('db=00002')), [], 'nothing of shard 2 is left in the cache');
  }

  it('a missing shard.db: StorageError naming the shard, the file and the store', async () => {
    const { deps, manifest, shardDb, cacheDir } = await damaged((dir) => rmSync(join(dir, 'shard.db')));
    const err = await rejection(loadShard(deps, manifest, manifest.shards[2], false));
    assert.ok(err instanceof StorageError, String(err));
    assert.match(err.message, /^shard 2 of run /);
    assert.ok(err.message.includes(`file ${shardDb} is missing from ${deps.store.url}`), err.message);
    await othersServe(deps, manifest, cacheDir);
  });

  it('a truncated shard.db: ShardIntegrityError naming the shard, the file and both sizes', async () => {
    const { deps, manifest, shardDb, cacheDir } = await damaged((dir) => truncateSync(join(dir, 'shard.db'), 100_000));
    const err = await rejection(loadShard(deps, manifest, manifest.shards[2], false));
    assert.ok(err instanceof ShardIntegrityError, String(err));
    assert.ok(err.message.includes(`shard 2 of run ${manifest.run_id}: file ${shardDb} is 100000 bytes but the manifest says ${manifest.shards[2].files[0].bytes} bytes`), err.message);
    await othersServe(deps, manifest, cacheDir);
  });

  it('a shard.db changed in place (same size): the sidecar ETag check names the shard and the file', async () => {
    const { deps, manifest, cacheDir } = await damaged((dir) => {
      const file = join(dir, 'shard.db');
      const size = statSync(file).size;
      const fd = openSync(file, 'r+');
      try {
        const at = Math.floor(size / 2);
        const b = Buffer.alloc(64);
        readSync(fd, b, 0, 64, at);
        for (let i = 0; i < b.length; i++) b[i] ^= 0xff;
        writeSync(fd, b, 0, 64, at);
      } finally {
        closeSync(fd);
      }
      assert.equal(statSync(file).size, size);
    });
    const err = await rejection(loadShard(deps, manifest, manifest.shards[2], false));
    assert.ok(err instanceof VectorIndexError, String(err));
    assert.ok(err.message.startsWith(`shard 2 file ${manifest.shards[2].url}shard.db (downloaded to `), err.message);
    assert.match(err.message, /db=00002\/shard\.db\): the file's MD5 is [0-9a-f]{32}, but .*shard\.sidecar binds the ETag "?[0-9a-f]{32}"? shardyfusion read after uploading it: the file is not the one shardyfusion wrote/);
    await othersServe(deps, manifest, cacheDir);
    assert.equal(existsSync(join(cacheDir, manifest.run_id, 'db=00002')), false);
  });
});

// ---------------------------------------------------------------------------------------------

const BIN = fileURLToPath(new URL('../bin/shardfleet.js', import.meta.url));
const execFileAsync = promisify(execFile);

/** Runs the shardfleet CLI as a user does (`bin/shardfleet.js` in a child process). */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [BIN, ...args], { env: { ...process.env, SHARDFLEET_LOG_LEVEL: 'error' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('writing commands refuse a shardyfusion prefix and change nothing in it (CLI processes)', () => {
  const olderRun = expectedSample('fm-cluster-l2').published.build_meta.run_id as string;
  const newerRun = 'aaaaaaaa-0000-4000-8000-00000000000a';
  /** A copy of fm-cluster-l2 with a second run published the way shardyfusion does. */
  function twoRunPrefix(): string {
    const prefixDir = copyOf('fm-cluster-l2');
    publishShardyfusionRunCopy(prefixDir, { runId: newerRun, createdAt: new Date() });
    return prefixDir;
  }
  const commands = (url: string): Array<{ name: string; args: string[]; action: string }> => [
    { name: 'build', args: ['build', '--store', url, '--input', TINY_JSONL, '--num-dbs', '2', '--no-progress'], action: 'build' },
    { name: 'build --plan', args: ['build', '--store', url, '--input', TINY_JSONL, '--num-dbs', '2', '--plan', '--run-id', 'planned'], action: 'build' },
    { name: 'build --worker', args: ['build', '--store', url, '--input', TINY_JSONL, '--worker', '0/1', '--run-id', 'planned', '--no-progress'], action: 'build shards' },
    { name: 'publish', args: ['publish', '--store', url, '--run-id', 'planned'], action: 'publish' },
    { name: 'rollback --offset', args: ['rollback', '--store', url, '--offset', '1'], action: 'roll back' },
    { name: 'rollback --run-id', args: ['rollback', '--store', url, '--run-id', olderRun], action: 'roll back' },
    { name: 'cleanup', args: ['cleanup', '--store', url, '--keep-runs', '1', '--orphan-grace-minutes', '0'], action: 'clean up' },
  ];

  /** Runs `names` of the commands against `prefixDir` and checks each refusal and the unchanged files. */
  async function refuses(prefixDir: string, names: readonly string[], evidence: RegExp): Promise<void> {
    const url = `file://${prefixDir}`;
    const before = treeState(prefixDir);
    for (const c of commands(url).filter((c) => names.includes(c.name))) {
      const out = await cli(c.args);
      assert.notEqual(out.code, 0, `${c.name} exited 0: ${out.stdout}`);
      assert.match(out.stderr, /ConfigValidationError: --store file:\/\/\S+ holds a shardyfusion snapshot/, `${c.name}: ${out.stderr}`);
      assert.ok(out.stderr.includes(`--store ${url} holds`), out.stderr);
      assert.match(out.stderr, evidence, c.name);
      assert.ok(out.stderr.includes(`shardfleet only reads shardyfusion snapshots and does not write into their prefix, so it will not ${c.action} there (nothing was written)`), `${c.name}: ${out.stderr}`);
      assert.deepEqual(treeState(prefixDir), before, `${c.name} changed the prefix`);
    }
  }

  it('with its valid _CURRENT: build, build --plan / --worker, publish, rollback, cleanup', async () => {
    await refuses(twoRunPrefix(), commands('').map((c) => c.name), new RegExp(`its _CURRENT is shardyfusion's \\(run ${newerRun}\\)`));
  });

  it('with a _CURRENT that is shardyfusion\'s but malformed: build, rollback, cleanup', async () => {
    const prefixDir = twoRunPrefix();
    const p = pointerJson(prefixDir);
    p.updated_at = 'not a time';
    writeFileSync(join(prefixDir, CURRENT_KEY), JSON.stringify(p));
    await refuses(prefixDir, ['build', 'rollback --run-id', 'cleanup'], /its _CURRENT is shardyfusion's \(it has shardyfusion's manifest_content_type field, though it does not validate\)/);
  });

  it('with no _CURRENT (a publish that stopped after the manifest): build, rollback, cleanup', async () => {
    const prefixDir = twoRunPrefix();
    rmSync(join(prefixDir, CURRENT_KEY));
    await refuses(prefixDir, ['build', 'rollback --run-id', 'cleanup'], /manifests\/\S+_run_id=\S+\/manifest is a shardyfusion manifest \(and there is no _CURRENT\)/);
  });

  it('history lists its runs, the current one marked, as a table and as --json', async () => {
    const prefixDir = twoRunPrefix();
    const before = treeState(prefixDir);
    const url = `file://${prefixDir}`;
    const table = await cli(['history', '--store', url]);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 3, table.stdout);
    assert.match(lines[1], new RegExp(`^\\*\\s+${newerRun}\\s+\\S+\\s+2000\\s+4\\s+cluster\\s+sqlite-vec\\s+12\\.6 MiB\\s+2\\s+-$`));
    assert.match(lines[2], new RegExp(`^\\s+${olderRun}\\s+2026-12-06T07:28:43\\.059Z\\s+2000\\s+4\\s+cluster\\s+sqlite-vec`));
    const json = await cli(['history', '--store', url, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const runs = JSON.parse(json.stdout) as Array<{ run_id: string; current: boolean; vectors: number; shards: number; strategy: string; backend: string; num_probes: number; manifest_key: string; bytes: number }>;
    assert.deepEqual(
      runs.map((r) => [r.run_id, r.current, r.vectors, r.shards, r.strategy, r.backend, r.num_probes]),
      [
        [newerRun, true, 2000, 4, 'cluster', 'sqlite-vec', 2],
        [olderRun, false, 2000, 4, 'cluster', 'sqlite-vec', 2],
      ],
    );
    const shards = expectedSample('fm-cluster-l2').published.shards as Array<{ db_bytes: number }>;
    assert.equal(runs[1].bytes, shards.reduce((s, r) => s + r.db_bytes, 0), 'bytes = the sum of db_bytes');
    assert.deepEqual(treeState(prefixDir), before);
  });
});
