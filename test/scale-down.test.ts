/**
 * Nodes leaving and joining in numbers, through real processes, under a closed loop of searches
 * that probe every shard (so any shard without a ready replica fails a query):
 *
 * - 4 -> 2 nodes with replication 2, the two leaving nodes being the owners of one shard (that
 *   shard has both replicas on them): SIGTERM both at once while DNS still lists them, remove
 *   them from DNS 0.5 s later (the order Kubernetes follows), while the staying nodes load slowly
 *   (the store is behind a proxy that delays every response by 2.5 s). 0 failed searches; the
 *   leaving processes exit on their own once the new owners are ready.
 * - 2 -> 4 nodes at once, `--run-grace-ms 3000`, the joiners owning both replicas of one shard and
 *   loading slowly (same proxy): the old owners keep that shard until the joiners have it ready.
 *   0 failed searches.
 * - `dns:localhost:<port>` membership resolves through /etc/hosts (the system resolver); a `dns:`
 *   name that stops resolving keeps the last membership, searches keep working and router Health
 *   is degraded naming the membership.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { join } from 'node:path';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { freePort } from '../src/cli/free-port.ts';
import { spawnCli } from '../src/cli/local-cluster.ts';
import type { Manifest } from '../src/common/manifest.ts';
import { placeRun } from '../src/common/placement.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import { buildFashionSnapshot, FASHION_IMAGES, tempDir } from './helpers/fixtures.ts';
import { TestDnsServer } from './helpers/dns-server.ts';
import { startS3rver, type S3rverHandle } from './helpers/s3rver.ts';
import { startSlowProxy, type SlowProxy } from './helpers/slow-proxy.ts';
import { waitFor } from './helpers/wait.ts';

const SRV = '_grpc._tcp.nodes.test';
const NUM_DBS = 6;
const NODE_IDS = ['node-a', 'node-b', 'node-c', 'node-d'];
/** Delay the store proxy adds to every response while nodes move shards, ms. */
const SLOW_MS = 2500;
const STDERR = process.env.SCALE_DOWN_TEST_LOGS === '1' ? 'inherit' : 'ignore';

/** A closed loop of searches probing every shard; counts answers and failures. */
class SearchLoop {
  ok = 0;
  failed = 0;
  readonly errors: string[] = [];
  private stopped = false;
  private readonly workers: Promise<void>[] = [];

  constructor(
    private readonly client: ShardfleetClient,
    private readonly queries: Float32Array[],
    concurrency = 2,
  ) {
    for (let w = 0; w < concurrency; w++) this.workers.push(this.work(w));
  }

  private async work(w: number): Promise<void> {
    for (let i = w; !this.stopped; i++) {
      try {
        const res = await this.client.search({ vector: this.queries[i % this.queries.length], top_k: 5, num_probes: NUM_DBS, timeout_ms: 10_000 });
        if (res.num_shards_answered === NUM_DBS && res.results.length === 5) this.ok += 1;
        else this.fail(`answered ${res.num_shards_answered} of ${NUM_DBS} shards, ${res.results.length} hits`);
      } catch (err) {
        this.fail(err instanceof Error ? err.message : String(err));
      }
    }
  }

