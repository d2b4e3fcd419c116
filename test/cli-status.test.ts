/**
 * Watching a cluster as an operator does, through real processes: a router and 3 shard nodes
 * (replication 2) over a 4-shard Fashion-MNIST snapshot, each serving HTTP (`--metrics-listen`).
 * - `shardfleet status`, `shards` and `route` (the real CLI, bin/shardfleet.js), as text tables
 *   and as `--json`, on a healthy cluster; then with one node killed (the node unreachable, the
 *   shards it held under R, exit code 0: degraded still serves); then with every node killed
 *   (unhealthy: exit code 3).
 * - `/healthz` and `/readyz` on the router's and the nodes' metrics ports, following the same
 *   states; and on a router and a node over a store with nothing published (503 with why).
 * Set SHARDFLEET_TEST_PRINT_STATUS=1 to print the `status` screens.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ShardfleetClient, type ShardDetails } from '../src/client/router-client.ts';
import { freePort } from '../src/cli/free-port.ts';
import { spawnCli } from '../src/cli/local-cluster.ts';
import type { StatusView } from '../src/cli/cluster-view.ts';
import { checkHealth } from '../src/common/health.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import { buildFashionSnapshot, FASHION_IMAGES, tempDir } from './helpers/fixtures.ts';
import { httpGet, startMeteredCluster, type MeteredCluster } from './helpers/metered-cluster.ts';
import { waitFor } from './helpers/wait.ts';

const BIN = fileURLToPath(new URL('../bin/shardfleet.js', import.meta.url));
const run = promisify(execFile);
const PRINT = process.env.SHARDFLEET_TEST_PRINT_STATUS === '1';

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SHARDFLEET_')) env[k] = v;
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { ...env, SHARDFLEET_LOG_LEVEL: 'error' }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The row of `table` (text lines) whose first cell is `first`, split on runs of 2+ spaces. */
function row(text: string, first: string): string[] {
  const line = text.split('\n').find((l) => l.split(/\s{2,}/)[0] === first);
  assert.ok(line, `a row starting with ${first} in:\n${text}`);
  return line.split(/\s{2,}/);
}

