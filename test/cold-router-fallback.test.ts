/**
 * A router that starts cold while `_CURRENT` names a stuck run, with a pointer that has no
 * `previous` (issue 20, defect 9): pointers written by older builds, by hand or by other writers
 * carry no history of earlier runs. Real processes (a router and 3 shard nodes, R=2, on
 * 127.0.0.1 over a file:// store), one cluster through these steps in order:
 * - run A is built and served;
 * - run B is published with one shard file damaged in the store (its sha256 check fails on every
 *   replica) and a hand-written `_CURRENT` {format_version, manifest_ref, run_id, published_at};
 * - once the nodes tried B, the router process is restarted: it must serve A (the newest earlier
 *   manifest complete on ready replicas), every search answers in full, and B stays pending;
 * - the router and a node restarted at once: the same, and the node loads A again (leased);
 * - a complete run C published the same way: the router moves on to C.
 * Before the fix the restarted router served B with partial coverage and failed every search that
 * probed the damaged shard.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ShardfleetClient } from '../src/client/router-client.ts';
import type { LocalCluster } from '../src/cli/local-cluster.ts';
import { CURRENT_KEY } from '../src/common/manifest.ts';
import type { ShardNodeClient } from '../src/common/proto.ts';
import type { StatusResponse__Output } from '../src/common/proto-gen/shardfleet/v1/StatusResponse.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { runLoad } from '../src/eval/load-generator.ts';
import type { BuildResult } from '../src/writer/build-snapshot.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import { connectShardNodes, copyRun, nodeStatusOf, startFaultCluster, waitForValue as waitFor } from './helpers/fault-cluster.ts';
import { FASHION_IMAGES, buildFashionSnapshot, reportLoad, tempDir } from './helpers/fixtures.ts';
import { closeAll } from './helpers/served-cluster.ts';

const BASE = 1500;
const NUM_DBS = 6;
const GRACE_MS = 1500;
const NODE_IDS = ['node-0', 'node-1', 'node-2'];
const LOAD = { concurrency: 4, params: { top_k: 10, num_probes: 2 } } as const;
/** Searches per load run: every query probes 2 of 6 shards, so about a third probe a damaged shard. */
const NUM_QUERIES = 300;

