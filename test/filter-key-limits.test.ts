/**
 * Request limits through real processes (issue 20, defects 4 and 7): a local cluster (a router
 * and 3 shard nodes, replication 2) over a Fashion-MNIST snapshot with the filter column
 * `label:int`, and direct gRPC calls to a node port, as an attacker reaching the (by default
 * unauthenticated) node would make them.
 * - A deeply nested filter (`!` x 2,000 / 4,000) through the router is INVALID_ARGUMENT naming
 *   `--max-filter-depth`; sent 12+ times it ejects no node, the router stays healthy.
 * - A node refusing a query INVALID_ARGUMENT (here: nodes started with a lower depth limit than
 *   the router) makes the caller's call INVALID_ARGUMENT, with no retry on another replica and no
 *   ejection.
 * - Straight to a node: deep filter JSON, `in` of 10^6 values, an OR of 10^5 terms, 10^5 keys,
 *   20,000 fake run leases (refused before decoding), a 1 MB key: each refused naming the limit, and
 *   the node's Status keeps answering. Legal filters, keys and leases still work.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { ShardfleetClient } from '../src/client/router-client.ts';
import { freePort } from '../src/cli/free-port.ts';
import type { LocalCluster } from '../src/cli/local-cluster.ts';
import { unaryCall } from '../src/common/grpc-status.ts';
import { loadShardNodeProto, type ShardNodeClient } from '../src/common/proto.ts';
import type { SearchShardsResponse__Output } from '../src/common/proto-gen/shardfleet/v1/SearchShardsResponse.ts';
import type { ShardQuery } from '../src/common/proto-gen/shardfleet/v1/ShardQuery.ts';
import type { StatusResponse__Output } from '../src/common/proto-gen/shardfleet/v1/StatusResponse.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { encodeVector } from '../src/common/vector-codec.ts';
import { buildSnapshot } from '../src/writer/build-snapshot.ts';
import { openIdxSource, readIdxImages } from '../src/writer/input/idx-source.ts';
import { FASHION_IMAGES, FASHION_LABELS, quietLogger, tempDir } from './helpers/fixtures.ts';
import { isGrpcStatus } from './helpers/grpc-assert.ts';
import { closeAll, serveStore } from './helpers/served-cluster.ts';
import { waitFor } from './helpers/wait.ts';

/** The nodes' depth limit in this cluster, below the router's default (64): a misconfiguration the router must survive. */
const NODE_MAX_DEPTH = 32;

type NodeMethod = 'SearchShards' | 'Status';

function nodeClient(address: string): ShardNodeClient {
  const Ctor = loadShardNodeProto().shardfleet.v1.ShardNode;
  return new Ctor(address, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 * 1024 * 1024, 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
}

function callNode<T>(client: ShardNodeClient, method: NodeMethod, request: object): Promise<T> {
  const fn = client[method].bind(client) as unknown as Parameters<typeof unaryCall<object, T>>[0];
  return unaryCall(fn, request, { deadline: Date.now() + 60_000 });
}

/** Router metrics text (Prometheus exposition). */
async function metricsText(address: string): Promise<string> {
  return (await fetch(`http://${address}/metrics`)).text();
}

/** The sum of a metric's samples (every label set), 0 when absent. */
function counterSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m?.[1] === name) sum += Number(m[3]);
  }
  return sum;
}

