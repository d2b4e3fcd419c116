/**
 * `shardfleet local`'s start-up progress (local-progress.ts) over what nodes and the router
 * answer, without processes (test/local-operations.test.ts runs the real command): one snapshot
 * is summed as before; over a catalog root every collection's current run counts, transient
 * per-collection load states are not problems, failures name their collection, and a collection
 * is ready once the router's Health lists it fully covered; the lines said without a terminal.
 */
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StartupProgress, summarizeStartup, type NodePoll, type StartupCollection } from '../src/cli/local-progress.ts';
import type { CollectionHealth__Output } from '../src/common/proto-gen/shardfleet/v1/CollectionHealth.ts';
import type { HealthResponse__Output } from '../src/common/proto-gen/shardfleet/v1/HealthResponse.ts';
import type { RunStatus__Output } from '../src/common/proto-gen/shardfleet/v1/RunStatus.ts';
import type { StatusResponse__Output } from '../src/common/proto-gen/shardfleet/v1/StatusResponse.ts';

/** A run on a node: `loaded` of `assigned` shards, current unless said. */
function run(collection: string, runId: string, assigned: number[], loaded: number[], extra: Partial<RunStatus__Output> = {}): RunStatus__Output {
  return {
    run_id: runId,
    collection,
    shards_assigned: assigned,
    shards_loaded: loaded,
    shards_failed: [],
    shards_releasing: [],
    ready: loaded.length >= assigned.length,
    current: true,
    leased: false,
    ...extra,
  };
}

/** A node's Status with these runs; the top-level fields copy the current "default" run, as node-collections.ts does. */
function node(id: string, runs: RunStatus__Output[], loadError = ''): NodePoll {
  const top = runs.find((r) => r.current && r.collection === 'default');
  const status: StatusResponse__Output = {
    node_id: id,
    run_id: top?.run_id ?? '',
    shards_loaded: top?.shards_loaded ?? [],
    shards_failed: top?.shards_failed ?? [],
    shards_assigned: top?.shards_assigned ?? [],
    load_error: loadError,
    runs,
    cache_bytes: 0,
    max_cache_bytes: 0,
    draining: false,
    status_seq: 1,
  };
  return { id, status };
}

function collectionHealth(name: string, status: string, coverage: number): CollectionHealth__Output {
  return { name, status, coverage, reasons: [], run_id: 'r', snapshot_age_seconds: 0, last_refresh_error: '', pending_run_id: '' };
}

function health(status: string, collections: CollectionHealth__Output[], reasons: string[] = []): { health: HealthResponse__Output } {
  const coverage = Math.min(1, ...collections.map((c) => c.coverage));
  return {
    health: {
      status,
      reasons,
      run_id: '',
      snapshot_age_seconds: 0,
      coverage,
      last_refresh_error: '',
      pending_run_id: '',
      collections,
      default_collection: '',
      aliases: [],
      aliases_error: '',
    },
  };
}

const ONE: StartupCollection[] = [{ name: 'default', runId: 'r1', numDbs: 4 }];
const TWO: StartupCollection[] = [
  { name: 'items', runId: 'ri', numDbs: 4 },
  { name: 'users', runId: 'ru', numDbs: 2 },
];

test('one snapshot: replicas, coverage and ready nodes as before; a node still loading is no problem', () => {
  const snap = summarizeStartup(ONE, false, [node('node-0', [run('default', 'r1', [0, 1], [0, 1])]), node('node-1', [], 'loading'), { id: 'node-2', status: undefined }], health('degraded', [collectionHealth('default', 'degraded', 0.5)], ['coverage 50%']));
  assert.deepEqual(
    { loaded: snap.loaded, assigned: snap.assigned, covered: snap.covered, nodesReady: snap.nodesReady, readyNodes: snap.readyNodes, router: snap.router, routerReason: snap.routerReason, problems: snap.problems },
    { loaded: 2, assigned: 2, covered: 2, nodesReady: 1, readyNodes: ['node-0'], router: 'degraded', routerReason: 'coverage 50%', problems: [] },
  );
  const failed = summarizeStartup(ONE, false, [node('node-0', [run('default', 'r1', [0, 1], [0], { shards_failed: [{ db_id: 1, reason: 'checksum mismatch' }] })], 'disk full')], { error: 'UNAVAILABLE: no connection' });
  assert.deepEqual(failed.problems, ['node-0: disk full', 'node-0: shard 1: checksum mismatch']);
  assert.equal(failed.nodesReady, 0);
  assert.equal(failed.router, 'starting');
  assert.equal(failed.routerReason, 'UNAVAILABLE: no connection');
});

