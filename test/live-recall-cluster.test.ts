/**
 * Live recall (issue 24) through real processes: a router and two shard nodes (child processes)
 * over a Fashion-MNIST usearch snapshot, the router sampling every answered query
 * (`--live-recall-fraction 1`). Checks that the live recall gauge (Prometheus and SnapshotInfo)
 * is within 0.02 of recall@10 measured offline by brute force over the same base on the same
 * queries, that the build-time figure sits beside it, that every user query succeeded, that a
 * BatchSearch's extra samples are skipped (one reference in flight), never queued, and that
 * `shardfleet status` prints the live figure beside the build-time one.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { startLocalCluster, type LocalCluster } from '../src/cli/local-cluster.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import type { ObjectStore } from '../src/common/storage/object-store.ts';
import { promSample } from '../src/eval/prometheus-text.ts';
import { buildRecallOf } from '../src/router/live-recall-window.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import type { BuildResult } from '../src/writer/build-snapshot.ts';
import { buildFashionSnapshot, FASHION_IMAGES, tempDir } from './helpers/fixtures.ts';
import { waitFor } from './helpers/wait.ts';
import { exactTopK } from './helpers/exact-top-k.ts';

const BASE = 3000;
const NUM_DBS = 4;
/** Held-out t10k queries (never in the base). */
const QUERY_START = 9000;
const NUM_QUERIES = 120;
const K = 10;
const BIN = fileURLToPath(new URL('../bin/shardfleet.js', import.meta.url));

describe('live recall through a real router and nodes (Fashion-MNIST, 3,000 images, 4 shards)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: ObjectStore;
  let built: BuildResult;
  let cluster: LocalCluster;
  let client: ShardfleetClient;
  let queries: Float32Array;
  let dim: number;
  let base: Float32Array;

  before(async () => {
    dir = await tempDir('live-recall');
    const storeUrl = join(dir.path, 'store');
    store = openObjectStore(storeUrl);
    built = await buildFashionSnapshot(store, { limit: BASE, numDbs: NUM_DBS, numProbes: 1 });
    const q = await readIdxImages(FASHION_IMAGES, { start: QUERY_START, limit: NUM_QUERIES });
    queries = q.vectors;
    dim = q.dim;
    base = (await readIdxImages(FASHION_IMAGES, { limit: BASE })).vectors;
    cluster = await startLocalCluster({
      store: storeUrl,
      numNodes: 2,
      cacheDir: join(dir.path, 'cache'),
      stderr: 'ignore',
      metricsListen: 'auto',
      routerArgs: ['--live-recall-fraction', '1', '--live-recall-max-per-second', '10000'],
    });
    client = new ShardfleetClient(cluster.routerAddress);
  });
  after(async () => {
    client?.close();
    await cluster?.stop();
    await store?.close();
    await dir?.remove();
  });

  /** Samples the router has finished (measured or skipped), from SnapshotInfo. */
  async function finished(): Promise<{ measured: number; skipped: Record<string, number> }> {
    const info = await client.snapshotInfo();
    const l = info.live_recall;
    assert.ok(l, 'SnapshotInfo carries live_recall');
    return { measured: l.measured, skipped: { ...l.skipped } };
  }
  const total = (f: { measured: number; skipped: Record<string, number> }): number => f.measured + Object.values(f.skipped).reduce((a, b) => a + b, 0);

  test('the live recall gauge is within 0.02 of offline recall@10 on the same queries, every user query answered', async () => {
    const truth = exactTopK(base, queries, dim, K);
    let offline = 0;
    for (let i = 0; i < NUM_QUERIES; i++) {
      const before = total(await finished());
      // One query at a time, each measured before the next: every query is sampled exactly once.
      const res = await client.search({ vector: queries.subarray(i * dim, (i + 1) * dim), top_k: K, num_probes: 1 });
      assert.equal(res.partial, false);
      const got = new Set(res.results.map((h) => h.id));
      offline += truth[i].filter((id) => got.has(id)).length / K;
      await waitFor(`sample ${i} to finish`, async () => total(await finished()) > before, { timeoutMs: 60_000, intervalMs: 10 });
    }
    offline /= NUM_QUERIES;
    const f = await finished();
    assert.deepEqual(f.skipped, {}, 'no sample was skipped');
    assert.equal(f.measured, NUM_QUERIES);
    const metrics = await (await fetch(`http://${cluster.metrics.get('router')}/metrics`)).text();
    const labels = { collection: 'default', num_probes: '1', filter: 'none' };
    const live = promSample(metrics, 'shardfleet_router_live_recall', labels);
    const build = promSample(metrics, 'shardfleet_router_build_recall', labels);
    console.log(`# live recall@10 ${live} vs offline ${offline.toFixed(4)} (build-time ${build}) over ${NUM_QUERIES} queries`);
    assert.ok(live !== undefined, metrics.split('\n').filter((l) => l.includes('live_recall')).join('\n'));
    assert.ok(Math.abs(live - offline) <= 0.02, `live ${live} vs offline ${offline}`);
    assert.ok(offline < 0.999, `one probe of four misses some neighbours, so the check means something: ${offline}`);
    assert.equal(promSample(metrics, 'shardfleet_router_live_recall_window_samples', labels), NUM_QUERIES);
    assert.equal(promSample(metrics, 'shardfleet_router_live_recall_samples_total', { outcome: 'measured' }), NUM_QUERIES);
    const expected = buildRecallOf(built.manifest, 1, 0, false, false);
    assert.ok(expected !== undefined && build !== undefined, 'the build-time figure is exported beside the live one');
    assert.ok(Math.abs(build - expected) < 1e-9, `build ${build} vs manifest ${expected}`);
  });

  test('a BatchSearch is answered in full; samples beyond the one reference in flight are skipped, not queued', async () => {
    const before = await finished();
    const batch = Array.from({ length: 20 }, (_, i) => ({ vector: queries.subarray(i * dim, (i + 1) * dim), top_k: K, num_probes: 1 }));
    const res = await client.batchSearch(batch);
    assert.equal(res.results.length, 20);
    for (const r of res.results) {
      assert.equal(r.error_code, 0, r.error_message);
      assert.equal(r.response?.results.length, K);
    }
    await waitFor('the batch samples to finish', async () => total(await finished()) >= total(before) + 20, { timeoutMs: 60_000, intervalMs: 20 });
    const after = await finished();
    const inFlight = (after.skipped.in_flight ?? 0) - (before.skipped.in_flight ?? 0);
    assert.ok(inFlight >= 1, `some of the 20 samples found the reference slot taken: ${JSON.stringify(after)}`);
    assert.ok(after.measured > before.measured, 'at least one was measured');
  });

  test('shardfleet status prints live recall beside the build-time figure', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'status', '--router', cluster.routerAddress], { env: { ...process.env, SHARDFLEET_LOG_LEVEL: 'error' } });
    assert.match(stdout, /Live recall@k \(100% of answered queries, at most 10000\/s/);
    assert.match(stdout, /COLLECTION\s+PROBES\s+FILTER\s+SAMPLES\s+LIVE\s+BUILD-TIME\s+DRIFT/);
    assert.match(stdout, /default\s+1\s+none\s+\d+\s+0\.\d{3}\s+0\.\d{3}\s+[+-]0\.\d{3}/);
  });
});
