/**
 * The router's Prometheus endpoint after a few searches against fake shard nodes: request and
 * node-call latency histograms, fan-out width, retries, hedges, partial answers, coverage
 * failures, the served run and the snapshot age, shards per query, shards under R ready replicas
 * and a pending run.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { promSample, promSamples } from '../src/eval/prometheus-text.ts';
import { tempDir } from './helpers/fixtures.ts';
import { FakeShardNode, fakeQuery, publishFakeRun, startTestRouter, waitUntil, type TestRouter } from './helpers/router-fakes.ts';

const RUN = 'run-m';
let dir: Awaited<ReturnType<typeof tempDir>>;
let nodes: FakeShardNode[];
let t: TestRouter;
let store: FileObjectStore;

before(async () => {
  dir = await tempDir('router-metrics');
  store = new FileObjectStore(join(dir.path, 'store'));
  await publishFakeRun(store, RUN, 4, 1);
  nodes = [await FakeShardNode.start('a'), await FakeShardNode.start('b')];
  for (const n of nodes) n.runs.set(RUN, { loaded: [0, 1, 2, 3] });
  t = await startTestRouter(store, nodes, { replication: 2, metricsListen: '127.0.0.1:0', hedgeDelayMs: 30, ejectAfterFailures: 100 });
});
after(async () => {
  await t?.stop();
  for (const n of nodes ?? []) n.stop();
  await dir?.remove();
});

test('/metrics shows the router metrics after a few searches', async () => {
  assert.ok(t.router.metricsAddress, 'metrics endpoint is listening');
  const search = (extra: object): Promise<unknown> => t.client.call('Search', { query: fakeQuery(), top_k: 5, shard_ids: [0, 1, 2, 3], ...extra });
  for (let i = 0; i < 3; i++) await search({});
  // A shard failing on both replicas: one coverage failure, one partial answer.
  for (const n of nodes) n.shardErrors.set(3, 'broken');
  await assert.rejects(search({}), (err: grpc.ServiceError) => err.code === grpc.status.UNAVAILABLE);
  await search({ min_coverage: 0.5 });
  for (const n of nodes) n.shardErrors.clear();
  // A slow node: a hedge.
  nodes[0].delayMs = 300;
  await search({});
  nodes[0].delayMs = 0;

  const res = await fetch(`http://${t.router.metricsAddress}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.equal(promSample(text, 'shardfleet_router_request_duration_seconds_count', { rpc: 'Search', outcome: 'ok', component: 'router' }), 4);
  assert.equal(promSample(text, 'shardfleet_router_request_duration_seconds_count', { rpc: 'Search', outcome: 'partial' }), 1);
  assert.equal(promSample(text, 'shardfleet_router_request_duration_seconds_count', { rpc: 'Search', outcome: 'unavailable' }), 1);
  assert.equal(promSample(text, 'shardfleet_router_coverage_failures_total', { rpc: 'Search' }), 1);
  assert.equal(promSample(text, 'shardfleet_router_partial_responses_total', { rpc: 'Search' }), 1);
  assert.equal(promSample(text, 'shardfleet_router_fanout_nodes_count', { rpc: 'Search' }), 6);
  assert.equal(promSample(text, 'shardfleet_router_query_shards_count', { rpc: 'Search' }), 6, 'one observation per query');
  assert.equal(promSample(text, 'shardfleet_router_query_shards_sum', { rpc: 'Search' }), 24, 'every query asked its 4 shards');
  assert.equal(promSample(text, 'shardfleet_router_under_replicated_shards'), 0);
  assert.deepEqual(promSamples(text, 'shardfleet_router_pending_run_seconds'), [], 'no series while no run is pending');
  assert.ok((promSample(text, 'shardfleet_router_retries_total') ?? 0) >= 2, 'the failing shard was retried on its other replica');
  assert.ok((promSample(text, 'shardfleet_router_hedges_total') ?? 0) >= 1);
  assert.ok((promSample(text, 'shardfleet_router_node_rpc_duration_seconds_count', { node: 'a', outcome: 'ok' }) ?? 0) >= 1);
  assert.ok((promSample(text, 'shardfleet_router_node_rpc_duration_seconds_count', { node: 'a', outcome: 'cancelled' }) ?? 0) >= 1, 'the hedge loser was cancelled');
  assert.equal(promSample(text, 'shardfleet_router_current_run', { run_id: RUN }), 1);
  const age = promSample(text, 'shardfleet_router_snapshot_age_seconds');
  assert.ok(age !== undefined && age >= 0 && age < 600, `snapshot age ${age}`);
  assert.equal(promSample(text, 'shardfleet_router_shard_coverage_ratio'), 1);
  assert.equal(promSample(text, 'shardfleet_router_ejected_nodes'), 0);
  assert.ok(promSample(text, 'process_cpu_user_seconds_total') !== undefined, 'default process metrics are there');
});

test('node_inflight_searches counts the shard searches in flight per node, and returns to none', async () => {
  const inflight = async (): Promise<Map<string, number>> => {
    const text = await (await fetch(`http://${t.router.metricsAddress}/metrics`)).text();
    return new Map(promSamples(text, 'shardfleet_router_node_inflight_searches').map((x) => [x.labels.node, x.value]));
  };
  const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
  for (const n of nodes) n.delayMs = 400;
  try {
    const pending = t.client.call('Search', { query: fakeQuery(), top_k: 5, shard_ids: [0, 1, 2, 3] });
    let seen = new Map<string, number>();
    await waitUntil('the searches to show as in flight', async () => total((seen = await inflight())) >= 4);
    assert.ok([...seen.keys()].every((node) => node === 'a' || node === 'b'), `labels are node ids: ${[...seen.keys()].join(',')}`);
    await pending;
  } finally {
    for (const n of nodes) n.delayMs = 0;
  }
  await waitUntil('no search in flight', async () => total(await inflight()) === 0);
});

test('under_replicated_shards counts shards below R ready replicas (none included); pending_run_seconds names a run not served yet', async () => {
  const scrape = async (): Promise<string> => (await fetch(`http://${t.router.metricsAddress}/metrics`)).text();
  const [a, b] = nodes;
  try {
    b.runs.set(RUN, { loaded: [0, 1] });
    await waitUntil('shards 2 and 3 to count as under-replicated', async () => promSample(await scrape(), 'shardfleet_router_under_replicated_shards') === 2);
    a.runs.set(RUN, { loaded: [0] });
    // Shard 1 has one ready replica, shards 2 and 3 none.
    await waitUntil('shards without a ready replica to count too', async () => promSample(await scrape(), 'shardfleet_router_under_replicated_shards') === 3);
    assert.equal(promSample(await scrape(), 'shardfleet_router_shard_coverage_ratio'), 0.5);
  } finally {
    for (const n of nodes) n.runs.set(RUN, { loaded: [0, 1, 2, 3] });
  }
  await waitUntil('redundancy to be back', async () => promSample(await scrape(), 'shardfleet_router_under_replicated_shards') === 0);

  const NEXT = 'run-m2';
  await publishFakeRun(store, NEXT, 4, 2);
  await waitUntil('the new run to be pending', async () => promSamples(await scrape(), 'shardfleet_router_pending_run_seconds').length === 1);
  await new Promise((res) => setTimeout(res, 1100));
  const [sample] = promSamples(await scrape(), 'shardfleet_router_pending_run_seconds');
  assert.equal(sample.labels.run_id, NEXT);
  assert.ok(sample.value >= 1 && sample.value < 600, `pending for ${sample.value} s`);
  for (const n of nodes) n.runs.set(NEXT, { loaded: [0, 1, 2, 3] });
  await waitUntil('the router to serve the new run', async () => promSample(await scrape(), 'shardfleet_router_current_run', { run_id: NEXT }) === 1);
  assert.deepEqual(promSamples(await scrape(), 'shardfleet_router_pending_run_seconds'), [], 'the series is gone once the run is served');
});
