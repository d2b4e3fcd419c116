/**
 * End-to-end recall (issue 22, item 3): the build's recall table by (num_probes, ef) measured on
 * its built shards (src/writer/search-recall.ts), the manifest field, `target_recall` choosing the
 * cheapest (num_probes, ef) pair (src/common/routing/recall-target.ts), older manifests keeping
 * the routing-only curve, and the table predicting the recall a real served cluster delivers on
 * held-out queries of a seeded clustered dataset.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { exactSearch, MetricKind, type BatchMatches } from 'usearch';
import type { ShardfleetClient } from '../src/client/router-client.ts';
import type { LocalCluster } from '../src/cli/local-cluster.ts';
import { ManifestSchema, type SearchRecall } from '../src/common/manifest.ts';
import { probesAndEfForRecall, resolveTargetRecall } from '../src/common/routing/recall-target.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import type { ObjectStore } from '../src/common/storage/object-store.ts';
import { arraySource, clusterModel, sampleMixture, type MixtureSpec } from '../src/eval/gaussian-clusters.ts';
import { buildSnapshot, type BuildResult } from '../src/writer/build-snapshot.ts';
import { decodeRecallPartial, encodeRecallPartial } from '../src/writer/recall-partial.ts';
import { GroundTruthScan, mergeGroundTruths, searchRecallQueries } from '../src/writer/search-recall.ts';
import { quietLogger, tempDir } from './helpers/fixtures.ts';
import { runCli } from './helpers/run-cli.ts';
import { closeAll, serveStore } from './helpers/served-cluster.ts';

const TABLE: SearchRecall = {
  k: 10,
  sample_queries: 100,
  ground_truth_vectors: 1000,
  ef: [16, 64, 256],
  recall: [
    [0.7, 0.8, 0.82],
    [0.85, 0.95, 0.97],
    [0.9, 0.985, 0.995],
    [0.91, 0.99, 1],
  ],
};

describe('picking (num_probes, ef) for a target', () => {
  test('the cheapest pair (num_probes x ef) meeting the target', () => {
    // 0.95: (2, 64) costs 128, (3, 64) 192, (2, 256) 512 -> (2, 64).
    assert.deepEqual(probesAndEfForRecall(TABLE, 0.95), { numProbes: 2, ef: 64, recall: 0.95, reached: true });
    // 0.9: (3, 16) costs 48 < (2, 64) 128.
    assert.deepEqual(probesAndEfForRecall(TABLE, 0.9), { numProbes: 3, ef: 16, recall: 0.9, reached: true });
    // 0.99: (4, 64) costs 256 < (3, 256) 768.
    assert.deepEqual(probesAndEfForRecall(TABLE, 0.99), { numProbes: 4, ef: 64, recall: 0.99, reached: true });
    assert.deepEqual(probesAndEfForRecall(TABLE, 1), { numProbes: 4, ef: 256, recall: 1, reached: true });
    // Within --max-probes 2 nothing reaches 0.99: the best pair, not reached.
    assert.deepEqual(probesAndEfForRecall(TABLE, 0.99, { maxProbes: 2 }), { numProbes: 2, ef: 256, recall: 0.97, reached: false });
  });

  test('a request ef is kept: num_probes chosen on the largest measured ef not above it', () => {
    assert.deepEqual(probesAndEfForRecall(TABLE, 0.95, { ef: 100 }), { numProbes: 2, ef: 100, recall: 0.95, reached: true });
    assert.deepEqual(probesAndEfForRecall(TABLE, 0.9, { ef: 16 }), { numProbes: 3, ef: 16, recall: 0.9, reached: true });
    assert.deepEqual(probesAndEfForRecall(TABLE, 0.9, { ef: 8 }), { numProbes: 3, ef: 8, recall: 0.9, reached: true });
  });

  test('resolveTargetRecall: the table wins; older manifests (no table) use the routing curve; explicit num_probes wins', () => {
    const routing = { k: 10, sample_queries: 100, sample_size: 1000, recall_at_probes: [0.8, 0.93, 0.99, 1, 1, 1] };
    assert.deepEqual(resolveTargetRecall(0.95, 0, false, routing, 'r', TABLE, 0, 6), { numProbes: 2, ef: 64 });
    assert.deepEqual(resolveTargetRecall(0.95, 0, false, routing, 'r', undefined, 0, 6), { numProbes: 3, ef: 0 });
    assert.deepEqual(resolveTargetRecall(0.95, 0, false, routing, 'r', undefined, 32, 6), { numProbes: 3, ef: 32 });
    assert.deepEqual(resolveTargetRecall(0.95, 5, false, routing, 'r', TABLE, 0, 6), { numProbes: 5, ef: 0 });
    assert.deepEqual(resolveTargetRecall(0, 0, false, routing, 'r', TABLE, 0, 6), { numProbes: 0, ef: 0 });
    // Unmet on a table with fewer rows than shards: every shard at the largest ef.
    const short = { ...TABLE, recall: TABLE.recall.slice(0, 2) };
    assert.deepEqual(resolveTargetRecall(0.99, 0, false, routing, 'r', short, 0, 6), { numProbes: 6, ef: 256 });
  });

  test('searchRecallQueries: a per-vector budget, bounded both ways', () => {
    assert.equal(searchRecallQueries(1000, 128, 20_000), 781);
    assert.equal(searchRecallQueries(1000, 16, 20_000), 1000);
    assert.equal(searchRecallQueries(1000, 784, 20_000), 200);
    assert.equal(searchRecallQueries(1000, 16, 150), 150);
    assert.equal(searchRecallQueries(100, 784, 20_000), 100);
  });
});

/** Well separated clusters (centres spread 4, each cluster's axes exp(N(0, 0.5^2)) wide). */
const WIDE: Omit<MixtureSpec, 'dim' | 'clusters' | 'seed'> = { centerStd: 4, spreadMin: 1, spreadMax: 1 };

