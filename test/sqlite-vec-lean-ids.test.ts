/**
 * Lean get by id (issue 22, item 2) for sqlite-vec shards and the shared id hash table:
 * - new builds index `items(id)` (`items_id`) and the reader finds ids through it, holding no
 *   per-row state; older files (no index) go through an 8-byte-a-row id hash table built on the
 *   first get by id, never a `Map` of every id;
 * - get by id is exact on both: repeats, missing ids, case, and two ids whose 32-bit FNV-1a
 *   hashes collide (found by brute force: a real collision, no test hook);
 * - the JS heap does not grow with the ids of an open shard after a get by id (the reader before
 *   issue 22 kept a Map of every id: this test failed on it);
 * - the usearch reader's old-shard path and the shardyfusion sqlite-vec reader (same hash table
 *   module) handle the colliding pair too.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { IdHashTable, fnv1a32 } from '../src/common/id-hash-table.ts';
import { SQLITE_VEC_FILE_NAME, SQLITE_VEC_ID_INDEX } from '../src/common/sqlite-vec-layout.ts';
import { DEFAULT_USEARCH_PARAMS, USEARCH_ROWS_FILE } from '../src/common/usearch-layout.ts';
import { SqliteVecShardReader } from '../src/shard-node/sqlite-vec-shard-reader.ts';
import { ShardyfusionSqliteVecReader } from '../src/formats/shardyfusion/sqlite-vec-shard-reader.ts';
import * as sqliteVec from 'sqlite-vec';
import { UsearchShardReader } from '../src/shard-node/usearch-shard-reader.ts';
import { SqliteVecShardWriter } from '../src/writer/backends/sqlite-vec-shard-writer.ts';
import { USEARCH_ID_INDEX, UsearchShardWriter } from '../src/writer/backends/usearch-shard-writer.ts';
import { tempDir } from './helpers/fixtures.ts';

const dim = 8;

/** Two distinct ids with the same 32-bit FNV-1a hash (birthday search over `c<i>`, deterministic). */
function collidingPair(): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; ; i++) {
    const id = `c${i}`;
    const h = fnv1a32(id);
    const other = seen.get(h);
    if (other !== undefined) return [other, id];
    seen.set(h, id);
  }
}

/** Row r's vector: deterministic, distinct per row. */
function vectorOf(r: number): Float32Array {
  return Float32Array.from({ length: dim }, (_, d) => Math.sin(r * 0.37 + d * 1.3) + r * 1e-3);
}

