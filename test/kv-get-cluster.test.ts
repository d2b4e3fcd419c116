/**
 * Get / MultiGet through real processes (issue 14): KV + vector snapshots of Fashion-MNIST built
 * with both KV backends (composite: SlateDB + LanceDB on a file:// store; unified: SQLite +
 * sqlite-vec on an s3:// store served by s3rver), a router and 3 shard nodes (R = 2) as child
 * processes. Checks: every key is found with its exact value, payload and vector; absent keys are
 * not found; Search probes every shard of a hash snapshot and its hit ids are keys; bad keys are
 * INVALID_ARGUMENT naming them; a node SIGKILL loses no Get; during a snapshot swap every Get and
 * Search answer comes whole from the run it names; `shardfleet get` prints one JSON line per key.
 * A vector-only cluster snapshot is looked up by id through its per-shard id filters.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { ShardfleetClient, type GetResult } from '../src/client/router-client.ts';
import type { LocalCluster } from '../src/cli/local-cluster.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import type { ObjectStore } from '../src/common/storage/object-store.ts';
import { buildSnapshot, type BuildResult } from '../src/writer/build-snapshot.ts';
import { openIdxSource } from '../src/writer/input/idx-source.ts';
import { openJsonlSource } from '../src/writer/input/jsonl-source.ts';
import { buildFashionSnapshot, FASHION_IMAGES, FASHION_LABELS, quietLogger, tempDir } from './helpers/fixtures.ts';
import { isGrpcStatus } from './helpers/grpc-assert.ts';
import { startS3rver, type S3rverHandle } from './helpers/s3rver.ts';
import { closeAll, serveStore } from './helpers/served-cluster.ts';

const N = 1200;
const NUM_DBS = 4;
const BIN = fileURLToPath(new URL('../bin/shardfleet.js', import.meta.url));
const execFileP = promisify(execFile);

/** One input record: its key, value text, payload and vector. */
interface Item {
  key: string | number;
  value: string;
  payload: Record<string, unknown>;
  vector: Float32Array;
}

/** The first N Fashion-MNIST images as KV records; `tag` marks the run in values and payloads. */
async function fashionItems(intKeys: boolean, tag: string): Promise<Item[]> {
  const source = await openIdxSource({ imagesPath: FASHION_IMAGES, labelsPath: FASHION_LABELS, limit: N });
  const items: Item[] = [];
  let i = 0;
  for await (const r of source.records()) {
    const key = intKeys ? i * 7919 - 100_000 : `item:${i}`;
    const value = i % 3 === 0 ? JSON.stringify({ tag, label: r.payload?.label, n: i }) : `plain ${tag} ${i} é`;
    items.push({ key, value, payload: { ...r.payload, tag }, vector: r.vector });
    i++;
  }
  return items;
}

async function writeJsonl(path: string, items: readonly Item[]): Promise<void> {
  const lines = items.map((it) =>
    JSON.stringify({ key: it.key, value: it.value.startsWith('{') ? JSON.parse(it.value) : it.value, vector: Array.from(it.vector), payload: it.payload }),
  );
  await writeFile(path, lines.join('\n') + '\n');
}

function sameVector(bytes: Uint8Array, want: Float32Array): boolean {
  const b = Buffer.from(bytes);
  return b.equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength));
}

/** Checks a result against its item (value bytes exact, payload exact, vector bit-equal when given). */
function assertItem(r: GetResult, it: Item, withVector: boolean): void {
  assert.equal(r.error, '', `key ${it.key}: ${r.error}`);
  assert.equal(r.found, true, `key ${it.key} not found`);
  assert.equal(Buffer.from(r.value).toString('utf8'), it.value, `key ${it.key} value`);
  assert.deepEqual(JSON.parse(r.payload_json), it.payload, `key ${it.key} payload`);
  assert.equal(r.id, String(it.key));
  if (withVector) assert.ok(sameVector(r.vector, it.vector), `key ${it.key} vector`);
}

/** Both backends on both stores; the fault and swap steps run once per backend (`full`). */
const VARIANTS = [
  { name: 'composite (--kv slatedb --backend lancedb) on file://', kv: 'slatedb', backend: 'lancedb', store: 'file', intKeys: false, full: true },
  { name: 'unified (--kv sqlite --backend sqlite-vec) on s3:// (s3rver)', kv: 'sqlite', backend: 'sqlite-vec', store: 's3', intKeys: true, full: true },
  { name: 'composite (--kv slatedb --backend usearch) on s3:// (s3rver)', kv: 'slatedb', backend: 'usearch', store: 's3', intKeys: true, full: false },
  { name: 'unified (--kv sqlite --backend sqlite-vec) on file://', kv: 'sqlite', backend: 'sqlite-vec', store: 'file', intKeys: false, full: false },
] as const;

