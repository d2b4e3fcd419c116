/**
 * Recall-targeted probing (issue 15, part 2) on real data: a Fashion-MNIST build's measured
 * routing recall curve (shape, and agreement with recall measured independently on held-out
 * t10k queries by brute force through the run's own routing), `--target-recall`, `--min-recall`
 * / `--max-probes` refusing to publish, and `target_recall` through a real router.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { startLocalCluster, type LocalCluster } from '../src/cli/local-cluster.ts';
import { distance } from '../src/common/distance.ts';
import { CURRENT_KEY, type Manifest } from '../src/common/manifest.ts';
import { loadShardRouting } from '../src/common/routing/load-routing.ts';
import { probesForRecall, resolveTargetRecall } from '../src/common/routing/recall-target.ts';
import type { ShardRouting } from '../src/common/routing/shard-routing.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import type { ObjectStore } from '../src/common/storage/object-store.ts';
import { buildSnapshot, type BuildResult } from '../src/writer/build-snapshot.ts';
import { openIdxSource, readIdxImages } from '../src/writer/input/idx-source.ts';
import { checkRecallTargets } from '../src/writer/routing-recall.ts';
import { buildFashionSnapshot, FASHION_IMAGES, FASHION_LABELS, quietLogger, tempDir } from './helpers/fixtures.ts';
import { isGrpcStatus } from './helpers/grpc-assert.ts';

const BASE = 3000;
const NUM_DBS = 8;
/** Held-out t10k queries (never in the base). */
const QUERY_START = 9000;
const NUM_QUERIES = 500;
const K = 10;

