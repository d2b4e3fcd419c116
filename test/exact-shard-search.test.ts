/**
 * The `exact` search option of the shard readers and nodes (ShardQuery.exact, issue 24: the live
 * recall reference). On real Fashion-MNIST index files:
 * - usearch (a weak HNSW graph, so the approximate answer misses neighbours): exact top-k equals
 *   brute force over float32, both from the stored float32 copies (f16 index) and from the
 *   index's own vectors (f32 index, no stored copies), scanned in several chunks; a filter is
 *   respected (every hit matches, the filtered brute-force top-k); an aborted signal stops it;
 * - sqlite-vec int8 (whose KNN ranks by int8 distances): exact top-k equals float32 brute force;
 * - a real shard node over a LanceDB run: an exact SearchShards call over every shard gives the
 *   brute-force top-k; a call mixing exact and index searches, or carrying too many exact
 *   queries, is refused INVALID_ARGUMENT before any work;
 * - the node's low-priority lane (exact-search-lane.ts): one at a time, refused while user
 *   searches wait for admission, never queued.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { distance } from '../src/common/distance.ts';
import { compileFilter } from '../src/common/filter/cel-filter.ts';
import type { FilterColumn, FilterExpr } from '../src/common/filter/filter-expr.ts';
import { computeInt8Scale } from '../src/common/sqlite-vec-layout.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import type { ObjectStore } from '../src/common/storage/object-store.ts';
import { mergeTopK } from '../src/common/topk-merge.ts';
import { DEFAULT_USEARCH_PARAMS, type UsearchIndexParams } from '../src/common/usearch-layout.ts';
import { SearchAdmission } from '../src/shard-node/search-admission.ts';
import { ExactSearchLane, ExactSearchRefusedError, MAX_EXACT_QUERIES } from '../src/shard-node/exact-search-lane.ts';
import { SqliteVecShardReader } from '../src/shard-node/sqlite-vec-shard-reader.ts';
import { EXACT_SCAN_CHUNK_VALUES, UsearchShardReader } from '../src/shard-node/usearch-shard-reader.ts';
import { SqliteVecShardWriter } from '../src/writer/backends/sqlite-vec-shard-writer.ts';
import { WriterWorkerPool } from '../src/writer/backends/writer-worker-pool.ts';
import { openIdxSource, readIdxImages } from '../src/writer/input/idx-source.ts';
import { FASHION_IMAGES, FASHION_LABELS, quietLogger, tempDir } from './helpers/fixtures.ts';
import { isGrpcStatus } from './helpers/grpc-assert.ts';
import { buildRun, startTestNode, testNodes } from './helpers/shard-node-harness.ts';

const N = 3000;
const NQ = 20;
const DIM = 784;
const K = 10;
const COLUMNS: FilterColumn[] = [{ name: 'label', type: 'int' }];

describe('exact shard search (the live recall reference)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let base: Float32Array;
  let queries: Float32Array;
  let labels: number[];
  const ids = Array.from({ length: N }, (_, i) => `r${i}`);
  const pool = new WriterWorkerPool(2);
  const query = (q: number): Float32Array => queries.slice(q * DIM, (q + 1) * DIM);

  before(async () => {
    dir = await tempDir('exact-search');
    const all = await readIdxImages(FASHION_IMAGES, { limit: N + NQ });
    base = all.vectors.slice(0, N * DIM);
    queries = all.vectors.slice(N * DIM);
    labels = [];
    const source = await openIdxSource({ imagesPath: FASHION_IMAGES, labelsPath: FASHION_LABELS, limit: N });
    for await (const r of source.records()) labels.push((r.payload as { label: number }).label);
  });
  after(async () => {
    await pool.close();
    await dir?.remove();
  });

  /** Brute-force top-k scores (l2 squared) of query `q` over the rows `rows` (default all). */
  function bruteForce(q: number, rows?: number[]): { id: string; score: number }[] {
    const scored = (rows ?? ids.map((_, i) => i)).map((r) => ({ id: ids[r], score: distance('l2', queries, q, base, r, DIM) }));
    return scored.sort((a, b) => a.score - b.score || (a.id < b.id ? -1 : 1)).slice(0, K);
  }

  /** Asserts `hits` are the brute-force top-k: same scores rank by rank, same ids up to ties. */
  function assertExact(hits: readonly { id: string; score: number }[], truth: readonly { id: string; score: number }[], where: string): void {
    assert.equal(hits.length, truth.length, where);
    hits.forEach((h, j) => assert.ok(Math.abs(h.score - truth[j].score) <= 1e-3 * Math.max(1, truth[j].score), `${where} rank ${j}: ${h.score} vs ${truth[j].score}`));
    const kth = truth[truth.length - 1].score;
    const strict = new Set(truth.filter((t) => t.score < kth - 1e-3 * Math.max(1, kth)).map((t) => t.id));
    for (const id of strict) assert.ok(hits.some((h) => h.id === id), `${where}: ${id} missing`);
  }

  async function buildUsearch(name: string, params: Partial<UsearchIndexParams>, storeVectors: boolean): Promise<UsearchShardReader> {
    const shardDir = join(dir.path, name);
    const p = { ...DEFAULT_USEARCH_PARAMS, m: 4, efConstruction: 16, ...params };
    const writer = pool.createWriter({ backend: 'usearch', options: { dir: shardDir, dbId: 1, dim: DIM, metric: 'l2', params: p, threads: 1, filterColumns: COLUMNS, storeVectors } });
    // A copy: the worker pool transfers (detaches) the buffer it is given.
    await writer.add({ ids, vectors: base.slice(), payloads: labels.map((label) => JSON.stringify({ label })) });
    await writer.finish();
    return UsearchShardReader.open(shardDir, 1, { dim: DIM, metric: 'l2', params: p, vectorCount: N, filterColumns: COLUMNS });
  }

  for (const [name, params, storeVectors] of [
    ['f16 with stored float32 vectors', { quantization: 'f16' }, true],
    ['f32 without stored vectors (index vectors)', { quantization: 'f32' }, false],
  ] as const) {
    test(`usearch ${name}: exact equals brute force (${Math.ceil(N / Math.floor(EXACT_SCAN_CHUNK_VALUES / DIM))} chunks), the approximate answer does not, filters respected`, async () => {
      const reader = await buildUsearch(name.split(' ')[0] + (storeVectors ? '-stored' : '-index'), params, storeVectors);
      try {
        const qs = Array.from({ length: NQ }, (_, q) => query(q));
        const exact = await reader.searchBatch(qs, K, true, { exact: true, ef: 1 });
        const approx = await reader.searchBatch(qs, K, false, { ef: 1 });
        let approxMisses = 0;
        for (let q = 0; q < NQ; q++) {
          const truth = bruteForce(q);
          assertExact(exact[q], truth, `query ${q}`);
          const got = new Set(approx[q].map((h) => h.id));
          approxMisses += truth.filter((t) => !got.has(t.id)).length;
        }
        assert.ok(approxMisses > 0, 'the weak graph at ef 1 misses neighbours, so exact is a different path');
        const filter = compileFilter('label == 3', COLUMNS) as FilterExpr;
        const rows = labels.flatMap((l, r) => (l === 3 ? [r] : []));
        const filtered = await reader.searchBatch(qs, K, true, { exact: true, filter });
        for (let q = 0; q < NQ; q++) {
          for (const h of filtered[q]) assert.equal(JSON.parse(h.payload_json).label, 3, `query ${q}: hit ${h.id} does not match`);
          assertExact(filtered[q], bruteForce(q, rows), `filtered query ${q}`);
        }
        const none = compileFilter('label == 42', COLUMNS) as FilterExpr;
        assert.deepEqual(await reader.search(query(0), K, false, { exact: true, filter: none }), []);
        const ac = new AbortController();
        ac.abort(new Error('gave up'));
        await assert.rejects(reader.search(query(0), K, false, { exact: true, signal: ac.signal }), /gave up/);
      } finally {
        reader.close();
      }
    });
  }

  test('sqlite-vec int8: exact ranks by float32 distances (brute force), not by the int8 KNN', async () => {
    const shardDir = join(dir.path, 'sqlite-int8');
    const int8Scale = computeInt8Scale(base.subarray(0, 500 * DIM));
    const writer = new SqliteVecShardWriter({ dir: shardDir, dbId: 2, dim: DIM, metric: 'l2', quantization: 'int8', int8Scale });
    await writer.add({ ids, vectors: base, payloads: ids.map(() => '') });
    await writer.finish();
    const reader = SqliteVecShardReader.open(shardDir, 2, 'l2', { quantization: 'int8', int8Scale });
    try {
      for (let q = 0; q < NQ; q++) assertExact(await reader.search(query(q), K, false, { exact: true, refineFactor: 1 }), bruteForce(q), `query ${q}`);
    } finally {
      reader.close();
    }
  });

  describe('through a real shard node (LanceDB run, 8 shards on one node)', () => {
    let store: ObjectStore;
    let node: Awaited<ReturnType<typeof startTestNode>>;
    const RUN = 'run-exact';
    const NODE_N = 2000;

    before(async () => {
      store = openObjectStore(join(dir.path, 'store'));
      await buildRun(store, RUN, { limit: NODE_N, numDbs: 8 });
      node = await startTestNode({ store, cacheDir: join(dir.path, 'cache'), log: quietLogger(), nodes: testNodes(['n0']) });
      await node.handle.firstLoad;
    });
    after(async () => {
      await node?.stop();
      await store?.close();
    });

    const shardQuery = (q: number, exact: boolean) => ({ query: Buffer.from(query(q).buffer.slice(0)), top_k: K, shard_ids: [0, 1, 2, 3, 4, 5, 6, 7], exact });

    test('an exact call over every shard gives the brute-force top-k', async () => {
      const rows = Array.from({ length: NODE_N }, (_, i) => i);
      for (let q = 0; q < 5; q++) {
        const res = await node.client.search({ run_id: RUN, queries: [shardQuery(q, true)] });
        for (const s of res.shards) assert.equal(s.error, '', `shard ${s.db_id}`);
        const merged = mergeTopK(res.shards.map((s) => s.hits), K);
        const truth = bruteForce(q, rows).map((t) => ({ id: String(Number(t.id.slice(1))), score: t.score }));
        assertExact(merged, truth, `query ${q}`);
      }
    });

    test('a call mixing exact and index searches, or with too many exact queries, is refused INVALID_ARGUMENT', async () => {
      await assert.rejects(node.client.search({ run_id: RUN, queries: [shardQuery(0, true), shardQuery(1, false)] }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /only exact searches/));
      const many = Array.from({ length: MAX_EXACT_QUERIES + 1 }, (_, i) => shardQuery(i % NQ, true));
      await assert.rejects(node.client.search({ run_id: RUN, queries: many }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, new RegExp(`at most ${MAX_EXACT_QUERIES} exact queries`)));
    });
  });

  test('the low-priority lane: one at a time, refused while user searches wait, never queued', async () => {
    const admission = new SearchAdmission(1);
    const lane = new ExactSearchLane(admission);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const first = lane.run(() => held.then(() => 'done'));
    assert.equal(lane.active, 1);
    await assert.rejects(lane.run(async () => 'second'), (e: unknown) => e instanceof ExactSearchRefusedError && e.reason === 'exact_busy');
    release();
    assert.equal(await first, 'done');
    assert.equal(lane.active, 0);
    // A user search holds the only admission slot and a second one waits: exact is refused.
    let releaseUser!: () => void;
    const user = admission.run(undefined, () => new Promise<void>((r) => (releaseUser = r)));
    const waiting = admission.run(undefined, async () => undefined);
    assert.equal(admission.queued, 1);
    await assert.rejects(lane.run(async () => 'x'), (e: unknown) => e instanceof ExactSearchRefusedError && e.reason === 'exact_users_waiting');
    releaseUser();
    await user;
    await waiting;
    // Nothing waits: it runs (even beside a running user search), and a failure frees the lane.
    await assert.rejects(lane.run(async () => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(await lane.run(async () => 'ok'), 'ok');
  });
});