for (const v of VARIANTS) {
  describe(`Get / MultiGet through a router + 3 nodes (R=2): ${v.name}`, () => {
    let dir: Awaited<ReturnType<typeof tempDir>>;
    let s3: S3rverHandle | undefined;
    let store: ObjectStore;
    let storeUrl: string;
    let items: Item[];
    let runA: BuildResult;
    let cluster: LocalCluster;
    let client: ShardfleetClient;

    async function buildRun(tag: string, list: readonly Item[]): Promise<BuildResult> {
      const path = join(dir.path, `input-${tag}.jsonl`);
      await writeJsonl(path, list);
      return buildSnapshot({
        store,
        source: await openJsonlSource({ path }),
        sharding: { strategy: 'hash', numDbs: NUM_DBS },
        backend: { backend: v.backend },
        kv: { backend: v.kv },
        metric: 'l2',
        progress: false,
        log: quietLogger(),
      });
    }

    before(async () => {
      dir = await tempDir(`kv-get-${v.kv}`);
      if (v.store === 's3') {
        s3 = await startS3rver();
        storeUrl = s3.url('snapshots/kv');
        store = openObjectStore(storeUrl, s3.connection);
      } else {
        storeUrl = join(dir.path, 'store');
        store = openObjectStore(storeUrl);
      }
      items = await fashionItems(v.intKeys, 'a');
      runA = await buildRun('a', items);
      ({ cluster, client } = await serveStore(storeUrl, dir.path, {
        numNodes: 3,
        replication: 2,
        env: s3?.env,
        routerArgs: ['--poll-interval-ms', '500', '--max-get-keys', '500'],
        nodeArgs: ['--poll-interval-ms', '500'],
      }));
    });
    after(() => closeAll({ client, cluster, store, s3, dir }));

    /** Steps that run once per backend (the variant marked full), not once per store. */
    const fullTest = (name: string, fn: () => Promise<void>): void => {
      if (v.full) test(name, fn);
    };

    test('SnapshotInfo names the KV backend and key type', async () => {
      const info = await client.snapshotInfo();
      assert.equal(info.run_id, runA.runId);
      assert.equal(info.kv_backend, v.kv);
      assert.equal(info.kv_key_type, v.intKeys ? 'int' : 'string');
      assert.equal(info.strategy, 'hash');
    });

    test(`MultiGet finds every one of the ${N} keys with its exact value and payload; absent keys are not found`, async () => {
      for (let start = 0; start < N; start += 400) {
        const batch = items.slice(start, start + 400);
        const res = await client.multiGet({ keys: batch.map((it) => it.key), include_vector: start === 0 });
        assert.equal(res.run_id, runA.runId);
        assert.equal(res.partial, false);
        assert.equal(res.results.length, batch.length);
        res.results.forEach((r, i) => assertItem(r, batch[i], start === 0));
        assert.ok(res.num_shards_queried <= NUM_DBS);
      }
      const absent = v.intKeys ? [3, -1, 123_456_789_012n] : ['item:absent', 'ITEM:1', 'item:1 '];
      const present = items[7].key;
      const res = await client.multiGet({ keys: [...absent, present, present] });
      assert.deepEqual(
        res.results.map((r) => [r.found, r.error]),
        [...absent.map(() => [false, '']), [true, ''], [true, '']],
      );
      assertItem(res.results[4], items[7], false);
      const one = await client.get({ key: items[11].key, include_vector: true });
      assertItem(one.result!, items[11], true);
      const miss = await client.get({ key: absent[0] });
      assert.equal(miss.result?.found, false);
      assert.equal(miss.result?.error, '');
    });

    test('Search probes every shard of the hash snapshot and its hit ids are keys Get finds', async () => {
      const res = await client.search({ vector: Array.from(items[5].vector), top_k: 5, include_payload: true });
      assert.equal(res.num_shards_queried, NUM_DBS);
      const route = await client.route({ vector: Array.from(items[5].vector) });
      assert.equal(route.shards.length, NUM_DBS);
      assert.match(route.note, /hash-sharded snapshot: records are placed by key hash, not by similarity, so a search probes every shard/);
      assert.equal(res.results[0].id, String(items[5].key));
      const got = await client.multiGet({ keys: res.results.map((h) => (v.intKeys ? BigInt(h.id) : h.id)) });
      got.results.forEach((r, i) => {
        assert.equal(r.found, true);
        assert.equal(r.payload_json, res.results[i].payload_json);
      });
    });

    fullTest('bad keys are INVALID_ARGUMENT naming them', async () => {
      const wrong = v.intKeys ? 'item:1' : 42;
      await assert.rejects(client.get({ key: wrong }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, v.intKeys ? /key: string_key given, but the snapshot's keys are int/ : /key: int_key given, but the snapshot's keys are string/));
      await assert.rejects(client.multiGet({ keys: [items[0].key, v.intKeys ? 'x' : ''] }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, v.intKeys ? /keys\[1\]: string_key given/ : /keys\[1\]: key is empty/));
      await assert.rejects(client.multiGet({ keys: items.slice(0, 501).map((it) => it.key) }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /MultiGetRequest\.keys has more than 500 entries in one message.*the limit is 500 \(raise it with --max-get-keys\)/));
      await assert.rejects(client.multiGet({ keys: [] }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /at least one key/));
      await assert.rejects(client.get({ key: items[0].key, routing_context: { region: 'eu' } }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /routing_context is only for CEL-sharded snapshots/));
    });

    fullTest('shardfleet get prints one JSON object per key, in --key order', async () => {
      const keys = [String(items[3].key), v.intKeys ? '5' : 'nope', String(items[0].key)];
      const { stdout } = await execFileP(process.execPath, [BIN, 'get', '--router', cluster.routerAddress, ...keys.flatMap((k) => ['--key', k])], { env: { ...process.env, ...s3?.env } });
      const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.equal(lines.length, 3);
      assert.deepEqual(lines.map((l) => [l.key, l.found]), [[keys[0], true], [keys[1], false], [keys[2], true]]);
      assert.equal(lines[0].value, items[3].value);
      assert.equal(lines[0].value_encoding, 'utf8');
      assert.deepEqual(lines[0].payload, items[3].payload);
      assert.equal(lines[1].value, null);
    });

    fullTest('a node SIGKILL with R=2 loses no Get', async () => {
      const keys = items.slice(0, 300).map((it) => it.key);
      let failed = 0;
      let calls = 0;
      const stop = { now: false };
      const loop = (async () => {
        while (!stop.now) {
          try {
            const res = await client.multiGet({ keys, timeout_ms: 5000 });
            calls++;
            if (res.partial || res.results.some((r) => !r.found)) failed++;
          } catch {
            calls++;
            failed++;
          }
        }
      })();
      await new Promise((r) => setTimeout(r, 300));
      await cluster.killNode(cluster.nodes[1].id);
      await new Promise((r) => setTimeout(r, 2500));
      stop.now = true;
      await loop;
      console.log(`# ${v.kv}: ${calls} MultiGet(300) calls around a node SIGKILL, ${failed} failed`);
      assert.ok(calls > 5, `only ${calls} calls`);
      assert.equal(failed, 0);
      await cluster.restartNode(cluster.nodes[1].id);
    });

    fullTest('during a snapshot swap every Get and Search answer comes whole from the run it names', async () => {
      const itemsB = items.map((it) => ({ ...it, value: it.value.replace(/\ba\b/, 'b').replace('"tag":"a"', '"tag":"b"'), payload: { ...it.payload, tag: 'b' } }));
      const sample = items.slice(0, 200);
      const byRun = new Map<string, Item[]>([[runA.runId, items]]);
      let swapped = false;
      let checked = 0;
      const runsSeen = new Set<string>();
      const check = async (): Promise<void> => {
        const got = await client.multiGet({ keys: sample.map((it) => it.key) });
        const want = byRun.get(got.run_id);
        assert.ok(want, `MultiGet answered from unknown run ${got.run_id}`);
        got.results.forEach((r, i) => assertItem(r, want[i], false));
        const s = await client.search({ vector: Array.from(sample[1].vector), top_k: 3, include_payload: true });
        const tag = s.run_id === runA.runId ? 'a' : 'b';
        for (const h of s.results) assert.equal((JSON.parse(h.payload_json) as { tag: string }).tag, tag, `search hit of run ${s.run_id}`);
        runsSeen.add(got.run_id);
        checked++;
      };
      const loop = (async () => {
        const deadline = Date.now() + 90_000;
        while (Date.now() < deadline) {
          await check();
          if (swapped && runsSeen.size === 2 && [...runsSeen].pop() !== runA.runId) {
            const info = await client.snapshotInfo();
            if (info.run_id !== runA.runId) break;
          }
        }
      })();
      const runB = await buildRun('b', itemsB);
      byRun.set(runB.runId, itemsB);
      swapped = true;
      await loop;
      await check();
      console.log(`# ${v.kv}: ${checked} MultiGet(200) + Search pairs during the swap, runs seen ${[...runsSeen].join(', ')}`);
      assert.equal((await client.snapshotInfo()).run_id, runB.runId);
    });
  });
}

