/**
 * Coalesced node calls (src/router/node-call-coalescer.ts) against fake shard nodes that are real
 * gRPC servers on 127.0.0.1: an idle caller sends at once; requests arriving while a call is in
 * flight go out together as one SearchShards per run (or at the batch cap, or when the call in
 * flight is a straggler) and each gets its own answer back; a request's own deadline passing
 * answers it alone, locally, and is no node failure (nor is a call ended by its callers' deadline:
 * `expired`; only the router's own call timeout makes a timeout `error`), a request already
 * expired is never sent; cancelling one request leaves the others in its call alone; a combined
 * call refused INVALID_ARGUMENT is resent request by request (only the bad one fails); lookups
 * are combined only up to maxBatchKeys (key, shard) pairs. Then the
 * same through a router: concurrent searches to a busy node take fewer
 * node calls than searches, and queued searches that expire do not eject the node.
 * Node answers are held at gates (no timing assumptions); timeouts are safety bounds only.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { unpackHits } from '../src/common/packed-hits.ts';
import { loadShardNodeProto, type ShardNodeClient } from '../src/common/proto.ts';
import type { SearchResponse__Output } from '../src/common/proto-gen/shardfleet/v1/SearchResponse.ts';
import type { ShardDetailsResponse__Output } from '../src/common/proto-gen/shardfleet/v1/ShardDetailsResponse.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { promSample } from '../src/eval/prometheus-text.ts';
import { NodeCallCoalescer, type NodeCallHandle, type NodeCallReport, type NodeCallRequest, type NodeCallResult } from '../src/router/node-call-coalescer.ts';
import { tempDir } from './helpers/fixtures.ts';
import { FakeShardNode, fakeQuery, publishFakeRun, startTestRouter, waitUntil, type TestRouter } from './helpers/router-fakes.ts';

const RUN = 'run-c';
const OTHER_RUN = 'run-d';

/** A promise the test opens. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** A request for query `[first, 0, 0, 0]` on `shards`, deadline `deadlineMs` from now. */
function request(first: number, shards: number[] = [0], deadlineMs = 10_000, runId = RUN): NodeCallRequest {
  return { runId, deadline: Date.now() + deadlineMs, queries: [{ query: fakeQuery(first), top_k: 2, shard_ids: shards }] };
}

interface Pending {
  handle: NodeCallHandle;
  result: Promise<NodeCallResult>;
  /** True once the callback ran. */
  answered(): boolean;
}

function submit(c: NodeCallCoalescer, req: NodeCallRequest): Pending {
  let answered = false;
  let handle!: NodeCallHandle;
  const result = new Promise<NodeCallResult>((resolve) => {
    handle = c.call(req, (r) => {
      answered = true;
      resolve(r);
    });
  });
  return { handle, result, answered: () => answered };
}

/** The (db id, whole part of score - db) of every hit: the fake scores carry the query's first element. */
function firstElements(r: NodeCallResult): { db: number; first: number; queryIndex: number }[] {
  assert.ok(r.ok, `expected an answer, got ${r.ok ? '' : String(r.error)}`);
  return r.shards.flatMap((s) => unpackHits(s).map((h) => ({ db: s.db_id, first: Math.floor(h.score - s.db_id + 1e-9), queryIndex: s.query_index })));
}

function codeOf(r: NodeCallResult): grpc.status | undefined {
  return r.ok ? undefined : (r.error as grpc.ServiceError).code;
}