describe('request limits on routers and on node ports (real processes)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: FileObjectStore;
  let cluster: LocalCluster;
  let client: ShardfleetClient;
  let metricsAddress: string;
  let node: ShardNodeClient;
  let runId: string;
  let query: Float32Array;

  before(async () => {
    dir = await tempDir('filter-key-limits');
    store = new FileObjectStore(join(dir.path, 'store'));
    const built = await buildSnapshot({
      store,
      source: await openIdxSource({ imagesPath: FASHION_IMAGES, labelsPath: FASHION_LABELS, limit: 1000 }),
      sharding: { strategy: 'cluster', numDbs: 4, numProbes: 4 },
      filterColumns: [{ name: 'label', type: 'int' }],
      metric: 'l2',
      seed: 7,
      progress: false,
      log: quietLogger(),
    });
    runId = built.manifest.run_id;
    query = (await readIdxImages(FASHION_IMAGES, { start: 9500, limit: 1 })).vectors;
    metricsAddress = `127.0.0.1:${await freePort()}`;
    ({ cluster, client } = await serveStore(join(dir.path, 'store'), dir.path, {
      numNodes: 3,
      replication: 2,
      routerArgs: ['--status-poll-ms', '200', '--metrics-listen', metricsAddress],
      nodeArgs: ['--max-filter-depth', String(NODE_MAX_DEPTH)],
    }));
    node = nodeClient(cluster.nodes[0].address);
    // The router serves once every shard has a ready replica; the tests below also want every
    // replica ready in its view (a node slow to start on a loaded machine was still "unreachable").
    await waitFor('the router to see every replica ready', async () => (await client.health()).status === 'healthy');
  });
  after(async () => {
    node?.close();
    await closeAll({ client, cluster, store, dir });
  });

  /** Status of every node answers, and the router is healthy with no node ejected. */
  async function assertClusterWell(): Promise<void> {
    for (const n of cluster.nodes) {
      const c = nodeClient(n.address);
      try {
        const status = await callNode<StatusResponse__Output>(c, 'Status', {});
        assert.equal(status.node_id, n.id);
      } finally {
        c.close();
      }
    }
    const health = await client.health();
    assert.equal(health.status, 'healthy', (health.reasons ?? []).join('; '));
    const text = await metricsText(metricsAddress);
    assert.equal(counterSum(text, 'shardfleet_router_node_ejections_total'), 0, 'no node was ejected');
  }

  test('legal filters still work through the router (nested, in, or)', async () => {
    for (const filter of ['label == 1', `${'!'.repeat(20)}(label == 1)`, 'label in [1, 2, 3] || !(label > 5)', `${'('.repeat(20)}label == 2${')'.repeat(20)}`]) {
      const res = await client.search({ vector: query, top_k: 5, filter });
      assert.equal(res.results.length, 5, filter);
      assert.equal(res.partial, false, filter);
    }
  });

  test('a filter of 2,000 or 4,000 "!" through the router: INVALID_ARGUMENT naming --max-filter-depth, 12+ times, no node ejected', async () => {
    for (let i = 0; i < 14; i++) {
      const bangs = i % 2 === 0 ? 2000 : 4000;
      await assert.rejects(
        client.search({ vector: query, top_k: 5, filter: `${'!'.repeat(bangs)}(label == 1)` }),
        isGrpcStatus(grpc.status.INVALID_ARGUMENT, new RegExp(`filter nests (more than )?\\d+ levels deep; at most 64 \\(--max-filter-depth\\)`)),
      );
    }
    // Route compiles the filter the same way.
    await assert.rejects(client.route({ vector: query, filter: `${'!'.repeat(4000)}(label == 1)` }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /--max-filter-depth/));
    await assertClusterWell();
  });

  test('a query a node refuses INVALID_ARGUMENT is INVALID_ARGUMENT to the caller, not retried, not counted against the node', async () => {
    const before = await metricsText(metricsAddress);
    // 40 levels: within the router's limit (64), over the nodes' (32).
    const filter = `${'!'.repeat(40)}(label == 1)`;
    for (let i = 0; i < 12; i++) {
      await assert.rejects(
        client.search({ vector: query, top_k: 5, filter }),
        isGrpcStatus(grpc.status.INVALID_ARGUMENT, new RegExp(`a shard node refused the request: node node-\\d+: INVALID_ARGUMENT: query 0: filter nests 41 levels deep; at most ${NODE_MAX_DEPTH} \\(--max-filter-depth\\)`)),
      );
    }
    const after = await metricsText(metricsAddress);
    assert.equal(counterSum(after, 'shardfleet_router_retries_total'), counterSum(before, 'shardfleet_router_retries_total'), 'no retry on another replica');
    assert.equal(counterSum(after, 'shardfleet_router_hedges_total'), counterSum(before, 'shardfleet_router_hedges_total'), 'no hedge');
    await assertClusterWell();
  });

  /** One SearchShards query on shard 0 with `filter` (JSON) or `keys`. */
  function shardQuery(extra: Partial<ShardQuery>): ShardQuery {
    return { query: encodeVector(query), top_k: 5, shard_ids: [0], include_payload: false, ...extra };
  }

  async function assertNodeRefuses(request: object, method: NodeMethod, pattern: RegExp): Promise<void> {
    await assert.rejects(callNode(node, method, request), isGrpcStatus(grpc.status.INVALID_ARGUMENT, pattern));
    const status = await callNode<StatusResponse__Output>(node, 'Status', {});
    assert.equal(status.node_id, cluster.nodes[0].id, 'the node answers Status after the refusal');
  }

  test('straight to a node: deep filter JSON is INVALID_ARGUMENT and the node lives', async () => {
    for (const depth of [2000, 100_000]) {
      const json = '{"op":"not","arg":'.repeat(depth) + '{"op":"cmp","column":"label","cmp":"==","value":1}' + '}'.repeat(depth);
      await assertNodeRefuses({ run_id: runId, queries: [shardQuery({ filter: json })] }, 'SearchShards', /query 0: compiled filter nests more than 64 JSON levels deep .*\(--max-filter-depth\)|query 0: compiled filter is \d+ characters long.*\(--max-filter-length\)/);
    }
  });

  test('straight to a node: "in" of 10^6 values and an OR of 10^5 terms are INVALID_ARGUMENT naming the limit', async () => {
    const values = (n: number): string => JSON.stringify({ op: 'in', column: 'label', values: Array.from({ length: n }, (_, i) => i) });
    const or = (n: number): string => JSON.stringify({ op: 'or', args: Array.from({ length: n }, (_, i) => ({ op: 'cmp', column: 'label', cmp: '==', value: i })) });
    const search = (filter: string): object => ({ run_id: runId, queries: [shardQuery({ filter })] });
    await assertNodeRefuses(search(values(1_000_000)), 'SearchShards', /query 0: compiled filter is \d+ characters long .*; at most 4096 \(--max-filter-length\)/);
    await assertNodeRefuses(search(values(5000)), 'SearchShards', /query 0: filter lists 5000 "in" values; at most 1024 \(--max-filter-in-values\)/);
    await assertNodeRefuses(search(or(100_000)), 'SearchShards', /query 0: compiled filter is \d+ characters long .*\(--max-filter-length\)/);
    await assertNodeRefuses(search(or(3000)), 'SearchShards', /query 0: filter has 3001 terms; at most 1024 \(--max-filter-terms\)/);
    // Legal: a filter within every limit answers.
    const ok = await callNode<SearchShardsResponse__Output>(node, 'SearchShards', search(values(100)));
    assert.equal(ok.shards[0]?.error, '');
  });

  test('straight to a node: 10^5 keys and a 1 MB key are INVALID_ARGUMENT naming the limit; legal keys work', async () => {
    const keys = Array.from({ length: 100_000 }, (_, i) => Buffer.from(String(i)));
    await assertNodeRefuses({ run_id: runId, queries: [shardQuery({ keys })] }, 'SearchShards', /query 0 looks up 100000 keys; at most 1000 \(--max-get-keys\)/);
    await assertNodeRefuses({ run_id: runId, queries: [shardQuery({ keys: [Buffer.alloc(1 << 20, 0x61)] })] }, 'SearchShards', /query 0: key 0 is 1048576 bytes long; at most 65536 \(--max-key-bytes\)/);
    // Many queries of 1,000 keys each on one shard: over the per-shard allowance of the call.
    const many = Array.from({ length: 100 }, () => shardQuery({ keys: keys.slice(0, 1000) }));
    await assertNodeRefuses({ run_id: runId, queries: many }, 'SearchShards', /the call looks up 100000 \(key, shard\) pairs over 1 shard\(s\) of the run; at most 1000 per shard \(--max-get-keys\)/);
    const ok = await callNode<SearchShardsResponse__Output>(node, 'SearchShards', { run_id: runId, queries: [shardQuery({ keys: keys.slice(0, 1000) })] });
    assert.equal(ok.shards[0]?.error, '');
  });

  test('through the router: a 1 MB key is INVALID_ARGUMENT naming --max-key-bytes; legal MultiGet works', async () => {
    await assert.rejects(client.multiGet({ keys: ['1', 'x'.repeat(1 << 20)] }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /keys\[1\] is 1048576 bytes long; at most 65536 \(--max-key-bytes\)/));
    await assert.rejects(client.get({ key: 'y'.repeat(70_000) }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /^key is 70000 bytes long; at most 65536 \(--max-key-bytes\)$/));
    const res = await client.multiGet({ keys: ['1', '2', '999', 'no-such-id'] });
    assert.deepEqual(
      res.results.map((r) => r.found),
      [true, true, true, false],
    );
    await assertClusterWell();
  });

  test('straight to a node: 20,000 fake run leases are refused before decoding; 100 distinct ones are INVALID_ARGUMENT naming --max-run-leases; repeated leases are deduplicated', async () => {
    const fake = Array.from({ length: 20_000 }, (_, i) => ({ run_id: `fake-${i}`, manifest_key: `manifests/2020-01-01T00-00-00Z_run_id=fake-${i}/manifest.json` }));
    // 1.5 MB of leases: over the Status message's byte limit (wire-limits.ts), refused before any is decoded.
    await assert.rejects(
      callNode(node, 'Status', { router_id: 'attacker', run_leases: fake, lease_ttl_ms: 3_600_000 }),
      isGrpcStatus(grpc.status.RESOURCE_EXHAUSTED, /ShardNode\/Status: the request message is \d+ bytes; this method accepts at most 1048576/),
    );
    const alive = await callNode<StatusResponse__Output>(node, 'Status', {});
    assert.equal(alive.node_id, cluster.nodes[0].id, 'the node answers Status after the refusal');
    await assertNodeRefuses({ router_id: 'attacker', run_leases: fake.slice(0, 100), lease_ttl_ms: 3_600_000 }, 'Status', /the call carries 100 distinct run leases; at most 16 \(--max-run-leases\)/);
    // 1,000 entries naming the same 2 runs: 2 distinct leases, accepted.
    const repeated = Array.from({ length: 1000 }, (_, i) => fake[i % 2]);
    const status = await callNode<StatusResponse__Output>(node, 'Status', { router_id: 'repeater', run_leases: repeated, lease_ttl_ms: 1000 });
    assert.equal(status.node_id, cluster.nodes[0].id);
    await assertClusterWell();
  });
});