describe('Get by id on a vector-only cluster snapshot (per-shard id filters)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: ObjectStore;
  let cluster: LocalCluster;
  let client: ShardfleetClient;

  before(async () => {
    dir = await tempDir('get-by-id');
    store = openObjectStore(join(dir.path, 'store'));
    await buildFashionSnapshot(store, { limit: 2000, numDbs: 8 });
    ({ cluster, client } = await serveStore(join(dir.path, 'store'), dir.path));
  });
  after(() => closeAll({ client, cluster, store, dir }));

  test('every id is found with the payload and vector Search returns for it; absent ids ask few or no shards', async () => {
    const source = await openIdxSource({ imagesPath: FASHION_IMAGES, labelsPath: FASHION_LABELS, limit: 2000 });
    const records = [];
    for await (const r of source.records()) records.push(r);
    for (let start = 0; start < records.length; start += 1000) {
      const batch = records.slice(start, start + 1000);
      const res = await client.multiGet({ keys: batch.map((r) => r.id), include_vector: true });
      res.results.forEach((r, i) => {
        assert.equal(r.found, true, `id ${batch[i].id}`);
        assert.deepEqual(JSON.parse(r.payload_json), batch[i].payload);
        assert.ok(sameVector(r.vector, batch[i].vector), `id ${batch[i].id} vector`);
        assert.equal(Buffer.from(r.value).length, 0);
      });
    }
    const absent = Array.from({ length: 500 }, (_, i) => `absent-${i}`);
    const res = await client.multiGet({ keys: absent });
    assert.ok(res.results.every((r) => !r.found && r.error === ''));
    // Bloom filters at 10 bits/id (about 1% false positives per shard): a present id is asked
    // of its own shard only, nearly always; never of all 8.
    let single = 0;
    for (const r of records.slice(0, 50)) {
      const one = await client.multiGet({ keys: [r.id] });
      assert.equal(one.results[0].found, true);
      if (one.num_shards_queried === 1) single++;
    }
    console.log(`# 50 single-id MultiGets: ${single} asked one shard; 500 absent ids asked ${res.num_shards_queried} of 8 shards`);
    assert.ok(single >= 40, `${single} of 50 single-id lookups asked one shard`);
    await assert.rejects(client.get({ key: 7 }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /a vector-only snapshot is looked up by record id \(string_key\)/));
  });
});