describe('NodeCallCoalescer against a real gRPC node', () => {
  let node: FakeShardNode;
  let client: ShardNodeClient;
  let reports: NodeCallReport[];
  let c: NodeCallCoalescer;
  before(async () => {
    node = await FakeShardNode.start('a');
    node.runs.set(RUN, { loaded: [0, 1, 2, 3] });
    node.runs.set(OTHER_RUN, { loaded: [0, 1, 2, 3] });
    client = new (loadShardNodeProto().shardfleet.v1.ShardNode)(node.address, grpc.credentials.createInsecure());
  });
  after(() => {
    client.close();
    node.stop();
  });
  const fresh = (options: ConstructorParameters<typeof NodeCallCoalescer>[2] = {}): NodeCallCoalescer => {
    reports = [];
    // A call held at a gate stands for a normal call in flight unless a test says otherwise.
    c = new NodeCallCoalescer('a', client, { initialHoldMs: 60_000, ...options, onCall: (r) => reports.push(r) });
    return c;
  };
  afterEach(() => {
    node.gate = undefined;
    node.delayMs = 0;
    node.searchCalls.length = 0;
    node.cancelledCalls = 0;
  });

  /** Holds the node's next call at a gate and waits until the node has it. */
  async function holdFirstCall(first = 0, deadlineMs = 10_000): Promise<{ pending: Pending; release: () => void }> {
    const g = gate();
    node.gate = g.promise;
    const pending = submit(c, request(first, [0], deadlineMs));
    await waitUntil('the node to receive the first call', () => node.searchCalls.length === 1);
    node.gate = undefined;
    return { pending, release: g.open };
  }

  test('idle, every request is sent at once, alone, inside call()', async () => {
    fresh();
    for (let i = 0; i < 3; i++) {
      const p = submit(c, request(i, [1, 2]));
      assert.equal(c.callsInFlight, 1, `request ${i} was sent within call()`);
      assert.equal(c.queuedRequests, 0);
      const r = await p.result;
      assert.deepEqual(firstElements(r).map((h) => [h.queryIndex, h.first]), [[0, i], [0, i], [0, i], [0, i]]);
    }
    assert.deepEqual(node.searchCalls.map((s) => s.req.queries.length), [1, 1, 1], 'one node call per request');
    assert.deepEqual(reports.map((r) => [r.outcome, r.queries, r.requests]), [['ok', 1, 1], ['ok', 1, 1], ['ok', 1, 1]]);
  });

  test('requests arriving while a call is in flight go out as ONE call when it returns, and each gets its own answer', async () => {
    fresh();
    const first = await holdFirstCall(0);
    const later = [1, 2, 3].map((i) => submit(c, request(i, [i, (i + 1) % 4])));
    assert.equal(c.queuedRequests, 3);
    assert.equal(node.searchCalls.length, 1, 'nothing more sent while the first call is in flight');
    first.release();
    assert.deepEqual(firstElements(await first.pending.result).map((h) => h.first), [0, 0]);
    const results = await Promise.all(later.map((p) => p.result));
    assert.deepEqual(node.searchCalls.map((s) => s.req.queries.length), [1, 3], 'the three queued requests shared one call');
    results.forEach((r, k) => {
      const i = k + 1;
      const hits = firstElements(r);
      assert.ok(hits.every((h) => h.first === i && h.queryIndex === 0), `request ${i} got only its own query's hits, renumbered to index 0`);
      assert.deepEqual([...new Set(hits.map((h) => h.db))], [i, (i + 1) % 4]);
    });
    assert.deepEqual(reports.map((r) => [r.outcome, r.queries, r.requests]), [['ok', 1, 1], ['ok', 3, 3]]);
  });

  test('a combined call refused INVALID_ARGUMENT is sent again request by request: only the bad request fails', async () => {
    fresh();
    node.refuseTopK = 7;
    try {
      const first = await holdFirstCall(0);
      const bad = { ...request(1), queries: [{ ...request(1).queries[0], top_k: 7 }] };
      const queued = [submit(c, request(2)), submit(c, bad), submit(c, request(3))];
      first.release();
      const results = await Promise.all(queued.map((p) => p.result));
      assert.deepEqual(results.map(codeOf), [undefined, grpc.status.INVALID_ARGUMENT, undefined]);
      assert.deepEqual([...new Set(firstElements(results[0]).map((h) => h.first))], [2]);
      assert.deepEqual([...new Set(firstElements(results[2]).map((h) => h.first))], [3]);
      assert.deepEqual(node.searchCalls.map((s) => s.req.queries.length), [1, 3, 1, 1, 1], 'the combined call, then each request alone');
    } finally {
      node.refuseTopK = undefined;
    }
  });

  test('lookups are combined into one call only up to maxBatchKeys (key, shard) pairs', async () => {
    fresh({ maxBatchKeys: 5 });
    const first = await holdFirstCall(0);
    const lookup = (first: number, keys: number): NodeCallRequest => ({ ...request(first), queries: [{ ...request(first).queries[0], keys: Array.from({ length: keys }, (_, i) => Buffer.from(`k${i}`)) }] });
    const queued = [submit(c, lookup(1, 3)), submit(c, lookup(2, 2)), submit(c, lookup(3, 4)), submit(c, lookup(4, 9))];
    first.release();
    await Promise.all(queued.map((p) => p.result));
    assert.deepEqual(
      node.searchCalls.slice(1).map((s) => s.req.queries.map((q) => q.keys.length)),
      [[3, 2], [4], [9]],
      '3 + 2 pairs fit 5; 4 alone; 9 alone (a request alone may carry more)',
    );
  });

  test('queued requests of two runs go out as one call per run', async () => {
    fresh();
    const first = await holdFirstCall(0);
    const queued = [submit(c, request(1)), submit(c, request(2, [0], 10_000, OTHER_RUN)), submit(c, request(3))];
    first.release();
    const results = await Promise.all(queued.map((p) => p.result));
    assert.deepEqual(results.map((r) => (r.ok ? r.runId : 'error')), [RUN, OTHER_RUN, RUN]);
    assert.deepEqual(node.searchCalls.slice(1).map((s) => [s.req.run_id, s.req.queries.length]).sort(), [[RUN, 2], [OTHER_RUN, 1]]);
  });

  test('a queue reaching maxBatchQueries is sent at once, with the first call still in flight', async () => {
    fresh({ maxBatchQueries: 2 });
    const first = await holdFirstCall(0);
    const a = submit(c, request(1));
    assert.equal(node.searchCalls.length, 1);
    const b = submit(c, request(2));
    assert.equal(c.callsInFlight, 2, 'the full queue went out without waiting');
    assert.equal(c.queuedRequests, 0);
    await Promise.all([a.result, b.result]);
    assert.equal(first.pending.answered(), false, 'the first call is still held');
    first.release();
    await first.pending.result;
    assert.deepEqual(node.searchCalls.map((s) => s.req.queries.length), [1, 2]);
  });

  test('a queued request whose deadline passes is answered DEADLINE_EXCEEDED locally, is never sent, and is no failed call', async () => {
    fresh();
    const first = await holdFirstCall(0);
    const short = submit(c, request(1, [0], 100));
    const long = submit(c, request(2, [0], 10_000));
    const expired = await short.result;
    assert.equal(expired.ok, false);
    assert.equal(!expired.ok && expired.expired, true);
    assert.equal(codeOf(expired), grpc.status.DEADLINE_EXCEEDED);
    assert.equal(long.answered(), false);
    assert.equal(c.queuedRequests, 1, 'the other request is still queued');
    first.release();
    assert.ok(firstElements(await long.result).every((h) => h.first === 2));
    assert.deepEqual(node.searchCalls.map((s) => s.req.queries.map((q) => Buffer.from(q.query).readFloatLE(0))), [[0], [2]], 'the expired request was never sent');
    assert.deepEqual(reports.map((r) => r.outcome), ['ok', 'ok'], 'no call failed');
  });

  test('in a coalesced call, a request with an earlier deadline expires alone while the call runs on for the later one', async () => {
    fresh();
    const first = await holdFirstCall(0);
    const short = submit(c, request(1, [0], 1500));
    const long = submit(c, request(2, [0], 20_000));
    const second = gate();
    node.gate = second.promise;
    first.release();
    await waitUntil('the coalesced call to reach the node', () => node.searchCalls.length === 2);
    assert.equal(node.searchCalls[1].req.queries.length, 2, 'both requests are in the second call');
    const expired = await short.result;
    assert.equal(!expired.ok && expired.expired, true);
    assert.equal(codeOf(expired), grpc.status.DEADLINE_EXCEEDED);
    assert.equal(long.answered(), false);
    second.open();
    assert.ok(firstElements(await long.result).every((h) => h.first === 2));
    assert.equal(node.cancelledCalls, 0, 'the call was not cancelled');
    assert.deepEqual(reports.map((r) => [r.outcome, r.queries]), [['ok', 1], ['ok', 2]]);
  });

  test("a call cut off by its callers' deadline is reported expired, not error, and its request is answered expired", async () => {
    fresh();
    node.delayMs = 500;
    const r = await submit(c, request(0, [0], 100)).result;
    assert.equal(codeOf(r), grpc.status.DEADLINE_EXCEEDED);
    assert.equal(!r.ok && r.expired, true, "the caller's deadline, not the node's failure");
    assert.equal(node.searchCalls.length, 1, 'the call was sent');
    assert.deepEqual(reports.map((x) => [x.outcome, x.deadlineOf]), [['expired', 'callers']]);
    await waitUntil('the node to see the call end', () => node.cancelledCalls === 1);
  });

  test("a call cut off by the router's own callTimeoutMs is the node's failure: reported error, its request not expired", async () => {
    fresh({ callTimeoutMs: 100 });
    node.delayMs = 500;
    const r = await submit(c, request(0, [0], 10_000)).result;
    assert.equal(codeOf(r), grpc.status.DEADLINE_EXCEEDED);
    assert.equal(!r.ok && r.expired, false, 'the caller still has time (the fan-out may retry elsewhere)');
    assert.deepEqual(reports.map((x) => [x.outcome, x.deadlineOf]), [['error', 'router']]);
    await waitUntil('the node to see the call end', () => node.cancelledCalls === 1);
  });

  test('a request whose deadline has already passed is answered expired, asynchronously, and never sent', async () => {
    fresh();
    const p = submit(c, request(0, [0], -5));
    assert.equal(p.answered(), false, 'not answered inside call()');
    const r = await p.result;
    assert.equal(codeOf(r), grpc.status.DEADLINE_EXCEEDED);
    assert.equal(!r.ok && r.expired, true);
    assert.equal(node.searchCalls.length, 0, 'no call with a past deadline reached the node');
    assert.deepEqual(reports, [], 'no gRPC call, no report');
  });

  test('cancelling one request of a coalesced call leaves the others answered; cancelling all cancels the gRPC call', async () => {
    fresh();
    const first = await holdFirstCall(0);
    const b = submit(c, request(1));
    const cc = submit(c, request(2));
    const second = gate();
    node.gate = second.promise;
    first.release();
    await waitUntil('the coalesced call to reach the node', () => node.searchCalls.length === 2);
    b.handle.cancel();
    second.open();
    assert.ok(firstElements(await cc.result).every((h) => h.first === 2));
    assert.equal(b.answered(), false, 'a cancelled request is never answered');
    assert.equal(node.cancelledCalls, 0);

    // A queued request cancelled before it is sent is never sent.
    const third = await (async () => {
      node.searchCalls.length = 0;
      return holdFirstCall(3);
    })();
    const dropped = submit(c, request(4));
    dropped.handle.cancel();
    assert.equal(c.queuedRequests, 0);
    // Cancelling the only request of a call in flight cancels the gRPC call.
    third.pending.handle.cancel();
    await waitUntil('the node to see the call cancelled', () => node.cancelledCalls === 1);
    await waitUntil('the cancelled call to be reported', () => reports.at(-1)?.outcome === 'cancelled');
    third.release();
    assert.equal(node.searchCalls.length, 1, 'the cancelled queued request was never sent');
    assert.equal(dropped.answered() || third.pending.answered(), false);
  });

  test('behind a straggler call, queued requests go out after the hold, without waiting for it', async () => {
    fresh({ initialHoldMs: 30 });
    const first = await holdFirstCall(0);
    const b = submit(c, request(1));
    assert.equal(c.queuedRequests, 1);
    assert.ok(firstElements(await b.result).every((h) => h.first === 1));
    assert.equal(first.pending.answered(), false, 'answered while the straggler is still held');
    first.release();
    await first.pending.result;
  });

  test('close() answers queued and later requests UNAVAILABLE', async () => {
    fresh();
    const first = await holdFirstCall(0);
    const queued = submit(c, request(1));
    c.close('node a left');
    assert.equal(codeOf(await queued.result), grpc.status.UNAVAILABLE);
    assert.equal(codeOf(await submit(c, request(2)).result), grpc.status.UNAVAILABLE);
    first.release();
    await first.pending.result;
  });
});

