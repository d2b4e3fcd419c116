/**
 * Filtered search (issue 15) on the LanceDB and sqlite-vec backends, real Fashion-MNIST shards:
 * filter columns label:int, label_name:string, weight:float, even:bool (with NULLs) at about 1%,
 * 10% and 50% selectivity plus OR / NOT / IN / NULL cases. Every hit matches (matchesFilter on its
 * payload); when >= topK rows match, exactly topK hits come back; results equal brute force over
 * the matching rows on exact variants and keep recall@10 >= 0.95 on ANN ones; shards built
 * without filter columns still open and search.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { InvalidQueryError } from '../src/common/errors.ts';
import { matchesFilter, filterRowOf, type FilterColumn, type FilterExpr } from '../src/common/filter/filter-expr.ts';
import { computeInt8Scale } from '../src/common/sqlite-vec-layout.ts';
import { exactTopK } from '../src/eval/exact-knn.ts';
import { LanceShardReader } from '../src/shard-node/lancedb-shard-reader.ts';
import type { ShardIndexReader } from '../src/shard-node/shard-index-reader.ts';
import { SqliteVecShardReader } from '../src/shard-node/sqlite-vec-shard-reader.ts';
import { LanceShardWriter, type LanceIndexPlan } from '../src/writer/backends/lancedb-shard-writer.ts';
import type { ShardIndexWriter } from '../src/writer/backends/shard-index-writer.ts';
import { SqliteVecShardWriter } from '../src/writer/backends/sqlite-vec-shard-writer.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import { FASHION_IMAGES, FASHION_LABELS, tempDir } from './helpers/fixtures.ts';

const n = 2000;
const dim = 784;
const nq = 20;
const k = 10;
const NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', "Ankle boot's"];

const COLUMNS: FilterColumn[] = [
  { name: 'label', type: 'int' },
  { name: 'label_name', type: 'string' },
  { name: 'weight', type: 'float' },
  { name: 'even', type: 'bool' },
];

const cmp = (column: string, c: '==' | '!=' | '<' | '<=' | '>' | '>=', value: string | number | boolean): FilterExpr => ({ op: 'cmp', column, cmp: c, value });

/** Named filters (selectivity noted for the 2,000 rows). */
const FILTERS: Record<string, FilterExpr> = {
  '~1% label == 3 && weight < 10': { op: 'and', args: [cmp('label', '==', 3), cmp('weight', '<', 10)] },
  '~10% label == 7': cmp('label', '==', 7),
  '~50% label_name in 5 names': { op: 'in', column: 'label_name', values: NAMES.slice(0, 5) },
  'OR label == 1 || even == true': { op: 'or', args: [cmp('label', '==', 1), cmp('even', '==', true)] },
  'NOT !(label_name == "Bag")': { op: 'not', arg: cmp('label_name', '==', 'Bag') },
  'IN label in [2, 4] && even != false': { op: 'and', args: [{ op: 'in', column: 'label', values: [2, 4] }, cmp('even', '!=', false)] },
  'NULL weight >= 50 (NULL rows excluded)': cmp('weight', '>=', 50),
  'NULL !(weight < 50)': { op: 'not', arg: cmp('weight', '<', 50) },
  'fractional label < 2.5': cmp('label', '<', 2.5),
  'quote label_name == "Ankle boot\'s"': cmp('label_name', '==', "Ankle boot's"),
  'none label_name == "nothing"': cmp('label_name', '==', 'nothing'),
  'const false || label == 9': { op: 'or', args: [{ op: 'const', value: false }, cmp('label', '==', 9)] },
  'tiny label == 5 && weight >= 99': { op: 'and', args: [cmp('label', '==', 5), cmp('weight', '>=', 99)] },
};