describe('Get on a CEL-sharded KV snapshot (--strategy cel --kv sqlite): the routing context names the shard', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: ObjectStore;
  let cluster: LocalCluster;
  let client: ShardfleetClient;
  let items: Item[];

  before(async () => {
    dir = await tempDir('kv-get-cel');
    store = openObjectStore(join(dir.path, 'store'));
    items = (await fashionItems(false, 'c')).slice(0, 400);
    const path = join(dir.path, 'input.jsonl');
    const lines = items.map((it, i) => JSON.stringify({ key: it.key, value: it.value, vector: Array.from(it.vector), payload: it.payload, routing_context: { region: i % 2 ? 'us' : 'eu' } }));
    await writeFile(path, lines.join('\n') + '\n');
    await buildSnapshot({
      store,
      source: await openJsonlSource({ path }),
      sharding: { strategy: 'cel', celExpr: 'region', celColumns: { region: 'string' }, routingValues: ['eu', 'us'] },
      backend: { backend: 'sqlite-vec' },
      kv: { backend: 'sqlite' },
      metric: 'l2',
      progress: false,
      log: quietLogger(),
    });
    ({ cluster, client } = await serveStore(join(dir.path, 'store'), dir.path));
  });
  after(() => closeAll({ client, cluster, store, dir }));

  test('keys are found with the routing context of their region, not with the other; no context is INVALID_ARGUMENT naming cel_columns', async () => {
    const eu = items.filter((_, i) => i % 2 === 0);
    const us = items.filter((_, i) => i % 2 === 1);
    const inEu = await client.multiGet({ keys: eu.map((it) => it.key), routing_context: { region: 'eu' } });
    inEu.results.forEach((r, i) => assertItem(r, eu[i], false));
    assert.equal(inEu.num_shards_queried, 1);
    const wrong = await client.multiGet({ keys: us.slice(0, 20).map((it) => it.key), routing_context: { region: 'eu' } });
    assert.ok(wrong.results.every((r) => !r.found && r.error === ''), 'a us key is not in the eu shard');
    const one = await client.get({ key: us[3].key, routing_context: { region: 'us' } });
    assertItem(one.result!, us[3], false);
    await assert.rejects(client.get({ key: us[3].key }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /routing_context: this KV snapshot is CEL-sharded; a lookup needs the routing context of its keys \(cel_columns: region \(string\)\)/));
    await assert.rejects(client.get({ key: us[3].key, routing_context: { region: 'mars' } }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /routing_context/));
  });
});
