/**
 * The router's fan-out against fake shard nodes that are real gRPC servers on 127.0.0.1: replica
 * choice by outstanding searches, retry on another replica, hedging a slow replica, outlier ejection and re-probe, min_coverage (partial
 * answers are never silent), BatchSearch (one SearchShards per node), include_vector forwarding.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { placeShards } from '../src/common/placement.ts';
import { loadShardNodeProto, type ShardNodeClient } from '../src/common/proto.ts';
import { fanOut } from '../src/router/fan-out.ts';
import { NodeCallCoalescer } from '../src/router/node-call-coalescer.ts';
import { NodeLoad } from '../src/router/replica-choice.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import type { BatchSearchResponse__Output } from '../src/common/proto-gen/shardfleet/v1/BatchSearchResponse.ts';
import type { SearchResponse__Output } from '../src/common/proto-gen/shardfleet/v1/SearchResponse.ts';
import type { ShardDetailsResponse__Output } from '../src/common/proto-gen/shardfleet/v1/ShardDetailsResponse.ts';
import { tempDir } from './helpers/fixtures.ts';
import { isGrpcStatus } from './helpers/grpc-assert.ts';
import { FakeShardNode, fakeQuery, publishFakeRun, startTestRouter, waitUntil, type TestRouter } from './helpers/router-fakes.ts';

const RUN = 'run-a';
const NUM_DBS = 8;
const ALL = Array.from({ length: NUM_DBS }, (_, i) => i);

interface Fixture {
  dir: Awaited<ReturnType<typeof tempDir>>;
  store: FileObjectStore;
  nodes: FakeShardNode[];
}

/** Two fake nodes `a` and `b` that both hold every shard of RUN (R = 2). */
async function twoReplicaFixture(): Promise<Fixture> {
  const dir = await tempDir('router-fanout');
  const store = new FileObjectStore(join(dir.path, 'store'));
  await publishFakeRun(store, RUN, NUM_DBS, 1);
  const nodes = [await FakeShardNode.start('a'), await FakeShardNode.start('b')];
  for (const n of nodes) n.runs.set(RUN, { loaded: ALL });
  return { dir, store, nodes };
}

/** Shards whose preferred replica (placement order) is `nodeId`, among nodes a, b with R = 2. */
function preferredOn(nodeId: string): number[] {
  const placement = placeShards(ALL, ['a', 'b'], { replication: 2 });
  return ALL.filter((db) => placement.get(db)![0] === nodeId);
}

function search(t: TestRouter, shardIds: number[], extra: object = {}): Promise<SearchResponse__Output> {
  return t.client.call<SearchResponse__Output>('Search', { query: fakeQuery(), top_k: 5, shard_ids: shardIds, ...extra });
}

function shardsOfHits(res: SearchResponse__Output): number[] {
  return [...new Set(res.results.map((h) => Number(h.id.split(':')[1])))].sort((a, b) => a - b);
}