describe('GroundTruthScan', () => {
  test('exact top-k over every chunk, the query itself excluded, records keyed by (shard, row)', () => {
    const dim = 4;
    const n = 500;
    const data = sampleMixture(clusterModel({ ...WIDE, dim, clusters: 5, seed: 3 }), n, 4);
    const shardOf = (r: number): number => r % 3;
    const queryRows = [7, 123, 499];
    const queries = new Float32Array(queryRows.length * dim);
    queryRows.forEach((r, i) => queries.set(data.subarray(r * dim, (r + 1) * dim), i * dim));
    const scan = new GroundTruthScan({ queries, ordinals: queryRows, dim, metric: 'l2', numDbs: 3, k: 5, chunkRows: 37 });
    for (let r = 0; r < n; r++) scan.observe(r, shardOf(r), data.subarray(r * dim, (r + 1) * dim));
    const truth = scan.finish();
    assert.equal(truth.vectors, n);
    const keyOf = (r: number): number => shardOf(r) * 2 ** 32 + Math.floor(r / 3);
    queryRows.forEach((q, qi) => {
      const d2 = (r: number): number => data.subarray(r * dim, (r + 1) * dim).reduce((s, x, i) => s + (x - data[q * dim + i]) ** 2, 0);
      const expected = Array.from({ length: n }, (_, r) => r).filter((r) => r !== q).sort((a, b) => d2(a) - d2(b)).slice(0, 5);
      assert.deepEqual(truth.neighbours[qi], expected.map(keyOf), `query row ${q}`);
      assert.equal(truth.self[qi], keyOf(q));
    });
  });
});

