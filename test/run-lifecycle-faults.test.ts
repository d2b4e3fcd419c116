/**
 * Snapshot-lifecycle faults with real processes (issue 12, defects 1, 2, 4, 5, 6): a router and 3
 * shard nodes (R=2) on 127.0.0.1 over a file:// store, one cluster through these steps in order:
 * - a new run is published with one shard file damaged in the store (its sha256 check fails on
 *   every replica), so it is stuck: Health says degraded at once, naming the run and the shard;
 *   past the nodes' --run-grace-ms every node still holds the served run (the router leases it);
 * - a node SIGKILLed and restarted meanwhile loads the served run again (from the router's lease),
 *   and no query fails;
 * - a router restarted while `_CURRENT` is the stuck run serves the earlier, complete run;
 * - a rollback to the served run clears the pending run (Health, Refresh);
 * - with a newer good run D published and served, a rollback to B, then a malformed manifest as
 *   `_CURRENT`: routers and nodes keep serving B (warm), and a router started cold falls back to
 *   B (the run that was current before), not to D (the newest manifest by key);
 * - a SIGSTOPped node: Health says degraded (shards below R ready replicas) within a few polls.
 * Figures are printed, not asserted: these machines are shared and noisy.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ShardfleetClient } from '../src/client/router-client.ts';
import type { LocalCluster } from '../src/cli/local-cluster.ts';
import { manifestKey, type Manifest } from '../src/common/manifest.ts';
import { placeRun } from '../src/common/placement.ts';
import type { ShardNodeClient } from '../src/common/proto.ts';
import type { StatusResponse__Output } from '../src/common/proto-gen/shardfleet/v1/StatusResponse.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { runLoad } from '../src/eval/load-generator.ts';
import type { BuildResult } from '../src/writer/build-snapshot.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import { movePointer } from '../src/writer/publish.ts';
import { rollback } from '../src/writer/snapshot-history.ts';
import { connectShardNodes, copyRun, nodeStatusOf, startFaultCluster, waitForValue } from './helpers/fault-cluster.ts';
import { FASHION_IMAGES, buildFashionSnapshot, reportLoad, tempDir } from './helpers/fixtures.ts';
import { closeAll } from './helpers/served-cluster.ts';

const BASE = 1500;
const NUM_DBS = 6;
const GRACE_MS = 1500;
const NODE_IDS = ['node-0', 'node-1', 'node-2'];
const LOAD = { concurrency: 4, params: { top_k: 10, num_probes: 2 } } as const;

/** A run of BASE images from `start`. */
function build(store: FileObjectStore, start: number): Promise<BuildResult> {
  return buildFashionSnapshot(store, { start, limit: BASE, numDbs: NUM_DBS, seed: 5 });
}


/** Polls `get` until `ok` accepts its value (30 s safety bound unless given). */
function waitFor<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  return waitForValue(what, get, ok, timeoutMs);
}

