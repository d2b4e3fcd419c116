/**
 * Work bounds through real processes (issue 20, defect 2): a router and three shard nodes
 * (replication 2) over 8 shards of the bundled Fashion-MNIST images (10,000 x 784).
 *
 * - a valid but heavy BatchSearch (100 queries x top_k 1000 x 8 shards with vectors and payloads,
 *   about 2.6 GB of hits) is refused RESOURCE_EXHAUSTED naming --max-response-bytes before any
 *   node works, while Health stays healthy with coverage 1 and node memory stays flat;
 * - a node refuses an oversized SearchShards itself, before searching;
 * - a call a node refuses for its size is neither retried on the other replica nor counted
 *   against the node (no ejection), and the caller gets RESOURCE_EXHAUSTED, not UNAVAILABLE;
 * - one top_k 1000 Search with vectors over the 8 shards still succeeds (the default limit fits
 *   every ordinary request);
 * - a node answers Status while it searches a legal heavy load;
 * - a search whose deadline passes stops the nodes' work.
 *
 * The nodes run with --max-response-bytes 24 MiB and the router with 128 MiB (set through
 * SHARDFLEET_MAX_RESPONSE_BYTES), so that the router lets through calls a node must refuse (the
 * node's own bound is what is tested there).
 *
 * The machine running the tests may be heavily shared: assertions are about outcomes (status
 * codes, messages, counts, memory growth), never about absolute latencies.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { ShardfleetClient, type SearchParams } from '../src/client/router-client.ts';
import { freePort } from '../src/cli/free-port.ts';
import { spawnCli } from '../src/cli/local-cluster.ts';
import { waitForServing } from '../src/common/health.ts';
import { formatNodeList } from '../src/common/node-list.ts';
import { loadShardNodeProto, type ShardNodeClient } from '../src/common/proto.ts';
import type { ShardQuery } from '../src/common/proto-gen/shardfleet/v1/ShardQuery.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { encodeVector } from '../src/common/vector-codec.ts';
import { promSamples } from '../src/eval/prometheus-text.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import { buildFashionSnapshot, FASHION_IMAGES, tempDir } from './helpers/fixtures.ts';
import { waitFor } from './helpers/wait.ts';

const NODE_MAX_RESPONSE_BYTES = 24 * 1024 * 1024;
const ROUTER_MAX_RESPONSE_BYTES = 128 * 1024 * 1024;

interface MeteredProcess {
  id: string;
  address: string;
  metrics: string;
  child: ChildProcess;
}

/** A router and `numNodes` nodes as child processes, each with a /metrics endpoint. */
interface MeteredCluster {
  router: MeteredProcess;
  nodes: MeteredProcess[];
  stop(): Promise<void>;
}

/** Child stderr: 'ignore', or 'inherit' with SHARDFLEET_TEST_CHILD_STDERR=1. */
const CHILD_STDERR = process.env.SHARDFLEET_TEST_CHILD_STDERR === '1' ? 'inherit' : 'ignore';

/** Starts the cluster, on new ports again (up to 3 attempts) when a process exits during start-up (e.g. its port was taken). */
async function startMeteredCluster(store: string, dir: string, numNodes: number, replication: number): Promise<MeteredCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startMeteredOnce(store, dir, numNodes, replication);
    } catch (err) {
      if (attempt >= 3 || !String(err).includes('exited during start-up')) throw err;
    }
  }
}

