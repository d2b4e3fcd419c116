/**
 * Caller deadlines and outlier ejection (issue 12, defect 3), through a real router and fake shard
 * nodes that are real gRPC servers on 127.0.0.1:
 * - a storm of searches with deadlines of a few ms, after normal searches filled the latency
 *   windows, ejects no node, and normal searches afterwards all succeed (a caller's deadline
 *   running out is never a node failure);
 * - ejection never removes the last ready replicas of a shard: with every replica of a shard
 *   ejected, the shard is still sent to them (Envoy's panic rule), and at most
 *   `maxEjectionPercent` of the nodes are ejected at once (Envoy's max_ejection_percent);
 * - metrics: a request whose caller's deadline passed is `outcome="deadline_exceeded"`, not a
 *   coverage failure nor `unavailable`; a BatchSearch with a bad query is labelled by the
 *   query's error code (`invalid_argument`), not `partial`.
 * No wall-clock limit is asserted: the storm's deadlines only have to be shorter than the nodes'
 * delay, which holds however slow the machine is.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { BatchSearchResponse__Output } from '../src/common/proto-gen/shardfleet/v1/BatchSearchResponse.ts';
import type { SearchResponse__Output } from '../src/common/proto-gen/shardfleet/v1/SearchResponse.ts';
import type { ShardDetailsResponse__Output } from '../src/common/proto-gen/shardfleet/v1/ShardDetailsResponse.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { promSample, promSamples } from '../src/eval/prometheus-text.ts';
import type { RouterConfig } from '../src/router/router-server.ts';
import { tempDir } from './helpers/fixtures.ts';
import { FakeShardNode, fakeQuery, publishFakeRun, startTestRouter, waitUntil, type TestRouter } from './helpers/router-fakes.ts';

const RUN = 'run-dl';
const NUM_DBS = 8;
const ALL = Array.from({ length: NUM_DBS }, (_, i) => i);

interface Cluster {
  dir: Awaited<ReturnType<typeof tempDir>>;
  nodes: FakeShardNode[];
  t: TestRouter;
}

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.t.stop();
  for (const n of cluster?.nodes ?? []) n.stop();
  await cluster?.dir.remove();
  cluster = undefined;
});

/** A router over fake nodes `a` and `b`, both holding every shard of RUN (R = 2). */
async function twoReplicas(extra: Partial<RouterConfig>): Promise<Cluster> {
  const dir = await tempDir('router-deadlines');
  const store = new FileObjectStore(join(dir.path, 'store'));
  await publishFakeRun(store, RUN, NUM_DBS, 1);
  const nodes = [await FakeShardNode.start('a'), await FakeShardNode.start('b')];
  for (const n of nodes) n.runs.set(RUN, { loaded: ALL });
  const t = await startTestRouter(store, nodes, { replication: 2, ...extra });
  cluster = { dir, nodes, t };
  return cluster;
}

function search(t: TestRouter, timeoutMs = 10_000, extra: object = {}): Promise<SearchResponse__Output> {
  return t.client.call<SearchResponse__Output>('Search', { query: fakeQuery(), top_k: 5, shard_ids: ALL, ...extra }, timeoutMs);
}