describe('partial ground truths (distributed builds)', () => {
  const dim = 4;
  const n = 600;
  const data = sampleMixture(clusterModel({ ...WIDE, dim, clusters: 5, seed: 3 }), n, 4);
  const shardOf = (r: number): number => r % 4;
  const queryRows = [3, 100, 101, 599];
  const queries = new Float32Array(queryRows.length * dim);
  queryRows.forEach((r, i) => queries.set(data.subarray(r * dim, (r + 1) * dim), i * dim));
  const scan = (shards: (dbId: number) => boolean, ordinalOf: (r: number) => number): GroundTruthScan => {
    const s = new GroundTruthScan({ queries, ordinals: queryRows, dim, metric: 'l2', numDbs: 4, k: 6, chunkRows: 41 });
    // A worker's rows arrive shard by shard, not in read order: keys (shard, row) are the same.
    for (let db = 0; db < 4; db++) for (let r = 0; r < n; r++) if (shardOf(r) === db && shards(db)) s.observe(ordinalOf(r), db, data.subarray(r * dim, (r + 1) * dim));
    return s;
  };

  test('two scans over disjoint shards, merged by distance, equal one scan over all of them', () => {
    const one = scan(() => true, (r) => r).finish();
    // Workers know only their queries' ordinals (-1 for every other record).
    const known = (r: number): number => (queryRows.includes(r) ? r : -1);
    const parts = [scan((db) => db % 2 === 0, known).partial(), scan((db) => db % 2 === 1, known).partial()];
    assert.ok(parts[0].self.some((x) => x === -1) && parts[1].self.some((x) => x === -1), 'each part sees some queries\' own records');
    const merged = mergeGroundTruths(queries, dim, parts);
    assert.deepEqual(merged.neighbours, one.neighbours);
    assert.deepEqual(merged.self, one.self);
    assert.equal(merged.vectors, n);
    assert.throws(() => mergeGroundTruths(queries, dim, [parts[0], parts[0]]), /2 parts hold the own record of query/);
  });

  test('a recall partial round-trips; damage, truncation, another worker or a key outside its shards is refused naming the file', () => {
    const part = scan((db) => db % 2 === 1, (r) => (queryRows.includes(r) ? r : -1)).partial();
    const hits = [{ dist: Float32Array.from([0.5, 0.75]), keys: [1 * 2 ** 32 + 3, 1 * 2 ** 32 + 7] }];
    const shards = [
      { dbId: 1, queries: [0, 2], hits: [[hits[0], { dist: new Float32Array(0), keys: [] }], [hits[0], hits[0]]] },
      { dbId: 3, queries: [], hits: [] },
    ];
    const header = {
      run_id: 'r1',
      worker: 1,
      workers: 2,
      ef: [32, 64],
      shards: [
        { db_id: 1, vector_count: 150, index_sha256: 'a' },
        { db_id: 3, vector_count: 150, index_sha256: 'b' },
      ],
      search_seconds: 0.5,
    };
    const expect = { runId: 'r1', worker: 1, workers: 2, queries: 4, ef: [32, 64] };
    const bytes = encodeRecallPartial(header, part, shards);
    const back = decodeRecallPartial(bytes, 'p.bin', expect);
    assert.deepEqual(back.truth.self, part.self);
    assert.deepEqual(back.truth.keys, part.keys);
    assert.deepEqual(back.truth.distances, part.distances.map((d) => d.map((x) => Math.fround(x))));
    assert.deepEqual(back.shards, shards);
    assert.equal(back.header.vectors, 300);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 1] ^= 1;
    assert.throws(() => decodeRecallPartial(flipped, 'p.bin', expect), /recall partial p\.bin: body sha256 .* \(damaged\)/);
    assert.throws(() => decodeRecallPartial(bytes.subarray(0, bytes.length - 12), 'p.bin', expect), /p\.bin: body has .* \(truncated\?\)/);
    assert.throws(() => decodeRecallPartial(bytes, 'p.bin', { ...expect, worker: 0 }), /worker 1\/2's of run r1, expected worker 0\/2/);
    assert.throws(() => decodeRecallPartial(bytes, 'p.bin', { ...expect, ef: [32, 64, 128] }), /at ef 32,64, the plan has 4 at ef 32,64,128/);
    const outside = encodeRecallPartial(header, part, [{ ...shards[0], hits: [[{ dist: Float32Array.from([1]), keys: [0 * 2 ** 32 + 1] }, hits[0]], shards[0].hits[1]] }, shards[1]]);
    assert.throws(() => decodeRecallPartial(outside, 'p.bin', expect), /record key 1 at byte .* is not a row of shard 1/);
  });
});