  private fail(why: string): void {
    this.failed += 1;
    if (this.errors.length < 5) this.errors.push(why);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.workers);
  }

  describe(): string {
    return `${this.failed} of ${this.ok + this.failed} searches failed: ${this.errors.join(' | ')}`;
  }
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('scale-down and scale-up under load with real processes (DNS SRV membership, S3 store)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let dns: TestDnsServer;
  let s3: S3rverHandle;
  let proxy: SlowProxy;
  let storeUrl: string;
  let client: ShardfleetClient;
  let queries: Float32Array[];
  const children = new Map<string, ChildProcess>();
  const ports = new Map<string, number>();
  /** The served run's manifest (placement is computed from its shards' bytes, as routers and nodes do). */
  let manifest: Manifest;
  /** The owners of shard 0 with four nodes: they leave (and later join) together. */
  let movers: string[];
  let stayers: string[];
  let generation = 0;

  const publish = (ids: readonly string[]): void => {
    dns.set(SRV, { srv: ids.map((id) => ({ port: ports.get(id)!, target: `${id}.nodes.test` })) });
  };
  const startNode = async (id: string): Promise<void> => {
    ports.set(id, await freePort());
    dns.set(`${id}.nodes.test`, { a: ['127.0.0.1'] });
    const args = [
      'serve', 'node', '--store', storeUrl, '--nodes', `dns+srv:${SRV}`, '--dns-server', dns.address, '--membership-refresh-ms', '200',
      '--poll-interval-ms', '1000', '--replication', '2', '--node-id', id, '--listen', `127.0.0.1:${ports.get(id)}`,
      '--cache-dir', join(dir.path, 'cache', `${id}-${generation++}`), '--run-grace-ms', '3000',
    ];
    // The nodes reach the store through the slow proxy.
    // (--leave-timeout-ms as its variable: a build without the flag ignores it.)
    const env = { ...s3.env, AWS_ENDPOINT_URL_S3: proxy.endpoint, GRPC_NODE_USE_ALTERNATIVE_RESOLVER: 'true', SHARDFLEET_LEAVE_TIMEOUT_MS: '90000' };
    children.set(id, spawnCli(args, env, STDERR));
  };
  /** Every shard has exactly its placement owners over `ids` as replicas, all loaded, and Health is healthy. */
  const settledOn = async (ids: readonly string[]): Promise<boolean> => {
    const details = await client.shardDetails();
    const placement = placeRun(manifest, ids, 2);
    const health = await client.health();
    return (
      health.status === 'healthy' &&
      details.shards.every((s) => {
        const replicas = s.replicas.map((r) => `${r.node_id}:${r.state}`).sort();
        const want = (placement.get(s.db_id) ?? []).map((n) => `${n}:loaded`).sort();
        return replicas.join() === want.join();
      })
    );
  };
  /**
   * Waits (`what`, up to `settleTimeoutMs` ms) until the cluster has settled on `ids`, then until
   * `loop` has answered 10 more searches (up to 30 s).
   */
  const settleAndSearch = async (loop: SearchLoop, what: string, ids: readonly string[], settleTimeoutMs: number): Promise<void> => {
    await waitFor(what, () => settledOn(ids), { retryOnError: true, intervalMs: 250, timeoutMs: settleTimeoutMs });
    const before = loop.ok;
    await waitFor('more searches', () => loop.ok >= before + 10, { timeoutMs: 30_000 });
  };
  /**
   * Runs `body`, then, whatever it did, stops `loop` and the proxy's delay. Returns what `body`
   * threw (undefined when it did not), for the caller to throw after its own assertions.
   */
  const runThenStop = async (loop: SearchLoop, body: () => Promise<void>): Promise<unknown> => {
    let settled: unknown;
    try {
      await body();
    } catch (err) {
      settled = err;
    }
    await loop.stop();
    proxy.delayMs = 0;
    return settled;
  };

  before(async () => {
    dir = await tempDir('scale-down');
    dns = await TestDnsServer.start();
    s3 = await startS3rver();
    proxy = await startSlowProxy(Number(new URL(s3.endpoint).port));
    storeUrl = s3.url('snapshots/scale');
    const store = openObjectStore(storeUrl, s3.connection);
    const built = await buildFashionSnapshot(store, { limit: 1200, numDbs: NUM_DBS, numProbes: 2 });
    await store.close();
    queries = [];
    for (const start of [9500, 9501, 9502, 9503]) queries.push((await readIdxImages(FASHION_IMAGES, { start, limit: 1 })).vectors);
    manifest = built.manifest;
    movers = placeRun(manifest, NODE_IDS, 2).get(0)!;
    stayers = NODE_IDS.filter((id) => !movers.includes(id));
    for (const id of NODE_IDS) await startNode(id);
    publish(NODE_IDS);
    const routerAddress = `127.0.0.1:${await freePort()}`;
    const routerArgs = ['serve', 'router', '--store', storeUrl, '--nodes', `dns+srv:${SRV}`, '--dns-server', dns.address, '--membership-refresh-ms', '200'];
    routerArgs.push('--poll-interval-ms', '1000', '--replication', '2', '--listen', routerAddress, '--status-poll-ms', '200');
    children.set('router', spawnCli(routerArgs, { ...s3.env, GRPC_NODE_USE_ALTERNATIVE_RESOLVER: 'true' }, STDERR));
    client = new ShardfleetClient(routerAddress);
    await waitFor('4 nodes serving every shard twice', () => settledOn(NODE_IDS), { retryOnError: true, intervalMs: 250, timeoutMs: 120_000 });
  });
  after(async () => {
    client?.close();
    for (const c of children.values()) c.kill('SIGKILL');
    await proxy?.close();
    await s3?.stop();
    await dns?.close();
    await dir?.remove();
  });

  test('4 -> 2 nodes: both owners of a shard get SIGTERM at once, then leave DNS; 0 failed searches', async (t) => {
    const loop = new SearchLoop(client, queries);
    await waitFor('searches flowing', () => loop.ok >= 20, { timeoutMs: 30_000 });
    proxy.delayMs = SLOW_MS;
    const leaving = movers.map((id) => children.get(id)!);
    const exits = leaving.map(exited);
    for (const child of leaving) child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 500));
    publish(stayers);
    const codes = await Promise.all(exits);
    const settled = await runThenStop(loop, () => settleAndSearch(loop, '2 nodes serving every shard twice', stayers, 120_000));
    t.diagnostic(`leaving: ${movers.join(', ')}; exit codes ${codes.join(', ')}; ${loop.ok} searches answered, ${loop.failed} failed`);
    assert.deepEqual(codes, [0, 0], 'the leaving nodes exit on their own, cleanly');
    assert.equal(loop.failed, 0, loop.describe());
    assert.ok(loop.ok > 0);
    if (settled !== undefined) throw settled;
  });

  test('2 -> 4 nodes at once with --run-grace-ms 3000 and slow joiners: 0 failed searches', async (t) => {
    // The joiners own both replicas of shard 0 with four nodes; the stayers hold it until then.
    proxy.delayMs = SLOW_MS;
    for (const id of movers) await startNode(id);
    const loop = new SearchLoop(client, queries);
    const settled = await runThenStop(loop, async () => {
      await waitFor('searches flowing', () => loop.ok >= 20, { timeoutMs: 30_000 });
      publish(NODE_IDS);
      await settleAndSearch(loop, '4 nodes serving every shard twice again', NODE_IDS, 180_000);
    });
    t.diagnostic(`joining: ${movers.join(', ')}; ${loop.ok} searches answered, ${loop.failed} failed`);
    assert.equal(loop.failed, 0, loop.describe());
    assert.ok(loop.ok > 0);
    if (settled !== undefined) throw settled;
  });
});