describe('router fan-out over two replicas', () => {
  let fx: Fixture;
  let t: TestRouter | undefined;
  before(() => {
    assert.ok(preferredOn('a').length > 0 && preferredOn('b').length > 0, 'placement puts preferred replicas on both nodes');
  });
  afterEach(async () => {
    await t?.stop();
    t = undefined;
    for (const n of fx?.nodes ?? []) n.stop();
    await fx?.dir.remove();
  });

  test('a failing node: its shards are retried on the other replica and the answer is complete', async () => {
    fx = await twoReplicaFixture();
    t = await startTestRouter(fx.store, fx.nodes, { replication: 2, hedging: false, ejectAfterFailures: 100 });
    const [a, b] = fx.nodes;
    a.failWith = grpc.status.INTERNAL;
    const res = await search(t, ALL, { top_k: 30 });
    assert.equal(res.partial, false);
    assert.equal(res.num_shards_answered, NUM_DBS);
    assert.deepEqual(res.failed_shards, []);
    assert.deepEqual(shardsOfHits(res), ALL);
    assert.equal(a.searchCalls.length, 1, 'node a got one first-wave call');
    const onA = a.searchCalls[0].req.queries[0].shard_ids;
    assert.ok(onA.length > 0 && onA.length < NUM_DBS, `the first wave split the shards over both replicas (a got ${onA.join(',')})`);
    assert.equal(b.searchCalls.length, 2, 'one first-wave call and one retry call to node b');
    assert.deepEqual([...b.searchCalls[1].req.queries[0].shard_ids].sort(), [...onA].sort(), 'the retry to b carries exactly the shards a failed');
  });

  test('hedging: with node a 30 s slow and a 50 ms hedge delay, every search answers before a does', async () => {
    fx = await twoReplicaFixture();
    t = await startTestRouter(fx.store, fx.nodes, { replication: 2, hedgeDelayMs: 50 });
    const [a, b] = fx.nodes;
    // So slow that only hedged calls can answer (no wall-clock bound on a busy machine).
    a.delayMs = 30_000;
    for (let i = 0; i < 4; i++) {
      const started = Date.now();
      const res = await search(t, ALL, { top_k: 30 });
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 30_000, `search ${i} took ${elapsed} ms, not less than node a's 30 s delay`);
      assert.equal(res.num_shards_answered, NUM_DBS);
      assert.deepEqual(shardsOfHits(res), ALL);
    }
    await waitUntil('node a to see the losing calls cancelled', () => a.cancelledCalls >= 4);
    assert.equal(a.searchCalls.length, 4, 'node a got a first-wave call in every search');
    const key = (ids: readonly number[]): string => [...ids].sort((x, y) => x - y).join(',');
    const onB = b.searchCalls.map((c) => key(c.req.queries[0].shard_ids));
    for (const c of a.searchCalls) assert.ok(onB.includes(key(c.req.queries[0].shard_ids)), `node b received a hedge of node a's shards ${key(c.req.queries[0].shard_ids)}`);
  });

  test('without hedging the same search waits for the slow node (the control for the test above)', async () => {
    fx = await twoReplicaFixture();
    t = await startTestRouter(fx.store, fx.nodes, { replication: 2, hedging: false });
    fx.nodes[0].delayMs = 500;
    const started = Date.now();
    const res = await search(t, ALL, { top_k: 30 });
    assert.ok(Date.now() - started >= 490, 'the answer needed node a');
    assert.equal(res.num_shards_answered, NUM_DBS);
    assert.equal(fx.nodes[0].cancelledCalls, 0);
  });

  test('a node failing repeatedly is ejected, skipped, and re-admitted once Status succeeds after the ejection time', async () => {
    fx = await twoReplicaFixture();
    t = await startTestRouter(fx.store, fx.nodes, { replication: 2, hedging: false, ejectAfterFailures: 2, ejectBaseMs: 300, ejectMaxMs: 1000 });
    const [a] = fx.nodes;
    const shards = preferredOn('a');
    const replicaStateOfA = async (): Promise<string> => {
      const d = await t!.client.call<ShardDetailsResponse__Output>('ShardDetails', {});
      return d.shards.find((s) => s.db_id === shards[0])!.replicas.find((r) => r.node_id === 'a')!.state;
    };
    a.failWith = grpc.status.UNAVAILABLE;
    for (let i = 0; i < 2; i++) assert.equal((await search(t, shards)).num_shards_answered, shards.length);
    // Only now: a Status poll failing between the two searches (every 50 ms) would mark node a
    // unreachable, and the second search would not call it (seen under load in CI).
    a.statusFails = true; // the re-probe must fail too until we heal it
    assert.equal(a.searchCalls.length, 2);
    assert.equal(await replicaStateOfA(), 'ejected');
    const ejected = await search(t, shards);
    assert.equal(ejected.num_shards_answered, shards.length);
    assert.equal(a.searchCalls.length, 2, 'an ejected node gets no calls');
    // Past the ejection time, a failing Status keeps it out.
    await new Promise((r) => setTimeout(r, 450));
    assert.equal(await replicaStateOfA(), 'ejected');
    a.failWith = undefined;
    a.statusFails = false;
    await waitUntil('node a to be re-admitted', async () => (await replicaStateOfA()) === 'loaded');
    await search(t, shards);
    assert.equal(a.searchCalls.length, 3, 'the re-admitted node is asked again');
  });

  test('concurrent searches of one shard are spread over both of its replicas, not all sent to the preferred one', async () => {
    fx = await twoReplicaFixture();
    t = await startTestRouter(fx.store, fx.nodes, { replication: 2, hedging: false });
    for (const n of fx.nodes) n.delayMs = 300;
    const db = preferredOn('a')[0];
    const answers = await Promise.all(Array.from({ length: 4 }, () => search(t!, [db])));
    for (const res of answers) assert.equal(res.num_shards_answered, 1);
    const [a, b] = fx.nodes.map((n) => n.searchCalls.length);
    assert.equal(a + b, 4, 'one call per search (no hedge, no retry)');
    assert.ok(a >= 1 && b >= 1, `both replicas served (a ${a}, b ${b})`);
  });

  test('an idle router sends two shards that one node owns in one call to that node, whatever their preferred replicas', async () => {
    fx = await twoReplicaFixture();
    t = await startTestRouter(fx.store, fx.nodes, { replication: 2, hedging: false });
    const res = await search(t, [preferredOn('a')[0], preferredOn('b')[0]]);
    assert.equal(res.num_shards_answered, 2);
    const calls = fx.nodes.flatMap((n) => n.searchCalls);
    assert.equal(calls.length, 1, 'one node call (fan-out width 1)');
    assert.equal(calls[0].req.queries[0].shard_ids.length, 2);
  });
});