describe('lean get by id: sqlite-vec shards and the id hash table', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const [collideA, collideB] = collidingPair();
  const n = 2000;
  // The colliding pair sits at rows 700 and 1300; ids differ only in case at rows 3 / 4.
  const ids = Array.from({ length: n }, (_, i) => (i === 700 ? collideA : i === 1300 ? collideB : i === 4 ? 'ROW-3' : `row-${i}`));
  const payloadOf = (i: number): string => JSON.stringify({ i });
  const vectors = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) vectors.set(vectorOf(i), i * dim);

  before(async () => {
    dir = await tempDir('sqlite-vec-lean-ids');
  });
  after(async () => dir.remove());

  async function build(name: string, rowIds: readonly string[], vecs: Float32Array): Promise<string> {
    const shardDir = join(dir.path, name);
    const writer = new SqliteVecShardWriter({ dir: shardDir, dbId: 3, dim, metric: 'l2', quantization: 'none' });
    for (let from = 0; from < rowIds.length; from += 700) {
      const to = Math.min(from + 700, rowIds.length);
      await writer.add({ ids: rowIds.slice(from, to), vectors: vecs.slice(from * dim, to * dim), payloads: rowIds.slice(from, to).map((_, j) => payloadOf(from + j)) });
    }
    await writer.finish();
    return shardDir;
  }

  /** Turns a shard into the layout of builds before issue 22 (no index on items.id). */
  function makeOld(shardDir: string): void {
    const db = new Database(join(shardDir, SQLITE_VEC_FILE_NAME));
    db.exec(`DROP INDEX ${SQLITE_VEC_ID_INDEX}; VACUUM`);
    db.close();
  }

  function indexes(shardDir: string): string[] {
    const db = new Database(join(shardDir, SQLITE_VEC_FILE_NAME), { readonly: true });
    try {
      return db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck(true).all();
    } finally {
      db.close();
    }
  }

  test('the id hash table: colliding ids are both candidates, in ascending key order; a constant hash makes every key a candidate', () => {
    assert.notEqual(collideA, collideB);
    assert.equal(fnv1a32(collideA), fnv1a32(collideB));
    const table = IdHashTable.build(
      [
        [9, collideB],
        [2, 'other'],
        [5, collideA],
      ],
      1,
    );
    assert.equal(table.size, 3);
    assert.equal(table.bytes, 24);
    assert.deepEqual(table.candidates(collideA), [5, 9]);
    assert.deepEqual(table.candidates(collideB), [5, 9]);
    assert.deepEqual(table.candidates('other'), [2]);
    assert.deepEqual(table.candidates('absent'), []);
    const constant = IdHashTable.build(
      [
        [3, 'a'],
        [1, 'b'],
      ],
      2,
      () => 7,
    );
    assert.deepEqual(constant.candidates('anything'), [1, 3]);
    assert.throws(() => IdHashTable.build([[2 ** 32, 'x']], 1), /key 4294967296 of id "x"/);
    assert.throws(() => IdHashTable.build([[-1, 'x']], 1), RangeError);
  });

  /** The full get-by-id check on an open reader of the shard built from `ids`. */
  async function checkGets(reader: SqliteVecShardReader): Promise<void> {
    const wanted = ['row-0', collideA, 'missing', collideB, 'row-1999', collideA, 'ROW-3', 'row-3', 'Row-3', 'row-0'];
    const got = await reader.fetchByIds(wanted, true, true);
    wanted.forEach((id, i) => {
      const r = ids.indexOf(id);
      if (r < 0) return assert.equal(got[i], undefined, `${id} is absent`);
      assert.equal(got[i]!.payload_json, payloadOf(r), `${id}: the payload of row ${r}`);
      assert.deepEqual(got[i]!.vector, vectorOf(r), `${id}: the vector of row ${r}`);
    });
    assert.notEqual(got[0], got[9], 'a repeated id gets its own row object');
    assert.deepEqual(await reader.fetchByIds([collideB], false, false), [{ payload_json: '' }]);
    assert.deepEqual(await reader.fetchByIds([], true, true), []);
  }

  test('a new build indexes items(id); get by id uses the index (no per-row state): repeats, missing ids, case, a hash collision', async () => {
    const shardDir = await build('new', ids, vectors);
    assert.deepEqual(indexes(shardDir), [SQLITE_VEC_ID_INDEX, 'items_unindexed']);
    const reader = SqliteVecShardReader.open(shardDir, 3, 'l2');
    try {
      assert.equal(reader.hasIdIndex, true);
      await checkGets(reader);
      assert.equal(reader.rowBytes, 0, 'no id table in memory');
    } finally {
      reader.close();
    }
    const db = new Database(join(shardDir, SQLITE_VEC_FILE_NAME), { readonly: true });
    try {
      const plan = db
        .prepare<[], { detail: string }>(`EXPLAIN QUERY PLAN SELECT j.key, i.rowid FROM json_each('["a"]') AS j JOIN items AS i ON i.id = j.value`)
        .all()
        .map((r) => r.detail)
        .join('; ');
      assert.match(plan, new RegExp(`USING COVERING INDEX ${SQLITE_VEC_ID_INDEX}|USING INDEX ${SQLITE_VEC_ID_INDEX}`), plan);
    } finally {
      db.close();
    }
  });

  test('an old file (no items_id index) stays readable: get by id through the 8-byte-a-row hash table, same answers', async () => {
    const shardDir = await build('old', ids, vectors);
    makeOld(shardDir);
    assert.deepEqual(indexes(shardDir), ['items_unindexed']);
    const reader = SqliteVecShardReader.open(shardDir, 3, 'l2');
    try {
      assert.equal(reader.hasIdIndex, false);
      assert.equal(reader.rowBytes, 0, 'built on the first get by id, not at open');
      await checkGets(reader);
      assert.equal(reader.rowBytes, 8 * n, 'the compact id hash table: 8 B a row');
      const hits = await reader.search(vectorOf(700), 1, true);
      assert.equal(hits[0].id, collideA, 'search is unchanged');
    } finally {
      reader.close();
    }
  });

  test('the reader keeps no ids in memory: a get by id grows the JS heap by far less than the ids take (new and old files)', async () => {
    // 3,000 rows with 400-character ids: 1.2 MB of id text, which the reader before issue 22 kept
    // in a Map (id -> rowid) from the first get by id on.
    const m = 3000;
    const longIds = Array.from({ length: m }, (_, i) => `${String(i).padStart(6, '0')}-${'x'.repeat(393)}`);
    const vecs = new Float32Array(m * dim);
    for (let i = 0; i < m; i++) vecs.set(vectorOf(i), i * dim);
    const newDir = await build('long-new', longIds, vecs);
    const oldDir = await build('long-old', longIds, vecs);
    makeOld(oldDir);
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = (): number => {
      gc();
      gc();
      return getHeapStatistics().used_heap_size;
    };
    for (const [label, shardDir] of [
      ['new', newDir],
      ['old', oldDir],
    ] as const) {
      const before = heap();
      const reader = SqliteVecShardReader.open(shardDir, 3, 'l2');
      try {
        const got = await reader.fetchByIds([longIds[17], longIds[m - 1], 'absent'], true, false);
        assert.deepEqual(got, [{ payload_json: payloadOf(17) }, { payload_json: payloadOf(m - 1) }, undefined]);
        const grown = heap() - before;
        console.log(`# ${label} file: heap growth with the shard open after a get by id: ${grown} B (ids: ${m * 400} B; rowBytes ${reader.rowBytes})`);
        assert.ok(grown < (m * 400) / 2, `${label}: the heap grew ${grown} B, ids take ${m * 400} B`);
      } finally {
        reader.close();
      }
    }
  });

  test('shardyfusion shard.db: get by id through the shared hash table separates colliding ids; int and str forms of one id: the lower rowid', async () => {
    const shardDir = join(dir.path, 'sf');
    mkdirSync(shardDir, { recursive: true });
    // shardyfusion's SqliteVecAdapter DDL (as in shardyfusion-sqlite-vec-reader.test.ts).
    const db = new Database(join(shardDir, 'shard.db'));
    sqliteVec.load(db);
    db.exec(`CREATE VIRTUAL TABLE vec_index USING vec0(embedding float[${dim}] distance_metric=l2);
      CREATE TABLE vec_payloads (rowid INTEGER PRIMARY KEY, payload TEXT NOT NULL);
      CREATE TABLE vec_id_map (internal_id INTEGER PRIMARY KEY, original_id TEXT NOT NULL);`);
    const stored = ['{"v": "x", "t": "str"}', JSON.stringify({ v: collideB, t: 'str' }), '{"v": 77, "t": "int"}', JSON.stringify({ v: collideA, t: 'str' }), '{"v": "77", "t": "str"}'];
    stored.forEach((raw, i) => {
      db.prepare('INSERT INTO vec_id_map (internal_id, original_id) VALUES (?, ?)').run(i, raw);
      db.prepare('INSERT INTO vec_index (rowid, embedding) VALUES (?, ?)').run(BigInt(i), Buffer.from(vectorOf(i).buffer));
      db.prepare('INSERT INTO vec_payloads (rowid, payload) VALUES (?, ?)').run(i, payloadOf(i));
    });
    db.close();
    const reader = ShardyfusionSqliteVecReader.open(shardDir, 0, { dim, metric: 'l2', rowCount: stored.length });
    try {
      const got = reader.fetchByIdsSync([collideA, '77', 'missing', collideB, collideA], true, true);
      const want = [3, 2, undefined, 1, 3];
      want.forEach((r, i) => {
        if (r === undefined) return assert.equal(got[i], undefined);
        assert.deepEqual(got[i], { payload_json: payloadOf(r), vector: vectorOf(r) }, `slot ${i}: row ${r}`);
      });
    } finally {
      reader.close();
    }
  });

  test('usearch old shard (no rows_id index): get by id through the shared hash table separates colliding ids', async () => {
    const shardDir = join(dir.path, 'usearch-old');
    const writer = new UsearchShardWriter({ dir: shardDir, dbId: 4, dim, metric: 'l2', params: DEFAULT_USEARCH_PARAMS, threads: 1, storeVectors: true });
    await writer.add({ ids, vectors, payloads: ids.map((_, i) => payloadOf(i)) });
    await writer.finish();
    const db = new Database(join(shardDir, USEARCH_ROWS_FILE));
    db.exec(`DROP INDEX ${USEARCH_ID_INDEX}; VACUUM`);
    db.close();
    const reader = UsearchShardReader.open(shardDir, 4, { dim, metric: 'l2', params: DEFAULT_USEARCH_PARAMS, vectorCount: n });
    try {
      const wanted = [collideB, 'missing', collideA, collideB, 'Row-3', 'ROW-3'];
      const got = await reader.fetchByIds(wanted, true, true);
      wanted.forEach((id, i) => {
        const r = ids.indexOf(id);
        if (r < 0) return assert.equal(got[i], undefined, id);
        assert.equal(got[i]!.payload_json, payloadOf(r), id);
        assert.deepEqual(got[i]!.vector, vectorOf(r), id);
      });
      assert.equal(reader.rowBytes, 8 * n);
    } finally {
      reader.close();
    }
  });
});
