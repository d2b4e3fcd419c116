/**
 * The router's view of the cluster, against fake shard nodes (real gRPC servers on 127.0.0.1):
 * Route and ShardDetails from node Status, Health (coverage, malformed new manifest), snapshot
 * swap without downtime (a new run is used only once the nodes report it loaded; no answer mixes
 * runs), the Refresh RPC, and membership changes.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { checkHealth } from '../src/common/health.ts';
import type { NodeEndpoint } from '../src/common/node-list.ts';
import type { HealthResponse__Output } from '../src/common/proto-gen/shardfleet/v1/HealthResponse.ts';
import type { RefreshResponse__Output } from '../src/common/proto-gen/shardfleet/v1/RefreshResponse.ts';
import type { RouteResponse__Output } from '../src/common/proto-gen/shardfleet/v1/RouteResponse.ts';
import type { SearchResponse__Output } from '../src/common/proto-gen/shardfleet/v1/SearchResponse.ts';
import type { ShardDetailsResponse__Output } from '../src/common/proto-gen/shardfleet/v1/ShardDetailsResponse.ts';
import type { SnapshotInfoResponse__Output } from '../src/common/proto-gen/shardfleet/v1/SnapshotInfoResponse.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import type { MembershipView } from '../src/common/membership/membership.ts';
import { tempDir } from './helpers/fixtures.ts';
import { isGrpcStatus } from './helpers/grpc-assert.ts';
import { FakeShardNode, fakeManifest, fakeRunPlacement, fakeQuery, publishFakeRun, publishMalformedRun, startTestRouter, waitUntil, type TestRouter } from './helpers/router-fakes.ts';
import { builtIndexTypes } from '../src/router/router-info.ts';

const RUN_A = 'run-a';
const RUN_B = 'run-b';
const NUM_DBS = 6;
const ALL = Array.from({ length: NUM_DBS }, (_, i) => i);

let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
let nodes: FakeShardNode[] = [];
let t: TestRouter | undefined;

async function newStore(): Promise<FileObjectStore> {
  dir = await tempDir('router-state');
  return new FileObjectStore(join(dir.path, 'store'));
}

async function startNodes(...ids: string[]): Promise<FakeShardNode[]> {
  nodes = await Promise.all(ids.map((id) => FakeShardNode.start(id)));
  return nodes;
}

afterEach(async () => {
  await t?.stop();
  t = undefined;
  for (const n of nodes) n.stop();
  nodes = [];
  await dir?.remove();
  dir = undefined;
});

const health = (): Promise<HealthResponse__Output> => t!.client.call<HealthResponse__Output>('Health', {});
const search = (shardIds = ALL): Promise<SearchResponse__Output> =>
  t!.client.call<SearchResponse__Output>('Search', { query: fakeQuery(), top_k: 50, shard_ids: shardIds });

describe('Route and ShardDetails', () => {
  test('replicas are ready only where Status says the shard is loaded; states name why not', async () => {
    const store = await newStore();
    await publishFakeRun(store, RUN_A, NUM_DBS, 1);
    const [a, b, c] = await startNodes('a', 'b', 'c');
    a.runs.set(RUN_A, { loaded: ALL });
    b.runs.set(RUN_A, { loaded: [], failed: [{ db_id: 1, reason: 'shard 1: file data.lance has sha256 0f0f but the manifest says aaaa' }] });
    c.statusFails = true;
    t = await startTestRouter(store, [a, b, c], { replication: 3 });
    await waitUntil('node c to be seen unreachable', async () => {
      const d = await t!.client.call<ShardDetailsResponse__Output>('ShardDetails', {});
      return d.shards[0].replicas.find((r) => r.node_id === 'c')?.state === 'unreachable';
    });

    const route = await t.client.call<RouteResponse__Output>('Route', { shard_ids: [4, 1] });
    assert.equal(route.run_id, RUN_A);
    assert.deepEqual(route.shards.map((s) => s.db_id), [4, 1]);
    for (const s of route.shards) {
      assert.deepEqual(s.node_ids, ['a'], `shard ${s.db_id}: only node a is ready`);
      assert.deepEqual(s.addresses, [a.address]);
    }

    const details = await t.client.call<ShardDetailsResponse__Output>('ShardDetails', {});
    assert.equal(details.run_id, RUN_A);
    assert.deepEqual(details.shards.map((s) => [s.db_id, s.vector_count, s.bytes, s.index_type]), ALL.map((db) => [db, 100 + db, 1000 + db, 'none']));
    const states = (db: number): Record<string, string> => Object.fromEntries(details.shards[db].replicas.map((r) => [r.node_id, r.state]));
    assert.deepEqual(states(1), { a: 'loaded', b: 'failed', c: 'unreachable' });
    assert.deepEqual(states(0), { a: 'loaded', b: 'loading', c: 'unreachable' });
    const b1 = details.shards[1].replicas.find((r) => r.node_id === 'b')!;
    assert.match(b1.reason, /sha256/);
    assert.equal(b1.address, b.address);
    assert.match(details.shards[0].replicas.find((r) => r.node_id === 'c')!.reason, /Status failed: UNAVAILABLE/);

    // Searches go only to the ready replica.
    await search();
    assert.equal(b.searchCalls.length + c.searchCalls.length, 0);
    assert.equal(a.searchCalls.length, 1);
  });

  test('Route follows the routing strategy and reports bad queries; SnapshotInfo describes the run', async () => {
    const store = await newStore();
    await publishFakeRun(store, RUN_A, NUM_DBS, 1);
    const [a] = await startNodes('a');
    a.runs.set(RUN_A, { loaded: ALL });
    t = await startTestRouter(store, [a]);
    await assert.rejects(t.client.call('Route', { query: fakeQuery() }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /shard_ids/));
    await assert.rejects(t.client.call('Route', { shard_ids: [NUM_DBS] }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /shard id 6 does not exist/));
    const info = await t.client.call<SnapshotInfoResponse__Output>('SnapshotInfo', {});
    assert.equal(info.run_id, RUN_A);
    assert.equal(info.strategy, 'explicit');
    assert.equal(info.num_dbs, NUM_DBS);
    assert.match(info.manifest_ref, /run_id=run-a\/manifest\.json$/);
    assert.equal(info.index_type, 'none', 'what the shards have (ShardDetails and the manifest entries say the same)');
    assert.equal(info.requested_index_type, 'auto', 'what the build was asked for');
  });

  test('SnapshotInfo index_type lists the distinct built index types when shards differ, leaving out empty shards', () => {
    const m = fakeManifest('run-x', 4, new Date('2026-01-01T00:00:00Z'));
    m.shards[0].index_type = 'hnsw_sq';
    m.shards[1].index_type = 'ivf_flat';
    m.shards[2].index_type = 'empty';
    m.shards[3].index_type = 'hnsw_sq';
    assert.equal(builtIndexTypes(m), 'hnsw_sq, ivf_flat');
    for (const s of m.shards) s.index_type = 'empty';
    assert.equal(builtIndexTypes(m), 'empty');
  });
});

describe('Health', () => {
  test('degraded while a shard has no ready replica, healthy once it has; unhealthy with none', async () => {
    const store = await newStore();
    await publishFakeRun(store, RUN_A, NUM_DBS, 1);
    const [a, b] = await startNodes('a', 'b');
    const placement = fakeRunPlacement(NUM_DBS, ['a', 'b'], 1);
    const ofB = ALL.filter((db) => placement.get(db)![0] === 'b');
    a.runs.set(RUN_A, { loaded: ALL.filter((db) => !ofB.includes(db)) });
    b.runs.set(RUN_A, { loaded: [] });
    t = await startTestRouter(store, [a, b]);
    let h = await health();
    assert.equal(h.status, 'degraded');
    assert.equal(h.run_id, RUN_A);
    assert.ok(Math.abs(h.coverage - (NUM_DBS - ofB.length) / NUM_DBS) < 1e-9);
    assert.match(h.reasons.join('\n'), new RegExp(`${ofB.length} of ${NUM_DBS} shards of run run-a have no ready replica .*: ${ofB.join(', ')}`));
    // Grouped: one text per node for every shard it lacks (issue 23), with the node's address.
    assert.match(h.reasons.join('\n'), new RegExp(`node b \\(127\\.0\\.0\\.1:\\d+\\) loading: run run-a not loaded yet \\(${ofB.length === 1 ? 'shard' : 'shards'} ${ofB.join(', ')}\\)`));
    assert.equal(await checkHealth(t.router.address, 'shardfleet.v1.Router'), 'SERVING');
    // A shard without a ready replica is still tried on its owner as a last resort (a node
    // lazily loads it); when the owner cannot answer it, the search fails naming the shard.
    assert.equal((await search()).num_shards_answered, NUM_DBS);
    b.lazyLoad = false;
    await assert.rejects(
      search(),
      isGrpcStatus(grpc.status.UNAVAILABLE, new RegExp(`shard ${ofB[0]} \\(db=0000${ofB[0]}\\): node b: loading: .*; node b: shard ${ofB[0]} is not loaded on fake node b`)),
    );

    b.runs.set(RUN_A, { loaded: ofB });
    await waitUntil('health to be healthy', async () => (await health()).status === 'healthy');
    h = await health();
    assert.equal(h.coverage, 1);
    assert.deepEqual(h.reasons, []);
    assert.equal((await search()).num_shards_answered, NUM_DBS);

    a.statusFails = true;
    b.statusFails = true;
    await waitUntil('health to be unhealthy', async () => (await health()).status === 'unhealthy');
    assert.equal((await health()).coverage, 0);
  });

  test('a malformed new manifest leaves the old run serving and shows in Health until a good run replaces it', async () => {
    const store = await newStore();
    await publishFakeRun(store, RUN_A, NUM_DBS, 1);
    const [a] = await startNodes('a');
    a.runs.set(RUN_A, { loaded: ALL });
    t = await startTestRouter(store, [a], { pollIntervalMs: 60_000 });
    assert.equal((await health()).status, 'healthy');

    const badKey = await publishMalformedRun(store, 'run-bad', 2);
    const refreshed = await t.client.call<RefreshResponse__Output>('Refresh', {});
    assert.equal(refreshed.run_id, RUN_A);
    assert.equal(refreshed.changed, false);
    assert.match(refreshed.message, /last refresh failed: manifest .*run-bad.* is unusable/);
    const h = await health();
    assert.equal(h.status, 'degraded');
    assert.equal(h.run_id, RUN_A);
    assert.ok(h.last_refresh_error.includes(badKey), h.last_refresh_error);
    assert.match(h.reasons.join('\n'), /last refresh failed/);
    const res = await search([0, 1]);
    assert.equal(res.run_id, RUN_A);

    await publishFakeRun(store, RUN_B, NUM_DBS, 3);
    a.runs.set(RUN_B, { loaded: ALL });
    const switched = await t.client.call<RefreshResponse__Output>('Refresh', {});
    assert.deepEqual([switched.previous_run_id, switched.run_id, switched.changed], [RUN_A, RUN_B, true]);
    const after = await health();
    assert.equal(after.status, 'healthy');
    assert.equal(after.last_refresh_error, '');
  });

  test('with no _CURRENT the router is NOT_SERVING, Search is FAILED_PRECONDITION and Health unhealthy', async () => {
    const store = await newStore();
    await store.put('placeholder', 'x');
    const [a] = await startNodes('a');
    const { startRouter } = await import('../src/router/router-server.ts');
    const { quietLogger } = await import('./helpers/fixtures.ts');
    const router = await startRouter({ store, nodes: [a.endpoint], replication: 1, listen: '127.0.0.1:0', log: quietLogger(), pollIntervalMs: 100 });
    try {
      await router.firstLoad;
      assert.equal(await checkHealth(router.address), 'NOT_SERVING');
      const h = router.health();
      assert.equal(h.status, 'unhealthy');
      assert.match(h.reasons?.[0] ?? '', /_CURRENT does not exist/);
      const { TestRouterClient } = await import('./helpers/router-fakes.ts');
      const client = new TestRouterClient(router.address);
      await assert.rejects(client.call('Search', { query: fakeQuery(), shard_ids: [0] }), isGrpcStatus(grpc.status.FAILED_PRECONDITION, /_CURRENT does not exist/));
      client.close();
      // Publishing a run makes it serve without a restart.
      await publishFakeRun(store, RUN_A, 2, 1);
      a.runs.set(RUN_A, { loaded: [0, 1] });
      await waitUntil('the router to serve', async () => (await checkHealth(router.address)) === 'SERVING');
      assert.equal(router.snapshot()?.manifest.run_id, RUN_A);
    } finally {
      await router.stop();
    }
  });
});

describe('snapshot swap', () => {
  test('a new run is used only once every shard is loaded on a ready replica; no answer mixes runs', async () => {
    const store = await newStore();
    await publishFakeRun(store, RUN_A, NUM_DBS, 1);
    const [a, b] = await startNodes('a', 'b');
    a.runs.set(RUN_A, { loaded: ALL });
    b.runs.set(RUN_A, { loaded: ALL });
    t = await startTestRouter(store, [a, b], { replication: 2, pollIntervalMs: 60_000, hedging: false });

    // Background searches for the whole test, each checked for run consistency.
    const answers: SearchResponse__Output[] = [];
    let running = true;
    const loop = (async () => {
      while (running) answers.push(await search());
    })();

    await publishFakeRun(store, RUN_B, NUM_DBS, 2);
    let r = await t.client.call<RefreshResponse__Output>('Refresh', {});
    assert.equal(r.run_id, RUN_A);
    assert.equal(r.changed, false);
    assert.match(r.message, /run run-b is loading on the nodes: 6 of 6 shards have no ready replica yet .*still serving run run-a/);
    assert.ok(a.refreshCalls > 0 && b.refreshCalls > 0, 'the nodes were asked to refresh');
    assert.equal((await health()).pending_run_id, RUN_B);

    // Half loaded on a, the other half nowhere: still run A.
    a.runs.set(RUN_B, { loaded: [0, 1, 2] });
    await new Promise((res) => setTimeout(res, 300));
    r = await t.client.call<RefreshResponse__Output>('Refresh', {});
    assert.equal(r.run_id, RUN_A);
    assert.match(r.message, /3 of 6 shards have no ready replica yet \(3, 4, 5\)/);
    assert.equal(a.callsFor(RUN_B) + b.callsFor(RUN_B), 0, 'no node was asked for the pending run');

    const loadedAt = Date.now();
    b.runs.set(RUN_B, { loaded: [3, 4, 5] });
    await waitUntil('the router to switch to run B', () => t!.router.snapshot()?.manifest.run_id === RUN_B);
    await waitUntil('answers from run B', () => answers.some((x) => x.run_id === RUN_B));
    running = false;
    await loop;

    for (const n of [a, b]) {
      for (const c of n.searchCalls.filter((x) => x.req.run_id === RUN_B)) assert.ok(c.at >= loadedAt, `node ${n.id} got a run B call before run B was loaded`);
    }
    assert.ok(answers.some((x) => x.run_id === RUN_A));
    for (const x of answers) {
      assert.equal(x.num_shards_answered, NUM_DBS);
      for (const hit of x.results) assert.ok(hit.id.startsWith(`${x.run_id}:`), `answer of run ${x.run_id} has hit ${hit.id}`);
    }
    const h = await health();
    assert.equal(h.run_id, RUN_B);
    assert.equal(h.pending_run_id, '');
  });

  test('_CURRENT is polled: a new run is picked up without a Refresh call', async () => {
    const store = await newStore();
    await publishFakeRun(store, RUN_A, 2, 1);
    const [a] = await startNodes('a');
    a.runs.set(RUN_A, { loaded: [0, 1] });
    a.runs.set(RUN_B, { loaded: [0, 1, 2] });
    t = await startTestRouter(store, [a], { pollIntervalMs: 100 });
    await publishFakeRun(store, RUN_B, 3, 2);
    await waitUntil('the router to switch to run B', () => t!.router.snapshot()?.manifest.run_id === RUN_B);
    const res = await search([2]);
    assert.equal(res.run_id, RUN_B);
  });
});

describe('membership changes', () => {
  test('nodes joining and leaving: clients and placement follow; searches keep working', async () => {
    const store = await newStore();
    await publishFakeRun(store, RUN_A, NUM_DBS, 1);
    const [a, b] = await startNodes('a', 'b');
    a.runs.set(RUN_A, { loaded: ALL });
    b.runs.set(RUN_A, { loaded: ALL });
    let current: NodeEndpoint[] = [a.endpoint];
    const listeners: ((n: NodeEndpoint[]) => void)[] = [];
    const membership: MembershipView = { current: () => current, onChange: (l) => listeners.push(l) };
    const change = (next: NodeEndpoint[]): void => {
      current = next;
      for (const l of listeners) l(next);
    };
    t = await startTestRouter(store, [], { membership, replication: 1, hedging: false });
    const owners = async (): Promise<string[][]> =>
      (await t!.client.call<ShardDetailsResponse__Output>('ShardDetails', {})).shards.map((s) => s.replicas.map((r) => r.node_id));
    assert.deepEqual(await owners(), ALL.map(() => ['a']));

    change([a.endpoint, b.endpoint]);
    const placement = fakeRunPlacement(NUM_DBS, ['a', 'b'], 1);
    // Placement is recomputed: b owns some shards now (a still has them all loaded, so it stays a ready replica).
    const want = ALL.map((db) => (placement.get(db)![0] === 'b' ? ['b', 'a'] : ['a', 'b']));
    await waitUntil('placement over a and b', async () => JSON.stringify(await owners()) === JSON.stringify(want));
    const before = b.searchCalls.length;
    await search();
    assert.equal(b.searchCalls.length, before + 1, 'node b is asked for the shards it now owns');

    change([b.endpoint]);
    await waitUntil('placement over b only', async () => JSON.stringify(await owners()) === JSON.stringify(ALL.map(() => ['b'])));
    const aCalls = a.searchCalls.length;
    const res = await search();
    assert.equal(res.num_shards_answered, NUM_DBS);
    assert.equal(a.searchCalls.length, aCalls, 'a removed node is not called');
  });
});