const BIN = fileURLToPath(new URL('../bin/shardfleet.js', import.meta.url));
const run = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { ...process.env, SHARDFLEET_LOG_LEVEL: 'error' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/**
 * Routing recall measured independently: for each held-out query, the exact top-K over the whole
 * base by brute force, and the fraction of them whose shard (routing.assign, as the writer
 * assigned them) is among the query's first p routed shards; mean over queries, p = 1..numDbs.
 */
function measuredRecall(routing: ShardRouting, base: Float32Array, queries: Float32Array, dim: number): number[] {
  const n = base.length / dim;
  const shardOf = Array.from({ length: n }, (_, r) => routing.assign({ vector: base.subarray(r * dim, (r + 1) * dim), location: `row ${r}` }));
  const hits = new Array<number>(routing.numDbs).fill(0);
  const m = queries.length / dim;
  for (let q = 0; q < m; q++) {
    const scored = Array.from({ length: n }, (_, r) => ({ r, d: distance('l2', queries, q, base, r, dim) }));
    scored.sort((a, b) => a.d - b.d);
    const order = routing.route({ vector: queries.subarray(q * dim, (q + 1) * dim), numProbes: routing.numDbs, shardIds: [] });
    for (const { r } of scored.slice(0, K)) hits[order.indexOf(shardOf[r])]++;
  }
  let sum = 0;
  return hits.map((h) => (sum += h) / (m * K));
}

describe('routing recall curve on Fashion-MNIST (3,000 images, 8 shards)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: ObjectStore;
  let storeUrl: string;
  let built: BuildResult;
  let curve: number[];
  let cluster: LocalCluster;
  let client: ShardfleetClient;
  let queries: Float32Array;
  let dim: number;

  before(async () => {
    dir = await tempDir('recall-targeting');
    storeUrl = join(dir.path, 'store');
    store = openObjectStore(storeUrl);
    built = await buildFashionSnapshot(store, { limit: BASE, numDbs: NUM_DBS, numProbes: 2 });
    curve = built.manifest.routing_recall!.recall_at_probes;
    const q = await readIdxImages(FASHION_IMAGES, { start: QUERY_START, limit: NUM_QUERIES });
    queries = q.vectors;
    dim = q.dim;
  });
  after(async () => {
    client?.close();
    await cluster?.stop();
    await store?.close();
    await dir?.remove();
  });

  test('the manifest holds the curve: non-decreasing, 1.0 at p = num_dbs, sample sizes', () => {
    const rr = built.manifest.routing_recall;
    assert.ok(rr, 'routing_recall in the manifest');
    assert.equal(rr.k, K);
    assert.equal(rr.sample_queries, 1000);
    assert.equal(rr.sample_size, BASE);
    assert.equal(curve.length, NUM_DBS);
    for (let p = 1; p < curve.length; p++) assert.ok(curve[p] >= curve[p - 1], `non-decreasing at p=${p + 1}: ${curve}`);
    assert.equal(curve[NUM_DBS - 1], 1);
    assert.ok(curve[0] > 0.5 && curve[0] < 1, `p=1 is a real estimate: ${curve[0]}`);
    console.log(`# curve (8 shards, 3,000 base): ${curve.join(' ')}`);
  });

  test('the curve agrees with recall measured on held-out t10k queries by brute force (within 0.03)', async () => {
    const routing = await loadShardRouting(store, built.manifest);
    const base = (await readIdxImages(FASHION_IMAGES, { limit: BASE })).vectors;
    const measured = measuredRecall(routing, base, queries, dim);
    console.log(`# measured on ${NUM_QUERIES} held-out queries: ${measured.map((r) => r.toFixed(4)).join(' ')}`);
    measured.forEach((r, i) => assert.ok(Math.abs(r - curve[i]) <= 0.03, `p=${i + 1}: curve ${curve[i]} vs measured ${r.toFixed(4)}`));
  });

  test('--target-recall sets the default num_probes to the smallest p reaching it', async () => {
    for (const target of [0.95, 0.999]) {
      const sub = openObjectStore(join(dir.path, `target-${target}`));
      const source = await openIdxSource({ imagesPath: FASHION_IMAGES, limit: BASE });
      const r = await buildSnapshot({
        store: sub,
        source,
        sharding: { strategy: 'cluster', numDbs: NUM_DBS, numProbes: 2 },
        metric: 'l2',
        seed: 7,
        progress: false,
        log: quietLogger(),
        recall: { targetRecall: target },
      });
      const c = r.manifest.routing_recall!.recall_at_probes;
      const p = r.manifest.sharding.num_probes;
      assert.ok(c[p - 1] >= target, `curve at ${p} reaches ${target}: ${c}`);
      if (p > 1) assert.ok(c[p - 2] < target, `p=${p - 1} does not reach ${target}: ${c}`);
      assert.equal(p, c.findIndex((x) => x >= target) + 1);
      await sub.close();
    }
  });

  test('--min-recall unreachable at --max-probes fails with the curve, nothing published, _CURRENT unchanged', async () => {
    const before = await store.get(CURRENT_KEY);
    const manifestsBefore = (await store.list('manifests/')).length;
    const common = ['build', '--store', storeUrl, '--input', FASHION_IMAGES, '--limit', String(BASE), '--num-dbs', String(NUM_DBS), '--seed', '7', '--no-progress'];
    const runId = '20261201T000000Z-deadbeef';
    const res = await cli([...common, '--min-recall', '0.999', '--max-probes', '1', '--run-id', runId]);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /--min-recall 0\.999 is not reached: routing recall at --max-probes 1 is 0\.\d{4}/);
    assert.match(res.stderr, /p=1: 0\.\d{4}, p=2: [01]\.\d{4}, .*p=8: 1\.0000/, 'the whole curve');
    assert.match(res.stderr, /not published/);
    assert.deepEqual(await store.get(CURRENT_KEY), before, '_CURRENT unchanged');
    assert.equal((await store.list('manifests/')).length, manifestsBefore, 'no manifest');
    assert.equal((await store.list(`runs/${runId}/`)).length, 0, 'nothing uploaded for the refused run');

    const target = await cli([...common, '--target-recall', '0.999', '--max-probes', '2']);
    assert.notEqual(target.code, 0);
    assert.match(target.stderr, /--target-recall 0\.999 is not reached at --max-probes 2: the best is 0\.\d{4} .*p=8: 1\.0000/);
    assert.deepEqual(await store.get(CURRENT_KEY), before, '_CURRENT unchanged');

    const ok = await cli([...common, '--min-recall', '0.5', '--max-probes', '2', '--target-recall', '0.95']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /routing recall@10 \(1000 sample queries\), default num_probes \d: p=1: /);
    const history = await cli(['history', '--store', storeUrl, '--json']);
    const runs = JSON.parse(history.stdout) as { num_probes: number; routing_recall: { recall_at_probes: number[] } | null; current: boolean }[];
    const current = runs.find((r) => r.current)!;
    assert.equal(current.num_probes, probesForRecall(current.routing_recall!.recall_at_probes, 0.95).numProbes);
    const table = await cli(['history', '--store', storeUrl]);
    assert.match(table.stdout, /probes\s+recall@probes 1\.\./);
    assert.match(table.stdout, /\s\d\s+0\.\d{3}\/0\.\d{3}\//);
  });

  test('flag checks name the flag: values outside (0, 1], --max-probes > num_dbs, strategies without a curve', async () => {
    assert.throws(() => checkRecallTargets({ targetRecall: 0 }, 'cluster', 8), /--target-recall must be a number in \(0, 1\], got 0/);
    assert.throws(() => checkRecallTargets({ minRecall: 1.5 }, 'lsh', 8), /--min-recall must be a number in \(0, 1\]/);
    assert.throws(() => checkRecallTargets({ minRecall: 0.9, maxProbes: 9 }, 'cluster', 8), /--max-probes must be an integer in 1\.\.num_dbs \(8\), got 9/);
    assert.throws(() => checkRecallTargets({ targetRecall: 0.9 }, 'hash', 8), /--target-recall needs the cluster or lsh strategy/);
    assert.throws(() => checkRecallTargets({ minRecall: 0.9, sampleQueries: 0 }, 'cluster', 8), /--min-recall needs the routing recall curve, which --recall-queries 0 turns off/);
    assert.doesNotThrow(() => checkRecallTargets({ sampleQueries: 0 }, 'hash', 8));
    const res = await cli(['build', '--store', join(dir.path, 'x'), '--input', FASHION_IMAGES, '--limit', '100', '--target-recall', '1.5']);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /--target-recall.*not a recall in \(0, 1\]/);
  });

  test('--recall-queries 0 builds no curve; --recall-queries 200 samples 200 queries', async () => {
    for (const sampleQueries of [0, 200]) {
      const sub = openObjectStore(join(dir.path, `queries-${sampleQueries}`));
      const r = await buildSnapshot({
        store: sub,
        source: await openIdxSource({ imagesPath: FASHION_IMAGES, limit: 1000 }),
        sharding: { strategy: 'lsh', numDbs: 4, numProbes: 1 },
        metric: 'l2',
        progress: false,
        log: quietLogger(),
        recall: { sampleQueries },
      });
      assert.equal(r.manifest.routing_recall?.sample_queries, sampleQueries === 0 ? undefined : 200);
      await sub.close();
    }
  });

  test('resolveTargetRecall: explicit num_probes / shard_ids win, no curve is an error, 0 is unset', () => {
    const rr = built.manifest.routing_recall;
    assert.equal(resolveTargetRecall(0, 0, false, rr, 'r').numProbes, 0);
    assert.equal(resolveTargetRecall(0.99, 3, false, rr, 'r').numProbes, 3);
    assert.equal(resolveTargetRecall(0.99, 0, true, rr, 'r').numProbes, 0);
    assert.equal(resolveTargetRecall(1, 0, false, rr, 'r').numProbes, curve.indexOf(1) + 1);
    assert.throws(() => resolveTargetRecall(0.9, 0, false, undefined, 'run-x'), /target_recall needs a routing recall curve, and run run-x has none/);
    assert.throws(() => resolveTargetRecall(Number.NaN, 0, false, rr, 'r'), /target_recall must be in \(0, 1\]/);
  });

  describe('through a real router (2 shard nodes)', () => {
    before(async () => {
      cluster = await startLocalCluster({ store: storeUrl, numNodes: 2, cacheDir: join(dir.path, 'cache'), stderr: 'ignore' });
      client = new ShardfleetClient(cluster.routerAddress);
    });

    test('SnapshotInfo shows the curve', async () => {
      const info = await client.snapshotInfo();
      const current = JSON.parse((await store.get(CURRENT_KEY)).toString()) as { run_id: string; manifest_ref: string };
      assert.equal(info.run_id, current.run_id);
      const m = JSON.parse((await store.get(current.manifest_ref)).toString()) as Manifest;
      assert.deepEqual(info.recall_at_probes, m.routing_recall!.recall_at_probes);
    });

    /** The served manifest (the run _CURRENT names). */
    async function currentManifest(): Promise<Manifest> {
      const current = JSON.parse((await store.get(CURRENT_KEY)).toString()) as { manifest_ref: string };
      return JSON.parse((await store.get(current.manifest_ref)).toString()) as Manifest;
    }
    /** num_probes a target resolves to on the served run: its end-to-end table (issue 22) when it has one, else its routing curve. */
    async function expectedProbes(target: number): Promise<number> {
      const m = await currentManifest();
      return resolveTargetRecall(target, 0, false, m.routing_recall, m.run_id, m.search_recall, 0, m.sharding.num_dbs).numProbes;
    }

    test('target_recall probes the fewest shards reaching it (on the run\'s end-to-end table); num_probes and shard_ids win', async () => {
      const m = await currentManifest();
      assert.ok(m.search_recall, 'a usearch cluster build has the end-to-end table');
      const vector = queries.subarray(0, dim);
      for (const target of [0.3, 0.9, 0.97, 0.995, 1]) {
        const expected = await expectedProbes(target);
        const res = await client.search({ vector, top_k: K, target_recall: target });
        assert.equal(res.num_shards_queried, expected, `target ${target}, table ${JSON.stringify(m.search_recall)}`);
        assert.equal(res.shard_ids.length, expected);
      }
      assert.equal((await client.search({ vector, target_recall: 1, num_probes: 1 })).num_shards_queried, 1);
      assert.deepEqual((await client.search({ vector, target_recall: 1, shard_ids: [3] })).shard_ids, [3]);
      const batch = await client.batchSearch([
        { vector, target_recall: 1 },
        { vector, target_recall: 0.3 },
        { vector, target_recall: 2 },
      ]);
      assert.equal(batch.results[0].response!.num_shards_queried, await expectedProbes(1));
      assert.equal(batch.results[1].response!.num_shards_queried, await expectedProbes(0.3));
      assert.equal(batch.results[2].error_code, grpc.status.INVALID_ARGUMENT);
      assert.match(batch.results[2].error_message, /target_recall must be in \(0, 1\]/);
    });

    test('target_recall outside (0, 1] is INVALID_ARGUMENT naming target_recall', async () => {
      const vector = queries.subarray(0, dim);
      for (const bad of [1.5, -0.1, Number.NaN, Number.POSITIVE_INFINITY]) {
        await assert.rejects(client.search({ vector, target_recall: bad }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /target_recall must be in \(0, 1\]/));
      }
    });

    test('shardfleet search --target-recall', async () => {
      const res = await cli(['search', '--router', cluster.routerAddress, '--idx', FASHION_IMAGES, '--idx-index', String(QUERY_START), '--target-recall', '1']);
      assert.equal(res.code, 0, res.stderr);
      const out = JSON.parse(res.stdout) as { shard_ids: number[] };
      assert.equal(out.shard_ids.length, await expectedProbes(1));
    });
  });
});

