/**
 * Collections through real processes (issue 24): a catalog root with three collections built by
 * the real writer (two vector-only Fashion-MNIST ones, one KV), served by one router and two shard
 * nodes. Searches each collection by name, the default-collection rules, an unknown collection
 * (NOT_FOUND), a run swap of one collection while the others keep answering (0 failed, each answer
 * from one run), aliases (resolved per request, switched by one conditional write, a malformed
 * `_ALIASES` keeping the last good table), and a collection added and removed at run time without
 * a restart.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { startLocalCluster, type LocalCluster } from '../src/cli/local-cluster.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import type { ObjectStore } from '../src/common/storage/object-store.ts';
import { childStore } from '../src/common/storage/prefixed-object-store.ts';
import { startRouter, type RouterHandle } from '../src/router/router-server.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import type { BuildResult } from '../src/writer/build-snapshot.ts';
import { buildFashionSnapshot, FASHION_IMAGES, quietLogger, tempDir } from './helpers/fixtures.ts';
import { isGrpcStatus } from './helpers/grpc-assert.ts';
import { waitFor } from './helpers/wait.ts';
import { buildKvCollection, publishStaged, waitForCollections } from './helpers/catalog-fixtures.ts';
import { closeAll } from './helpers/served-cluster.ts';
import { updateAliases } from '../src/common/catalog/aliases.ts';
import { promSample, promSamples } from '../src/eval/prometheus-text.ts';

const ITEMS = { start: 0, limit: 300 };
const USERS = { start: 5000, limit: 200 };
const KV_ITEMS = 40;

describe('collections: one router and two nodes over a catalog root', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let root: ObjectStore;
  let rootUrl: string;
  let cluster: LocalCluster;
  let client: ShardfleetClient;
  let images: Float32Array[];
  let itemsRun: BuildResult;
  let usersRun: BuildResult;

  before(async () => {
    dir = await tempDir('collections');
    rootUrl = join(dir.path, 'catalog');
    root = openObjectStore(rootUrl);
    const idx = await readIdxImages(FASHION_IMAGES, { limit: 8200 });
    images = Array.from({ length: idx.count }, (_, i) => idx.vectors.subarray(i * idx.dim, (i + 1) * idx.dim));
    itemsRun = await buildFashionSnapshot(childStore(root, 'items'), { ...ITEMS, numDbs: 3 });
    usersRun = await buildFashionSnapshot(childStore(root, 'users'), { ...USERS, numDbs: 2 });
    await buildKvCollection(childStore(root, 'kv'), dir.path, KV_ITEMS);
    cluster = await startLocalCluster({
      store: rootUrl,
      numNodes: 2,
      cacheDir: join(dir.path, 'cache'),
      stderr: 'ignore',
      extraArgs: ['--poll-interval-ms', '300'],
      routerArgs: ['--status-poll-ms', '200'],
      nodeArgs: ['--run-grace-ms', '2000'],
    });
    client = new ShardfleetClient(cluster.routerAddress);
    await waitForCollections(client, 3);
  });

  after(() => closeAll({ client, cluster, store: root, dir }));

  test('each collection answers by name, from its own run and vectors', async () => {
    const a = await client.search({ vector: images[ITEMS.start + 7], top_k: 5, collection: 'items', num_probes: 3 });
    assert.equal(a.collection, 'items');
    assert.equal(a.run_id, itemsRun.manifest.run_id);
    assert.equal(a.results[0].id, String(ITEMS.start + 7));
    const u = await client.search({ vector: images[USERS.start + 11], top_k: 5, collection: 'users', num_probes: 2 });
    assert.equal(u.collection, 'users');
    assert.equal(u.run_id, usersRun.manifest.run_id);
    assert.equal(u.results[0].id, String(USERS.start + 11));
    // The same query vector in `users` never returns an `items` id (ids 0..299).
    const cross = await client.search({ vector: images[ITEMS.start + 7], top_k: 5, collection: 'users', num_probes: 2 });
    assert.ok(cross.results.every((h) => Number(h.id) >= USERS.start), cross.results.map((h) => h.id).join(','));
    const g = await client.get({ key: 'k3', collection: 'kv' });
    assert.equal(g.collection, 'kv');
    assert.equal(g.result?.found, true);
    assert.equal(Buffer.from(g.result!.value).toString('utf8'), 'value-3');
    const infoItems = await client.snapshotInfo(10_000, 'items');
    const infoUsers = await client.snapshotInfo(10_000, 'users');
    assert.deepEqual([infoItems.collection, infoItems.total_vectors, infoItems.num_dbs], ['items', ITEMS.limit, 3]);
    assert.deepEqual([infoUsers.collection, infoUsers.total_vectors, infoUsers.num_dbs], ['users', USERS.limit, 2]);
    assert.ok(infoItems.store_url.endsWith('/catalog/items'), infoItems.store_url);
    const details = await client.shardDetails(10_000, 'kv');
    assert.equal(details.collection, 'kv');
    assert.equal(details.shards.length, 2);
    const route = await client.route({ vector: images[1], num_probes: 1, collection: 'items' });
    assert.equal(route.collection, 'items');
  });

  test('no collection with several and no default: INVALID_ARGUMENT listing them; unknown: NOT_FOUND', async () => {
    await assert.rejects(client.search({ vector: images[0] }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /3 collections \(items, kv, users\).*--default-collection/));
    await assert.rejects(client.search({ vector: images[0], collection: 'nope' }), isGrpcStatus(grpc.status.NOT_FOUND, /collection "nope" is not served.*items, kv, users/));
    await assert.rejects(client.search({ vector: images[0], collection: '../x' }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /collection "\.\.\/x"/));
    await assert.rejects(
      client.batchSearch([{ vector: images[0], collection: 'items' }, { vector: images[1], collection: 'users' }]),
      isGrpcStatus(grpc.status.INVALID_ARGUMENT, /one collection/),
    );
    const h = await client.health();
    assert.equal(h.default_collection, '');
    assert.deepEqual(h.collections.map((c) => c.name), ['items', 'kv', 'users']);
    assert.equal(h.status, 'healthy', h.reasons.join(' | '));
  });

  test('--default-collection answers requests without a collection; --collection-limit limits one collection (a second router in-process)', async () => {
    let router: RouterHandle | undefined;
    const store = openObjectStore(rootUrl);
    try {
      router = await startRouter({
        store,
        nodes: cluster.nodes,
        replication: 1,
        listen: '127.0.0.1:0',
        pollIntervalMs: 300,
        statusPollIntervalMs: 200,
        defaultCollection: 'users',
        // Per-collection limits (--collection-limit): items answers top_k <= 4; users has a token
        // bucket of 1 that refills once in 100 s.
        collectionLimits: { items: { maxTopK: 4 }, users: { rateLimitQps: 0.01, rateLimitBurst: 1 } },
        log: quietLogger(),
      });
      await router.firstLoad;
      const c = new ShardfleetClient(router.address);
      try {
        await waitFor('the second router to serve users', async () => (await c.health()).collections.find((x) => x.name === 'users')?.coverage === 1);
        const r = await c.search({ vector: images[USERS.start + 3], top_k: 3, num_probes: 2 });
        assert.equal(r.collection, 'users');
        assert.equal(r.results[0].id, String(USERS.start + 3));
        assert.equal((await c.health()).default_collection, 'users');
        // Per-collection metrics: one current_run series per collection, requests labelled by collection.
        const text = await router.metrics.registry.metrics();
        for (const name of ['items', 'kv', 'users']) assert.equal(promSamples(text, 'shardfleet_router_current_run', { collection: name }).length, 1, name);
        assert.equal(promSample(text, 'shardfleet_router_shard_coverage_ratio', { collection: 'users' }), 1);
        assert.equal(promSample(text, 'shardfleet_router_request_duration_seconds_count', { rpc: 'Search', collection: 'users', outcome: 'ok' }), 1);
        // users' one token went to the search above: the next is refused, naming the collection and its flag.
        await assert.rejects(
          c.search({ vector: images[USERS.start + 3], top_k: 3, num_probes: 2, collection: 'users' }),
          isGrpcStatus(grpc.status.RESOURCE_EXHAUSTED, /rate limit exceeded .* Search in collection "users" \(--collection-limit users:qps=0\.01\)/),
        );
        // items has no rate limit of its own, but a top_k limit (the router-wide one is 1000).
        const four = await c.search({ vector: images[ITEMS.start + 7], top_k: 4, num_probes: 3, collection: 'items' });
        assert.equal(four.results.length, 4);
        await assert.rejects(
          c.search({ vector: images[ITEMS.start + 7], top_k: 5, num_probes: 3, collection: 'items' }),
          isGrpcStatus(grpc.status.INVALID_ARGUMENT, /top_k must be in 1\.\.4 \(--collection-limit items:max_top_k=4\), got 5/),
        );
        // kv has neither: the router-wide limits apply.
        assert.equal((await c.get({ key: 'k1', collection: 'kv' })).result?.found, true);
      } finally {
        c.close();
      }
    } finally {
      await router?.stop();
    }
  });

  test('an alias names a collection: requests naming it are answered from its collection; a switch is one write; a malformed _ALIASES keeps the last good table', async () => {
    try {
      await updateAliases(root, [{ kind: 'set', alias: 'current', collection: 'items' }]);
      await waitFor('the router to read _ALIASES', async () => (await client.health()).aliases.some((a) => a.alias === 'current'), { timeoutMs: 30_000 });
      const a = await client.search({ vector: images[ITEMS.start + 7], top_k: 5, collection: 'current', num_probes: 3 });
      assert.deepEqual([a.collection, a.run_id, a.results[0].id], ['items', itemsRun.manifest.run_id, String(ITEMS.start + 7)]);
      // The switch: one conditional write of _ALIASES; a Refresh without a collection re-reads it at once.
      await updateAliases(root, [{ kind: 'set', alias: 'current', collection: 'users' }]);
      await client.refresh();
      const u = await client.search({ vector: images[USERS.start + 11], top_k: 5, collection: 'current', num_probes: 2 });
      assert.deepEqual([u.collection, u.run_id, u.results[0].id], ['users', usersRun.manifest.run_id, String(USERS.start + 11)]);
      const info = await client.snapshotInfo(10_000, 'current');
      assert.equal(info.collection, 'users');
      // An alias of a collection this router does not serve: NOT_FOUND naming both.
      await updateAliases(root, [{ kind: 'set', alias: 'later', collection: 'nothere' }], { allowMissing: true });
      await client.refresh();
      await assert.rejects(client.search({ vector: images[0], collection: 'later' }), isGrpcStatus(grpc.status.NOT_FOUND, /alias "later" names collection "nothere"/));
      let h = await client.health();
      assert.deepEqual(h.aliases.map((x) => [x.alias, x.collection]), [['current', 'users'], ['later', 'nothere']]);
      assert.equal(h.aliases_error, '');
      // A malformed _ALIASES: the router keeps answering from the last good table and says why.
      await root.put('_ALIASES', '{"format_version":1,"aliases":');
      await client.refresh();
      h = await client.health();
      assert.match(h.aliases_error, /_ALIASES/);
      assert.deepEqual(h.aliases.map((x) => [x.alias, x.collection]), [['current', 'users'], ['later', 'nothere']]);
      const again = await client.search({ vector: images[USERS.start + 11], top_k: 5, collection: 'current', num_probes: 2 });
      assert.equal(again.collection, 'users');
    } finally {
      await root.delete('_ALIASES');
    }
    await client.refresh();
    const h = await client.health();
    assert.deepEqual([h.aliases.length, h.aliases_error], [0, ''], 'a removed _ALIASES is an empty table');
    await assert.rejects(client.search({ vector: images[0], collection: 'current' }), isGrpcStatus(grpc.status.NOT_FOUND, /collection "current" is not served/));
  });

  test('a run swap of one collection while the others keep answering: 0 failed, each answer from one run', async () => {
    const usersStore = childStore(root, 'users');
    const oldRun = usersRun.manifest.run_id;
    let stop = false;
    let failed = 0;
    let answers = 0;
    const errors: string[] = [];
    const seenUserRuns = new Set<string>();
    const loop = async (): Promise<void> => {
      let i = 0;
      while (!stop) {
        i++;
        try {
          const [a, u] = await Promise.all([
            client.search({ vector: images[i % ITEMS.limit], top_k: 3, collection: 'items', num_probes: 3 }),
            client.search({ vector: images[USERS.start + (i % USERS.limit)], top_k: 3, collection: 'users', num_probes: 2 }),
          ]);
          assert.equal(a.run_id, itemsRun.manifest.run_id);
          assert.ok(a.results.every((h) => Number(h.id) < ITEMS.limit));
          seenUserRuns.add(u.run_id);
          answers += 2;
        } catch (err) {
          failed++;
          if (errors.length < 5) errors.push(String(err));
        }
      }
    };
    // Build the next run off to the side first (a build is CPU-heavy in this process and would
    // delay the client's own calls), then publish it under `users` while the load runs: copy its
    // objects, `_CURRENT` last.
    const staging = openObjectStore(join(dir.path, 'staging-users'));
    const next = await buildFashionSnapshot(staging, { start: 7000, limit: 150, numDbs: 2, seed: 11 });
    const running = loop();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await publishStaged(staging, usersStore);
    await staging.close();
    await waitFor('users to answer from the new run', async () => (await client.search({ vector: images[7000], top_k: 1, collection: 'users', num_probes: 2 })).run_id === next.manifest.run_id, { timeoutMs: 60_000 });
    stop = true;
    await running;
    console.log(`# swap of users under load: ${answers} answers, ${failed} failed, users runs seen: ${[...seenUserRuns].join(', ')}`);
    assert.equal(failed, 0, errors.join(' | '));
    assert.ok(answers > 0);
    for (const r of seenUserRuns) assert.ok(r === oldRun || r === next.manifest.run_id, r);
    const top = await client.search({ vector: images[7000 + 5], top_k: 1, collection: 'users', num_probes: 2 });
    assert.equal(top.results[0].id, String(7000 + 5));
    assert.equal((await client.search({ vector: images[5], top_k: 1, collection: 'items', num_probes: 3 })).run_id, itemsRun.manifest.run_id);
  });

  test('a collection added under the root appears, and disappears when removed, without a restart', async () => {
    const lateStore = childStore(root, 'late');
    const late = await buildFashionSnapshot(lateStore, { start: 8000, limit: 120, numDbs: 2 });
    await waitFor(
      'the new collection to answer',
      async () => {
        try {
          return (await client.search({ vector: images[8000 + 2], top_k: 1, collection: 'late', num_probes: 2 })).run_id === late.manifest.run_id;
        } catch {
          return false;
        }
      },
      { timeoutMs: 60_000 },
    );
    assert.deepEqual((await client.health()).collections.map((c) => c.name), ['items', 'kv', 'late', 'users']);
    await lateStore.delete('_CURRENT');
    await waitFor(
      'the removed collection to be NOT_FOUND',
      async () => {
        try {
          await client.search({ vector: images[1], top_k: 1, collection: 'late' });
          return false;
        } catch (err) {
          return (err as grpc.ServiceError).code === grpc.status.NOT_FOUND;
        }
      },
      { timeoutMs: 30_000 },
    );
    // The nodes drop it after their grace period once no router leases it.
    await waitFor(
      'the nodes to drop the removed collection',
      async () => {
        const st = await Promise.all(cluster.nodes.map((n) => nodeRuns(n.address)));
        return st.every((runs) => !runs.includes('late'));
      },
      { timeoutMs: 30_000 },
    );
    assert.equal((await client.search({ vector: images[9], top_k: 1, collection: 'items', num_probes: 3 })).results[0].id, '9');
  });
});

/** The collections of the runs a node holds (its Status). */
async function nodeRuns(address: string): Promise<string[]> {
  const { loadShardNodeProto } = await import('../src/common/proto.ts');
  const proto = loadShardNodeProto();
  const client = new proto.shardfleet.v1.ShardNode(address, grpc.credentials.createInsecure());
  try {
    const res = await new Promise<{ runs: Array<{ collection: string }> }>((resolve, reject) =>
      client.Status({}, (err, r) => (err || !r ? reject(err ?? new Error('no answer')) : resolve(r as { runs: Array<{ collection: string }> }))),
    );
    return res.runs.map((r) => r.collection);
  } finally {
    client.close();
  }
}
