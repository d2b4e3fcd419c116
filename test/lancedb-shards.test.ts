/**
 * LanceDB shard tables for every metric and index type: what the shard reader returns equals
 * exact brute force with the same metric, and scores follow shardfleet's convention (lower is
 * better; dot product negated).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Metric } from '../src/common/distance.ts';
import { exactTopK } from '../src/eval/exact-knn.ts';
import { LanceShardReader } from '../src/shard-node/lancedb-shard-reader.ts';
import { DEFAULT_LANCE_INDEX_PLAN, LanceShardWriter } from '../src/writer/backends/lancedb-shard-writer.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import { FASHION_IMAGES, tempDir } from './helpers/fixtures.ts';

describe('LanceDB shards', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let base: Float32Array;
  let queries: Float32Array;
  const n = 1200;
  const dim = 784;
  const ids = Array.from({ length: n }, (_, i) => `img-${i}`);

  before(async () => {
    dir = await tempDir('lance');
    base = (await readIdxImages(FASHION_IMAGES, { limit: n })).vectors;
    queries = (await readIdxImages(FASHION_IMAGES, { start: 9000, limit: 5 })).vectors;
  });
  after(async () => dir.remove());

  async function buildShard(name: string, metric: Metric, indexType: 'ivf_flat' | 'hnsw_sq') {
    const writer = new LanceShardWriter(join(dir.path, name), 5, dim, metric);
    // Two batches, so the table is compacted from more than one fragment.
    for (const [from, to] of [
      [0, 700],
      [700, n],
    ]) {
      await writer.add({
        ids: ids.slice(from, to),
        vectors: base.subarray(from * dim, to * dim),
        payloads: ids.slice(from, to).map((id) => JSON.stringify({ id })),
      });
    }
    const built = await writer.finish({ ...DEFAULT_LANCE_INDEX_PLAN, indexType });
    assert.equal(built.vectorCount, n);
    assert.equal(built.indexType, indexType);
    return LanceShardReader.open(join(dir.path, name), 5, metric);
  }

  for (const metric of ['l2', 'cosine', 'dot'] as const) {
    test(`ivf_flat (one partition) is exact for ${metric}`, async () => {
      const reader = await buildShard(`flat-${metric}`, metric, 'ivf_flat');
      try {
        for (let q = 0; q < 5; q++) {
          const got = await reader.search(queries.subarray(q * dim, (q + 1) * dim), 10, true);
          const want = exactTopK(base, ids, queries, q, dim, 10, metric);
          assert.equal(got.length, 10);
          for (let i = 0; i < 10; i++) {
            const tol = 1e-4 * Math.max(1, Math.abs(want[i].score));
            assert.ok(Math.abs(got[i].score - want[i].score) <= tol, `${metric} q${q} rank ${i}: ${got[i].score} vs ${want[i].score}`);
          }
          assert.deepEqual(JSON.parse(got[0].payload_json), { id: got[0].id });
        }
      } finally {
        reader.close();
      }
    });
  }

  test('hnsw_sq answers with high recall and the same score scale', async () => {
    const reader = await buildShard('hnsw-l2', 'l2', 'hnsw_sq');
    try {
      let found = 0;
      for (let q = 0; q < 5; q++) {
        const got = await reader.search(queries.subarray(q * dim, (q + 1) * dim), 10, false);
        const want = new Set(exactTopK(base, ids, queries, q, dim, 10, 'l2').map((h) => h.id));
        found += got.filter((h) => want.has(h.id)).length;
        assert.equal(got[0].payload_json, '');
      }
      assert.ok(found / 50 >= 0.8, `HNSW-SQ recall@10 ${found / 50}`);
    } finally {
      reader.close();
    }
  });

  test('opening a folder that holds no table names the shard', async () => {
    await assert.rejects(LanceShardReader.open(join(dir.path, 'nothing-here'), 9, 'l2'), /shard 9: cannot open LanceDB table/);
  });
});