describe('fan-out load accounting', () => {
  test('outstanding searches return to zero after answers, failures, retries, hedges and cancelled losers', async () => {
    const nodes = [await FakeShardNode.start('a'), await FakeShardNode.start('b')];
    const Client = loadShardNodeProto().shardfleet.v1.ShardNode;
    const clients = new Map<string, ShardNodeClient>(nodes.map((n) => [n.id, new Client(n.address, grpc.credentials.createInsecure())]));
    const callers = new Map([...clients].map(([id, c]) => [id, new NodeCallCoalescer(id, c)]));
    try {
      for (const n of nodes) n.runs.set(RUN, { loaded: ALL });
      const [a, b] = nodes;
      const load = new NodeLoad();
      const deps = {
        node: (id: string) => callers.get(id),
        candidates: () => ({ nodes: ['a', 'b'], ready: true, owners: 2, why: '' }),
        hedgeDelayMs: () => 30,
        load,
      };
      const query = { queryBytes: Buffer.from(fakeQuery()), topK: 3, includePayload: false, includeVector: false, options: { nprobes: 0, ef: 0, refine_factor: 0 } };
      const run = (shardIds: number[]) => fanOut(deps, { runId: RUN, queries: [{ ...query, shardIds }], deadline: Date.now() + 5000 });
      let seen = 0;
      const observe = (): void => {
        seen = Math.max(seen, load.of('a') + load.of('b'));
      };
      const timer = setInterval(observe, 5);
      a.delayMs = 200; // a's calls are hedged to b and cancelled when b answers
      const hedged = await run([0, 1, 2, 3]);
      assert.ok(hedged.hedges >= 1, 'a call was hedged');
      a.delayMs = 0;
      a.failWith = grpc.status.INTERNAL; // a's calls fail and are retried on b
      const retried = await run([0, 1, 2, 3]);
      assert.ok(retried.retries >= 1, 'a call was retried');
      clearInterval(timer);
      for (const r of [hedged, retried]) assert.ok(r.queries[0].failed.size === 0 && r.queries[0].answered.size === 4);
      assert.ok(seen > 0, 'searches were counted while in flight');
      await waitUntil('every call to settle', () => load.of('a') === 0 && load.of('b') === 0);
      assert.ok(b.searchCalls.length >= 2, 'b took the hedge and the retry');
    } finally {
      for (const c of clients.values()) c.close();
      for (const n of nodes) n.stop();
    }
  });
});