describe('a real build: the recall table predicts served recall (8,000 x 16-d, 30 clusters, 8 shards, M 4)', () => {
  const dim = 16;
  const mixture = clusterModel({ ...WIDE, dim, clusters: 30, seed: 11 });
  const data = sampleMixture(mixture, 8000, 12);
  const held = sampleMixture(mixture, 300, 13); // held-out: another stream of the mixture
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: ObjectStore;
  let built: BuildResult;
  let cluster: LocalCluster | undefined;
  let client: ShardfleetClient | undefined;
  let truth: string[][];

  before(async () => {
    dir = await tempDir('search-recall');
    store = openObjectStore(join(dir.path, 'store'));
    built = await buildSnapshot({
      store,
      source: arraySource(data, dim),
      sharding: { strategy: 'cluster', numDbs: 8, numProbes: 2 },
      // A weak graph (M 4, ef_construction 16), so ef matters inside each shard.
      backend: { backend: 'usearch', quantization: 'f32', m: 4, efConstruction: 16 },
      metric: 'l2',
      seed: 5,
      progress: false,
      log: quietLogger(),
    });
    const m = exactSearch(data, held, dim, 10, MetricKind.L2sq, 0) as BatchMatches;
    truth = Array.from({ length: 300 }, (_, q) => Array.from(m.keys.subarray(q * 10, q * 10 + 10), (k) => `v${k}`));
    ({ cluster, client } = await serveStore(join(dir.path, 'store'), dir.path));
  });
  after(() => closeAll({ client, cluster, store, dir }));

  /** Mean recall@10 the cluster delivers on the held-out queries with these request fields. */
  async function served(params: { num_probes?: number; ef?: number; target_recall?: number }): Promise<{ recall: number; shards: number }> {
    let hits = 0;
    let shards = 0;
    for (let q = 0; q < 300; q++) {
      const res = await client!.search({ vector: held.subarray(q * dim, (q + 1) * dim), top_k: 10, ...params });
      const want = new Set(truth[q]);
      hits += res.results.filter((h) => want.has(h.id)).length;
      shards += res.shard_ids.length;
    }
    return { recall: hits / 3000, shards: shards / 300 };
  }

  test('the manifest holds the table; it round-trips through the schema and older readers drop it', () => {
    const sr = built.manifest.search_recall;
    assert.ok(sr, 'search_recall in the manifest');
    assert.deepEqual(sr.ef, [32, 64, 128, 256, 512]);
    assert.equal(sr.recall.length, 8);
    assert.equal(sr.ground_truth_vectors, 8000);
    assert.equal(sr.sample_queries, searchRecallQueries(1000, dim, 20_000));
    assert.deepEqual(ManifestSchema.parse(JSON.parse(JSON.stringify(built.manifest))).search_recall, sr);
    for (const row of sr.recall) for (let j = 1; j < row.length; j++) assert.ok(row[j] >= row[j - 1] - 0.01, `ef helps: ${row}`);
    assert.ok(sr.recall[7][0] < sr.recall[7][4] - 0.01, `ef matters with M 4: ${sr.recall[7]}`);
    const bad = structuredClone(built.manifest);
    bad.search_recall!.recall[0] = [0.5];
    assert.throws(() => ManifestSchema.parse(bad), /search_recall row 1 has 1 values for 5 ef values/);
    const old = structuredClone(built.manifest);
    delete old.search_recall;
    const parsed = ManifestSchema.parse(old);
    assert.equal(parsed.search_recall, undefined);
    assert.ok(resolveTargetRecall(0.9, 0, false, parsed.routing_recall, parsed.run_id, parsed.search_recall, 0, 8).numProbes >= 1);
  });

  test('served recall on held-out queries matches the table at measured (num_probes, ef) pairs within 0.04', async () => {
    const sr = built.manifest.search_recall!;
    for (const [p, j] of [[1, 0], [2, 2], [3, 4]] as const) {
      const got = await served({ num_probes: p, ef: sr.ef[j] });
      const predicted = sr.recall[p - 1][j];
      console.log(`# num_probes ${p}, ef ${sr.ef[j]}: table ${predicted}, served ${got.recall.toFixed(4)}`);
      assert.ok(Math.abs(got.recall - predicted) <= 0.04, `p=${p} ef=${sr.ef[j]}: table ${predicted} vs served ${got.recall}`);
    }
  });

  test('target_recall picks the cheapest pair of the table, and the router sends its ef to the nodes', async () => {
    const sr = built.manifest.search_recall!;
    for (const target of [0.9, 0.97]) {
      const pick = probesAndEfForRecall(sr, target);
      assert.ok(pick.reached, `${target} reachable: ${JSON.stringify(sr.recall)}`);
      const viaTarget = await served({ target_recall: target });
      const explicit = await served({ num_probes: pick.numProbes, ef: pick.ef });
      console.log(`# target ${target}: pair (${pick.numProbes}, ef ${pick.ef}), table ${pick.recall}, served ${viaTarget.recall.toFixed(4)}`);
      assert.equal(viaTarget.shards, pick.numProbes, 'num_probes of the pair');
      assert.equal(viaTarget.recall, explicit.recall, 'same answers as asking for the pair explicitly (so its ef reached the nodes)');
      assert.ok(viaTarget.recall >= target - 0.03, `target ${target} delivered ${viaTarget.recall}`);
    }
    // A request ef is kept: only num_probes is chosen.
    const fixedEf = await served({ target_recall: 0.9, ef: 32 });
    assert.equal(fixedEf.shards, probesAndEfForRecall(sr, 0.9, { ef: 32 }).numProbes);
  });

  test('SnapshotInfo carries the table and `status` shows it beside the routing curve', async () => {
    const sr = built.manifest.search_recall!;
    const info = await client!.snapshotInfo();
    assert.deepEqual(info.search_recall?.ef, sr.ef);
    assert.equal(info.search_recall?.probes, sr.recall.length);
    assert.deepEqual(info.search_recall?.recall, sr.recall.flat());
    assert.deepEqual(info.recall_at_probes, built.manifest.routing_recall!.recall_at_probes);
    const out = await runCli(['status', '--router', cluster!.routerAddress]);
    assert.match(out.stdout, /Routing recall@10 by shards probed \(build-time sample\):/);
    assert.match(out.stdout, /End-to-end recall@10 by shards probed and ef \(build-time, \d+ held-out sample queries, exact over 8,000 vectors/);
    assert.match(out.stdout, new RegExp(`PROBES\\s+ef 32\\s+ef 64\\s+ef 128\\s+ef 256\\s+ef 512\\s*\\n\\s*1\\s+${sr.recall[0][0].toFixed(3)}`));
  });
});