async function startMeteredOnce(store: string, dir: string, numNodes: number, replication: number): Promise<MeteredCluster> {
  const nodes: Array<Omit<MeteredProcess, 'child'>> = [];
  for (let i = 0; i < numNodes; i++) nodes.push({ id: `node-${i}`, address: `127.0.0.1:${await freePort()}`, metrics: `127.0.0.1:${await freePort()}` });
  const common = ['--store', store, '--nodes', formatNodeList(nodes), '--replication', String(replication)];
  const started: MeteredProcess[] = nodes.map((n) => ({
    ...n,
    child: spawnCli(
      ['serve', 'node', ...common, '--node-id', n.id, '--listen', n.address, '--metrics-listen', n.metrics, '--cache-dir', join(dir, 'cache', n.id)],
      { SHARDFLEET_MAX_RESPONSE_BYTES: String(NODE_MAX_RESPONSE_BYTES) },
      CHILD_STDERR,
    ),
  }));
  const r = { id: 'router', address: `127.0.0.1:${await freePort()}`, metrics: `127.0.0.1:${await freePort()}` };
  const router: MeteredProcess = {
    ...r,
    child: spawnCli(['serve', 'router', ...common, '--listen', r.address, '--metrics-listen', r.metrics], { SHARDFLEET_MAX_RESPONSE_BYTES: String(ROUTER_MAX_RESPONSE_BYTES) }, CHILD_STDERR),
  };
  const all = [router, ...started];
  const stop = async (): Promise<void> => {
    await Promise.all(
      all.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.child.exitCode !== null || p.child.signalCode !== null) return resolve();
            p.child.once('exit', () => resolve());
            p.child.kill('SIGKILL');
          }),
      ),
    );
  };
  const exited = new Promise<never>((_, reject) => {
    for (const p of all) p.child.once('exit', (code, signal) => reject(new Error(`${p.id} exited during start-up (code ${code}, signal ${signal})`)));
  });
  exited.catch(() => undefined);
  try {
    await Promise.race([Promise.all(all.map((p) => waitForServing(p.address, 180_000))), exited]);
    const client = new ShardfleetClient(router.address);
    try {
      // Healthy, not just covered: every shard on its 2 ready replicas before the tests watch Health.
      await waitFor(
        'full redundancy (Health healthy)',
        async () => {
          const h = await client.health(2000);
          return h.coverage >= 1 && h.status === 'healthy';
        },
        { timeoutMs: 120_000, retryOnError: true },
      );
    } finally {
      client.close();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { router, nodes: started, stop };
}

async function scrape(address: string): Promise<string> {
  const res = await fetch(`http://${address}/metrics`);
  return res.text();
}

/** Sum of every sample of `name` (over its labels). */
function total(text: string, name: string): number {
  return promSamples(text, name).reduce((s, x) => s + x.value, 0);
}

/** Resident set size of a process, MB. */
function rssMb(child: ChildProcess): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function nodeClient(address: string): ShardNodeClient {
  const Ctor = loadShardNodeProto().shardfleet.v1.ShardNode;
  return new Ctor(address, grpc.credentials.createInsecure());
}

/** One Status call's latency, ms (rejects on error). */
function statusMs(client: ShardNodeClient, timeoutMs = 60_000): Promise<number> {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    client.Status({}, { deadline: Date.now() + timeoutMs }, (err) => (err ? reject(err) : resolve(performance.now() - t)));
  });
}