describe('fan-out without a candidate', () => {
  test('a shard with no candidate node fails with its reason at once while the other shards are answered', { timeout: 20_000 }, async () => {
    const node = await FakeShardNode.start('a');
    const Client = loadShardNodeProto().shardfleet.v1.ShardNode;
    const client = new Client(node.address, grpc.credentials.createInsecure());
    const caller = new NodeCallCoalescer('a', client);
    try {
      node.runs.set(RUN, { loaded: ALL });
      const deps = {
        node: () => caller,
        hedgeDelayMs: () => undefined,
        candidates: (dbId: number) =>
          dbId === 1 ? { nodes: [], ready: false, owners: 0, why: 'node-x: shard not loaded' } : { nodes: ['a'], ready: true, owners: 1, why: '' },
      };
      const query = { queryBytes: Buffer.from(fakeQuery()), topK: 3, includePayload: false, includeVector: false, options: { nprobes: 0, ef: 0, refine_factor: 0 } };
      const r = await fanOut(deps, { runId: RUN, queries: [{ ...query, shardIds: [0, 1, 2] }], deadline: Date.now() + 5000 });
      assert.deepEqual([...r.queries[0].answered.keys()].sort(), [0, 2]);
      assert.deepEqual([...r.queries[0].failed.keys()], [1]);
      assert.deepEqual(r.queries[0].failed.get(1), ['node-x: shard not loaded']);
      assert.equal(node.searchCalls.length, 1, 'one call carries both answerable shards');
    } finally {
      client.close();
      node.stop();
    }
  });
});

describe('client deadlines and ejection', () => {
  let fx: Fixture;
  let t: TestRouter | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
    for (const n of fx?.nodes ?? []) n.stop();
    await fx?.dir.remove();
  });

  async function replicaState(nodeId: string, dbId: number): Promise<string> {
    const d = await t!.client.call<ShardDetailsResponse__Output>('ShardDetails', {});
    return d.shards.find((s) => s.db_id === dbId)!.replicas.find((r) => r.node_id === nodeId)!.state;
  }

  async function expectDeadlineExceeded(shards: number[], timeoutMs: number): Promise<void> {
    await assert.rejects(t!.client.call<SearchResponse__Output>('Search', { query: fakeQuery(), top_k: 5, shard_ids: shards }, timeoutMs), isGrpcStatus(grpc.status.DEADLINE_EXCEEDED, /Deadline exceeded/i));
  }

  test('a client deadline shorter than the nodes need does not eject healthy nodes', async () => {
    fx = await twoReplicaFixture();
    t = await startTestRouter(fx.store, fx.nodes, { replication: 2, hedging: false, ejectAfterFailures: 2 });
    for (const n of fx.nodes) n.delayMs = 150;
    for (let i = 0; i < 4; i++) await expectDeadlineExceeded(ALL, 40);
    // Let the router's node calls end (they carry the same deadline) before reading its state.
    await waitUntil('the router\'s node calls to end', () => fx.nodes.every((n) => n.searchCalls.length >= 4));
    await new Promise((r) => setTimeout(r, 50));
    for (const n of fx.nodes) assert.equal(await replicaState(n.id, preferredOn(n.id)[0]), 'loaded', `node ${n.id} stays in`);
    const res = await search(t, ALL, { top_k: 30 });
    assert.equal(res.num_shards_answered, NUM_DBS, 'a client with a long enough deadline is answered by both nodes');
  });

  test("a node whose calls outlast the router's own node call timeout is ejected; its shards are answered by the other replica", async () => {
    fx = await twoReplicaFixture();
    // The router cuts node calls at 300 ms, well before the client's 10 s deadline: a timeout
    // of the router's own is the node's failure (one of the client's deadline never is).
    t = await startTestRouter(fx.store, fx.nodes, { replication: 2, hedging: false, ejectAfterFailures: 2, nodeCallTimeoutMs: 300 });
    const [a] = fx.nodes;
    a.delayMs = 5000;
    for (let i = 0; i < 2; i++) {
      const res: SearchResponse__Output = await t.client.call<SearchResponse__Output>('Search', { query: fakeQuery(), top_k: 5, shard_ids: preferredOn('a') }, 10_000);
      assert.equal(res.num_shards_answered, preferredOn('a').length, 'retried on node b after the timeout');
    }
    assert.equal(a.searchCalls.length, 2);
    assert.equal(await replicaState('a', preferredOn('a')[0]), 'ejected');
  });
});

