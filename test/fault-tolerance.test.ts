/**
 * Fault tests with real processes (issue: "each must be able to fail"): a router and 3 shard
 * nodes with replication R=2 on 127.0.0.1, under a bounded client load (closed loop, 4 workers):
 * - SIGKILL one node: zero failed queries;
 * - a node frozen with SIGSTOP (it accepts connections but answers nothing): the router hedges to
 *   the other replica, so every query still answers, well before the node thaws;
 * - restart a node: it becomes ready again and takes traffic (the others are killed after it);
 * - publish a new run under load: zero failed queries, and no response mixes runs (the runs have
 *   disjoint ids, so every hit must belong to the run the response names);
 * - publish a malformed manifest: the old run keeps serving and Health says degraded;
 * - a corrupt shard file on one replica: served from the other.
 * Figures (QPS, p50/p99, errors) are printed, not asserted: these machines are shared and noisy.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ShardfleetClient } from '../src/client/router-client.ts';
import type { LocalCluster } from '../src/cli/local-cluster.ts';
import { CURRENT_KEY, manifestKey, parseCurrentPointer, type Manifest } from '../src/common/manifest.ts';
import { placeRun } from '../src/common/placement.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { runLoad } from '../src/eval/load-generator.ts';
import type { BuildResult } from '../src/writer/build-snapshot.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import { movePointer } from '../src/writer/publish.ts';
import { startFaultCluster } from './helpers/fault-cluster.ts';
import { FASHION_IMAGES, buildFashionSnapshot, reportLoad, tempDir } from './helpers/fixtures.ts';
import { closeAll } from './helpers/served-cluster.ts';

const BASE = 2000;
const NUM_DBS = 6;
const LOAD = { concurrency: 4, params: { top_k: 10, num_probes: 2 } } as const;

/** A run of BASE images from `start`. */
function build(store: FileObjectStore, start: number): Promise<BuildResult> {
  return buildFashionSnapshot(store, { start, limit: BASE, numDbs: NUM_DBS, seed: 3 });
}