/** Polls the router's Health every 100 ms until stopped: the lowest coverage and every non-healthy status seen. */
function watchHealth(client: ShardfleetClient): { stop: () => Promise<{ minCoverage: number; bad: string[]; polls: number }> } {
  let running = true;
  const seen = { minCoverage: 1, bad: [] as string[], polls: 0 };
  const loop = (async () => {
    while (running) {
      try {
        const h = await client.health(5000);
        seen.polls += 1;
        seen.minCoverage = Math.min(seen.minCoverage, h.coverage);
        if (h.status !== 'healthy') seen.bad.push(`${h.status}: ${h.reasons.join('; ')}`);
      } catch (err) {
        seen.bad.push(`Health failed: ${String(err)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return seen;
    },
  };
}

describe('work bounds: 3 nodes, replication 2, 8 shards of Fashion-MNIST', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let cluster: MeteredCluster;
  let client: ShardfleetClient;
  let queries: Float32Array[] = [];

  before(async () => {
    dir = await tempDir('work-bounds');
    const storePath = join(dir.path, 'store');
    const store = new FileObjectStore(storePath);
    await buildFashionSnapshot(store, { limit: 10_000, numDbs: 8 });
    await store.close();
    cluster = await startMeteredCluster(storePath, dir.path, 3, 2);
    client = new ShardfleetClient(cluster.router.address, { maxMessageBytes: 256 * 1024 * 1024 });
    const images = await readIdxImages(FASHION_IMAGES, { start: 0, limit: 100 });
    queries = Array.from({ length: images.count }, (_, i) => images.vectors.slice(i * images.dim, (i + 1) * images.dim));
  });

  after(async () => {
    client?.close();
    await cluster?.stop();
    await dir?.remove();
  });

  const heavy = (n: number, extra: Partial<SearchParams> = {}): SearchParams[] =>
    queries.slice(0, n).map((vector) => ({ vector, top_k: 1000, num_probes: 8, include_vector: true, include_payload: true, ...extra }));

  test('a heavy BatchSearch (100 x top_k 1000 x 8 shards, vectors, payloads) is refused RESOURCE_EXHAUSTED naming --max-response-bytes; Health stays healthy, coverage 1, node memory flat', async () => {
    const rssBefore = cluster.nodes.map((n) => rssMb(n.child));
    const peak = [...rssBefore];
    const rssTimer = setInterval(() => cluster.nodes.forEach((n, i) => (peak[i] = Math.max(peak[i], rssMb(n.child)))), 100);
    const searchedBefore = await Promise.all(cluster.nodes.map(async (n) => total(await scrape(n.metrics), 'shardfleet_node_shard_search_seconds_count')));
    const health = watchHealth(client);
    let err: grpc.ServiceError | undefined;
    try {
      await client.batchSearch(heavy(100), 60_000).catch((e: grpc.ServiceError) => (err = e));
      // Keep watching past the router's next Status poll (every 1 s): a blocked node would show now.
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      clearInterval(rssTimer);
    }
    const seen = await health.stop();
    const growth = peak.map((p, i) => Math.round(p - rssBefore[i]));
    console.log(`# node RSS before ${rssBefore.map(Math.round).join('/')} MB, peak growth ${growth.join('/')} MB; health polls ${seen.polls}, min coverage ${seen.minCoverage}`);
    assert.ok(err, 'the heavy batch must fail');
    assert.equal(err.code, grpc.status.RESOURCE_EXHAUSTED, err.details);
    assert.match(err.details, /--max-response-bytes/);
    assert.match(err.details, /estimated 2,752,000,000 bytes/);
    assert.ok(err.details.length < 1000, 'the message is bounded');
    assert.deepEqual(seen.bad, [], 'Health stays healthy throughout');
    assert.equal(seen.minCoverage, 1, 'coverage stays 1 throughout');
    for (const n of cluster.nodes) assert.ok(alive(n.child), `${n.id} alive`);
    for (const g of growth) assert.ok(g < 150, `node RSS grew by ${g} MB (bounded: < 150 MB)`);
    const searchedAfter = await Promise.all(cluster.nodes.map(async (n) => total(await scrape(n.metrics), 'shardfleet_node_shard_search_seconds_count')));
    assert.deepEqual(searchedAfter, searchedBefore, 'no node searched anything for it');
    const routerMetrics = await scrape(cluster.router.metrics);
    assert.equal(total(routerMetrics, 'shardfleet_router_node_ejections_total'), 0, 'no node ejected');
  });

  test('a node refuses an oversized SearchShards itself, before searching, naming --max-response-bytes', async () => {
    const node = cluster.nodes[0];
    const before = total(await scrape(node.metrics), 'shardfleet_node_shard_search_seconds_count');
    const run = (await client.health()).run_id;
    const c = nodeClient(node.address);
    try {
      const shardQueries: ShardQuery[] = queries.slice(0, 100).map((v) => ({
        query: encodeVector(v),
        top_k: 1000,
        shard_ids: [0, 1, 2, 3, 4, 5, 6, 7],
        include_vector: true,
        include_payload: true,
      }));
      const err = await new Promise<grpc.ServiceError | null>((resolve) =>
        c.SearchShards({ run_id: run, queries: shardQueries }, { deadline: Date.now() + 60_000 }, (e) => resolve(e)),
      );
      assert.ok(err, 'the call must fail');
      assert.equal(err.code, grpc.status.RESOURCE_EXHAUSTED, err.details);
      assert.match(err.details, /SearchShards call of 100 queries would bring back an estimated .* over the limit of 25,165,824 bytes .*--max-response-bytes/);
      assert.ok(alive(node.child));
      await statusMs(c, 5000);
    } finally {
      c.close();
    }
    const text = await scrape(node.metrics);
    assert.equal(total(text, 'shardfleet_node_shard_search_seconds_count'), before, 'nothing was searched');
    assert.ok(total(text, 'shardfleet_node_search_calls_refused_total') >= 1);
  });

  test('a call the nodes refuse for its size is not retried on the other replica, never ejects a node, and reaches the caller as RESOURCE_EXHAUSTED', async () => {
    const metricsBefore = await scrape(cluster.router.metrics);
    const retriesBefore = total(metricsBefore, 'shardfleet_router_retries_total');
    // 3 queries x 8 shards x top_k 1000 x 3,440 bytes = 82.6 MB: under the router's 128 MiB, but
    // every node call carries 3 x (3 or more shards) x 3.44 MB > the nodes' 24 MiB.
    for (let round = 0; round < 7; round++) {
      const res = await client.batchSearch(heavy(3), 60_000);
      const failed = res.results.filter((r) => r.error_code !== 0);
      assert.ok(failed.length > 0, 'some query is refused by a node');
      for (const r of failed) {
        assert.equal(r.error_code, grpc.status.RESOURCE_EXHAUSTED, r.error_message);
        assert.match(r.error_message, /--max-response-bytes/);
      }
    }
    const metricsAfter = await scrape(cluster.router.metrics);
    assert.equal(total(metricsAfter, 'shardfleet_router_retries_total'), retriesBefore, 'no retry on another replica');
    assert.equal(total(metricsAfter, 'shardfleet_router_node_ejections_total'), 0, 'no node ejected');
    const details = await client.shardDetails();
    for (const s of details.shards) for (const r of s.replicas) assert.notEqual(r.state, 'ejected', `shard ${s.db_id} replica ${r.node_id}`);
  });

  test('one Search of top_k 1000 with vectors and payloads over the 8 shards succeeds (the default limit fits ordinary requests)', async () => {
    const res = await client.search({ vector: queries[0], top_k: 1000, num_probes: 8, include_vector: true, include_payload: true, timeout_ms: 120_000 });
    assert.equal(res.num_shards_queried, 8);
    assert.equal(res.num_shards_answered, 8);
    assert.equal(res.results.length, 1000);
    for (const h of res.results) assert.equal(h.vector.length, 784 * 4);
  });

  test('a node answers Status while it searches a legal heavy load', async () => {
    const statusClients = cluster.nodes.map((n) => nodeClient(n.address));
    let loading = true;
    const latencies: number[] = [];
    let answeredDuringLoad = 0;
    const probes = statusClients.map(async (c) => {
      while (loading) {
        const ms = await statusMs(c);
        if (loading) answeredDuringLoad += 1;
        latencies.push(ms);
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    const started = performance.now();
    try {
      // 4 concurrent top_k 1000 searches with vectors over all 8 shards: each node searches and
      // packs 1000-hit lists of 784-d vectors for seconds.
      for (let round = 0; round < 1; round++) {
        await Promise.all(
          queries.slice(round * 4, round * 4 + 4).map((vector) => client.search({ vector, top_k: 1000, num_probes: 8, include_vector: true, include_payload: true, timeout_ms: 600_000 })),
        );
      }
    } finally {
      loading = false;
    }
    const loadMs = performance.now() - started;
    await Promise.all(probes);
    for (const c of statusClients) c.close();
    const maxStatus = Math.max(...latencies);
    console.log(`# legal load ${Math.round(loadMs)} ms; Status answered ${answeredDuringLoad} times during it, max latency ${Math.round(maxStatus)} ms`);
    assert.ok(answeredDuringLoad >= 10, `Status answered ${answeredDuringLoad} times while the nodes searched`);
    assert.ok(maxStatus < loadMs / 4, `max Status latency ${Math.round(maxStatus)} ms must stay well below the load's ${Math.round(loadMs)} ms`);
  });

  test("a search whose deadline passes stops the nodes' work", async () => {
    const sum = async (name: string): Promise<number> => {
      const texts = await Promise.all(cluster.nodes.map((n) => scrape(n.metrics)));
      return texts.reduce((s, t) => s + total(t, name), 0);
    };
    const searched = (): Promise<number> => sum('shardfleet_node_shard_search_seconds_count');
    const inProgress = (): Promise<number> => sum('shardfleet_node_search_calls_in_progress');
    const cancelled = (): Promise<number> => sum('shardfleet_node_search_pieces_cancelled_total');
    const batchOf = (n: number): SearchParams[] => Array.from({ length: n }, (_, i) => ({ vector: queries[i % queries.length], top_k: 50, num_probes: 8, ef: 2000 }));
    // Calibrate on this (possibly busy) machine: how long 100 such queries take end to end.
    const t0 = performance.now();
    await client.batchSearch(batchOf(100), 600_000);
    const per100 = performance.now() - t0;
    // 8 batches of 1,000 (80 x the calibration work) with a deadline of 10 x the calibration time:
    // long enough for every call to reach the nodes, far too short to finish.
    const batches = 8;
    const batch = batchOf(1000);
    const deadlineMs = Math.max(2000, Math.round(10 * per100));
    const before = await searched();
    const cancelledBefore = await cancelled();
    const outcomes = await Promise.allSettled(Array.from({ length: batches }, () => client.batchSearch(batch, deadlineMs)));
    for (const o of outcomes) {
      assert.equal(o.status, 'rejected', 'the deadline passed first');
      assert.equal((o as PromiseRejectedResult).reason.code, grpc.status.DEADLINE_EXCEEDED);
    }
    // Wait until no node has a search call left (running or queued), then compare with the work asked.
    await waitFor('the nodes to finish or drop every search call', async () => (await inProgress()) === 0, { timeoutMs: 600_000, intervalMs: 500 });
    const done = (await searched()) - before;
    const asked = batches * batch.length * 8;
    const skipped = (await cancelled()) - cancelledBefore;
    console.log(`# 100 queries took ${Math.round(per100)} ms; deadline ${deadlineMs} ms: the nodes searched ${done} of ${asked} (query, shard) pairs; pieces cancelled ${skipped}`);
    assert.ok(done < asked / 2, `the nodes searched ${done} of ${asked} (query, shard) pairs after the deadline passed`);
    assert.ok(skipped > 0, 'the nodes counted cancelled pieces');
    for (const n of cluster.nodes) assert.ok(alive(n.child));
  });
});
