/**
 * The rules behind moving shards without dropping queries, as pure functions: when a node may
 * release a shard (src/shard-node/shard-keep-leases.ts) and what a router says it still needs
 * (src/router/leaving-nodes.ts). The behaviour through real processes is in scale-down.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Manifest } from '../src/common/manifest.ts';
import { placeShards } from '../src/common/placement.ts';
import { keepShardsFor, placementMembers, retainedLeavers } from '../src/router/leaving-nodes.ts';
import type { NodeRunView, NodeView } from '../src/router/node-status-poller.ts';
import type { RouterSnapshot } from '../src/router/router-snapshot.ts';
import { KEEP_WORD_MIN_TTL_MS, ShardKeepLeases } from '../src/shard-node/shard-keep-leases.ts';

describe('ShardKeepLeases (node side)', () => {
  test('a releasing shard waits until every live router has seen it and none names it', () => {
    let now = 1000;
    const keep = new ShardKeepLeases(() => now);
    assert.equal(keep.mayRelease('r1', 3, 50), true, 'no router: nothing holds it');
    keep.renew('router-a', [], [], 40, 1600);
    assert.equal(keep.mayRelease('r1', 3, 50), false, 'router-a has not read a Status listing it yet');
    keep.renew('router-a', [{ runId: 'r1', dbIds: [3] }], [], 51, 1600);
    assert.equal(keep.mayRelease('r1', 3, 50), false, 'router-a needs it');
    keep.renew('router-a', [], [], 52, 1600);
    assert.equal(keep.mayRelease('r1', 3, 50), true);
    keep.renew('router-b', [{ runId: 'r1', dbIds: [3] }], ['node-x'], 53, 1600);
    assert.equal(keep.mayRelease('r1', 3, 50), false, 'router-b needs it');
    assert.deepEqual(keep.drainingNodes(), ['node-x']);
    now += KEEP_WORD_MIN_TTL_MS - 1;
    assert.equal(keep.mayRelease('r1', 3, 50), false, "a router's word outlives its short lease TTL");
    now += 2;
    assert.equal(keep.mayRelease('r1', 3, 50), true, 'a silent router stops counting');
    assert.deepEqual(keep.drainingNodes(), []);
  });

  test('a router that sends no seen_status_seq (older router) takes no part', () => {
    const keep = new ShardKeepLeases(() => 0);
    keep.renew('old-router', [{ runId: 'r1', dbIds: [1] }], ['n'], 0, 1000);
    assert.equal(keep.mayRelease('r1', 1, 5), true);
    assert.deepEqual(keep.drainingNodes(), []);
  });
});

function snapshotOf(nodeIds: string[], numDbs: number): RouterSnapshot {
  const manifest = { run_id: 'r1', shards: Array.from({ length: numDbs }, (_, db_id) => ({ db_id })) } as unknown as Manifest;
  return { manifest, placement: placeShards(Array.from({ length: numDbs }, (_, i) => i), nodeIds, { replication: 2 }) } as unknown as RouterSnapshot;
}

function viewOf(id: string, loaded: number[], releasing: number[], reachable = true): NodeView {
  const run: NodeRunView = { runId: 'r1', loaded: new Set(loaded), failed: new Map(), assigned: new Set(), ready: true, current: true, releasing: new Set(releasing) };
  return { id, address: id, reachable, error: '', loadError: '', polledAt: 1, runs: new Map([['r1', run]]), draining: false, statusSeq: 1 };
}

describe('leaving-nodes (router side)', () => {
  test('placement leaves out draining nodes, unless every member drains', () => {
    assert.deepEqual(placementMembers(['a', 'b', 'c'], new Set(['b'])), ['a', 'c']);
    assert.deepEqual(placementMembers(['a', 'b'], new Set(['a', 'b'])), ['a', 'b']);
  });

  test('a releasing shard is kept until every one of its owners is ready', () => {
    const s = snapshotOf(['a', 'b'], 4);
    const ready = new Set<string>(['a:0', 'b:0', 'a:1']);
    const isReady = (node: string, _run: string, db: number): boolean => ready.has(`${node}:${db}`);
    const old = viewOf('old', [0, 1, 2], [0, 1, 2]);
    // Shard 0 is ready on both owners (a, b); shard 1 on a only; shard 2 on none.
    assert.deepEqual(keepShardsFor(old, [s], isReady), [{ run_id: 'r1', db_ids: [1, 2] }]);
    ready.add('b:1');
    ready.add('a:2');
    ready.add('b:2');
    assert.deepEqual(keepShardsFor(old, [s], isReady), []);
    // A node that left the membership is retained while it holds a needed shard and answers.
    ready.delete('b:2');
    const pool = [{ id: 'a', address: 'a' }, { id: 'b', address: 'b' }, { id: 'old', address: 'old' }];
    assert.deepEqual(retainedLeavers(pool, new Set(['a', 'b']), () => old, [s], isReady).map((n) => n.id), ['old']);
    assert.deepEqual(retainedLeavers(pool, new Set(['a', 'b']), () => viewOf('old', [2], [], false), [s], isReady), []);
    ready.add('b:2');
    assert.deepEqual(retainedLeavers(pool, new Set(['a', 'b']), () => old, [s], isReady), []);
  });
});