describe('status, shards and route through a router; /healthz and /readyz', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let cluster: MeteredCluster;
  let client: ShardfleetClient;
  let router: string;
  let runId: string;
  let before3: ShardDetails;

  before(async () => {
    dir = await tempDir('cli-status');
    const storePath = join(dir.path, 'store');
    const store = new FileObjectStore(storePath);
    runId = (await buildFashionSnapshot(store, { limit: 1000, numDbs: 4, numProbes: 2 })).manifest.run_id;
    await store.close();
    cluster = await startMeteredCluster(storePath, dir.path, { numNodes: 3, replication: 2, routerArgs: ['--status-poll-ms', '200'] });
    router = cluster.router.address;
    client = new ShardfleetClient(router);
    await waitFor('every shard on its 2 replicas (Health healthy)', async () => (await client.health(2000)).status === 'healthy', { timeoutMs: 120_000, retryOnError: true });
    before3 = await client.shardDetails();
  });
  after(async () => {
    client?.close();
    await cluster?.stop();
    await dir?.remove();
  });

  test('status on a healthy cluster: text screen and --json', async () => {
    const out = await cli(['status', '--router', router]);
    assert.equal(out.code, 0, out.stderr);
    if (PRINT) console.log(out.stdout);
    const text = out.stdout;
    assert.match(text, /^Health: +healthy +coverage 1\.000\n/);
    assert.match(text, new RegExp(`\\nServed run: +${runId} +published \\S+ \\(\\d+(s|m \\d+s) ago\\)\\n`));
    assert.match(text, /shardfleet, cluster sharding, 4 shards, default num_probes 2, default ef \d+, 1,000 vectors \(dim 784, l2\)/);
    assert.match(text, /\nPending run: +none\n/);
    assert.match(text, /\nNodes \(3, replication 2\):\n/);
    const header = row(text, 'NODE');
    assert.deepEqual(header, ['NODE', 'ADDRESS', 'STATE', 'LOADED', 'LOADING', 'FAILED', 'UNREACHABLE', 'EJECTED', 'REASON']);
    let loaded = 0;
    for (const n of cluster.nodes) {
      const r = row(text, n.id);
      assert.equal(r[1], n.address);
      assert.equal(r[2], 'ready');
      assert.deepEqual(r.slice(4, 8), ['0', '0', '0', '0']);
      loaded += Number(r[3]);
    }
    assert.equal(loaded, 8, '4 shards x 2 replicas');
    assert.match(text, /\nShards under R=2: none/);
    assert.match(text, /\nRouting recall@10 by shards probed \(build-time sample\):\nPROBES +1 +2 +3 +4\nRECALL( +[01]\.\d{3}){3} +1\.000$/m);

    const json = await cli(['status', '--router', router, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const v = JSON.parse(json.stdout) as StatusView;
    assert.equal(v.health.status, 'healthy');
    assert.equal(v.health.coverage, 1);
    assert.equal(v.health.pending_run_id, '');
    assert.equal(v.run?.run_id, runId);
    assert.equal(v.run?.num_dbs, 4);
    assert.equal(v.run?.total_vectors, 1000);
    assert.equal(v.replication_factor, 2);
    assert.deepEqual(v.nodes.map((n) => [n.node_id, n.state]), [['node-0', 'ready'], ['node-1', 'ready'], ['node-2', 'ready']]);
    assert.equal(v.nodes.reduce((s, n) => s + n.shards.loaded, 0), 8);
    assert.deepEqual(v.under_replicated, []);
    assert.equal(v.recall_at_probes.length, 4);
    assert.equal(v.recall_at_probes[3], 1);
    assert.deepEqual(v.errors, {});
  });

  test('shards: one row per shard with its replicas, and --json is ShardDetails with replication_factor', async () => {
    const out = await cli(['shards', '--router', router]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, new RegExp(`^Run ${runId} \\(shardfleet\\), 4 shards, replication 2\\n`));
    assert.deepEqual(row(out.stdout, 'SHARD'), ['SHARD', 'VECTORS', 'BYTES', 'INDEX', 'REPLICAS']);
    for (const s of before3.shards) {
      const r = row(out.stdout, String(s.db_id));
      assert.equal(r[1], s.vector_count.toLocaleString('en-US'));
      assert.match(r[2], /^\d+(\.\d)? (B|KiB|MiB)$/);
      assert.equal(r[3], s.index_type);
      assert.equal(r[4], s.replicas.map((x) => `${x.node_id}=loaded`).join(' '));
    }
    assert.doesNotMatch(out.stdout, /Replicas not loaded/);
    const json = await cli(['shards', '--router', router, '--json']);
    const d = JSON.parse(json.stdout) as ShardDetails;
    assert.equal(d.run_id, runId);
    assert.equal(d.replication_factor, 2);
    assert.equal(d.shards.length, 4);
    assert.equal(d.shards.reduce((s, x) => s + x.vector_count, 0), 1000);
    for (const s of d.shards) assert.deepEqual(s.replicas.map((r) => r.state), ['loaded', 'loaded']);
  });

  test('route: the shards in routing order with their ready replicas (equal to the Route RPC) and --shard-ids', async () => {
    const query = (await readIdxImages(FASHION_IMAGES, { start: 9500, limit: 1 })).vectors;
    const expected = await client.route({ vector: query, num_probes: 3 });
    const json = await cli(['route', '--router', router, '--idx', FASHION_IMAGES, '--idx-index', '9500', '--num-probes', '3', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), JSON.parse(JSON.stringify(expected)));
    assert.equal(expected.shards.length, 3);

    const out = await cli(['route', '--router', router, '--idx', FASHION_IMAGES, '--idx-index', '9500', '--num-probes', '3']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, new RegExp(`^Run ${runId}: 3 shards\\n`));
    expected.shards.forEach((s, i) => {
      const r = row(out.stdout, String(i + 1));
      assert.equal(r[1], String(s.db_id));
      assert.equal(r[2], s.node_ids.map((n, j) => `${n}@${s.addresses[j]}`).join(' '));
      assert.equal(s.node_ids.length, 2);
    });

    const explicit = await cli(['route', '--router', router, '--idx', FASHION_IMAGES, '--shard-ids', '3,1']);
    assert.equal(explicit.code, 0, explicit.stderr);
    assert.equal(row(explicit.stdout, '1')[1], '3');
    assert.equal(row(explicit.stdout, '2')[1], '1');
    assert.match(explicit.stdout, /\nNote: shard_ids given: those shards, as listed$/m);
  });

  test('/healthz and /readyz on the router and every node: 200 while healthy; other paths 404, other methods 405', async () => {
    for (const p of [cluster.router, ...cluster.nodes]) {
      assert.deepEqual(await httpGet(p.http, '/healthz'), { status: 200, body: 'ok\n' }, p.id);
      const ready = await httpGet(p.http, '/readyz');
      assert.equal(ready.status, 200, `${p.id}: ${ready.body}`);
      assert.match(ready.body, new RegExp(`^ready: serving run ${runId}`));
      assert.equal((await httpGet(p.http, '/metrics')).status, 200);
      assert.equal((await httpGet(p.http, '/nope')).status, 404);
      assert.equal((await httpGet(p.http, '/readyz', 'POST')).status, 405);
    }
    assert.match((await httpGet(cluster.router.http, '/readyz')).body, /every shard has a ready replica; health healthy/);
    assert.match((await httpGet(cluster.nodes[0].http, '/readyz')).body, /assigned shards loaded/);
  });

  test('one node killed: status shows it unreachable and the shards it held under R, exit code 0 (degraded serves); the router stays ready', async () => {
    await cluster.kill('node-2');
    const held = before3.shards.filter((s) => s.replicas.some((r) => r.node_id === 'node-2')).map((s) => s.db_id).sort((a, b) => a - b);
    assert.ok(held.length > 0, 'node-2 held shards');
    await waitFor(
      'the router seeing node-2 unreachable',
      async () => {
        const d = await client.shardDetails(2000);
        const states = d.shards.flatMap((s) => s.replicas.filter((r) => r.node_id === 'node-2').map((r) => r.state));
        return states.length === held.length && states.every((x) => x === 'unreachable') && (await client.health(2000)).status === 'degraded';
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    const json = await cli(['status', '--router', router, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const view = JSON.parse(json.stdout) as StatusView;
    const node2 = view.nodes.find((n) => n.node_id === 'node-2');
    assert.equal(node2?.shards.unreachable, held.length);
    assert.equal(node2?.shards.loaded, 0);
    assert.match(node2?.reason ?? '', /Status failed/);
    assert.deepEqual(view.under_replicated.map((s) => s.db_id), held);
    for (const s of view.under_replicated) {
      assert.equal(s.ready, 1);
      assert.equal(s.want, 2);
      assert.ok(s.replicas.some((r) => r.node_id === 'node-2' && r.state === 'unreachable' && r.reason !== ''));
    }
    assert.equal(view.health.coverage, 1, 'R=2: every shard keeps a replica');
    assert.ok(view.health.reasons.some((r) => r.startsWith('redundancy lost')), view.health.reasons.join('\n'));

    const out = await cli(['status', '--router', router]);
    assert.equal(out.code, 0, out.stderr);
    console.log(`# status with node-2 killed:\n${out.stdout.replace(/^/gm, '#   ')}`);
    assert.match(out.stdout, /^Health: +degraded +coverage 1\.000\n {2}- redundancy lost: /);
    const r2 = row(out.stdout, 'node-2');
    assert.equal(r2[2], 'unreachable');
    assert.equal(r2[6], String(held.length));
    assert.match(r2[8], /^Status failed/);
    assert.match(out.stdout, new RegExp(`\\nShards under R=2: ${held.length} of 4\\nSHARD +READY +REPLICAS\\n`));
    for (const db of held) {
      const r = row(out.stdout, String(db));
      assert.equal(r[1], '1/2');
      assert.match(r[2], /node-2 unreachable \(Status failed/);
    }
    const shards = await cli(['shards', '--router', router]);
    assert.match(shards.stdout, /node-2=unreachable/);
    assert.match(shards.stdout, /\nReplicas not loaded:\n {2}shard \d+ on node-2: unreachable: Status failed/);

    // /readyz is computed at most once a second: wait out an answer cached before the kill.
    let ready = await httpGet(cluster.router.http, '/readyz');
    await waitFor('/readyz seeing the degraded health', async () => /health degraded/.test((ready = await httpGet(cluster.router.http, '/readyz')).body), { timeoutMs: 10_000, intervalMs: 200 });
    assert.equal(ready.status, 200, ready.body);
    assert.match(ready.body, /health degraded: redundancy lost/);
    await assert.rejects(httpGet(cluster.nodes[2].http, '/healthz'), /ECONNREFUSED/);
  });

  test('every node killed: status says unhealthy with exit code 3; the router /readyz answers 503 with why, /healthz still 200', async () => {
    await Promise.all([cluster.kill('node-0'), cluster.kill('node-1')]);
    await waitFor('Health unhealthy', async () => (await client.health(2000)).status === 'unhealthy', { timeoutMs: 60_000, intervalMs: 100 });
    const out = await cli(['status', '--router', router]);
    assert.equal(out.code, 3, out.stderr);
    assert.match(out.stdout, /^Health: +unhealthy +coverage 0\.000\n/);
    assert.match(out.stdout, /\nShards under R=2: 4 of 4\n/);
    for (const n of ['node-0', 'node-1', 'node-2']) assert.equal(row(out.stdout, n)[2], 'unreachable');
    let ready = await httpGet(cluster.router.http, '/readyz');
    await waitFor('/readyz 503', async () => (ready = await httpGet(cluster.router.http, '/readyz')).status === 503, { timeoutMs: 10_000, intervalMs: 200 });
    assert.match(ready.body, new RegExp(`^not ready: run ${runId} is served with coverage 0\\.000 \\(not every shard has a ready replica\\): 4 of 4 shards`));
    assert.equal((await httpGet(cluster.router.http, '/healthz')).status, 200);
  });
});

describe('/readyz over a store with nothing published', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const children: ChildProcess[] = [];

  before(async () => {
    dir = await tempDir('readyz-empty');
    await mkdir(join(dir.path, 'store'));
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await dir?.remove();
  });

  test('a router and a node that serve nothing: /healthz 200, /readyz 503 naming why; status exits 3 and says so', async () => {
    const store = join(dir.path, 'store');
    const node = { id: 'node-0', address: `127.0.0.1:${await freePort()}`, http: `127.0.0.1:${await freePort()}` };
    const routerAddress = `127.0.0.1:${await freePort()}`;
    const routerHttp = `127.0.0.1:${await freePort()}`;
    const common = ['--store', store, '--nodes', `${node.id}=${node.address}`, '--poll-interval-ms', '500'];
    children.push(spawnCli(['serve', 'node', ...common, '--node-id', node.id, '--listen', node.address, '--metrics-listen', node.http, '--cache-dir', join(dir.path, 'cache')], {}, 'ignore'));
    children.push(spawnCli(['serve', 'router', ...common, '--listen', routerAddress, '--metrics-listen', routerHttp], {}, 'ignore'));
    await waitFor('both answer gRPC health', async () => (await checkHealth(node.address)) !== '' && (await checkHealth(routerAddress)) !== '', { retryOnError: true, intervalMs: 200 });
    await waitFor('both answer /healthz', async () => (await httpGet(node.http, '/healthz')).status === 200 && (await httpGet(routerHttp, '/healthz')).status === 200, { retryOnError: true, intervalMs: 200 });
    const nodeReady = await httpGet(node.http, '/readyz');
    assert.equal(nodeReady.status, 503);
    assert.match(nodeReady.body, /^not ready: .*_CURRENT/);
    const routerReady = await httpGet(routerHttp, '/readyz');
    assert.equal(routerReady.status, 503);
    assert.match(routerReady.body, /^not ready: no run is served: /);
    const out = await cli(['status', '--router', routerAddress]);
    assert.equal(out.code, 3, out.stderr);
    assert.match(out.stdout, /^Health: +unhealthy +coverage 0\.000\n {2}- no run is served: /);
    assert.match(out.stdout, /\nServed run: +none \(FAILED_PRECONDITION: /);
    const json = JSON.parse((await cli(['status', '--router', routerAddress, '--json'])).stdout) as StatusView;
    assert.equal(json.run, null);
    assert.deepEqual(json.nodes, []);
    assert.match(json.errors.SnapshotInfo ?? '', /FAILED_PRECONDITION/);
  });
});