test('a catalog root: every collection\'s current run counts; collections are ready from the router\'s Health', () => {
  const nodes = [
    // node-0 holds all of items' shards 0-1 and users' shard 0, plus an older items run that must not count.
    node('node-0', [run('items', 'ri', [0, 1], [0, 1]), run('items', 'old', [0, 1, 2, 3], [0, 1, 2, 3], { current: false }), run('users', 'ru', [0], [0])]),
    // node-1: items 2-3 (one loaded), users 1 loaded; a collection found after start-up is left out.
    node('node-1', [run('items', 'ri', [2, 3], [2]), run('users', 'ru', [1], [1]), run('later', 'rl', [0], [0])], 'items: loading | users: no snapshot loaded'),
  ];
  const snap = summarizeStartup(TWO, true, nodes, health('degraded', [collectionHealth('items', 'degraded', 0.75), collectionHealth('users', 'healthy', 1)], ['items: coverage 75%']));
  assert.equal(snap.loaded, 5);
  assert.equal(snap.assigned, 6);
  assert.equal(snap.covered, 5, 'items 0,1,2 and users 0,1');
  assert.deepEqual(snap.readyNodes, ['node-0']);
  assert.deepEqual(snap.problems, [], 'per-collection loading states are not problems');
  assert.deepEqual(
    snap.collections.map((c) => [c.name, c.loaded, c.assigned, c.covered, c.router, c.ready]),
    [
      ['items', 3, 4, 3, 'degraded', false],
      ['users', 2, 2, 2, 'healthy', true],
    ],
  );
  assert.equal(snap.collectionsReady, 1);
  assert.equal(snap.routerReason, 'items: coverage 75%');

  // A node without a run of one collection is not ready; failures and real load errors name the collection.
  const partial = summarizeStartup(TWO, true, [node('node-0', [run('items', 'ri', [0], [], { shards_failed: [{ db_id: 0, reason: 'bad file' }] })], 'users: StorageError: access denied | items: loading')], undefined);
  assert.deepEqual(partial.problems, ['node-0: users: StorageError: access denied', 'node-0: items: shard 0: bad file']);
  assert.equal(partial.nodesReady, 0);
  assert.deepEqual(partial.collections.map((c) => c.router), ['starting', 'starting']);
  const noUsers = summarizeStartup(TWO, true, [node('node-0', [run('items', 'ri', [0], [0])])], undefined);
  assert.equal(noUsers.nodesReady, 0, 'no current run of users yet');
});

test('without a terminal: the catalog header, one line per ready collection, the final line and the failure summary', () => {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  const progress = new StartupProgress({ tty: false, stream, collections: TWO, catalog: true, replication: 1, numNodes: 2 });
  assert.match(text, /^serving 2 collections: 6 shards x 1 replica on 2 nodes; items \(run ri, 4 shards\), users \(run ru, 2 shards\)\n$/);
  const half = summarizeStartup(TWO, true, [node('node-0', [run('items', 'ri', [0, 1], [0, 1]), run('users', 'ru', [0], [0])]), node('node-1', [run('items', 'ri', [2, 3], []), run('users', 'ru', [1], [1])])], health('degraded', [collectionHealth('items', 'degraded', 0.5), collectionHealth('users', 'healthy', 1)]));
  progress.show(half);
  progress.show(half);
  assert.equal(text.match(/^collection users ready after [\d.]+ s \(1\/2 collections; 2 shard replicas of 2 shards loaded, router healthy\)$/gm)?.length, 1, text);
  assert.doesNotMatch(text, /collection items ready/);
  assert.equal(
    progress.failureSummary(half),
    'router degraded; 4 shard replicas loaded; 1/2 collections ready; not ready: items (router degraded, 2/4 shards loaded)',
  );
  const all = summarizeStartup(TWO, true, [node('node-0', [run('items', 'ri', [0, 1], [0, 1]), run('users', 'ru', [0], [0])]), node('node-1', [run('items', 'ri', [2, 3], [2, 3]), run('users', 'ru', [1], [1])])], health('healthy', [collectionHealth('items', 'healthy', 1), collectionHealth('users', 'healthy', 1)]));
  progress.show(all);
  assert.match(text, /^collection items ready after [\d.]+ s \(2\/2 collections; 4 shard replicas of 4 shards loaded, router healthy\)$/m);
  assert.match(text, /^node-1 ready after [\d.]+ s \(2\/2 nodes; 6\/6 shard replicas, coverage 100%\)$/m);
  assert.match(progress.readyLine(all), /^cluster ready in [\d.]+ s: 6\/6 shard replicas loaded on 2\/2 nodes, coverage 100%, 2\/2 collections ready$/);
});

test('without a terminal, one snapshot: the lines are those of before (no collection named)', () => {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  const progress = new StartupProgress({ tty: false, stream, collections: ONE, catalog: false, replication: 2, numNodes: 2 });
  const snap = summarizeStartup(ONE, false, [node('node-0', [run('default', 'r1', [0, 1, 2, 3], [0, 1, 2, 3])]), node('node-1', [run('default', 'r1', [0, 1, 2, 3], [0, 1])])], health('healthy', [collectionHealth('default', 'healthy', 1)]));
  progress.show(snap);
  assert.equal(text.replace(/after [\d.]+ s/g, 'after T s'), 'serving run r1: 4 shards x 2 replicas on 2 nodes\nnode-0 ready after T s (1/2 nodes; 6/8 shard replicas, coverage 100%)\n');
  assert.match(progress.readyLine(snap), /^cluster ready in [\d.]+ s: 6\/8 shard replicas loaded on 1\/2 nodes, coverage 100%$/);
  assert.equal(progress.failureSummary(snap), 'router healthy; 6 shard replicas loaded');
});