describe('dns: membership through real processes', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let dns: TestDnsServer;
  const children: ChildProcess[] = [];
  const clients: ShardfleetClient[] = [];
  let query: Float32Array;
  let localhostIsV4Only = false;

  before(async () => {
    dir = await tempDir('dns-address');
    dns = await TestDnsServer.start();
    const storeDir = join(dir.path, 'store');
    const store = new FileObjectStore(storeDir);
    await buildFashionSnapshot(store, { limit: 600, numDbs: 3, numProbes: 3 });
    await store.close();
    query = (await readIdxImages(FASHION_IMAGES, { start: 9500, limit: 1 })).vectors;
    const answers = await lookup('localhost', { all: true }).catch(() => []);
    localhostIsV4Only = answers.length === 1 && answers[0].address === '127.0.0.1';
    const port = await freePort();
    dns.set('nodes.test', { a: ['127.0.0.1'] });
    const common = ['--store', storeDir, '--membership-refresh-ms', '200', '--poll-interval-ms', '500'];
    children.push(
      spawnCli(['serve', 'node', ...common, '--nodes', `dns:localhost:${port}`, '--node-id', `127.0.0.1:${port}`, '--listen', `127.0.0.1:${port}`, '--cache-dir', join(dir.path, 'cache')], {}, STDERR),
    );
    for (const nodes of [`dns:localhost:${port}`, `dns:nodes.test:${port}`]) {
      const address = `127.0.0.1:${await freePort()}`;
      const extra = nodes.includes('nodes.test') ? ['--dns-server', dns.address] : [];
      children.push(spawnCli(['serve', 'router', ...common, '--nodes', nodes, ...extra, '--listen', address, '--status-poll-ms', '200'], {}, STDERR));
      clients.push(new ShardfleetClient(address));
    }
  });
  after(async () => {
    for (const c of clients) c.close();
    for (const c of children) c.kill('SIGKILL');
    await dns?.close();
    await dir?.remove();
  });

  test('dns:localhost:<port> resolves through /etc/hosts (the system resolver)', async (t) => {
    if (!localhostIsV4Only) {
      t.skip('localhost does not resolve to 127.0.0.1 alone here');
      return;
    }
    const [router] = clients;
    await waitFor('the router over dns:localhost healthy', async () => (await router.health()).status === 'healthy', { retryOnError: true, intervalMs: 200, timeoutMs: 120_000 });
    const res = await router.search({ vector: query, top_k: 5, num_probes: 3 });
    assert.equal(res.num_shards_answered, 3);
  });

  test('a dns: name that stops resolving keeps the last membership; Health says so', async () => {
    const router = clients[1];
    await waitFor('the router over dns:nodes.test healthy', async () => (await router.health()).status === 'healthy', { retryOnError: true, intervalMs: 200, timeoutMs: 120_000 });
    dns.set('nodes.test', undefined); // NXDOMAIN from now on
    await waitFor(
      'Health naming the membership',
      async () => (await router.health()).reasons.some((r) => r.includes('node membership') && r.includes('resolves to no node')),
      { retryOnError: true, intervalMs: 200, timeoutMs: 120_000 },
    );
    const health = await router.health();
    assert.equal(health.status, 'degraded');
    for (let i = 0; i < 10; i++) {
      const res = await router.search({ vector: query, top_k: 5, num_probes: 3 });
      assert.equal(res.num_shards_answered, 3);
    }
  });
});