describe('snapshot lifecycle under faults: router + 3 nodes, R=2', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: FileObjectStore;
  let storeDir: string;
  let runB: BuildResult;
  let stuckRunId: string;
  let stuckDb: number;
  let cluster: LocalCluster;
  let client: ShardfleetClient;
  let queries: Float32Array;
  let nodeClients = new Map<string, ShardNodeClient>();
  const dim = 784;

  /** A node's Status, asked without leases (so the test never holds a run itself). */
  const nodeStatus = (id: string): Promise<StatusResponse__Output> => nodeStatusOf(nodeClients, id);

  /**
   * Builds a run in a staging store and copies it into the store with shard `dbId`'s first file
   * damaged, then points `_CURRENT` at it: a run that can never be complete.
   */
  const publishStuckRun = async (start: number, dbId: number): Promise<string> => {
    const staging = new FileObjectStore(join(dir.path, `staging-${start}`));
    const built = await build(staging, start);
    const shard = built.manifest.shards[dbId];
    const damaged = shard.url + shard.files[0].path;
    const key = await copyRun(staging, store, damaged);
    await staging.close();
    await movePointer(store, key, built.runId);
    return built.runId;
  };

  before(async () => {
    dir = await tempDir('lifecycle');
    storeDir = join(dir.path, 'store');
    store = new FileObjectStore(storeDir);
    runB = await build(store, 0);
    queries = (await readIdxImages(FASHION_IMAGES, { start: 9000, limit: 200 })).vectors;
    cluster = await startFaultCluster(storeDir, join(dir.path, 'cache'), GRACE_MS);
    client = new ShardfleetClient(cluster.routerAddress);
    nodeClients = connectShardNodes(cluster);
  });
  after(async () => {
    for (const c of nodeClients.values()) c.close();
    await closeAll({ client, cluster, store, dir });
  });

  test('a stuck new run: Health degraded at once naming it; no node drops the served run after its grace period', async () => {
    // The damaged shard's owners can never load it; the other nodes load their part of the run.
    stuckDb = 0;
    stuckRunId = await publishStuckRun(BASE, stuckDb);
    const owners = placeRun(runB.manifest, NODE_IDS, 2).get(stuckDb)!;
    const readyNode = NODE_IDS.find((n) => !owners.includes(n))!;
    await waitFor(
      `${readyNode} to have loaded its part of ${stuckRunId}`,
      () => nodeStatus(readyNode),
      (s) => s.runs.some((r) => r.run_id === stuckRunId && r.ready),
    );
    const health = await waitFor(
      'Health to report the stuck run',
      () => client.health(),
      (h) => h.pending_run_id === stuckRunId && h.reasons.some((r) => r.includes(stuckRunId) && r.includes('cannot be served')),
      10_000,
    );
    assert.equal(health.status, 'degraded');
    assert.equal(health.run_id, runB.runId);
    // Grouped by node and text (issue 23): `node <id> (<address>) failed: <why> (shard <db>)`.
    assert.match(health.reasons.join(' | '), new RegExp(`node \\S+ \\(\\S+\\) failed: .*\\(shards? [^)]*\\b${stuckDb}\\b`), JSON.stringify(health.reasons));
    // Past the grace period: every node still holds the served run, leased by the router.
    await new Promise((r) => setTimeout(r, GRACE_MS + 1500));
    for (const id of NODE_IDS) {
      const s = await nodeStatus(id);
      const b = s.runs.find((r) => r.run_id === runB.runId);
      assert.ok(b, `${id} dropped run ${runB.runId} the router serves; it holds ${s.runs.map((r) => r.run_id).join(', ')}`);
      assert.equal(b.leased, true, `${id}: run ${runB.runId} is not leased`);
      assert.equal(b.ready, true);
    }
    const r = await runLoad(client, { ...LOAD, queries, dim, maxQueries: 100, durationMs: 20_000 });
    reportLoad('stuck run', r);
    assert.equal(r.errorCount, 0, JSON.stringify([...r.errors]));
    assert.deepEqual([...r.runs.keys()], [runB.runId]);
  });

  test('a node SIGKILLed and restarted while the new run is stuck loads the served run again; no query fails', async () => {
    const victim = 'node-1';
    let restarted!: Promise<void>;
    const load = runLoad(client, { ...LOAD, queries, dim, durationMs: 6000 });
    setTimeout(() => {
      restarted = cluster.killNode(victim).then(() => cluster.restartNode(victim, false));
    }, 1000);
    const r = await load;
    await restarted;
    reportLoad('kill + restart a node while a run is stuck', r);
    assert.equal(r.errorCount, 0, JSON.stringify([...r.errors]));
    assert.equal(r.partial, 0);
    const s = await waitFor(
      `${victim} to load run ${runB.runId} again`,
      () => nodeStatus(victim),
      (x) => x.runs.some((run) => run.run_id === runB.runId && run.ready && run.shards_loaded.length > 0),
    );
    assert.equal(s.run_id, stuckRunId, 'its current run is still what _CURRENT names');
    await waitFor(
      `the router to see ${victim}'s replicas loaded`,
      () => client.shardDetails(),
      (d) => d.run_id === runB.runId && d.shards.every((x) => x.replicas.filter((rep) => rep.node_id === victim).every((rep) => rep.state === 'loaded')),
    );
    // With another node killed, the restarted one must carry its share: nothing fails.
    await cluster.killNode('node-2');
    try {
      const placement = placeRun(runB.manifest, NODE_IDS, 2);
      const covered = [...placement.values()].every((o) => o.includes('node-0') || o.includes(victim));
      assert.ok(covered, 'every shard has a replica on node-0 or node-1');
      const r2 = await runLoad(client, { ...LOAD, queries, dim, maxQueries: 150, durationMs: 20_000 });
      reportLoad('restarted node carries the run with node-2 down', r2);
      assert.equal(r2.errorCount, 0, JSON.stringify([...r2.errors]));
      assert.equal(r2.partial, 0);
    } finally {
      await cluster.restartNode('node-2', false);
    }
  });

  test('Health says degraded while a node is down (shards below R ready replicas)', async () => {
    await waitFor('every replica back', () => client.health(), (h) => !h.reasons.some((r) => r.includes('redundancy lost')));
    const pid = cluster.processes.get('node-2')!.pid!;
    process.kill(pid, 'SIGSTOP');
    try {
      const h = await waitFor('Health to report lost redundancy', () => client.health(), (x) => x.reasons.some((r) => r.includes('redundancy lost')), 15_000);
      assert.equal(h.status, 'degraded');
      assert.match(h.reasons.join(' | '), /fewer than 2 ready replicas: .*node node-2 \(\S+\) unreachable/);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });

  test('a router restarted while _CURRENT is stuck serves the complete earlier run', async () => {
    await cluster.restartRouter();
    const h = await waitFor('the restarted router to name the pending run', () => client.health(), (x) => x.run_id !== '' && x.pending_run_id === stuckRunId);
    assert.equal(h.run_id, runB.runId, JSON.stringify(h));
    const r = await runLoad(client, { ...LOAD, queries, dim, maxQueries: 150, durationMs: 20_000 });
    reportLoad('router restarted while a run is stuck', r);
    assert.equal(r.errorCount, 0, JSON.stringify([...r.errors]));
    assert.equal(r.partial, 0);
    assert.deepEqual([...r.runs.keys()], [runB.runId]);
  });

  test('a rollback to the served run clears the pending run', async () => {
    await rollback(store, { runId: runB.runId });
    const res = await client.refresh();
    assert.equal(res.run_id, runB.runId);
    assert.doesNotMatch(res.message, new RegExp(stuckRunId), res.message);
    const h = await client.health();
    assert.equal(h.pending_run_id, '', JSON.stringify(h));
    assert.ok(!h.reasons.some((r) => r.includes(stuckRunId)), JSON.stringify(h.reasons));
  });

  test('a malformed manifest after a rollback: the fleet keeps serving the rolled-back run, warm and cold', async () => {
    const runD = await build(store, 2 * BASE);
    await waitFor(`the router to serve ${runD.runId}`, () => client.health(), (h) => h.run_id === runD.runId);
    await rollback(store, { runId: runB.runId });
    await client.refresh();
    await waitFor(`the router to serve ${runB.runId} again`, () => client.health(), (h) => h.run_id === runB.runId);
    for (const id of NODE_IDS) await waitFor(`${id} to make ${runB.runId} current again`, () => nodeStatus(id), (s) => s.run_id === runB.runId);
    const bad = manifestKey('malformed-run', new Date());
    await store.put(bad, '{"format_version": 1, "run_id": "malformed-run"');
    await movePointer(store, bad, 'malformed-run');
    await client.refresh();
    await new Promise((r) => setTimeout(r, 1000)); // a few node polls
    const health = await client.health();
    assert.equal(health.run_id, runB.runId, JSON.stringify(health));
    assert.equal(health.status, 'degraded');
    for (const id of NODE_IDS) {
      const s = await nodeStatus(id);
      assert.equal(s.run_id, runB.runId, `${id} switched to ${s.run_id}; load_error: ${s.load_error}`);
      assert.match(s.load_error, /malformed-run|unusable/);
    }
    const r = await runLoad(client, { ...LOAD, queries, dim, maxQueries: 100, durationMs: 20_000 });
    reportLoad('malformed manifest after a rollback (warm)', r);
    assert.equal(r.errorCount, 0);
    assert.deepEqual([...r.runs.keys()], [runB.runId]);
    // Cold: a restarted router and node fall back to the run that was current before, B.
    await cluster.restartRouter();
    await cluster.restartNode('node-0');
    const cold = await runLoad(client, { ...LOAD, queries, dim, maxQueries: 100, durationMs: 20_000 });
    reportLoad('malformed manifest after a rollback (cold router)', cold);
    assert.equal(cold.errorCount, 0, JSON.stringify([...cold.errors]));
    assert.deepEqual([...cold.runs.keys()], [runB.runId]);
    assert.equal((await nodeStatus('node-0')).run_id, runB.runId);
    const manifest: Manifest = runD.manifest;
    assert.notEqual(manifest.run_id, runB.runId);
  });
});
