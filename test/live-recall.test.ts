/**
 * Live recall units (issue 24): recall@k, the sliding window per (collection, num_probes, filter
 * class), the build-time figure lookup, and the sampler (src/router/live-recall.ts) over fake
 * node clients: fraction, per-second bound, one reference in flight (skipped, never queued),
 * exact references over every shard grouped per node, drops on a busy node, a failing node and a
 * swapped run, the metrics and the status it exports, and that offering never throws.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import type { Manifest } from '../src/common/manifest.ts';
import type { ShardNodeClient } from '../src/common/proto.ts';
import type { SearchShardsRequest } from '../src/common/proto-gen/shardfleet/v1/SearchShardsRequest.ts';
import type { SearchShardsResponse__Output } from '../src/common/proto-gen/shardfleet/v1/SearchShardsResponse.ts';
import { promSample } from '../src/eval/prometheus-text.ts';
import { LiveRecall, validateLiveRecall, type CollectionQuery } from '../src/router/live-recall.ts';
import { buildRecallOf, recallAtK, RecallWindow } from '../src/router/live-recall-window.ts';
import type { RouterSnapshot } from '../src/router/router-snapshot.ts';
import { quietLogger } from './helpers/fixtures.ts';
import { waitFor } from './helpers/wait.ts';

test('recallAtK: |returned ∩ exact| / min(k, |exact|); undefined without an exact answer', () => {
  assert.equal(recallAtK(['a', 'b', 'c'], ['a', 'b', 'd'], 3), 2 / 3);
  assert.equal(recallAtK(['a', 'x'], ['a', 'b'], 10), 0.5, 'fewer matches than k: divide by |exact|');
  assert.equal(recallAtK(['a', 'a', 'b'], ['a', 'b', 'c'], 3), 2 / 3, 'a repeated id counts once');
  assert.equal(recallAtK([], ['a'], 1), 0);
  assert.equal(recallAtK(['a'], [], 10), undefined);
});

describe('RecallWindow', () => {
  const key = { collection: 'default', numProbes: '2', filter: 'none' as const };

  test('means per group, at most maxSamples each, none older than windowMs; groups that empty are forgotten', () => {
    const w = new RecallWindow({ maxSamples: 3, windowMs: 1000, maxGroups: 10 });
    w.add(key, { at: 0, recall: 0, buildRecall: 0.9 });
    for (const recall of [1, 0.5, 0.75]) w.add(key, { at: 100, recall });
    w.add({ ...key, filter: 'filtered' }, { at: 500, recall: 0.25 });
    let s = w.summary(200);
    assert.deepEqual(s[0], { ...key, samples: 3, liveRecall: 0.75, buildSamples: 0 }, 'the oldest (with the build figure) fell out');
    assert.equal(s[1].filter, 'filtered');
    s = w.summary(1200);
    assert.deepEqual(
      s.map((g) => g.filter),
      ['filtered'],
      'samples older than the window left it',
    );
    assert.deepEqual(w.summary(2000), []);
  });

  test('the build-time mean is over the samples that have one; groups are sorted; at most maxGroups', () => {
    const w = new RecallWindow({ maxSamples: 100, windowMs: 1e9, maxGroups: 2 });
    w.add({ ...key, numProbes: '10' }, { at: 1, recall: 1, buildRecall: 0.8 });
    w.add({ ...key, numProbes: '10' }, { at: 2, recall: 0.5 });
    w.add(key, { at: 3, recall: 1, buildRecall: 0.9 });
    const s = w.summary(4);
    assert.deepEqual(
      s.map((g) => [g.numProbes, g.liveRecall, g.buildRecall, g.buildSamples]),
      [
        ['2', 1, 0.9, 1],
        ['10', 0.75, 0.8, 1],
      ],
    );
    w.add({ ...key, numProbes: '3' }, { at: 5, recall: 0 });
    assert.deepEqual(
      w.summary(6).map((g) => g.numProbes),
      ['2', '3'],
      'the group with the oldest last sample was dropped',
    );
    assert.throws(() => new RecallWindow({ maxSamples: 0, windowMs: 1, maxGroups: 1 }), RangeError);
  });
});

/** A manifest with the fields live recall reads. */
function manifestOf(runId: string, extra: Partial<Manifest> = {}): Manifest {
  return {
    run_id: runId,
    format: 'shardfleet',
    shards: [0, 1, 2, 3].map((db_id) => ({ db_id, vector_count: db_id === 3 ? 0 : 100 })),
    sharding: { strategy: 'cluster', num_dbs: 4, num_probes: 2 },
    index: { dim: 2, metric: 'l2', backend: 'usearch', index_type: 'hnsw', index_params: { ef_search: 64 } },
    ...extra,
  } as unknown as Manifest;
}