describe('filtered search: LanceDB and sqlite-vec', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let base: Float32Array;
  let queries: Float32Array;
  let ids: string[];
  let payloads: (string | null)[];
  let rowsOf: Record<string, unknown>[];
  const recalls: string[] = [];

  before(async () => {
    dir = await tempDir('filtered-search');
    const images = await readIdxImages(FASHION_IMAGES, { limit: n, labelsPath: FASHION_LABELS });
    base = images.vectors;
    queries = (await readIdxImages(FASHION_IMAGES, { start: 5000, limit: nq })).vectors;
    ids = Array.from({ length: n }, (_, i) => `fm-${i}`);
    rowsOf = ids.map((id, i) => {
      const label = images.labels![i];
      const p: Record<string, unknown> = { id, label, label_name: NAMES[label] };
      if (i % 31 === 0) delete p.label; // NULL label
      if (i % 37 === 0) p.label_name = null; // NULL label_name
      if (i % 13 !== 0) p.weight = ((i * 7919) % 10000) / 100; // 0..99.99, NULL every 13th
      if (i % 17 !== 0) p.even = i % 2 === 0;
      return p;
    });
    payloads = rowsOf.map((p, i) => (i % 101 === 0 ? null : JSON.stringify(p)));
  });
  after(async () => {
    if (recalls.length > 0) console.log(recalls.join('\n'));
    await dir.remove();
  });

  const query = (q: number) => queries.subarray(q * dim, (q + 1) * dim);
  const rowOf = (i: number) => filterRowOf(payloads[i] === null ? undefined : JSON.parse(payloads[i]!), COLUMNS);

  async function feed(writer: ShardIndexWriter): Promise<void> {
    for (let start = 0; start < n; start += 700) {
      const end = Math.min(n, start + 700);
      await writer.add({ ids: ids.slice(start, end), vectors: base.slice(start * dim, end * dim), payloads: payloads.slice(start, end) });
    }
    await writer.finish();
  }

  async function buildLance(name: string, plan: Partial<LanceIndexPlan>, filterColumns: FilterColumn[] = COLUMNS): Promise<LanceShardReader> {
    await feed(new LanceShardWriter({ dir: join(dir.path, name), dbId: 1, dim, metric: 'l2', plan, filterColumns }));
    return LanceShardReader.open(join(dir.path, name), 1, 'l2', undefined, filterColumns);
  }

  async function buildSqlite(name: string, quantization: 'none' | 'int8', filterColumns: FilterColumn[] = COLUMNS): Promise<SqliteVecShardReader> {
    const int8Scale = quantization === 'int8' ? computeInt8Scale(base.subarray(0, 500 * dim)) : undefined;
    await feed(new SqliteVecShardWriter({ dir: join(dir.path, name), dbId: 2, dim, metric: 'l2', quantization, int8Scale, filterColumns }));
    return SqliteVecShardReader.open(join(dir.path, name), 2, 'l2', { quantization, int8Scale, filterColumns });
  }

  /** Checks every filter on `reader`; `exact`: results equal brute force, else recall@10 >= 0.95. */
  async function checkFilters(variant: string, reader: ShardIndexReader, exact: boolean, options: { ef?: number; nprobes?: number; refineFactor?: number } = {}) {
    for (const [name, filter] of Object.entries(FILTERS)) {
      const matching = ids.map((_, i) => i).filter((i) => matchesFilter(filter, rowOf(i)));
      let found = 0;
      let wanted = 0;
      const started = performance.now();
      for (let q = 0; q < nq; q++) {
        const hits = await reader.search(query(q), k, true, { ...options, filter });
        const where = `${variant} / ${name} / query ${q}`;
        assert.equal(hits.length, Math.min(k, matching.length), `${where}: ${hits.length} hits, ${matching.length} rows match`);
        for (const h of hits) {
          const i = Number(h.id.slice(3));
          assert.ok(matchesFilter(filter, rowOf(i)), `${where}: hit ${h.id} does not match`);
          assert.equal(h.payload_json, payloads[i] ?? '', `${where}: payload of ${h.id}`);
        }
        const truth = exactTopK(base, ids, queries, q, dim, k, 'l2', matching);
        const got = new Set(hits.map((h) => h.id));
        found += truth.filter((t) => got.has(t.id)).length;
        wanted += truth.length;
        if (exact) {
          // Same set; ties may order differently, so compare the k-th score too.
          assert.deepEqual([...got].sort(), truth.map((t) => t.id).sort(), `${where}: differs from brute force`);
        }
      }
      const recall = wanted === 0 ? 1 : found / wanted;
      recalls.push(`${variant.padEnd(22)} ${name.padEnd(40)} matches ${String(matching.length).padStart(4)}  recall@10 ${recall.toFixed(3)}  ${((performance.now() - started) / nq).toFixed(1)} ms/query`);
      assert.ok(recall >= 0.95, `${variant} / ${name}: recall@10 ${recall} < 0.95`);
    }
  }

  test('selectivities of the named filters', () => {
    const count = (f: FilterExpr) => ids.filter((_, i) => matchesFilter(f, rowOf(i))).length;
    const one = count(FILTERS['~1% label == 3 && weight < 10']);
    const ten = count(FILTERS['~10% label == 7']);
    const half = count(FILTERS['~50% label_name in 5 names']);
    assert.ok(one >= 10 && one <= 40, `~1%: ${one}`);
    assert.ok(ten >= 150 && ten <= 250, `~10%: ${ten}`);
    assert.ok(half >= 800 && half <= 1200, `~50%: ${half}`);
    assert.ok(count(FILTERS['tiny label == 5 && weight >= 99']) < k, 'the tiny filter matches fewer than k rows');
  });

  test('LanceDB ivf_flat, 1 partition (exact)', async () => {
    const reader = await buildLance('lance-flat', { indexType: 'ivf_flat', numPartitions: 1 });
    try {
      await checkFilters('lance ivf_flat/1', reader, true);
    } finally {
      reader.close();
    }
  });

  test('LanceDB ivf_flat, 32 partitions (ANN)', async () => {
    const reader = await buildLance('lance-ivf', { indexType: 'ivf_flat', numPartitions: 32 });
    try {
      await checkFilters('lance ivf_flat/32', reader, false);
      // Batched queries return the same hits as one at a time.
      const filter = FILTERS['~10% label == 7'];
      const batch = await reader.searchBatch([query(0), query(1), query(2)], k, false, { filter });
      for (let q = 0; q < 3; q++) assert.deepEqual(batch[q].map((h) => h.id), (await reader.search(query(q), k, false, { filter })).map((h) => h.id));
    } finally {
      reader.close();
    }
  });

  test('LanceDB hnsw_sq (ANN)', async () => {
    const reader = await buildLance('lance-hnsw', { indexType: 'hnsw_sq' });
    try {
      await checkFilters('lance hnsw_sq', reader, false, { refineFactor: 4 });
    } finally {
      reader.close();
    }
  });

  test('sqlite-vec float32 (exact)', async () => {
    const reader = await buildSqlite('sqlite-none', 'none');
    try {
      await checkFilters('sqlite-vec none', reader, true);
    } finally {
      reader.close();
    }
  });

  test('sqlite-vec int8 + re-rank', async () => {
    const reader = await buildSqlite('sqlite-int8', 'int8');
    try {
      await checkFilters('sqlite-vec int8', reader, false);
    } finally {
      reader.close();
    }
  });

  test('shards built without filter columns still open and search; a filter on them is an InvalidQueryError', async () => {
    const lance = await buildLance('lance-old', { indexType: 'ivf_flat' }, []);
    const sqlite = await buildSqlite('sqlite-old', 'none', []);
    try {
      for (const reader of [lance, sqlite] as ShardIndexReader[]) {
        const hits = await reader.search(query(0), k, false, {});
        assert.deepEqual(hits.map((h) => h.id), exactTopK(base, ids, queries, 0, dim, k, 'l2').map((t) => t.id));
        await assert.rejects(reader.search(query(0), k, false, { filter: FILTERS['~10% label == 7'] }), InvalidQueryError);
        // A constant filter needs no column.
        assert.equal((await reader.search(query(0), k, false, { filter: { op: 'const', value: true } })).length, k);
        assert.deepEqual(await reader.search(query(0), k, false, { filter: { op: 'const', value: false } }), []);
      }
      // A manifest declaring filter columns the shard lacks fails at open.
      await assert.rejects(LanceShardReader.open(join(dir.path, 'lance-old'), 1, 'l2', undefined, COLUMNS), /lacks filter column/);
      assert.throws(() => SqliteVecShardReader.open(join(dir.path, 'sqlite-old'), 2, 'l2', { filterColumns: COLUMNS }), /lacks it/);
    } finally {
      lance.close();
      sqlite.close();
    }
  });
});
