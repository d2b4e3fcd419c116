/**
 * DNS membership through real processes: a router and shard nodes started with
 * `--nodes dns+srv:_grpc._tcp.nodes.test` against a real DNS server on 127.0.0.1 (the test's own).
 * With only node-0 in DNS, node-0 holds every shard; when node-1 is added to the SRV records both
 * processes re-resolve, placement moves only some shards to node-1, and the router routes to it;
 * when node-0 is then removed from DNS and killed, queries keep being answered by node-1.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { freePort } from '../src/cli/free-port.ts';
import { spawnCli } from '../src/cli/local-cluster.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import { buildFashionSnapshot, FASHION_IMAGES, tempDir } from './helpers/fixtures.ts';
import { TestDnsServer } from './helpers/dns-server.ts';
import { waitFor } from './helpers/wait.ts';

const SRV = '_grpc._tcp.nodes.test';

describe('DNS (SRV) membership with real processes and a real DNS server', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let dns: TestDnsServer;
  const children = new Map<string, ChildProcess>();
  let client: ShardfleetClient;
  let query: Float32Array;
  const ports = new Map<string, number>();

  before(async () => {
    dir = await tempDir('dns-cluster');
    dns = await TestDnsServer.start();
    const storeDir = join(dir.path, 'store');
    const store = new FileObjectStore(storeDir);
    await buildFashionSnapshot(store, { limit: 1200, numDbs: 6, numProbes: 2 });
    await store.close();
    query = (await readIdxImages(FASHION_IMAGES, { start: 9500, limit: 1 })).vectors;
    for (const id of ['node-0', 'node-1']) {
      ports.set(id, await freePort());
      dns.set(`${id}.nodes.test`, { a: ['127.0.0.1'] });
    }
    dns.set(SRV, { srv: [{ port: ports.get('node-0')!, target: 'node-0.nodes.test' }] });
    const env = { GRPC_NODE_USE_ALTERNATIVE_RESOLVER: 'true' };
    const common = ['--store', storeDir, '--nodes', `dns+srv:${SRV}`, '--dns-server', dns.address, '--membership-refresh-ms', '200', '--poll-interval-ms', '500'];
    for (const id of ['node-0', 'node-1']) {
      const args = ['serve', 'node', ...common, '--node-id', id, '--listen', `127.0.0.1:${ports.get(id)}`, '--cache-dir', join(dir.path, 'cache', id), '--run-grace-ms', '1000'];
      children.set(id, spawnCli(args, env, 'ignore'));
    }
    const routerAddress = `127.0.0.1:${await freePort()}`;
    children.set('router', spawnCli(['serve', 'router', ...common, '--listen', routerAddress, '--status-poll-ms', '200'], env, 'ignore'));
    client = new ShardfleetClient(routerAddress);
    await waitFor('router healthy', async () => (await client.health()).status === 'healthy', { retryOnError: true, intervalMs: 200 });
  });
  after(async () => {
    client?.close();
    for (const c of children.values()) c.kill('SIGKILL');
    await dns?.close();
    await dir?.remove();
  });

  test('one node in DNS: it holds every shard and answers', async () => {
    const details = await client.shardDetails();
    assert.equal(details.shards.length, 6);
    for (const s of details.shards) assert.deepEqual(s.replicas.map((r) => [r.node_id, r.state]), [['node-0', 'loaded']]);
    const res = await client.search({ vector: query, top_k: 5 });
    assert.equal(res.results.length, 5);
  });

  test('a node added to DNS takes over some shards; removing and killing the first leaves it serving', async () => {
    dns.set(SRV, {
      srv: [
        { port: ports.get('node-0')!, target: 'node-0.nodes.test' },
        { port: ports.get('node-1')!, target: 'node-1.nodes.test' },
      ],
    });
    let owners: string[] = [];
    await waitFor('node-1 to own and load some shards', async () => {
      const details = await client.shardDetails();
      owners = details.shards.map((s) => s.replicas.map((r) => `${r.node_id}:${r.state}`).join(','));
      return owners.some((o) => o === 'node-1:loaded') && owners.some((o) => o === 'node-0:loaded');
    }, { retryOnError: true, intervalMs: 200 });
    const res = await client.search({ vector: query, top_k: 5, num_probes: 6 });
    assert.equal(res.num_shards_answered, 6);

    dns.set(SRV, { srv: [{ port: ports.get('node-1')!, target: 'node-1.nodes.test' }] });
    await waitFor('node-1 to own every shard', async () => {
      const details = await client.shardDetails();
      return details.shards.every((s) => s.replicas.length === 1 && s.replicas[0].node_id === 'node-1' && s.replicas[0].state === 'loaded');
    }, { retryOnError: true, intervalMs: 200 });
    children.get('node-0')!.kill('SIGKILL');
    for (let i = 0; i < 20; i++) {
      const r = await client.search({ vector: query, top_k: 5, num_probes: 6 });
      assert.equal(r.num_shards_answered, 6);
    }
  });
});