describe('a snapshot without a curve', () => {
  test('hash builds have no routing_recall; target_recall on them is INVALID_ARGUMENT (prepareQuery)', async () => {
    const dir = await tempDir('recall-none');
    const store = openObjectStore(join(dir.path, 'store'));
    try {
      const source = await openIdxSource({ imagesPath: FASHION_IMAGES, labelsPath: FASHION_LABELS, limit: 200 });
      const r = await buildSnapshot({ store, source, sharding: { strategy: 'hash', numDbs: 4 }, metric: 'l2', progress: false, log: quietLogger() });
      assert.equal(r.manifest.routing_recall, undefined);
      const { prepareQuery } = await import('../src/router/search-service.ts');
      const routing = await loadShardRouting(store, r.manifest);
      const query = Buffer.from(new Float32Array(784).buffer);
      const req = { query, top_k: 10, num_probes: 0, shard_ids: [], target_recall: 0.9, include_payload: false, include_vector: false, routing_context: {}, nprobes: 0, ef: 0, refine_factor: 0, min_coverage: 0 };
      assert.throws(() => prepareQuery({ manifest: r.manifest, routing } as never, req as never), /target_recall needs a routing recall curve, and run .* has none/);
    } finally {
      await store.close();
      await dir.remove();
    }
  });
});
