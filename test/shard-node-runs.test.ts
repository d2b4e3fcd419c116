/**
 * Runs on a shard node, with real in-process nodes on real gRPC ports, real LanceDB / sqlite-vec
 * snapshots built from Fashion-MNIST and a real gRPC client: a new run published and announced
 * with Refresh loads beside the old one (both searchable, Status shows both) and the old one is
 * dropped after the grace period; a malformed new manifest or a storage error leaves the old run
 * serving with load_error set; membership changes load newly assigned shards and release moved
 * ones after a grace period; batched SearchShards (many queries, shards, include_vector) answers
 * every (query, shard) in request order with the exact stored vectors.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { distance } from '../src/common/distance.ts';
import { StorageError } from '../src/common/errors.ts';
import { checkHealth } from '../src/common/health.ts';
import { CURRENT_KEY, manifestKey } from '../src/common/manifest.ts';
import type { NodeEndpoint } from '../src/common/node-list.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { encodeVector } from '../src/common/vector-codec.ts';
import type { MembershipView } from '../src/common/membership/membership.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import { FASHION_IMAGES, quietLogger, tempDir } from './helpers/fixtures.ts';
import { isGrpcStatus } from './helpers/grpc-assert.ts';
import { NODE_IDS, ProbeStore, assignedTo, buildRun, startTestNode, testNodes, waitFor, type TestNode } from './helpers/shard-node-harness.ts';

const dim = 784;

describe('shard node runs', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let base: Float32Array;
  let queries: Float32Array;
  let n = 0;
  const nodes: TestNode[] = [];

  const query = (i: number): Buffer => encodeVector(queries.subarray(i * dim, (i + 1) * dim));
  const fresh = (what: string) => join(dir.path, `${what}-${n++}`);
  async function start(...args: Parameters<typeof startTestNode>): Promise<TestNode> {
    const node = await startTestNode(...args);
    nodes.push(node);
    return node;
  }

  before(async () => {
    dir = await tempDir('node-runs');
    base = (await readIdxImages(FASHION_IMAGES, { limit: 2000 })).vectors;
    queries = (await readIdxImages(FASHION_IMAGES, { start: 9000, limit: 4 })).vectors;
  });
  after(async () => {
    for (const node of nodes) await node.stop();
    await dir.remove();
  });

  test('snapshot swap: the new run loads beside the old one, both are searchable, the old one is dropped after the grace period', async () => {
    const storePath = fresh('store');
    const runA = await buildRun(new FileObjectStore(storePath), 'run-a');
    const store = new ProbeStore(new FileObjectStore(storePath));
    const cacheDir = fresh('cache');
    const graceMs = 3000;
    const node = await start({ store, cacheDir, log: quietLogger(), runGraceMs: graceMs });
    await node.handle.firstLoad;
    const oneQuery = (runId: string, shards: number[]) => node.client.search({ run_id: runId, queries: [{ query: query(0), top_k: 5, shard_ids: shards }] });
    const aAnswer = await oneQuery('run-a', [0, 1, 2]);

    const runB = await buildRun(new FileObjectStore(storePath), 'run-b', { numDbs: 6, seed: 11 });
    const assignedB = assignedTo(runB);
    const gate = store.gate((key) => key.startsWith('runs/run-b/'));
    const refreshed = await node.client.refresh();
    assert.equal(refreshed.run_id, 'run-b', 'the newest run is current at once');
    assert.deepEqual(refreshed.runs.map((r) => [r.run_id, r.current, r.ready]), [
      ['run-b', true, false],
      ['run-a', false, true],
    ]);
    assert.deepEqual(refreshed.runs[0].shards_assigned, assignedB);
    await gate.waiting();
    assert.equal(await checkHealth(node.handle.address), 'SERVING', 'the old run keeps the node SERVING while the new one loads');
    const aWhileLoading = await oneQuery('run-a', [0, 1, 2]);
    assert.equal(aWhileLoading.run_id, 'run-a');
    assert.deepEqual(aWhileLoading.shards, aAnswer.shards);
    assert.equal((await oneQuery('', [0])).run_id, 'run-a', 'run_id "" goes to the ready run');

    gate.release();
    await waitFor('run-b to be ready', async () => (await node.client.status()).runs[0].ready);
    const both = await node.client.status();
    assert.deepEqual(both.runs.map((r) => [r.run_id, r.current, r.ready]), [
      ['run-b', true, true],
      ['run-a', false, true],
    ], 'the old run stays during the grace period');
    assert.deepEqual(both.shards_loaded, assignedB);
    const b = await oneQuery('run-b', [0, 5]);
    assert.equal(b.run_id, 'run-b');
    assert.ok(b.shards.every((s) => s.error === '' && s.hits.length === 5));
    assert.deepEqual((await oneQuery('run-a', [0, 1, 2])).shards, aAnswer.shards, 'the old run still answers during the grace period');

    await waitFor('run-a to be dropped', async () => (await node.client.status()).runs.length === 1, graceMs + 30_000);
    const afterDrop = await node.client.status();
    assert.deepEqual(afterDrop.runs.map((r) => r.run_id), ['run-b']);
    await assert.rejects(oneQuery('run-a', [0]), isGrpcStatus(grpc.status.FAILED_PRECONDITION, /run run-a is not loaded on this shard node \(it holds: run-b\)/));
    await waitFor('run-a\'s cache folder to be deleted', () => !existsSync(join(cacheDir, 'run-a')));
    const loadedB = afterDrop.runs[0].shards_loaded;
    assert.deepEqual(loadedB, [...new Set([...assignedB, 0, 5])].sort((x, y) => x - y), 'assigned shards and the two searched ones');
    const cacheBytes = runB.shards.filter((s) => loadedB.includes(s.db_id)).reduce((t, s) => t + s.files.reduce((u, f) => u + f.bytes, 0), 0);
    // run-a's bytes leave the count once its closing shards' folders are deleted (asynchronously).
    await waitFor('only run-b\'s shards to remain cached', async () => (await node.client.status()).cache_bytes === cacheBytes);
    const gauge = await node.handle.metrics.getSingleMetric('shardfleet_node_current_run')!.get();
    assert.deepEqual(gauge.values.map((v) => [v.labels.run_id, v.value]), [['run-b', 1]]);
    assert.ok(runA.shards.length === 8);
  });

  test('run leases: a leased run outlives the grace period until its router stops leasing it; a leased run not held is loaded', async () => {
    const storePath = fresh('store');
    const fileStore = new FileObjectStore(storePath);
    const runA = await buildRun(fileStore, 'run-a');
    const keyA = (await fileStore.list('manifests/')).map((o) => o.key).find((k) => k.includes('run_id=run-a'))!;
    const graceMs = 400;
    const node = await start({ store: fileStore, cacheDir: fresh('cache'), log: quietLogger(), runGraceMs: graceMs });
    await node.handle.firstLoad;
    const lease = (runs: Array<{ run_id: string; manifest_key: string }>) => node.client.status({ router_id: 'router-1', run_leases: runs, lease_ttl_ms: 0 });
    assert.equal((await lease([{ run_id: 'run-a', manifest_key: keyA }])).runs[0].leased, true);

    await buildRun(fileStore, 'run-b', { numDbs: 6, seed: 11 });
    await node.client.refresh();
    await waitFor('run-b to be ready', async () => (await node.client.status()).runs[0].ready);
    // Renew the lease on run-a for several grace periods: it stays.
    for (let i = 0; i < 6; i++) {
      const s = await lease([{ run_id: 'run-a', manifest_key: keyA }]);
      assert.deepEqual(s.runs.map((r) => [r.run_id, r.current, r.leased]), [
        ['run-b', true, false],
        ['run-a', false, true],
      ]);
      await new Promise((r) => setTimeout(r, graceMs / 2));
    }
    // The router switched to run-b: run-a goes one grace period after the last lease naming it.
    await lease([]);
    await waitFor('run-a to be dropped', async () => (await node.client.status()).runs.length === 1, 30_000);

    // A router still serving run-a (e.g. the node restarted) leases it: the node loads it again.
    const s = await lease([{ run_id: 'run-a', manifest_key: keyA }]);
    assert.equal(s.run_id, 'run-b');
    await waitFor('run-a to be loaded again from the lease', async () => {
      const st = await lease([{ run_id: 'run-a', manifest_key: keyA }]);
      return st.runs.some((r) => r.run_id === 'run-a' && r.ready && r.shards_loaded.length === assignedTo(runA).length);
    });
    const answer = await node.client.search({ run_id: 'run-a', queries: [{ query: query(0), top_k: 3, shard_ids: [0] }] });
    assert.equal(answer.run_id, 'run-a');
    assert.equal(answer.shards[0].error, '');
    // A lease naming a key outside manifests/ or another run's manifest loads nothing.
    await lease([{ run_id: 'run-x', manifest_key: 'runs/run-a/../_CURRENT' }]);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(!(await node.client.status()).runs.some((r) => r.run_id === 'run-x'));
  });

  test('run leases: a superseded run evicted under the cache budget is preloaded again once a router leases it', async () => {
    const storePath = fresh('store');
    const fileStore = new FileObjectStore(storePath);
    const runA = await buildRun(fileStore, 'run-a');
    const keyA = (await fileStore.list('manifests/')).map((o) => o.key).find((k) => k.includes('run_id=run-a'))!;
    // A 1-byte budget: only pinned shards (the active runs' assigned ones) stay cached.
    const node = await start({ store: fileStore, cacheDir: fresh('cache'), log: quietLogger(), runGraceMs: 60_000, maxCacheBytes: 1 });
    await node.handle.firstLoad;
    const runB = await buildRun(fileStore, 'run-b', { numDbs: 6, seed: 11 });
    await node.client.refresh();
    await waitFor('run-b to be ready', async () => (await node.client.status()).runs[0].ready);
    // Loads of run-b's other shards make room by evicting run-a's unpinned shards.
    const others = runB.shards.map((x) => x.db_id).filter((db) => !assignedTo(runB).includes(db));
    await node.client.search({ run_id: 'run-b', queries: [{ query: query(0), top_k: 3, shard_ids: others }] });
    await waitFor('run-a\'s shards to be evicted', async () => {
      const a = (await node.client.status()).runs.find((r) => r.run_id === 'run-a');
      return a !== undefined && a.shards_loaded.length < assignedTo(runA).length;
    });
    // A router still serving run-a leases it: its assigned shards are loaded again, not on demand only.
    const lease = () => node.client.status({ router_id: 'router-1', run_leases: [{ run_id: 'run-a', manifest_key: keyA }], lease_ttl_ms: 0 });
    await lease();
    await waitFor('run-a to be preloaded again', async () => {
      const a = (await lease()).runs.find((r) => r.run_id === 'run-a');
      return a !== undefined && a.ready && a.leased;
    }, 20_000);
  });

  test('a malformed new manifest and storage errors leave the old run serving, with load_error set', async () => {
    const storePath = fresh('store');
    const fileStore = new FileObjectStore(storePath);
    await buildRun(fileStore, 'run-a');
    const goodPointer = await fileStore.get(CURRENT_KEY);
    const store = new ProbeStore(new FileObjectStore(storePath));
    const node = await start({ store, cacheDir: fresh('cache'), log: quietLogger(), pollIntervalMs: 100 });
    await node.handle.firstLoad;
    const search = () => node.client.search({ run_id: 'run-a', queries: [{ query: query(0), top_k: 3, shard_ids: [0, 1] }] });
    const before = await search();

    // A newer manifest that is not valid JSON, pointed to by _CURRENT: picked up by the poll.
    const badKey = manifestKey('run-bad', new Date());
    await fileStore.put(badKey, '{"format_version": 1, "run_id": "run-bad", ');
    await fileStore.put(CURRENT_KEY, JSON.stringify({ format_version: 1, manifest_ref: badKey, run_id: 'run-bad', published_at: new Date().toISOString() }));
    await waitFor('the poll to see the malformed manifest', async () => (await node.client.status()).load_error !== '');
    let status = await node.client.status();
    assert.ok(status.load_error.includes(badKey), status.load_error);
    assert.match(status.load_error, /is unusable .*still serving run run-a/);
    assert.deepEqual(status.runs.map((r) => [r.run_id, r.current, r.ready]), [['run-a', true, true]]);
    assert.equal(await checkHealth(node.handle.address), 'SERVING');
    assert.deepEqual((await search()).shards, before.shards);
    // Refresh says the same.
    assert.ok((await node.client.refresh()).load_error.includes(badKey));

    // The store fails: still serving run-a, the error is visible.
    store.failGet = (key) => (key === CURRENT_KEY ? new StorageError(`injected: reading ${key} from ${store.url} failed: ECONNRESET`) : undefined);
    await waitFor('the storage error', async () => /injected: reading _CURRENT/.test((await node.client.status()).load_error));
    status = await node.client.status();
    assert.equal(status.run_id, 'run-a');
    assert.deepEqual((await search()).shards, before.shards);
    assert.equal(await checkHealth(node.handle.address), 'SERVING');

    // The store works again (_CURRENT unchanged): the next poll reloads and reports the manifest again.
    store.failGet = undefined;
    await waitFor('the storage error to be replaced', async () => (await node.client.status()).load_error.includes(badKey));

    // Recovery: _CURRENT points at run-a again: load_error clears.
    await fileStore.put(CURRENT_KEY, goodPointer);
    await waitFor('load_error to clear', async () => (await node.client.status()).load_error === '');
    assert.deepEqual((await node.client.status()).runs.map((r) => r.run_id), ['run-a']);
  });

  test('membership change: newly assigned shards load; shards moved away stay for the grace period, then are released', async () => {
    const storePath = fresh('store');
    const manifest = await buildRun(new FileObjectStore(storePath), 'run-a');
    const all = manifest.shards.map((s) => s.db_id);
    const listeners: ((nodes: NodeEndpoint[]) => void)[] = [];
    let current = testNodes();
    const membership: MembershipView = { current: () => current, onChange: (l) => listeners.push(l) };
    const change = (ids: string[]) => {
      current = testNodes(ids);
      for (const l of listeners) l(current);
    };
    const releaseGraceMs = 2000;
    const node = await start({ store: new ProbeStore(new FileObjectStore(storePath)), cacheDir: fresh('cache'), log: quietLogger(), membership, releaseGraceMs });
    await node.handle.firstLoad;
    const assigned = assignedTo(manifest, 'n0', NODE_IDS);
    assert.deepEqual((await node.client.status()).shards_loaded, assigned);

    change(['n0']); // n1 and n2 left: n0 owns everything
    let status = await node.client.status();
    assert.deepEqual(status.shards_assigned, all);
    assert.equal(status.runs[0].ready, false);
    await waitFor('every shard to load', async () => (await node.client.status()).runs[0].ready);
    assert.deepEqual((await node.client.status()).shards_loaded, all);
    assert.equal(await checkHealth(node.handle.address), 'SERVING');

    change(NODE_IDS); // they are back: shards move away again, but stay loaded for the grace period
    status = await node.client.status();
    assert.deepEqual(status.shards_assigned, assigned);
    assert.deepEqual(status.shards_loaded, all, 'moved shards are still loaded right after the change');
    const moved = all.find((id) => !assigned.includes(id))!;
    const res = await node.client.search({ run_id: 'run-a', queries: [{ query: query(0), top_k: 5, shard_ids: [moved] }] });
    assert.equal(res.shards[0].error, '');
    await waitFor('moved shards to be released', async () => (await node.client.status()).shards_loaded.length === assigned.length, releaseGraceMs + 30_000);
    status = await node.client.status();
    assert.deepEqual(status.shards_loaded, assigned);
    assert.equal(status.runs[0].ready, true);
  });

  for (const backend of ['sqlite-vec', 'lancedb'] as const) {
    test(`batched SearchShards (${backend}): every (query, shard) in request order, include_vector returns the exact stored vectors`, async () => {
      const storePath = fresh('store');
      const runId = `run-${backend}`;
      await buildRun(new FileObjectStore(storePath), runId, { backend, numDbs: 4 });
      const node = await start({ store: new ProbeStore(new FileObjectStore(storePath)), cacheDir: fresh('cache'), log: quietLogger() });
      await node.handle.firstLoad;
      const request = {
        run_id: runId,
        queries: [
          { query: query(0), top_k: 4, shard_ids: [0, 1], include_vector: true },
          { query: query(1), top_k: 3, shard_ids: [2], include_payload: true },
          { query: query(2), top_k: 5, shard_ids: [1, 3, 0], include_vector: true, include_payload: true },
        ],
      };
      const res = await node.client.search(request);
      assert.equal(res.run_id, runId);
      assert.deepEqual(res.shards.map((s) => [s.query_index, s.db_id, s.error]), [
        [0, 0, ''],
        [0, 1, ''],
        [1, 2, ''],
        [2, 1, ''],
        [2, 3, ''],
        [2, 0, ''],
      ]);
      for (const result of res.shards) {
        const q = request.queries[result.query_index];
        assert.equal(result.hits.length, q.top_k, `query ${result.query_index} shard ${result.db_id}`);
        for (const hit of result.hits) {
          const row = Number(hit.id);
          if (q.include_vector) {
            const stored = new Float32Array(new Uint8Array(hit.vector).buffer);
            assert.deepEqual(stored, base.slice(row * dim, (row + 1) * dim), `stored vector of ${hit.id}`);
            const want = distance('l2', queries, result.query_index, stored, 0, dim);
            assert.ok(Math.abs(hit.score - want) <= 1e-3 * Math.max(1, want), `score of ${hit.id}: ${hit.score} vs ${want}`);
          } else {
            assert.equal(hit.vector.length, 0, 'no vector unless asked');
          }
          assert.equal(hit.payload_json !== '', q.include_payload === true, `payload of ${hit.id}`);
        }
        // The same (query, shard) alone gives the same hits.
        const alone = await node.client.search({ run_id: runId, queries: [{ ...q, shard_ids: [result.db_id] }] });
        assert.deepEqual(alone.shards[0].hits, result.hits);
      }
    });
  }
});