test('buildRecallOf: the search_recall cell of (num_probes, ef), else the routing curve; none for filtered or shard_ids queries', () => {
  const search = { k: 10, sample_queries: 100, ground_truth_vectors: 1000, ef: [32, 64, 128], recall: [[0.5, 0.6, 0.7], [0.8, 0.85, 0.9]] };
  const m = manifestOf('r', { search_recall: search, routing_recall: { k: 10, sample_queries: 1, sample_size: 1, recall_at_probes: [0.1, 0.2, 0.3, 1] } });
  assert.equal(buildRecallOf(m, 2, 0, false, false), 0.85, 'ef 0 = the run ef_search (64)');
  assert.equal(buildRecallOf(m, 2, 128, false, false), 0.9);
  assert.equal(buildRecallOf(m, 1, 100, false, false), 0.6, 'an unmeasured ef reads the largest measured below it');
  assert.equal(buildRecallOf(m, 1, 8, false, false), 0.5, 'below every measured ef: the smallest');
  assert.equal(buildRecallOf(m, 3, 0, false, false), undefined, 'a row the table does not have');
  assert.equal(buildRecallOf(m, 2, 0, true, false), undefined);
  assert.equal(buildRecallOf(m, 2, 0, false, true), undefined);
  const routingOnly = manifestOf('r', { routing_recall: { k: 10, sample_queries: 1, sample_size: 1, recall_at_probes: [0.1, 0.2, 0.3, 1] } });
  assert.equal(buildRecallOf(routingOnly, 3, 0, false, false), 0.3);
  assert.equal(buildRecallOf(manifestOf('r'), 1, 0, false, false), undefined);
});

test('validateLiveRecall names the flag', () => {
  assert.throws(() => validateLiveRecall({ fraction: 1.5, maxPerSecond: 1 }), /--live-recall-fraction must be a number in \[0, 1\]/);
  assert.throws(() => validateLiveRecall({ fraction: 0.1, maxPerSecond: 0 }), /--live-recall-max-per-second must be a number > 0/);
  validateLiveRecall({ fraction: 0, maxPerSecond: 0.5 });
});

/** Exact answers of the fake nodes: the hits of each shard, best first. */
const SHARD_HITS: Record<number, { id: string; score: number }[]> = {
  0: [{ id: 'a', score: 0.1 }, { id: 'd', score: 0.4 }],
  1: [{ id: 'b', score: 0.2 }, { id: 'e', score: 0.5 }],
  2: [{ id: 'c', score: 0.3 }],
};

interface FakeNode {
  calls: SearchShardsRequest[];
  /** Reply: answer (default), a gRPC error code, or hold until released. */
  mode: 'answer' | grpc.status | 'hold';
  held: (() => void)[];
  runId?: string;
}