describe('coalescing through a router', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let node: FakeShardNode;
  let t: TestRouter | undefined;
  before(async () => {
    dir = await tempDir('router-coalescing');
    await publishFakeRun(new FileObjectStore(join(dir.path, 'store')), RUN, 4, 1);
    node = await FakeShardNode.start('only');
    node.runs.set(RUN, { loaded: [0, 1, 2, 3] });
  });
  afterEach(async () => {
    await t?.stop();
    t = undefined;
    node.gate = undefined;
    node.searchCalls.length = 0;
  });
  after(async () => {
    node?.stop();
    await dir?.remove();
  });
  const start = async (extra: Parameters<typeof startTestRouter>[2] = {}): Promise<TestRouter> =>
    (t = await startTestRouter(new FileObjectStore(join(dir.path, 'store')), [node], { hedging: false, metricsListen: '127.0.0.1:0', coalescing: { initialHoldMs: 60_000 }, ...extra }));
  const search = (r: TestRouter, first: number, timeoutMs = 10_000): Promise<SearchResponse__Output> =>
    r.client.call<SearchResponse__Output>('Search', { query: fakeQuery(first), top_k: 2, shard_ids: [first % 4] }, timeoutMs);
  /** Shard searches the router has sent or queued to the node and not seen answered. */
  const outstanding = async (r: TestRouter): Promise<number> =>
    promSample(await (await fetch(`http://${r.router.metricsAddress}/metrics`)).text(), 'shardfleet_router_node_inflight_searches', { node: 'only' }) ?? 0;

  test('an idle router sends each search in its own node call at once', async () => {
    const r = await start();
    for (let i = 0; i < 3; i++) {
      const res = await search(r, i);
      assert.equal(node.searchCalls.length, i + 1, `search ${i} made exactly one node call`);
      assert.ok(res.results.every((h) => Math.floor(h.score - (i % 4)) === i));
    }
    assert.ok(node.searchCalls.every((s) => s.req.queries.length === 1));
  });

  test('8 concurrent searches to a busy node take 2 node calls, and each search gets its own hits', async () => {
    const r = await start();
    const g = gate();
    node.gate = g.promise;
    const firstSearch = search(r, 0);
    await waitUntil('the first node call', () => node.searchCalls.length === 1);
    node.gate = undefined;
    const others = Array.from({ length: 7 }, (_, k) => search(r, k + 1));
    await waitUntil('every search to reach the router', async () => (await outstanding(r)) === 8);
    g.open();
    const all = await Promise.all([firstSearch, ...others]);
    all.forEach((res, i) => {
      assert.equal(res.num_shards_answered, 1);
      assert.ok(res.results.length > 0 && res.results.every((h) => Math.floor(h.score - (i % 4)) === i), `search ${i} has its own query's hits`);
    });
    assert.deepEqual(node.searchCalls.map((s) => s.req.queries.length), [1, 7], 'fewer node calls than searches');
    const text = await (await fetch(`http://${r.router.metricsAddress}/metrics`)).text();
    assert.equal(promSample(text, 'shardfleet_router_node_call_queries_count', { node: 'only' }), 2);
    assert.equal(promSample(text, 'shardfleet_router_node_call_queries_sum', { node: 'only' }), 8);
    assert.equal(promSample(text, 'shardfleet_router_node_rpc_duration_seconds_count', { node: 'only', outcome: 'ok' }), 2);
  });

  test('searches whose deadline passes while queued for a node do not count as its failures', async () => {
    // One failure would eject, and any timed-out call over 5 ms would count as the node's failure.
    const r = await start({ ejectAfterFailures: 1, hedgeMinDelayMs: 1, hedgeMaxDelayMs: 5 });
    const g = gate();
    node.gate = g.promise;
    const held = search(r, 0, 20_000);
    await waitUntil('the first node call', () => node.searchCalls.length === 1);
    node.gate = undefined;
    const expiring = Array.from({ length: 3 }, (_, k) => search(r, k + 1, 300));
    for (const p of expiring) await assert.rejects(p, (err: grpc.ServiceError) => err.code === grpc.status.DEADLINE_EXCEEDED || err.code === grpc.status.UNAVAILABLE);
    await waitUntil('the router to drop the expired searches', async () => (await outstanding(r)) === 1);
    g.open();
    assert.equal((await held).num_shards_answered, 1);
    assert.equal(node.searchCalls.length, 1, 'the expired searches were never sent');
    const details = await r.client.call<ShardDetailsResponse__Output>('ShardDetails', {});
    assert.deepEqual([...new Set(details.shards.flatMap((s) => s.replicas.map((x) => x.state)))], ['loaded'], 'the node was not ejected');
    assert.equal((await search(r, 2)).num_shards_answered, 1);
  });
});