describe('a cold router with a _CURRENT without previous: router + 3 nodes, R=2', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: FileObjectStore;
  let storeDir: string;
  let runA: BuildResult;
  let stuckRunId: string;
  let cluster: LocalCluster;
  let client: ShardfleetClient;
  let queries: Float32Array;
  let nodeClients = new Map<string, ShardNodeClient>();
  const dim = 784;

  /** A node's Status, asked without leases (so the test never holds a run itself). */
  const nodeStatus = (id: string): Promise<StatusResponse__Output> => nodeStatusOf(nodeClients, id);

  /** Points `_CURRENT` at a manifest as a hand-written pointer (or an older build) does: no `previous`. */
  const writeBarePointer = async (manifestRef: string, runId: string): Promise<void> => {
    const pointer = { format_version: 1, manifest_ref: manifestRef, run_id: runId, published_at: new Date().toISOString() };
    await store.put(CURRENT_KEY, JSON.stringify(pointer));
  };

  /**
   * Builds a run in a staging store and copies it into the store (shard `damagedDb`'s first file
   * damaged, when given), then points `_CURRENT` at it without `previous`.
   */
  const publishBare = async (start: number, damagedDb?: number): Promise<string> => {
    const staging = new FileObjectStore(join(dir.path, `staging-${start}`));
    const built = await buildFashionSnapshot(staging, { start, limit: BASE, numDbs: NUM_DBS, seed: 5 });
    const shard = damagedDb === undefined ? undefined : built.manifest.shards[damagedDb];
    const damaged = shard === undefined ? undefined : shard.url + shard.files[0].path;
    const key = await copyRun(staging, store, damaged);
    await staging.close();
    await writeBarePointer(key, built.runId);
    return built.runId;
  };

  /** Runs NUM_QUERIES searches and asserts every one answered in full from `runId`. */
  const assertAllAnswered = async (name: string, runId: string): Promise<void> => {
    const r = await runLoad(client, { ...LOAD, queries, dim, maxQueries: NUM_QUERIES, durationMs: 60_000 });
    reportLoad(name, r);
    assert.equal(r.errorCount, 0, `${r.errorCount} of ${r.sent} searches failed (runs: ${JSON.stringify([...r.runs])}): ${JSON.stringify([...r.errors])}`);
    assert.equal(r.partial, 0);
    assert.equal(r.ok, NUM_QUERIES);
    assert.deepEqual([...r.runs.keys()], [runId]);
  };

  before(async () => {
    dir = await tempDir('cold-router');
    storeDir = join(dir.path, 'store');
    store = new FileObjectStore(storeDir);
    // Run A, published by hand too: no pointer in this store ever has `previous`.
    const staging = new FileObjectStore(join(dir.path, 'staging-a'));
    runA = await buildFashionSnapshot(staging, { start: 0, limit: BASE, numDbs: NUM_DBS, seed: 5 });
    await copyRun(staging, store);
    await staging.close();
    await writeBarePointer(runA.manifestKey, runA.runId);
    queries = (await readIdxImages(FASHION_IMAGES, { start: 9000, limit: 200 })).vectors;
    cluster = await startFaultCluster(storeDir, join(dir.path, 'cache'), GRACE_MS);
    client = new ShardfleetClient(cluster.routerAddress);
    nodeClients = connectShardNodes(cluster);
  });
  after(async () => {
    for (const c of nodeClients.values()) c.close();
    await closeAll({ client, cluster, store, dir });
  });

  test('a router restarted while _CURRENT (without previous) names a stuck run serves the complete earlier run', async () => {
    assert.equal((await client.health()).run_id, runA.runId);
    stuckRunId = await publishBare(BASE, 0);
    // The nodes tried B: its damaged shard failed on every replica (the running router says so).
    await waitFor(
      'Health to report the stuck run',
      () => client.health(),
      (h) => h.pending_run_id === stuckRunId && h.reasons.some((r) => r.includes(stuckRunId) && r.includes('cannot be served')),
    );
    for (const id of NODE_IDS) await waitFor(`${id} to make ${stuckRunId} current`, () => nodeStatus(id), (s) => s.run_id === stuckRunId);

    await cluster.restartRouter();
    const h = await waitFor('the restarted router to serve a run', () => client.health(), (x) => x.run_id !== '');
    await assertAllAnswered('cold router, _CURRENT without previous names a stuck run', runA.runId);
    assert.equal(h.run_id, runA.runId, `the restarted router serves ${h.run_id}, not the complete run A: ${JSON.stringify(h)}`);
    assert.equal(h.pending_run_id, stuckRunId, JSON.stringify(h));
    assert.equal(h.coverage, 1, JSON.stringify(h));
    assert.notEqual(h.status, 'unhealthy');
    // Degraded only for the stuck run, which is named; nothing about partial coverage.
    assert.ok(h.reasons.every((r) => r.includes(stuckRunId)), JSON.stringify(h.reasons));
    const info = await client.snapshotInfo();
    assert.equal(info.run_id, runA.runId);
    assert.equal(info.manifest_ref, runA.manifestKey);
    // Every node keeps A, leased by the new router.
    for (const id of NODE_IDS) {
      const s = await nodeStatus(id);
      const a = s.runs.find((r) => r.run_id === runA.runId);
      assert.ok(a, `${id} dropped run ${runA.runId}; it holds ${s.runs.map((r) => r.run_id).join(', ')}`);
      assert.equal(a.leased, true, `${id}: run ${runA.runId} is not leased`);
    }
  });

  test('the router and a node restarted at once: the router serves A and the node loads A again', async () => {
    const victim = 'node-1';
    await Promise.all([cluster.restartRouter(), cluster.restartNode(victim, false)]);
    const h = await waitFor('the restarted router to serve a run', () => client.health(), (x) => x.run_id !== '');
    assert.equal(h.run_id, runA.runId, JSON.stringify(h));
    assert.equal(h.pending_run_id, stuckRunId);
    await waitFor(`${victim} to load run ${runA.runId} again`, () => nodeStatus(victim), (s) => s.runs.some((r) => r.run_id === runA.runId && r.ready && r.shards_loaded.length > 0));
    await waitFor('every replica of A ready again', () => client.health(), (x) => x.coverage === 1 && !x.reasons.some((r) => r.includes('redundancy lost')));
    await assertAllAnswered('cold router + restarted node, _CURRENT without previous names a stuck run', runA.runId);
  });

  test('a complete run C published (again without previous): the router moves on to it', async () => {
    const runC = await publishBare(2 * BASE);
    await waitFor(`the router to serve ${runC}, healthy`, () => client.health(), (x) => x.run_id === runC && x.pending_run_id === '' && x.status === 'healthy');
    assert.equal((await client.snapshotInfo()).run_id, runC);
    await assertAllAnswered('run C served', runC);
  });
});