function fakeClient(node: FakeNode): ShardNodeClient {
  return {
    SearchShards(req: SearchShardsRequest, _md: grpc.Metadata, _opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: SearchShardsResponse__Output) => void) {
      node.calls.push(req);
      const reply = (): void => {
        if (typeof node.mode === 'number') {
          cb(Object.assign(new Error('refused'), { code: node.mode, details: 'refused', metadata: new grpc.Metadata() }));
          return;
        }
        const q = req.queries![0];
        cb(null, {
          run_id: node.runId ?? req.run_id!,
          shards: (q.shard_ids ?? []).map((dbId) => ({
            db_id: dbId,
            error: '',
            query_index: 0,
            ids: (SHARD_HITS[dbId] ?? []).slice(0, q.top_k).map((h) => h.id),
            scores: (SHARD_HITS[dbId] ?? []).slice(0, q.top_k).map((h) => h.score),
            payloads_json: [],
            vectors: Buffer.alloc(0),
            found: [],
            values: [],
          })),
        } as unknown as SearchShardsResponse__Output);
      };
      if (node.mode === 'hold') node.held.push(reply);
      else setImmediate(reply);
      return { cancel: () => undefined } as unknown as grpc.ClientUnaryCall;
    },
  } as unknown as ShardNodeClient;
}

