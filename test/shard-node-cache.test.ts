/**
 * The shard node's cache with real in-process nodes on real gRPC ports, real LanceDB shards built
 * from Fashion-MNIST, and a real gRPC client: readiness waits for every assigned shard; shards not
 * assigned are loaded on demand, once however many requests ask; the LRU byte budget evicts the
 * least recently used idle shard (deleting its files) but never one under an in-flight request;
 * a corrupt cached file is downloaded again; graceful shutdown waits for an in-flight search.
 *
 * Downloads are counted (and held at gates) by a wrapper around the real file store.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { checkHealth } from '../src/common/health.ts';
import { shardDirName, type Manifest } from '../src/common/manifest.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { encodeVector } from '../src/common/vector-codec.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import { FASHION_IMAGES, quietLogger, tempDir } from './helpers/fixtures.ts';
import { isGrpcStatus } from './helpers/grpc-assert.ts';
import { NodeClient, ProbeStore, assignedTo, buildRun, bytesOf, recordingLogger, startTestNode, waitFor, type TestNode } from './helpers/shard-node-harness.ts';

const RUN = 'run-a';
const dim = 784;

describe('shard node cache', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let storePath: string;
  let manifest: Manifest;
  let assigned: number[];
  let unassigned: number[];
  let queries: Float32Array;
  let cacheN = 0;
  const nodes: TestNode[] = [];

  const query = (i: number): Buffer => encodeVector(queries.subarray(i * dim, (i + 1) * dim));
  const probeStore = () => new ProbeStore(new FileObjectStore(storePath));
  const newCacheDir = () => join(dir.path, `cache-${cacheN++}`);
  const pinnedBytes = () => assigned.reduce((s, id) => s + bytesOf(manifest, id), 0);
  const filesOf = (dbId: number) => manifest.shards[dbId].files.length;
  const urlOf = (dbId: number) => manifest.shards[dbId].url;
  async function start(...args: Parameters<typeof startTestNode>): Promise<TestNode> {
    const node = await startTestNode(...args);
    nodes.push(node);
    return node;
  }
  /** One query (top 5) against `shards` of run-a. */
  const searchShards = (client: NodeClient, shards: number[], q = 0) =>
    client.search({ run_id: RUN, queries: [{ query: query(q), top_k: 5, shard_ids: shards }] });

  before(async () => {
    dir = await tempDir('node-cache');
    storePath = join(dir.path, 'store');
    manifest = await buildRun(new FileObjectStore(storePath), RUN);
    assigned = assignedTo(manifest);
    unassigned = manifest.shards.map((s) => s.db_id).filter((id) => !assigned.includes(id));
    assert.ok(assigned.length >= 1 && unassigned.length >= 3, `placement gives n0 ${assigned} and leaves ${unassigned}`);
    queries = (await readIdxImages(FASHION_IMAGES, { start: 9000, limit: 4 })).vectors;
  });
  after(async () => {
    for (const node of nodes) await node.stop();
    await dir.remove();
  });

  test('readiness: NOT_SERVING until every assigned shard is loaded and verified, then SERVING', async () => {
    const store = probeStore();
    const held = assigned[assigned.length - 1];
    const gate = store.gate((key) => key.startsWith(urlOf(held)));
    const node = await start({ store, cacheDir: newCacheDir(), log: quietLogger() });
    await gate.waiting();
    await waitFor('the other assigned shards to load', async () => (await node.client.status()).shards_loaded.length === assigned.length - 1);
    assert.equal(await checkHealth(node.handle.address), 'NOT_SERVING');
    assert.equal(await checkHealth(node.handle.address, 'shardfleet.v1.ShardNode'), 'NOT_SERVING');
    let status = await node.client.status();
    assert.equal(status.run_id, RUN);
    assert.deepEqual(status.shards_assigned, assigned);
    assert.ok(!status.shards_loaded.includes(held));
    assert.equal(status.runs.length, 1);
    assert.equal(status.runs[0].ready, false);
    assert.equal(status.runs[0].current, true);

    gate.release();
    await waitFor('SERVING', async () => (await checkHealth(node.handle.address)) === 'SERVING');
    assert.equal(await checkHealth(node.handle.address, 'shardfleet.v1.ShardNode'), 'SERVING');
    status = await node.client.status();
    assert.deepEqual(status.shards_loaded, assigned);
    assert.equal(status.runs[0].ready, true);
    assert.equal(status.load_error, '');
    assert.equal(status.cache_bytes, pinnedBytes());
    assert.equal(status.max_cache_bytes, 0);
    await node.stop();
  });

  test('lazy load: a search for an unassigned shard downloads and opens it once; metrics and errors', async () => {
    const store = probeStore();
    const node = await start({ store, cacheDir: newCacheDir(), log: quietLogger(), metricsListen: '127.0.0.1:0' });
    await node.handle.firstLoad;
    const lazy = unassigned[0];
    assert.equal(store.downloadsUnder(urlOf(lazy)), 0, 'not preloaded');

    const res = await searchShards(node.client, [lazy]);
    assert.equal(res.run_id, RUN);
    assert.equal(res.shards.length, 1);
    assert.equal(res.shards[0].error, '');
    assert.equal(res.shards[0].db_id, lazy);
    assert.equal(res.shards[0].hits.length, 5);
    assert.equal(store.downloadsUnder(urlOf(lazy)), filesOf(lazy));
    const again = await node.client.search({ run_id: '', queries: [{ query: query(0), top_k: 5, shard_ids: [lazy] }] });
    assert.deepEqual(again.shards[0].hits, res.shards[0].hits, 'run_id "" means the served run');
    assert.equal(store.downloadsUnder(urlOf(lazy)), filesOf(lazy), 'no second download');

    const status = await node.client.status();
    assert.deepEqual(status.shards_loaded, [...assigned, lazy].sort((a, b) => a - b));
    assert.deepEqual(status.shards_assigned, assigned, 'a lazily loaded shard is not assigned');
    assert.equal(status.cache_bytes, pinnedBytes() + bytesOf(manifest, lazy));

    // Metrics, scraped over HTTP.
    const text = await (await fetch(`http://${node.handle.metricsAddress}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1]);
    assert.equal(value('shardfleet_node_lazy_loads_total'), 1);
    assert.equal(value('shardfleet_node_cache_bytes'), status.cache_bytes);
    assert.equal(value('shardfleet_node_shard_load_bytes_total'), status.cache_bytes, 'every cached byte was downloaded');
    assert.match(text, new RegExp(`shardfleet_node_shard_load_seconds_count\\{[^}]*source="store"[^}]*\\} ${assigned.length + 1}\\b`));
    assert.match(text, new RegExp(`shardfleet_node_shard_search_seconds_count\\{[^}]*db_id="${lazy}"[^}]*\\} 2\\b`));
    assert.match(text, /shardfleet_node_current_run\{[^}]*run_id="run-a"[^}]*\} 1\b/);

    // A shard the run does not have, and a run the node does not hold.
    const missing = await searchShards(node.client, [99, lazy]);
    assert.match(missing.shards[0].error, /shard 99 does not exist in run run-a \(shards 0\.\.7\)/);
    assert.equal(missing.shards[1].error, '');
    await assert.rejects(
      node.client.search({ run_id: 'nope', queries: [{ query: query(0), top_k: 5, shard_ids: [lazy] }] }),
      isGrpcStatus(grpc.status.FAILED_PRECONDITION, /run nope is not loaded on this shard node \(it holds: run-a\)/),
    );
    await assert.rejects(
      node.client.search({ run_id: RUN, queries: [{ query: query(0), top_k: 0, shard_ids: [lazy] }] }),
      isGrpcStatus(grpc.status.INVALID_ARGUMENT, /query 0: top_k must be in 1\.\.10000/),
    );
    await node.stop();
  });

  test('single-flight: concurrent requests for an unloaded shard trigger one download', async () => {
    const store = probeStore();
    const node = await start({ store, cacheDir: newCacheDir(), log: quietLogger() });
    await node.handle.firstLoad;
    const lazy = unassigned[1];
    const gate = store.gate((key) => key.startsWith(urlOf(lazy)));
    const requests = Array.from({ length: 8 }, () => searchShards(node.client, [lazy], 1));
    await gate.waiting();
    // Give every request time to reach the node while the first download is held.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(store.downloadsUnder(urlOf(lazy)), 1, 'one download in flight, the other requests wait for it');
    gate.release();
    const results = await Promise.all(requests);
    assert.equal(store.downloadsUnder(urlOf(lazy)), filesOf(lazy), 'each file downloaded exactly once');
    for (const r of results) {
      assert.equal(r.shards[0].error, '');
      assert.deepEqual(r.shards[0].hits, results[0].shards[0].hits);
    }
    assert.equal(results[0].shards[0].hits.length, 5);
    await node.stop();
  });

  test('LRU: lazily loaded shards beyond the byte budget evict the least recently used idle one, files included', async () => {
    const store = probeStore();
    const cacheDir = newCacheDir();
    const [a, b, c] = unassigned;
    const P = pinnedBytes();
    // Room for any two of a, b, c (the test keeps two of them loaded at a time), never all three.
    const [ba, bb, bc] = [a, b, c].map((s) => bytesOf(manifest, s));
    const budget = P + Math.max(ba + bb, ba + bc, bb + bc);
    const node = await start({ store, cacheDir, log: quietLogger(), maxCacheBytes: budget });
    await node.handle.firstLoad;
    const loaded = async () => (await node.client.status()).shards_loaded;
    const shardDir = (dbId: number) => join(cacheDir, RUN, shardDirName(dbId));

    for (const s of [a, b]) assert.equal((await searchShards(node.client, [s])).shards[0].error, '');
    assert.deepEqual(await loaded(), [...assigned, a, b].sort((x, y) => x - y), 'both fit');
    assert.equal((await searchShards(node.client, [a])).shards[0].error, '', 'touch a: b is now least recently used');
    assert.equal((await searchShards(node.client, [c])).shards[0].error, '');
    const settledBytes = async (): Promise<boolean> => (await node.client.status()).cache_bytes <= budget;
    await waitFor('b to be evicted', async () => !(await loaded()).includes(b) && (await settledBytes()));
    let status = await node.client.status();
    assert.deepEqual(status.shards_loaded, [...assigned, a, c].sort((x, y) => x - y), 'a (recently used) and c stay, assigned shards are pinned');
    assert.equal(status.runs[0].ready, true);
    await waitFor('b\'s files to be deleted', () => !existsSync(shardDir(b)));
    assert.ok(existsSync(shardDir(a)) && existsSync(shardDir(c)));
    assert.equal(status.cache_bytes, P + bytesOf(manifest, a) + bytesOf(manifest, c));
    assert.ok(status.cache_bytes <= budget);
    assert.equal(status.max_cache_bytes, budget);

    // b again: downloaded again, and now a (used before c) is the least recently used.
    assert.equal((await searchShards(node.client, [b])).shards[0].error, '');
    assert.equal(store.downloadsUnder(urlOf(b)), 2 * filesOf(b), 'an evicted shard is downloaded again');
    await waitFor('a to be evicted', async () => !(await loaded()).includes(a) && (await settledBytes()));
    status = await node.client.status();
    assert.deepEqual(status.shards_loaded, [...assigned, b, c].sort((x, y) => x - y));
    assert.ok(status.cache_bytes <= budget);
    const metrics = await node.handle.metrics.getSingleMetric('shardfleet_node_cache_evictions_total')!.get();
    assert.equal(metrics.values[0].value, 2);
    await node.stop();
  });

  test('eviction never closes a shard under an in-flight request; it is evicted once the request ends', async () => {
    const store = probeStore();
    const { log, records } = recordingLogger();
    const [y, z] = unassigned;
    const budget = pinnedBytes() + Math.max(bytesOf(manifest, y), bytesOf(manifest, z));
    const node = await start({ store, cacheDir: newCacheDir(), log, maxCacheBytes: budget });
    await node.handle.firstLoad;
    assert.equal((await searchShards(node.client, [y])).shards[0].error, '');

    // One batched request: query 0 on y (cached), query 1 on z (download held at the gate). The
    // request holds its lease on y while z loads, although z needs y's room.
    const gate = store.gate((key) => key.startsWith(urlOf(z)));
    const inFlight = node.client.search({
      run_id: RUN,
      queries: [
        { query: query(0), top_k: 5, shard_ids: [y] },
        { query: query(1), top_k: 5, shard_ids: [z] },
      ],
    });
    await gate.waiting();
    const during = await node.client.status();
    assert.ok(during.shards_loaded.includes(y), 'y stays open while leased');
    assert.ok(during.cache_bytes > budget, `over budget while y is leased and z loads (${during.cache_bytes} > ${budget})`);
    assert.ok(records.some((r) => /over its byte budget/.test(r.msg)), 'the overrun is logged');

    gate.release();
    const res = await inFlight;
    assert.deepEqual(res.shards.map((s) => [s.query_index, s.db_id, s.error, s.hits.length]), [
      [0, y, '', 5],
      [1, z, '', 5],
    ]);
    const alone = await searchShards(node.client, [z], 1);
    assert.deepEqual(alone.shards[0].hits, res.shards[1].hits);
    // Evicted: closed, then its folder deleted (cache_bytes counts it until the folder is gone).
    await waitFor('y to be evicted after the request', async () => {
      const s = await node.client.status();
      return !s.shards_loaded.includes(y) && s.cache_bytes <= budget;
    });
    const after = await node.client.status();
    assert.ok(after.shards_loaded.includes(z));
    assert.ok(after.cache_bytes <= budget, `${after.cache_bytes} <= ${budget}`);
    await node.stop();
  });

  test('a corrupt cached file is downloaded again on restart; intact shards are reused; stale folders are pruned', async () => {
    const cacheDir = newCacheDir();
    const first = await start({ store: probeStore(), cacheDir, log: quietLogger() });
    await first.handle.firstLoad;
    assert.equal((await first.client.status()).runs[0].ready, true);
    await first.stop();

    const victim = assigned[0];
    const victimDir = join(cacheDir, RUN, shardDirName(victim));
    // The shard's largest file (usearch: index.usearch; LanceDB: its data file), whatever the backend.
    const dataFile = manifest.shards[victim].files.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    const bytes = await readFile(join(victimDir, dataFile.path));
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await writeFile(join(victimDir, dataFile.path), bytes);
    await mkdir(join(cacheDir, 'old-run', 'db=00003'), { recursive: true });
    await writeFile(join(cacheDir, 'old-run', 'db=00003', 'x.lance'), 'stale');
    await mkdir(join(cacheDir, 'notes'));
    await writeFile(join(cacheDir, 'notes', 'readme.txt'), 'not ours');

    const store = probeStore();
    const second = await start({ store, cacheDir, log: quietLogger() });
    await second.handle.firstLoad;
    const status = await second.client.status();
    assert.equal(status.runs[0].ready, true);
    assert.equal(store.downloadsUnder(urlOf(victim)), filesOf(victim), 'the damaged shard is fetched again');
    for (const other of assigned.filter((id) => id !== victim)) assert.equal(store.downloadsUnder(urlOf(other)), 0, `shard ${other} reused`);
    assert.equal((await searchShards(second.client, [victim])).shards[0].hits.length, 5);
    assert.deepEqual((await readdir(cacheDir)).sort(), ['notes', RUN], 'a stale run folder is removed, a foreign folder kept');
    await second.stop();
  });

  test('graceful shutdown waits for an in-flight search before closing', async () => {
    const store = probeStore();
    const { log, records } = recordingLogger();
    const node = await start({ store, cacheDir: newCacheDir(), log, drainTimeoutMs: 60_000 });
    await node.handle.firstLoad;
    const lazy = unassigned[2];
    const gate = store.gate((key) => key.startsWith(urlOf(lazy)));
    const events: string[] = [];
    const inFlight = searchShards(node.client, [lazy]).then((r) => {
      events.push('search answered');
      return r;
    });
    await gate.waiting();
    const stopping = node.handle.stop().then(() => events.push('stopped'));
    await waitFor('the node to start draining', () => records.some((r) => /draining in-flight calls/.test(r.msg)));
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(events, [], 'stop() waits while the search is in flight');
    gate.release();
    const res = await inFlight;
    await stopping;
    assert.deepEqual(events, ['search answered', 'stopped']);
    assert.equal(res.shards[0].error, '');
    assert.equal(res.shards[0].hits.length, 5);
    const late = new NodeClient(node.handle.address);
    try {
      await assert.rejects(late.status(), (err: grpc.ServiceError) => err.code === grpc.status.UNAVAILABLE);
    } finally {
      late.close();
    }
  });
});