/** `n` searches, `concurrency` at a time, the i-th with deadline `timeoutOf(i)` ms; every outcome. */
async function searches(t: TestRouter, n: number, concurrency: number, timeoutOf: (i: number) => number): Promise<PromiseSettledResult<SearchResponse__Output>[]> {
  const out: PromiseSettledResult<SearchResponse__Output>[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      out[i] = await search(t, timeoutOf(i)).then(
        (value) => ({ status: 'fulfilled', value }) as const,
        (reason: unknown) => ({ status: 'rejected', reason }) as const,
      );
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

/** Replica states by node id over every shard (ShardDetails). */
async function replicaStates(t: TestRouter): Promise<Map<string, { state: string; reason: string }[]>> {
  const d = await t.client.call<ShardDetailsResponse__Output>('ShardDetails', {});
  const out = new Map<string, { state: string; reason: string }[]>();
  for (const s of d.shards) for (const r of s.replicas) out.set(r.node_id, [...(out.get(r.node_id) ?? []), { state: r.state, reason: r.reason }]);
  return out;
}

async function metricsText(t: TestRouter): Promise<string> {
  return t.router.metrics.registry.metrics();
}

/** Shard searches the router has sent or queued to any node and not seen answered. */
async function outstanding(t: TestRouter): Promise<number> {
  return promSamples(await metricsText(t), 'shardfleet_router_node_inflight_searches').reduce((sum, s) => sum + s.value, 0);
}

function errorDetails(results: readonly PromiseSettledResult<unknown>[]): string[] {
  return results.flatMap((r) => (r.status === 'rejected' ? [`${(r.reason as grpc.ServiceError).code}: ${(r.reason as grpc.ServiceError).details}`] : []));
}

describe('a storm of short client deadlines', () => {
  test('ejects no node: after the storm every normal search succeeds on both replicas', { timeout: 120_000 }, async () => {
    // A low threshold (2 consecutive failures) so that any deadline counted against a node ejects it.
    const { nodes, t } = await twoReplicas({ ejectAfterFailures: 2 });
    // Fill the latency windows (hedge delays, slow-call thresholds) with normal searches.
    const warm = await searches(t, 100, 1, () => 10_000);
    assert.deepEqual(errorDetails(warm), []);
    // The storm: every search's deadline (3, 8 or 30 ms) is shorter than what the nodes now need.
    for (const n of nodes) n.delayMs = 80;
    const storm = await searches(t, 300, 8, (i) => [3, 8, 30][i % 3]);
    const codes = new Set(storm.map((r) => (r.status === 'rejected' ? (r.reason as grpc.ServiceError).code : 0)));
    assert.deepEqual([...codes], [grpc.status.DEADLINE_EXCEEDED], 'every storm search ran out of time');
    for (const n of nodes) n.delayMs = 0;
    await waitUntil('the router to end every node call of the storm', async () => (await outstanding(t)) === 0, 20_000);
    const text = await metricsText(t);
    const expired = promSamples(text, 'shardfleet_router_node_rpc_duration_seconds_count', { outcome: 'expired' }).reduce((s, x) => s + x.value, 0);
    assert.ok(expired > 0, 'node calls did run into their callers\' deadlines (reported expired, not error)');
    assert.equal(promSamples(text, 'shardfleet_router_node_ejections_total').reduce((s, x) => s + x.value, 0), 0, 'no ejection');
    for (const [node, states] of await replicaStates(t)) assert.ok(states.every((s) => s.state === 'loaded'), `node ${node}: ${JSON.stringify(states)}`);
    const callsBefore = nodes.map((n) => n.searchCalls.length);
    const after = await searches(t, 100, 1, () => 10_000);
    assert.deepEqual(errorDetails(after), [], 'every normal search after the storm succeeds');
    for (const r of after) assert.equal(r.status === 'fulfilled' && r.value.num_shards_answered, NUM_DBS);
    nodes.forEach((n, i) => assert.ok(n.searchCalls.length > callsBefore[i], `node ${n.id} still takes searches`));
  });
});

describe('ejection never removes the last ready replicas of a shard', () => {
  test('with every replica of the shards ejected (maxEjectionPercent 100), the shards are still asked and answered', async () => {
    const { nodes, t } = await twoReplicas({ hedging: false, ejectAfterFailures: 1, ejectBaseMs: 60_000, ejectMaxMs: 60_000, maxEjectionPercent: 100 });
    for (const n of nodes) n.failWith = grpc.status.UNAVAILABLE; // a real fault: every search fails
    await assert.rejects(search(t), (err: grpc.ServiceError) => err.code === grpc.status.UNAVAILABLE);
    const states = await replicaStates(t);
    for (const n of nodes) {
      const mine = states.get(n.id) ?? [];
      assert.ok(mine.length > 0 && mine.every((s) => s.state === 'ejected'), `node ${n.id} is ejected: ${JSON.stringify(mine)}`);
    }
    for (const n of nodes) n.failWith = undefined; // the nodes recover; their ejection lasts 60 s
    const callsBefore = nodes.reduce((s, n) => s + n.searchCalls.length, 0);
    const res = await search(t, 10_000, { top_k: 30 });
    assert.equal(res.num_shards_answered, NUM_DBS, `answered: ${JSON.stringify(res.failed_shards)}`);
    assert.deepEqual(res.failed_shards, []);
    assert.ok(nodes.reduce((s, n) => s + n.searchCalls.length, 0) > callsBefore, 'the ejected replicas were asked');
    // ShardDetails still says ejected, and why they are asked anyway.
    for (const [node, mine] of await replicaStates(t)) {
      assert.ok(mine.every((s) => s.state === 'ejected' && /panic rule/.test(s.reason)), `node ${node}: ${mine[0]?.reason}`);
    }
  });

  test('an ejected replica that has the shard loaded is still a retry target when the ready one fails', async () => {
    const { nodes, t } = await twoReplicas({ hedging: false, ejectAfterFailures: 1, ejectBaseMs: 60_000, ejectMaxMs: 60_000 });
    const [a, b] = nodes;
    a.failWith = grpc.status.UNAVAILABLE;
    await waitUntil('node a to be ejected', async () => {
      await search(t); // b answers what a fails
      return (await replicaStates(t)).get('a')?.every((s) => s.state === 'ejected') ?? false;
    });
    // a recovers (its ejection lasts 60 s); b, the only ready replica, now fails every call.
    a.failWith = undefined;
    b.failWith = grpc.status.UNAVAILABLE;
    const callsOfA = a.searchCalls.length;
    const res = await search(t);
    assert.equal(res.num_shards_answered, NUM_DBS, `failed: ${JSON.stringify(res.failed_shards)}`);
    assert.ok(a.searchCalls.length > callsOfA, 'the retry went to the ejected replica');
  });

  test('at most maxEjectionPercent (default 50) of the nodes are ejected at once: one of two failing nodes stays in', async () => {
    const { nodes, t } = await twoReplicas({ hedging: false, ejectAfterFailures: 1, ejectBaseMs: 60_000, ejectMaxMs: 60_000 });
    for (const n of nodes) n.failWith = grpc.status.UNAVAILABLE;
    for (let i = 0; i < 3; i++) await assert.rejects(search(t), (err: grpc.ServiceError) => err.code === grpc.status.UNAVAILABLE);
    const states = await replicaStates(t);
    const ejected = nodes.filter((n) => (states.get(n.id) ?? []).some((s) => s.state === 'ejected'));
    assert.equal(ejected.length, 1, `exactly one node ejected: ${JSON.stringify([...states])}`);
    const text = await metricsText(t);
    assert.equal(promSample(text, 'shardfleet_router_ejected_nodes'), 1);
    const blocked = promSamples(text, 'shardfleet_router_ejections_blocked_total').reduce((sum, x) => sum + x.value, 0);
    assert.ok(blocked >= 1, `the blocked ejection is counted: ${blocked}`);
  });
});

describe('request metrics: deadlines and batch outcomes', () => {
  test("a caller's expired deadline is outcome deadline_exceeded, not a coverage failure nor unavailable", async () => {
    const { nodes, t } = await twoReplicas({ hedging: false, ejectAfterFailures: 100 });
    for (const n of nodes) n.delayMs = 500;
    await assert.rejects(search(t, 100), (err: grpc.ServiceError) => err.code === grpc.status.DEADLINE_EXCEEDED);
    await assert.rejects(
      t.client.call('BatchSearch', { queries: [{ query: fakeQuery(), shard_ids: ALL }, { query: fakeQuery(1), shard_ids: [0] }] }, 100),
      (err: grpc.ServiceError) => err.code === grpc.status.DEADLINE_EXCEEDED,
    );
    const count = async (rpc: string, outcome: string): Promise<number> =>
      promSample(await metricsText(t), 'shardfleet_router_request_duration_seconds_count', { rpc, outcome }) ?? 0;
    // The client gives up at its deadline; the router records the request when its fan-out ends.
    await waitUntil('the router to record both requests', async () => (await count('Search', 'deadline_exceeded')) === 1 && (await count('BatchSearch', 'deadline_exceeded')) === 1);
    const text = await metricsText(t);
    for (const rpc of ['Search', 'BatchSearch']) {
      assert.equal(promSample(text, 'shardfleet_router_coverage_failures_total', { rpc }) ?? 0, 0, `${rpc}: no coverage failure`);
      assert.equal(promSample(text, 'shardfleet_router_request_duration_seconds_count', { rpc, outcome: 'unavailable' }) ?? 0, 0, `${rpc}: not unavailable`);
    }
  });

  test('BatchSearch outcome: a bad query is invalid_argument (not partial); missing shards alone are partial; different errors are error', async () => {
    const { nodes, t } = await twoReplicas({ hedging: false, ejectAfterFailures: 100 });
    for (const n of nodes) n.shardErrors.set(3, 'shard 3 is corrupt');
    const batch = (queries: object[]): Promise<BatchSearchResponse__Output> => t.client.call<BatchSearchResponse__Output>('BatchSearch', { queries });
    const good = { query: fakeQuery(), shard_ids: [0, 1] };
    const bad = { query: Buffer.alloc(12), shard_ids: [0] }; // 3 dimensions, the run has 4
    const partial = { query: fakeQuery(), shard_ids: [0, 3], min_coverage: 0.5 };
    const uncovered = { query: fakeQuery(), shard_ids: [3] };
    const results = await Promise.all([batch([good, bad]), batch([good, partial]), batch([good, bad, uncovered]), batch([good])]);
    assert.deepEqual(
      results.map((r) => r.results.map((x) => x.error_code)),
      [[0, grpc.status.INVALID_ARGUMENT], [0, 0], [0, grpc.status.INVALID_ARGUMENT, grpc.status.UNAVAILABLE], [0]],
    );
    assert.equal(results[1].results[1].response?.partial, true);
    const text = await metricsText(t);
    const count = (outcome: string): number => promSample(text, 'shardfleet_router_request_duration_seconds_count', { rpc: 'BatchSearch', outcome }) ?? 0;
    assert.deepEqual(
      { invalid_argument: count('invalid_argument'), partial: count('partial'), error: count('error'), ok: count('ok') },
      { invalid_argument: 1, partial: 1, error: 1, ok: 1 },
    );
  });
});