describe('min_coverage: partial answers are explicit', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let node: FakeShardNode;
  let t: TestRouter;
  before(async () => {
    dir = await tempDir('router-coverage');
    const store = new FileObjectStore(join(dir.path, 'store'));
    await publishFakeRun(store, RUN, 4, 1);
    node = await FakeShardNode.start('only');
    node.runs.set(RUN, { loaded: [0, 1, 2, 3] });
    node.shardErrors.set(2, 'disk on fire');
    t = await startTestRouter(store, [node], { hedging: false });
  });
  after(async () => {
    await t?.stop();
    node?.stop();
    await dir?.remove();
  });

  test('min_coverage 0 (every shard): UNAVAILABLE naming the failed shard and why', async () => {
    await assert.rejects(
      t.client.call('Search', { query: fakeQuery(), shard_ids: [0, 1, 2, 3] }),
      isGrpcStatus(grpc.status.UNAVAILABLE, /coverage 3\/4 is below min_coverage 1; 1 of 4 probed shards of run run-a could not answer: shard 2 \(db=00002\): node only: disk on fire/),
    );
  });

  test('min_coverage 0.9 > 3/4: still UNAVAILABLE', async () => {
    await assert.rejects(
      t.client.call('Search', { query: fakeQuery(), shard_ids: [0, 1, 2, 3], min_coverage: 0.9 }),
      isGrpcStatus(grpc.status.UNAVAILABLE, /below min_coverage 0\.9.*shard 2/),
    );
  });

  test('min_coverage 0.75: answered with partial = true and the failed shard listed', async () => {
    const res = await t.client.call<SearchResponse__Output>('Search', { query: fakeQuery(), top_k: 20, shard_ids: [0, 1, 2, 3], min_coverage: 0.75 });
    assert.equal(res.partial, true);
    assert.equal(res.run_id, RUN);
    assert.equal(res.num_shards_queried, 4);
    assert.equal(res.num_shards_answered, 3);
    assert.deepEqual(res.failed_shards.map((f) => f.db_id), [2]);
    assert.match(res.failed_shards[0].reason, /node only: disk on fire/);
    assert.deepEqual(shardsOfHits(res), [0, 1, 3]);
  });

  test('a full answer is not partial', async () => {
    const res = await t.client.call<SearchResponse__Output>('Search', { query: fakeQuery(), shard_ids: [0, 3] });
    assert.equal(res.partial, false);
    assert.equal(res.num_shards_answered, 2);
  });

  test('min_coverage outside [0, 1] is INVALID_ARGUMENT', async () => {
    await assert.rejects(t.client.call('Search', { query: fakeQuery(), shard_ids: [0], min_coverage: 1.5 }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /min_coverage/));
  });

  test('include_vector and include_payload are forwarded and the hit vectors come back', async () => {
    const res = await t.client.call<SearchResponse__Output>('Search', { query: fakeQuery(7), top_k: 2, shard_ids: [1], include_vector: true, include_payload: true });
    const sent = node.searchCalls.at(-1)!.req.queries[0];
    assert.equal(sent.include_vector, true);
    assert.equal(sent.include_payload, true);
    assert.equal(res.results.length, 2);
    for (const h of res.results) {
      assert.deepEqual([...new Float32Array(new Uint8Array(h.vector).buffer)], [7, 0, 0, 0]);
      assert.deepEqual(JSON.parse(h.payload_json), { db: 1, node: 'only' });
    }
    const plain = await t.client.call<SearchResponse__Output>('Search', { query: fakeQuery(7), top_k: 2, shard_ids: [1] });
    assert.equal(node.searchCalls.at(-1)!.req.queries[0].include_vector, false);
    assert.equal(plain.results[0].vector.length, 0);
  });
});

