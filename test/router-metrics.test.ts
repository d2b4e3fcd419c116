/**
 * The router's Prometheus endpoint after a few searches against fake shard nodes: request and
 * node-call latency histograms, fan-out width, retries, hedges, partial answers, coverage
 * failures, the served run and the snapshot age.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { tempDir } from './helpers/fixtures.ts';
import { FakeShardNode, fakeQuery, publishFakeRun, startTestRouter, type TestRouter } from './helpers/router-fakes.ts';

const RUN = 'run-m';
let dir: Awaited<ReturnType<typeof tempDir>>;
let nodes: FakeShardNode[];
let t: TestRouter;

before(async () => {
  dir = await tempDir('router-metrics');
  const store = new FileObjectStore(join(dir.path, 'store'));
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

/** The value of the first sample of `name` whose labels include every `labels` pair. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return undefined;
}

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
  assert.equal(sample(text, 'shardfleet_router_request_duration_seconds_count', { rpc: 'Search', outcome: 'ok', component: 'router' }), 4);
  assert.equal(sample(text, 'shardfleet_router_request_duration_seconds_count', { rpc: 'Search', outcome: 'partial' }), 1);
  assert.equal(sample(text, 'shardfleet_router_request_duration_seconds_count', { rpc: 'Search', outcome: 'unavailable' }), 1);
  assert.equal(sample(text, 'shardfleet_router_coverage_failures_total', { rpc: 'Search' }), 1);
  assert.equal(sample(text, 'shardfleet_router_partial_responses_total', { rpc: 'Search' }), 1);
  assert.equal(sample(text, 'shardfleet_router_fanout_nodes_count', { rpc: 'Search' }), 6);
  assert.ok((sample(text, 'shardfleet_router_retries_total') ?? 0) >= 2, 'the failing shard was retried on its other replica');
  assert.ok((sample(text, 'shardfleet_router_hedges_total') ?? 0) >= 1);
  assert.ok((sample(text, 'shardfleet_router_node_rpc_duration_seconds_count', { node: 'a', outcome: 'ok' }) ?? 0) >= 1);
  assert.ok((sample(text, 'shardfleet_router_node_rpc_duration_seconds_count', { node: 'a', outcome: 'cancelled' }) ?? 0) >= 1, 'the hedge loser was cancelled');
  assert.equal(sample(text, 'shardfleet_router_current_run', { run_id: RUN }), 1);
  const age = sample(text, 'shardfleet_router_snapshot_age_seconds');
  assert.ok(age !== undefined && age >= 0 && age < 600, `snapshot age ${age}`);
  assert.equal(sample(text, 'shardfleet_router_shard_coverage_ratio'), 1);
  assert.equal(sample(text, 'shardfleet_router_ejected_nodes'), 0);
  assert.ok(sample(text, 'process_cpu_user_seconds_total') !== undefined, 'default process metrics are there');
});
