/**
 * Lean usearch shards (issue 22, item 2): a shard built without `--store-vectors` holds no float32
 * copy (rows.sqlite has no `vectors` table: n * dim * 4 bytes fewer than with the flag), yet
 * include_vector, get by id and the filtered exact scan work from the index's own vectors (i8
 * refuses include_vector naming the flag); the reader keeps no per-row JS state (the heap does not
 * grow with the ids of an open, searched shard); and an old shard (float32
 * copies, no index on rows.id) keeps its behaviour: exact stored vectors, get by id through a
 * compact hash table of 8 bytes a row.
 *
 * Built in-process with two threads so that the index's slot order differs from key order, which
 * the index-vector reader must map.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { distance, type Metric } from '../src/common/distance.ts';
import { InvalidQueryError, VectorIndexError } from '../src/common/errors.ts';
import { compileFilter } from '../src/common/filter/cel-filter.ts';
import { matchesFilter, type FilterColumn, type FilterExpr } from '../src/common/filter/filter-expr.ts';
import { DEFAULT_USEARCH_PARAMS, USEARCH_INDEX_FILE, USEARCH_ROWS_FILE, type UsearchQuantization } from '../src/common/usearch-layout.ts';
import { UsearchIndexVectors } from '../src/shard-node/usearch-index-vectors.ts';
import { UsearchShardReader } from '../src/shard-node/usearch-shard-reader.ts';
import { USEARCH_ID_INDEX, UsearchShardWriter } from '../src/writer/backends/usearch-shard-writer.ts';
import { tempDir } from './helpers/fixtures.ts';

const COLUMNS: FilterColumn[] = [{ name: 'group', type: 'int' }];

describe('lean usearch shards', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const n = 3000;
  const dim = 32;
  const base = new Float32Array(n * dim);
  const ids = Array.from({ length: n }, (_, i) => `row-${i}`);
  const payloads = ids.map((id, i) => ({ id, group: i % 50 }));
  const rowOf = (id: string): number => Number(id.slice('row-'.length));
  const q0 = new Float32Array(dim);

  before(async () => {
    dir = await tempDir('usearch-lean');
    // Seeded clustered data (xorshift), so every run builds the same rows.
    let s = 12345;
    const rand = (): number => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return (s >>> 0) / 4294967296;
    };
    const centers = Array.from({ length: 20 }, () => Float32Array.from({ length: dim }, () => rand() * 4 - 2));
    for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) base[i * dim + d] = centers[i % 20][d] + (rand() - 0.5) * 0.5;
    for (let d = 0; d < dim; d++) q0[d] = centers[3][d] + 0.1;
  });
  after(async () => {
    await dir.remove();
  });

  async function build(name: string, metric: Metric, quantization: UsearchQuantization, storeVectors: boolean | undefined): Promise<string> {
    const shardDir = join(dir.path, name);
    const writer = new UsearchShardWriter({
      dir: shardDir,
      dbId: 5,
      dim,
      metric,
      params: { ...DEFAULT_USEARCH_PARAMS, quantization },
      threads: 2,
      filterColumns: COLUMNS,
      ...(storeVectors === undefined ? {} : { storeVectors }),
    });
    for (let from = 0; from < n; from += 1000) {
      await writer.add({ ids: ids.slice(from, from + 1000), vectors: base.slice(from * dim, (from + 1000) * dim), payloads: payloads.slice(from, from + 1000).map((p) => JSON.stringify(p)) });
    }
    assert.equal((await writer.finish()).vectorCount, n);
    return shardDir;
  }

  const open = (shardDir: string, metric: Metric, quantization: UsearchQuantization, exactScanMaxRows?: number): UsearchShardReader =>
    UsearchShardReader.open(shardDir, 5, { dim, metric, params: { ...DEFAULT_USEARCH_PARAMS, quantization }, vectorCount: n, filterColumns: COLUMNS, ...(exactScanMaxRows === undefined ? {} : { exactScanMaxRows }) });

  const tables = (shardDir: string): string[] => {
    const db = new Database(join(shardDir, USEARCH_ROWS_FILE), { readonly: true });
    try {
      return db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck(true).all();
    } finally {
      db.close();
    }
  };

  const meta = (shardDir: string): Record<string, string> => {
    const db = new Database(join(shardDir, USEARCH_ROWS_FILE), { readonly: true });
    try {
      return Object.fromEntries(db.prepare<[], [string, string]>("SELECT key, value FROM meta WHERE key IN ('format_version', 'stored_vectors')").raw(true).all());
    } finally {
      db.close();
    }
  };

  /** Turns a shard into the layout of builds before issue 22: no index on rows.id (its float32 copies stay). */
  const makeOld = (shardDir: string): void => {
    const db = new Database(join(shardDir, USEARCH_ROWS_FILE));
    db.exec(`DROP INDEX ${USEARCH_ID_INDEX}; DELETE FROM meta WHERE key = 'stored_vectors'; VACUUM`);
    db.close();
  };

  const row = (i: number): Float32Array => base.slice(i * dim, (i + 1) * dim);
  const filter = (text: string): FilterExpr => compileFilter(text, COLUMNS)!;

  test('without --store-vectors: no float32 copy on disk (rows.sqlite smaller by n * dim * 4 B); f32 include_vector is exact, f16 within f16 rounding', async () => {
    for (const quantization of ['f32', 'f16'] as const) {
      const shardDir = await build(`lean-${quantization}`, 'l2', quantization, false);
      assert.deepEqual(readdirSync(shardDir).sort(), [USEARCH_INDEX_FILE, USEARCH_ROWS_FILE], 'no scratch file is left');
      assert.deepEqual(tables(shardDir), ['filters', 'meta', 'rows', USEARCH_ID_INDEX]);
      // A node from before issue 22 refuses the shard naming the version (not a missing table).
      assert.deepEqual(meta(shardDir), { format_version: '2', stored_vectors: 'none' });
      const indexBytes = statSync(join(shardDir, USEARCH_INDEX_FILE)).size;
      const rowsBytes = statSync(join(shardDir, USEARCH_ROWS_FILE)).size;
      const storedBytes = statSync(join(await build(`stored-${quantization}`, 'l2', quantization, true), USEARCH_ROWS_FILE)).size;
      console.log(`# ${quantization}: index ${indexBytes} B, rows.sqlite ${rowsBytes} B (${(rowsBytes / n).toFixed(1)} B a row; ${(storedBytes / n).toFixed(1)} with --store-vectors)`);
      assert.ok(storedBytes - rowsBytes >= n * dim * 4, `the float32 copy (${n * dim * 4} B) is gone: ${storedBytes} -> ${rowsBytes} B`);
      const reader = open(shardDir, 'l2', quantization);
      try {
        assert.equal(reader.hasStoredVectors, false);
        const hits = await reader.search(q0, 10, true, { includeVector: true });
        assert.equal(hits.length, 10);
        for (const h of hits) {
          const want = row(rowOf(h.id));
          assert.equal(h.payload_json, JSON.stringify(payloads[rowOf(h.id)]));
          const maxErr = Math.max(...Array.from(want, (v, d) => Math.abs(v - h.vector![d])));
          if (quantization === 'f32') assert.deepEqual(h.vector, want, `${h.id}: the f32 index's vector is the exact one`);
          else assert.ok(maxErr <= 2e-3, `${h.id}: f16 vector off by ${maxErr}`);
        }
        const got = await reader.fetchByIds(['row-7', 'nope', 'row-2999', 'row-7'], true, true);
        assert.equal(got[1], undefined);
        assert.equal(got[0]!.payload_json, JSON.stringify(payloads[7]));
        assert.notEqual(got[0], got[3], 'a repeated id gets its own row object');
        assert.deepEqual(got[3], got[0]);
        if (quantization === 'f32') assert.deepEqual(got[2]!.vector, row(2999));
        assert.equal(reader.rowBytes, 4 * n, 'only the key -> slot map of the index vectors (4 B a row) is held');
      } finally {
        reader.close();
      }
    }
  });

  test('without --store-vectors: the filtered exact scan scores the index vectors and returns the true filtered top-k (f32)', async () => {
    const shardDir = join(dir.path, 'lean-f32');
    for (const exact of [Infinity, 0]) {
      const reader = open(shardDir, 'l2', 'f32', exact);
      try {
        for (const text of ['group == 3', 'group < 2']) {
          const f = filter(text);
          const matching = payloads.flatMap((p, r) => (matchesFilter(f, p as unknown as Record<string, never>) ? [r] : []));
          const want = matching.map((r) => ({ r, d: distance('l2', q0, 0, base, r, dim) })).sort((a, b) => a.d - b.d).slice(0, 10);
          const hits = await reader.search(q0, 10, true, { filter: f });
          assert.equal(hits.length, 10, text);
          for (const h of hits) assert.ok(matching.includes(rowOf(h.id)), `${text}: ${h.id} matches`);
          if (exact === Infinity) {
            assert.deepEqual(hits.map((h) => rowOf(h.id)), want.map((w) => w.r), `${text}: exact scan order`);
            hits.forEach((h, j) => assert.ok(Math.abs(h.score - want[j].d) < 1e-3, `${text}: score of ${h.id}`));
          }
        }
      } finally {
        reader.close();
      }
    }
  });

  test('without --store-vectors: the key -> slot map is built in the background after open (asynchronously, no request needed), equal to a synchronous scan; in-order slots need no map', async () => {
    const shardDir = join(dir.path, 'lean-f32');
    const reader = open(shardDir, 'l2', 'f32');
    try {
      assert.equal(reader.rowBytes, 0, 'not built synchronously inside open');
      for (let i = 0; i < 10_000 && reader.rowBytes === 0; i++) await new Promise((r) => setTimeout(r, 5));
      assert.equal(reader.rowBytes, 4 * n, 'the map was built with no request (4 B a row)');
      const hits = await reader.search(q0, 5, false, { includeVector: true });
      for (const h of hits) assert.deepEqual(h.vector, row(rowOf(h.id)));
    } finally {
      reader.close();
    }
    // The background scan against a synchronous one (read before prepare), and its asynchrony.
    const file = join(shardDir, USEARCH_INDEX_FILE);
    const background = new UsearchIndexVectors(file, dim, 'f32', n);
    const direct = new UsearchIndexVectors(file, dim, 'f32', n);
    try {
      let turns = 0;
      const tick = setInterval(() => turns++, 0);
      const pending = background.prepare();
      assert.equal(background.ready, false, 'prepare() returns before the scan is done');
      await pending;
      clearInterval(tick);
      assert.ok(turns > 0, 'timers ran while the map was being built');
      assert.equal(background.ready, true);
      const keys = Array.from({ length: n }, (_, i) => n - 1 - i);
      assert.deepEqual(background.read(keys), direct.read(keys));
      assert.equal(background.bytes, 4 * n);
    } finally {
      background.close();
      direct.close();
    }
    // One build thread: slots are in key order, so no map is kept.
    const ordered = join(dir.path, 'lean-ordered');
    const writer = new UsearchShardWriter({ dir: ordered, dbId: 5, dim, metric: 'l2', params: { ...DEFAULT_USEARCH_PARAMS, quantization: 'f32' }, threads: 1, storeVectors: false });
    await writer.add({ ids: ids.slice(0, 500), vectors: base.slice(0, 500 * dim), payloads: ids.slice(0, 500).map(() => null) });
    await writer.finish();
    const inOrder = new UsearchIndexVectors(join(ordered, USEARCH_INDEX_FILE), dim, 'f32', 500);
    try {
      await inOrder.prepare();
      assert.equal(inOrder.bytes, 0, 'slot = key: no map');
      assert.deepEqual(inOrder.read([499, 0, 7]), Float32Array.from([...row(499), ...row(0), ...row(7)]));
    } finally {
      inOrder.close();
    }
    // Closing while the background scan runs stops it quietly (no unhandled rejection).
    const closing = UsearchShardReader.open(shardDir, 5, { dim, metric: 'l2', params: { ...DEFAULT_USEARCH_PARAMS, quantization: 'f32' }, vectorCount: n });
    closing.close();
    await new Promise((r) => setTimeout(r, 50));
  });

  test('i8 without --store-vectors: include_vector (search and get) is refused naming --store-vectors; search, payloads and filters work', async () => {
    const shardDir = await build('lean-i8', 'cosine', 'i8', false);
    const reader = open(shardDir, 'cosine', 'i8', Infinity);
    try {
      const refused = (e: unknown): boolean => e instanceof InvalidQueryError && /shard 5: include_vector.*built without --store-vectors; rebuild with shardfleet build --store-vectors/.test((e as Error).message);
      await assert.rejects(reader.search(q0, 10, false, { includeVector: true }), refused);
      await assert.rejects(reader.fetchByIds(['row-1'], false, true), (e) => e instanceof InvalidQueryError && /--store-vectors/.test((e as Error).message));
      const hits = await reader.search(q0, 5, true, { filter: filter('group == 3') });
      assert.equal(hits.length, 5);
      for (const h of hits) assert.equal(JSON.parse(h.payload_json).group, 3);
      assert.deepEqual((await reader.fetchByIds(['row-9'], true, false))[0], { payload_json: JSON.stringify(payloads[9]) });
    } finally {
      reader.close();
    }
  });

  test('the reader keeps no ids in memory: opening, searching and getting by id grow the JS heap by far less than the ids take', async () => {
    // 3,000 rows with 400-character ids: 1.2 MB of id text, which a reader holding the ids as JS
    // strings (the reader before issue 22: an array at open, a Map on the first get) keeps on its heap.
    const m = n;
    const longIds = Array.from({ length: m }, (_, i) => `${String(i).padStart(6, '0')}-${'x'.repeat(393)}`);
    const shardDir = join(dir.path, 'long-ids');
    const writer = new UsearchShardWriter({ dir: shardDir, dbId: 5, dim, metric: 'l2', params: DEFAULT_USEARCH_PARAMS, threads: 1, storeVectors: true });
    await writer.add({ ids: longIds, vectors: base.slice(0, m * dim), payloads: longIds.map(() => null) });
    await writer.finish();
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = (): number => {
      gc();
      gc();
      return getHeapStatistics().used_heap_size;
    };
    const before = heap();
    const reader = UsearchShardReader.open(shardDir, 5, { dim, metric: 'l2', params: DEFAULT_USEARCH_PARAMS, vectorCount: m });
    try {
      const hits = await reader.search(q0, 10, false);
      assert.equal(hits.length, 10);
      const got = await reader.fetchByIds([longIds[17], longIds[m - 1], 'absent'], false, false);
      assert.deepEqual(got, [{ payload_json: '' }, { payload_json: '' }, undefined]);
      const grown = heap() - before;
      console.log(`# heap growth with the shard open: ${grown} B (ids: ${m * 400} B)`);
      assert.ok(grown < (m * 400) / 2, `the heap grew ${grown} B, ids take ${m * 400} B`);
      assert.equal(reader.rowBytes, 0, 'no per-row state: ids are read from rows.sqlite');
    } finally {
      reader.close();
    }
  });

  test('an old shard (float32 copies, no index on rows.id) keeps its behaviour: exact vectors, get by id, filtered exact scan', async () => {
    const shardDir = await build('old-f16', 'l2', 'f16', true);
    assert.deepEqual(tables(shardDir), ['filters', 'meta', 'rows', USEARCH_ID_INDEX, 'vectors']);
    assert.deepEqual(meta(shardDir), { format_version: '1', stored_vectors: 'float32' });
    makeOld(shardDir);
    assert.deepEqual(tables(shardDir), ['filters', 'meta', 'rows', 'vectors']);
    const reader = open(shardDir, 'l2', 'f16', Infinity);
    try {
      assert.equal(reader.hasStoredVectors, true);
      const hits = await reader.search(q0, 10, true, { includeVector: true });
      for (const h of hits) assert.deepEqual(h.vector, row(rowOf(h.id)), `${h.id}: the exact stored vector`);
      assert.equal(reader.rowBytes, 0);
      const wanted = ['row-0', 'row-1500', 'missing', 'row-2999', 'row-1500', 'ROW-1'];
      const got = await reader.fetchByIds(wanted, true, true);
      assert.equal(reader.rowBytes, 8 * n, 'the compact id hash table: 8 B a row');
      wanted.forEach((id, i) => {
        if (id === 'missing' || id === 'ROW-1') return assert.equal(got[i], undefined, id);
        assert.equal(got[i]!.payload_json, JSON.stringify(payloads[rowOf(id)]));
        assert.deepEqual(got[i]!.vector, row(rowOf(id)));
      });
      // Exact scan on the stored float32 vectors: the exact filtered order and scores.
      const f = filter('group == 7');
      const matching = payloads.flatMap((p, r) => (p.group === 7 ? [r] : []));
      const want = matching.map((r) => ({ r, d: distance('l2', q0, 0, base, r, dim) })).sort((a, b) => a.d - b.d).slice(0, 10);
      const filtered = await reader.search(q0, 10, false, { filter: f });
      assert.deepEqual(filtered.map((h) => rowOf(h.id)), want.map((w) => w.r));
    } finally {
      reader.close();
    }
    await assert.rejects(reader.fetchByIds(['row-0'], false, false), (e) => e instanceof VectorIndexError && /after the shard was closed/.test((e as Error).message));
  });

  test('the writer stores float32 copies by default (direct use) and with storeVectors; a build records store_vectors false unless asked', async () => {
    const byDefault = await build('default-writer', 'l2', 'f16', undefined);
    assert.ok(tables(byDefault).includes('vectors'));
    const { indexConfigOf } = await import('../src/writer/build-options.ts');
    assert.equal(indexConfigOf({ backend: 'usearch' }, dim, 'l2').index_params.store_vectors, false);
    assert.equal(indexConfigOf({ backend: 'usearch', storeVectors: true }, dim, 'l2').index_params.store_vectors, true);
  });
});
