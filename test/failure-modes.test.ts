/**
 * Failure modes with real processes: a store with no snapshot, and a shard whose file in the store
 * is corrupt or missing. The cluster must say what is wrong and never answer with silently fewer
 * shards.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { freePort } from '../src/cli/free-port.ts';
import { spawnCli, startLocalCluster, type LocalCluster } from '../src/cli/local-cluster.ts';
import { checkHealth } from '../src/common/health.ts';
import { unaryCall } from '../src/common/grpc-status.ts';
import { loadShardNodeProto } from '../src/common/proto.ts';
import type { StatusResponse__Output } from '../src/common/proto-gen/shardfleet/v1/StatusResponse.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import { buildFashionSnapshot, FASHION_IMAGES, tempDir } from './helpers/fixtures.ts';
import { waitFor } from './helpers/wait.ts';

async function nodeStatus(address: string): Promise<StatusResponse__Output> {
  const Ctor = loadShardNodeProto().shardfleet.v1.ShardNode;
  const client = new Ctor(address, grpc.credentials.createInsecure());
  try {
    return await unaryCall(client.Status.bind(client) as never, {}, { deadline: Date.now() + 5000 });
  } finally {
    client.close();
  }
}


describe('a store with no _CURRENT', () => {
  test('the router answers FAILED_PRECONDITION naming the store, and reports NOT_SERVING', async () => {
    const dir = await tempDir('empty');
    await mkdir(join(dir.path, 'store'));
    const nodeAddr = `127.0.0.1:${await freePort()}`;
    const routerAddr = `127.0.0.1:${await freePort()}`;
    const common = ['--store', join(dir.path, 'store'), '--nodes', `n0=${nodeAddr}`];
    const node = spawnCli(['serve', 'node', ...common, '--node-id', 'n0', '--listen', nodeAddr, '--cache-dir', join(dir.path, 'cache')], {}, 'ignore');
    const router = spawnCli(['serve', 'router', ...common, '--listen', routerAddr], {}, 'ignore');
    const client = new ShardfleetClient(routerAddr);
    try {
      await waitFor('router to listen', async () => (await checkHealth(routerAddr)) === 'NOT_SERVING');
      await waitFor('node to listen', async () => (await checkHealth(nodeAddr)) === 'NOT_SERVING');
      await waitFor('node to report its load error', async () => (await nodeStatus(nodeAddr)).load_error.includes('_CURRENT does not exist'));
      assert.equal((await nodeStatus(nodeAddr)).run_id, '');
      await assert.rejects(client.search({ vector: new Float32Array(784) }), (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.FAILED_PRECONDITION);
        assert.match(err.details, /no snapshot published at file:\/\/.*_CURRENT does not exist/);
        return true;
      });
    } finally {
      client.close();
      node.kill('SIGKILL');
      router.kill('SIGKILL');
      await dir.remove();
    }
  });
});

describe('a corrupt and a missing shard file in the store', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let cluster: LocalCluster;
  let client: ShardfleetClient;
  const corruptShard = 2;
  const missingShard = 0;
  /** Store key of the damaged file. */
  let corruptFile = '';

  before(async () => {
    dir = await tempDir('corrupt');
    const storePath = join(dir.path, 'store');
    const store = new FileObjectStore(storePath);
    const built = await buildFashionSnapshot(store, { limit: 2000, numDbs: 4 });
    await store.close();
    // Flip bytes in shard 2's data file (same size), delete a file of shard 0.
    const corrupt = built.manifest.shards[corruptShard];
    // The shard's largest file (usearch: index.usearch; LanceDB: its data file), whatever the backend.
    const dataFile = corrupt.files.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    corruptFile = `${corrupt.url}${dataFile.path}`;
    const corruptPath = join(storePath, corrupt.url, dataFile.path);
    const bytes = await readFile(corruptPath);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await writeFile(corruptPath, bytes);
    const missing = built.manifest.shards[missingShard];
    await rm(join(storePath, missing.url, missing.files[0].path));
    // Nodes holding the damaged shards never become ready (readiness = every assigned shard loaded).
    cluster = await startLocalCluster({ store: storePath, numNodes: 2, cacheDir: join(dir.path, 'cache'), stderr: 'ignore', waitNodesReady: false });
    client = new ShardfleetClient(cluster.routerAddress);
  });
  after(async () => {
    client?.close();
    await cluster?.stop();
    await dir?.remove();
  });

  test('node Status reports the failed shards and why; the others load', async () => {
    // The nodes are not ready (they cannot load every shard): wait until each assigned shard
    // has been tried, i.e. is loaded or failed.
    const deadline = Date.now() + 60_000;
    let statuses = await Promise.all(cluster.nodes.map((n) => nodeStatus(n.address)));
    const settled = () =>
      statuses.every((s) => s.shards_assigned.length > 0 && s.shards_assigned.every((id) => s.shards_loaded.includes(id) || s.shards_failed.some((f) => f.db_id === id)));
    while (!settled() && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      statuses = await Promise.all(cluster.nodes.map((n) => nodeStatus(n.address)));
    }
    const failed = new Map(statuses.flatMap((s) => s.shards_failed.map((f) => [f.db_id, f.reason] as const)));
    const loaded = statuses.flatMap((s) => s.shards_loaded).sort();
    assert.deepEqual(loaded, [1, 3]);
    assert.ok(failed.get(corruptShard)!.includes(`file ${corruptFile} has sha256 `), failed.get(corruptShard));
    assert.match(failed.get(corruptShard)!, /shard 2 .*has sha256 [0-9a-f]{64}.*but the manifest says/);
    assert.match(failed.get(missingShard)!, /shard 0 .*is missing from file:\/\//);
  });

  test('a query probing a failed shard gets UNAVAILABLE naming it, never fewer results', async () => {
    const q = await readIdxImages(FASHION_IMAGES, { start: 9500, limit: 1 });
    await assert.rejects(client.search({ vector: q.vectors, shard_ids: [1, corruptShard] }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.UNAVAILABLE);
      assert.match(err.details, /1 of 2 probed shards .* could not answer: shard 2 \(db=00002\): node node-\d: .*sha256/);
      return true;
    });
    await assert.rejects(client.search({ vector: q.vectors, shard_ids: [missingShard] }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.UNAVAILABLE);
      assert.match(err.details, /shard 0 \(db=00000\)/);
      return true;
    });
  });

  test('queries that probe only healthy shards are answered in full', async () => {
    const q = await readIdxImages(FASHION_IMAGES, { start: 9500, limit: 1 });
    const res = await client.search({ vector: q.vectors, top_k: 7, shard_ids: [3, 1] });
    assert.equal(res.results.length, 7);
    assert.deepEqual(res.shard_ids, [3, 1]);
  });
});