describe('BatchSearch', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let nodes: FakeShardNode[];
  let t: TestRouter;
  const placement = placeShards(ALL, ['a', 'b'], { replication: 1 });
  const ownerOf = (db: number): string => placement.get(db)![0];
  before(async () => {
    dir = await tempDir('router-batch');
    const store = new FileObjectStore(join(dir.path, 'store'));
    await publishFakeRun(store, RUN, NUM_DBS, 1);
    nodes = [await FakeShardNode.start('a'), await FakeShardNode.start('b')];
    for (const n of nodes) n.runs.set(RUN, { loaded: ALL.filter((db) => ownerOf(db) === n.id) });
    nodes.find((n) => n.id === ownerOf(3))!.shardErrors.set(3, 'shard 3 is corrupt');
    t = await startTestRouter(store, nodes, { hedging: false });
  });
  after(async () => {
    await t?.stop();
    for (const n of nodes ?? []) n.stop();
    await dir?.remove();
  });

  test('one SearchShards call per node carries every query; each query gets its own result or error', async () => {
    const before = nodes.map((n) => n.searchCalls.length);
    const queries = [
      { query: fakeQuery(0), top_k: 30, shard_ids: [0, 1, 2, 4, 5] },
      { query: fakeQuery(1), top_k: 3, shard_ids: [6] },
      { query: Buffer.alloc(12), shard_ids: [0] }, // 3 dimensions: invalid alone
      { query: fakeQuery(2), shard_ids: [2, 3] }, // shard 3 fails: UNAVAILABLE alone
      { query: fakeQuery(3), top_k: 30, shard_ids: [0, 3], min_coverage: 0.5 }, // partial
    ];
    const res = await t.client.call<BatchSearchResponse__Output>('BatchSearch', { queries });
    assert.equal(res.run_id, RUN);
    assert.deepEqual(
      res.results.map((r) => r.error_code),
      [0, 0, grpc.status.INVALID_ARGUMENT, grpc.status.UNAVAILABLE, 0],
    );
    nodes.forEach((n, i) => assert.equal(n.searchCalls.length - before[i], 1, `node ${n.id} got exactly one SearchShards call`));
    // Each node's call carries the shards it owns of every valid query, in query order.
    for (const n of nodes) {
      const sent = n.searchCalls.at(-1)!.req.queries.map((q) => ({ first: Buffer.from(q.query).readFloatLE(0), shards: [...q.shard_ids] }));
      const want = [0, 1, 3, 4]
        .map((qi) => ({ first: Buffer.from(queries[qi].query).readFloatLE(0), shards: queries[qi].shard_ids.filter((db) => ownerOf(db) === n.id) }))
        .filter((q) => q.shards.length > 0);
      assert.deepEqual(sent, want, `node ${n.id}: one ShardQuery per query with its shards`);
    }
    assert.deepEqual(shardsOfHits(res.results[0].response!), [0, 1, 2, 4, 5]);
    assert.deepEqual(res.results[1].response!.results.map((h) => h.id), [`${RUN}:6:0`, `${RUN}:6:1`, `${RUN}:6:2`]);
    assert.match(res.results[2].error_message, /query has 3 dimensions, expected 4/);
    assert.match(res.results[3].error_message, /shard 3 \(db=00003\): node \w: shard 3 is corrupt/);
    const partial = res.results[4].response!;
    assert.equal(partial.partial, true);
    assert.deepEqual(partial.failed_shards.map((f) => f.db_id), [3]);
    assert.deepEqual(shardsOfHits(partial), [0]);
    // Scores carry the query's first element: results are per query, not mixed.
    assert.ok(res.results[1].response!.results.every((h) => h.score >= 7 && h.score < 8));
    assert.ok(partial.results.every((h) => h.score >= 3 && h.score < 4));
  });

  test('an empty batch answers an empty result list', async () => {
    const res = await t.client.call<BatchSearchResponse__Output>('BatchSearch', { queries: [] });
    assert.deepEqual(res.results, []);
    assert.equal(res.run_id, RUN);
  });
});