describe('fault tolerance: router + 3 nodes, R=2, under load', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: FileObjectStore;
  let storeDir: string;
  let first: BuildResult;
  let cluster: LocalCluster;
  let client: ShardfleetClient;
  let queries: Float32Array;
  const dim = 784;

  before(async () => {
    dir = await tempDir('faults');
    storeDir = join(dir.path, 'store');
    store = new FileObjectStore(storeDir);
    first = await build(store, 0);
    queries = (await readIdxImages(FASHION_IMAGES, { start: 9000, limit: 200 })).vectors;
    cluster = await startFaultCluster(storeDir, join(dir.path, 'cache'), 2000);
    client = new ShardfleetClient(cluster.routerAddress);
  });
  after(async () => {
    await closeAll({ client, cluster, store, dir });
  });

  test('baseline: every query answers from the first run', async () => {
    const r = await runLoad(client, { ...LOAD, queries, dim, maxQueries: 200, durationMs: 30_000 });
    reportLoad('baseline', r);
    assert.equal(r.errorCount, 0);
    assert.deepEqual([...r.runs.keys()], [first.runId]);
  });

  test('SIGKILL one node under load: zero failed queries', async () => {
    let kill!: () => void;
    const killed = new Promise<void>((resolve) => (kill = resolve));
    const load = runLoad(client, { ...LOAD, queries, dim, durationMs: 4000 });
    setTimeout(() => {
      void cluster.killNode('node-1').then(kill);
    }, 1000);
    const r = await load;
    await killed;
    reportLoad('kill node-1', r);
    assert.ok(r.ok > 50, `only ${r.ok} queries answered`);
    assert.equal(r.errorCount, 0, `failed queries: ${JSON.stringify([...r.errors])}`);
  });

  test('a restarted node becomes ready and takes traffic', async () => {
    await cluster.restartNode('node-1');
    // Wait until the router sees node-1's shards loaded again.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const details = await client.shardDetails();
      const states = details.shards.flatMap((s) => s.replicas.filter((r) => r.node_id === 'node-1').map((r) => r.state));
      if (states.length > 0 && states.every((s) => s === 'loaded')) break;
      assert.ok(Date.now() < deadline, `node-1 replicas not loaded: ${JSON.stringify(states)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // With node-2 frozen, node-1 must serve its shards (every shard has a replica on node-0 or node-1).
    const placement = placeRun(first.manifest, ['node-0', 'node-1', 'node-2'], 2);
    assert.ok([...placement.values()].every((owners) => owners.includes('node-0') || owners.includes('node-1')));
    process.kill(cluster.processes.get('node-2')!.pid!, 'SIGSTOP');
    try {
      const r = await runLoad(client, { ...LOAD, queries, dim, maxQueries: 100, durationMs: 30_000, params: { ...LOAD.params, timeout_ms: 10_000 } });
      reportLoad('node-2 frozen, node-1 restarted', r);
      assert.equal(r.errorCount, 0, `failed queries: ${JSON.stringify([...r.errors])}`);
      assert.ok(r.max < 5000, `a query took ${r.max.toFixed(0)} ms: the router waited on the frozen node instead of hedging`);
    } finally {
      process.kill(cluster.processes.get('node-2')!.pid!, 'SIGCONT');
    }
  });

  test('publish a new run under load: zero failed queries, no response mixes runs', async () => {
    const idsOf = new Map<string, (id: string) => boolean>([[first.runId, (id) => Number(id) < BASE]]);
    let mixed = 0;
    let second: BuildResult | undefined;
    const publishing = (async () => {
      await new Promise((r) => setTimeout(r, 500));
      second = await build(store, BASE);
      idsOf.set(second.runId, (id) => Number(id) >= BASE && Number(id) < 2 * BASE);
    })();
    const r = await runLoad(client, {
      ...LOAD,
      queries,
      dim,
      durationMs: 15_000,
      onResponse: (res) => {
        const belongs = idsOf.get(res.run_id);
        if (!belongs || !res.results.every((h) => belongs(h.id))) mixed++;
      },
    });
    await publishing;
    reportLoad('publish under load', r);
    assert.equal(r.errorCount, 0, `failed queries: ${JSON.stringify([...r.errors])}`);
    assert.equal(mixed, 0, `${mixed} responses mixed runs`);
    assert.ok(second, 'second build did not finish');
    assert.ok((r.runs.get(second.runId) ?? 0) > 0, `the router never switched to ${second.runId}: ${JSON.stringify([...r.runs])}`);
    first = second;
  });

  test('a malformed manifest keeps the old run serving; Health says degraded', async () => {
    const key = manifestKey('broken-run', new Date());
    await store.put(key, '{"format_version": 1, "run_id": "broken-run"');
    await movePointer(store, key, 'broken-run');
    const deadline = Date.now() + 20_000;
    let health = await client.health();
    while (health.status !== 'degraded' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      health = await client.health();
    }
    assert.equal(health.status, 'degraded', JSON.stringify(health));
    assert.ok(health.reasons.some((r) => /broken-run|manifest/.test(r)), JSON.stringify(health.reasons));
    const r = await runLoad(client, { ...LOAD, queries, dim, maxQueries: 100, durationMs: 20_000 });
    reportLoad('malformed manifest', r);
    assert.equal(r.errorCount, 0);
    assert.deepEqual([...r.runs.keys()], [first.runId]);
    // Put the pointer back for the next test.
    const good = await store.list('manifests/');
    const goodKey = good.map((o) => o.key).find((k) => k.includes(first.runId))!;
    await movePointer(store, goodKey, first.runId);
    assert.equal(parseCurrentPointer(await store.get(CURRENT_KEY)).run_id, first.runId);
  });

  test('a corrupt shard file on one replica is served from the other', async () => {
    const manifest: Manifest = first.manifest;
    const placement = placeRun(manifest, ['node-0', 'node-1', 'node-2'], 2);
    const dbId = 0;
    const [victim] = placement.get(dbId)!;
    // Damage the stored shard, then make the victim re-fetch it: its download fails verification.
    const entry = manifest.shards[dbId];
    const fileKey = entry.url + entry.files[0].path;
    const good = await store.get(fileKey);
    await store.put(fileKey, Buffer.concat([good, Buffer.from('corrupt')]));
    try {
      await rm(join(dir.path, 'cache', victim), { recursive: true, force: true });
      await cluster.restartNode(victim, false); // it cannot become fully ready
      await new Promise((r) => setTimeout(r, 3000));
      const r = await runLoad(client, {
        ...LOAD,
        queries,
        dim,
        maxQueries: 100,
        durationMs: 20_000,
        params: { top_k: 10, shard_ids: [dbId] },
      });
      reportLoad(`shard ${dbId} corrupt on ${victim}`, r);
      assert.equal(r.errorCount, 0, `failed queries: ${JSON.stringify([...r.errors])}`);
      const details = await client.shardDetails();
      const replica = details.shards[dbId].replicas.find((x) => x.node_id === victim);
      assert.notEqual(replica?.state, 'loaded', JSON.stringify(details.shards[dbId]));
    } finally {
      await store.put(fileKey, good);
    }
  });
});