describe('LiveRecall sampler', () => {
  function setup(options: { fraction?: number; maxPerSecond?: number; random?: () => number } = {}) {
    const nodes: Record<string, FakeNode> = { n0: { calls: [], mode: 'answer', held: [] }, n1: { calls: [], mode: 'answer', held: [] } };
    const search_recall = { k: 3, sample_queries: 10, ground_truth_vectors: 300, ef: [64], recall: [[0.7], [0.95]] };
    let served: RouterSnapshot = { manifest: manifestOf('run-1', { search_recall }) } as unknown as RouterSnapshot;
    const registry = new Registry();
    const live = new LiveRecall(
      { fraction: options.fraction ?? 1, maxPerSecond: options.maxPerSecond ?? 1000 },
      {
        current: (collection) => (collection === 'items' ? served : undefined),
        // Shards 0 and 2 on n0, shard 1 on n1 (shard 3 is empty: never asked).
        nodeFor: (_collection, _s, dbId) => (dbId === 1 ? 'n1' : 'n0'),
        client: (id) => fakeClient(nodes[id]),
        registry,
        log: quietLogger(),
        ...(options.random ? { random: options.random } : {}),
      },
    );
    const answered = (returned: string[], extra: Partial<CollectionQuery> = {}): CollectionQuery => ({
      collection: 'items',
      snapshot: served,
      queryBytes: Buffer.alloc(8),
      topK: 3,
      numProbes: 0,
      shardIdsGiven: false,
      ef: 0,
      response: { results: returned.map((id) => ({ id, score: 0 })) },
      ...extra,
    });
    const done = (n: number) => waitFor(`${n} samples to finish`, () => {
      const s = live.status();
      return Number(s.measured) + Object.values(s.skipped ?? {}).reduce((a: number, b) => a + Number(b), 0) >= n;
    }, { timeoutMs: 5000, intervalMs: 5 });
    return { live, nodes, registry, answered, done, swap: (runId: string) => (served = { manifest: manifestOf(runId) } as unknown as RouterSnapshot) };
  }

  test('a sample asks every non-empty shard exactly, one call per node off the request path, and records recall@k beside the build figure', async () => {
    const { live, nodes, registry, answered, done } = setup();
    live.offer(answered(['a', 'b', 'x']));
    assert.equal(nodes.n0.calls.length + nodes.n1.calls.length, 0, 'nothing is sent within offer()');
    await done(1);
    assert.deepEqual(nodes.n0.calls[0].queries![0].shard_ids, [0, 2]);
    assert.deepEqual(nodes.n1.calls[0].queries![0].shard_ids, [1]);
    for (const n of [nodes.n0, nodes.n1]) {
      assert.equal(n.calls[0].run_id, 'run-1');
      assert.equal(n.calls[0].collection, 'items', 'the reference asks the nodes for the sampled collection');
      assert.equal(n.calls[0].queries![0].exact, true);
      assert.equal(n.calls[0].queries![0].top_k, 3);
    }
    const s = live.status();
    assert.equal(s.measured, 1);
    // exact top-3 = a, b, c: the answer a, b, x has 2 of 3.
    assert.deepEqual(
      s.groups!.map((g) => [g.collection, g.num_probes, g.filter, g.samples, g.live_recall, g.has_build_recall, g.build_recall]),
      [['items', '2', 'none', 1, 2 / 3, true, 0.95]],
    );
    live.offer(answered(['a', 'b', 'c'], { filter: '{"op":"const","value":true}', numProbes: 1 }));
    await done(2);
    const text = await registry.metrics();
    assert.equal(promSample(text, 'shardfleet_router_live_recall', { collection: 'items', num_probes: '2', filter: 'none' }), 2 / 3);
    assert.equal(promSample(text, 'shardfleet_router_build_recall', { collection: 'items', num_probes: '2', filter: 'none' }), 0.95);
    assert.equal(promSample(text, 'shardfleet_router_live_recall', { collection: 'items', num_probes: '1', filter: 'filtered' }), 1);
    assert.equal(promSample(text, 'shardfleet_router_build_recall', { collection: 'items', num_probes: '1', filter: 'filtered' }), undefined, 'no build-time figure for filtered queries');
    assert.equal(promSample(text, 'shardfleet_router_live_recall_samples_total', { outcome: 'measured' }), 2);
    assert.equal(nodes.n0.calls[1].queries![0].filter, '{"op":"const","value":true}', 'the filter travels with the reference');
    await live.stop();
  });

  test('fraction and per-second bound: unsampled queries cost nothing, over the rate is skipped', async () => {
    const draws = [0.5, 0.05, 0.2];
    const { live, nodes, answered, done } = setup({ fraction: 0.1, maxPerSecond: 1, random: () => draws.shift() ?? 0 });
    live.offer(answered(['a']));
    live.offer(answered(['a']));
    live.offer(answered(['a']));
    live.offer(answered(['a']));
    await done(2);
    const s = live.status();
    assert.equal(s.measured, 1, 'draw 0.05 < 0.1 was sampled; 0.5 and 0.2 were not');
    assert.equal(s.skipped!.rate, 1, 'the fourth (draw 0) found the one-per-second bucket empty');
    assert.equal(nodes.n0.calls.length, 1);
    await live.stop();
  });

  test('one reference in flight: later samples are skipped (in_flight), never queued', async () => {
    const { live, nodes, answered, done } = setup();
    nodes.n0.mode = 'hold';
    live.offer(answered(['a']));
    await waitFor('the reference call', () => nodes.n0.calls.length === 1, { timeoutMs: 5000, intervalMs: 5 });
    for (let i = 0; i < 5; i++) live.offer(answered(['a']));
    assert.equal(live.status().skipped!.in_flight, 5);
    nodes.n0.held.shift()!();
    await done(6);
    assert.equal(live.status().measured, 1);
    await live.stop();
  });

  test('a busy node, a failing node, a swapped run drop the sample with their reason', async () => {
    const { live, nodes, answered, done, swap } = setup();
    nodes.n1.mode = grpc.status.RESOURCE_EXHAUSTED;
    live.offer(answered(['a']));
    await done(1);
    nodes.n1.mode = grpc.status.UNAVAILABLE;
    live.offer(answered(['a']));
    await done(2);
    nodes.n1.mode = 'answer';
    nodes.n0.mode = 'hold';
    live.offer(answered(['a']));
    await waitFor('the reference call', () => nodes.n0.held.length === 1, { timeoutMs: 5000, intervalMs: 5 });
    swap('run-2');
    nodes.n0.held.shift()!();
    await done(3);
    live.offer(answered(['a'], { snapshot: { manifest: manifestOf('run-1') } as unknown as RouterSnapshot }));
    await done(4);
    assert.deepEqual(live.status().skipped, { node_busy: 1, node_error: 1, run_swapped: 2 });
    assert.equal(live.status().measured, 0);
    await live.stop();
  });

  test('offer never throws, even when the sampler cannot work', async () => {
    const { live, answered } = setup();
    const broken = answered(['a']);
    Object.defineProperty(broken, 'response', { get: () => { throw new Error('boom'); } });
    assert.doesNotThrow(() => live.offer(broken));
    await live.stop();
    assert.doesNotThrow(() => live.offer(answered(['a'])));
  });
});
