/**
 * Every sharding strategy x every backend through real processes: build a Fashion-MNIST snapshot
 * (3,000 images with labels) with CLUSTER (balanced), LSH, EXPLICIT (shard id = label) or CEL
 * (direct `label % 4`, categorical on `label_name`) or HASH (xxh3_64 of the id: every query
 * probes every shard), into LanceDB or sqlite-vec shards; start a
 * router and two shard nodes as child processes; and check that each answer equals exact brute
 * force over the vectors of the shards the router probed, that queries reach the shard their
 * strategy names, and that badly routed queries fail with INVALID_ARGUMENT.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { startLocalCluster, type LocalCluster } from '../src/cli/local-cluster.ts';
import { canonicalKeyBytes, shardOfKey } from '../src/common/routing/key-hash-routing.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import type { BackendOptions, ShardingOptions } from '../src/writer/build-options.ts';
import { buildSnapshot, type BuildResult } from '../src/writer/build-snapshot.ts';
import { openVectorSource, type OpenVectorSourceOptions } from '../src/writer/input/open-vector-source.ts';
import { assertMatchesBruteForce, groundTruthOf, type GroundTruth } from './helpers/cluster-checks.ts';
import { FASHION_IMAGES, FASHION_LABELS, quietLogger, tempDir } from './helpers/fixtures.ts';
import { isGrpcStatus } from './helpers/grpc-assert.ts';

const BASE = 3000;
const QUERIES = { start: 9000, limit: 15 };
const LABEL_NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

interface Case {
  name: string;
  sharding: ShardingOptions;
  columns: Pick<OpenVectorSourceOptions, 'routingColumns' | 'shardIdColumn'>;
  /** The search parameters for a query with this label, and the shards it must probe (if fixed). */
  query(label: number): { num_probes?: number; shard_ids?: number[]; routing_context?: Record<string, string | number>; expect?: number[] };
  /** A badly routed query and the error it must give. */
  bad?: Array<{ params: { num_probes?: number; shard_ids?: number[]; routing_context?: Record<string, string | number> }; pattern: RegExp }>;
}

const CASES: Case[] = [
  {
    name: 'cluster --balanced 1.1',
    sharding: { strategy: 'cluster', numDbs: 4, numProbes: 2, balanceFactor: 1.1 },
    columns: {},
    query: () => ({ num_probes: 2 }),
    bad: [{ params: { routing_context: { label: 3 } }, pattern: /routing_context \(column "label"\) is only read by CEL-sharded snapshots; this snapshot uses cluster sharding/ }],
  },
  {
    name: 'lsh (centred, query-directed probing)',
    sharding: { strategy: 'lsh', numDbs: 4, numProbes: 2 },
    columns: {},
    query: () => ({ num_probes: 3 }),
    bad: [{ params: { routing_context: { label: 3 } }, pattern: /this snapshot uses lsh sharding/ }],
  },
  {
    name: 'explicit (shard_id = label)',
    sharding: { strategy: 'explicit', numDbs: 10 },
    columns: { shardIdColumn: 'label' },
    query: (label) => ({ shard_ids: [label, (label + 1) % 10], expect: [label, (label + 1) % 10] }),
    bad: [
      { params: {}, pattern: /explicit sharding: pass shard_ids/ },
      { params: { shard_ids: [1], routing_context: { label: 1 } }, pattern: /this snapshot uses explicit sharding: leave routing_context empty/ },
    ],
  },
  {
    name: 'cel direct (label % 4)',
    sharding: { strategy: 'cel', numDbs: 4, celExpr: 'label % 4', celColumns: { label: 'int' } },
    columns: { routingColumns: ['label'] },
    query: (label) => ({ routing_context: { label }, expect: [label % 4] }),
    bad: [
      { params: { routing_context: { label: 1 }, num_probes: 2 }, pattern: /num_probes 2 is not supported by the cel strategy/ },
      { params: { routing_context: { label: 1, lable: 2 } }, pattern: /routing_context column "lable" is not used by CEL expression "label % 4" \(its columns: label \(int\)\)/ },
    ],
  },
  {
    name: 'cel categorical (label_name)',
    sharding: { strategy: 'cel', celExpr: 'label_name', celColumns: { label_name: 'string' }, routingValues: LABEL_NAMES },
    columns: { routingColumns: ['label_name'] },
    query: (label) => ({ routing_context: { label_name: LABEL_NAMES[label] }, expect: [label] }),
    bad: [{ params: { routing_context: { label_name: 'Hat' } }, pattern: /Hat/ }],
  },
  {
    name: 'hash (xxh3_64 of the id, every shard probed)',
    sharding: { strategy: 'hash', numDbs: 4 },
    columns: {},
    query: (label) => (label % 2 === 0 ? { expect: [0, 1, 2, 3] } : { num_probes: 4, expect: [0, 1, 2, 3] }),
    bad: [
      { params: { num_probes: 2 }, pattern: /num_probes 2 is not supported by the hash strategy: a hash-sharded snapshot probes every shard/ },
      { params: { routing_context: { label: 3 } }, pattern: /this snapshot uses hash sharding: leave routing_context empty/ },
    ],
  },
];

const BACKENDS: BackendOptions[] = [{ backend: 'lancedb' }, { backend: 'sqlite-vec' }];

async function openSource(columns: Case['columns'], range: { start?: number; limit: number }) {
  return openVectorSource({ format: 'idx', path: FASHION_IMAGES, labelsPath: FASHION_LABELS, ...range, ...columns });
}

/** A snapshot built from the first BASE images, served by a router and 2 nodes as processes. */
interface ServedSnapshot {
  built: BuildResult;
  truth: GroundTruth;
  client: ShardfleetClient;
  stop(): Promise<void>;
}

async function buildAndServe(columns: Case['columns'], sharding: ShardingOptions, backend: BackendOptions): Promise<ServedSnapshot> {
  const dir = await tempDir('strategies');
  const storeUrl = join(dir.path, 'store');
  const store = openObjectStore(storeUrl);
  let cluster: LocalCluster | undefined;
  try {
    const built = await buildSnapshot({
      store,
      source: await openSource(columns, { limit: BASE }),
      sharding,
      backend,
      metric: 'l2',
      seed: 11,
      concurrency: 2,
      progress: false,
      log: quietLogger(),
    });
    const truth = await groundTruthOf(store, built.manifest, await openSource(columns, { limit: BASE }));
    cluster = await startLocalCluster({ store: storeUrl, numNodes: 2, cacheDir: join(dir.path, 'cache'), stderr: 'ignore' });
    const client = new ShardfleetClient(cluster.routerAddress);
    const running = cluster;
    return {
      built,
      truth,
      client,
      stop: async () => {
        client.close();
        await running.stop();
        await store.close();
        await dir.remove();
      },
    };
  } catch (err) {
    await cluster?.stop();
    await store.close();
    await dir.remove();
    throw err;
  }
}

for (const backend of BACKENDS) {
  for (const c of CASES) {
    describe(`${c.name} x ${backend.backend}: router + 2 shard nodes as processes`, () => {
      let served: ServedSnapshot;
      let built: BuildResult;
      let truth: GroundTruth;
      let client: ShardfleetClient;

      before(async () => {
        served = await buildAndServe(c.columns, c.sharding, backend);
        ({ built, truth, client } = served);
      });
      after(async () => {
        await served?.stop();
      });

      test('the manifest records the strategy and backend, and every vector is in one shard', async () => {
        const m = built.manifest;
        assert.equal(m.sharding.strategy, c.sharding.strategy);
        assert.equal(m.index.backend, backend.backend);
        assert.equal(m.shards.reduce((s, sh) => s + sh.vector_count, 0), BASE);
        const info = await client.snapshotInfo();
        assert.equal(info.strategy, c.sharding.strategy);
        assert.equal(info.backend, backend.backend);
        assert.equal(info.run_id, m.run_id);
        if (c.sharding.strategy === 'cluster') {
          const max = Math.max(...m.shards.map((s) => s.vector_count));
          assert.ok(max <= Math.ceil((1.1 * BASE) / 4), `balanced: largest shard ${max} exceeds 1.1 x mean`);
        }
      });

      test('answers equal brute force over the probed shards, which are the ones the strategy names', async () => {
        const queries = await openSource(c.columns, QUERIES);
        let n = 0;
        for await (const record of queries.records()) {
          const label = (record.payload as { label: number }).label;
          const { expect, ...params } = c.query(label);
          const res = await client.search({ vector: record.vector, top_k: 10, ...params });
          if (expect) assert.deepEqual(res.shard_ids, expect, `query ${n}: probed shards`);
          if (params.num_probes) assert.equal(res.shard_ids.length, params.num_probes);
          assert.equal(res.run_id, built.runId);
          assertMatchesBruteForce(truth, record.vector, res, 10, 'l2', `query ${n}`);
          assert.ok(res.results.length > 0, `query ${n}: no results`);
          n++;
        }
        assert.equal(n, QUERIES.limit);
      });

      if (c.sharding.strategy === 'hash') {
        test('hash: each shard holds exactly the ids whose key hash names it; Route names every shard', async () => {
          const numDbs = built.manifest.sharding.num_dbs;
          truth.rowsOfShard.forEach((rows, dbId) => {
            for (const row of rows) assert.equal(shardOfKey(canonicalKeyBytes(truth.ids[row]), numDbs), dbId, `id ${truth.ids[row]}`);
          });
          const queries = await openSource(c.columns, { start: QUERIES.start, limit: 3 });
          for await (const record of queries.records()) {
            for (let dbId = 0; dbId < numDbs; dbId++) {
              const res = await client.search({ vector: record.vector, top_k: 5, shard_ids: [dbId] });
              assert.deepEqual(res.shard_ids, [dbId]);
              for (const hit of res.results) assert.equal(shardOfKey(canonicalKeyBytes(hit.id), numDbs), dbId, `hit ${hit.id} from shard ${dbId}`);
              assertMatchesBruteForce(truth, record.vector, res, 5, 'l2', `shard ${dbId}`);
            }
          }
          const route = await client.route({ vector: new Float32Array(0) });
          assert.deepEqual(route.shards.map((s) => s.db_id), [0, 1, 2, 3]);
          for (const s of route.shards) assert.ok(s.node_ids.length > 0, `shard ${s.db_id} has no ready replica`);
          assert.deepEqual((await client.route({ vector: new Float32Array(784), shard_ids: [2] })).shards.map((s) => s.db_id), [2]);
          await assert.rejects(client.route({ vector: new Float32Array(784), num_probes: 1 }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /probes every shard/));
        });
      }

      if (c.bad) {
        const bads = c.bad;
        test('a badly routed query is INVALID_ARGUMENT naming the problem', async () => {
          for (const bad of bads) {
            await assert.rejects(client.search({ vector: new Float32Array(784), ...bad.params }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, bad.pattern));
          }
        });
      }
    });
  }
}

describe('per-query index options reach the shards through the router', () => {
  let served: ServedSnapshot;
  let truth: GroundTruth;
  let client: ShardfleetClient;

  before(async () => {
    served = await buildAndServe({}, { strategy: 'cluster', numDbs: 2, numProbes: 2 }, { backend: 'lancedb', plan: { indexType: 'ivf_flat', numPartitions: 32 } });
    assert.deepEqual(served.built.manifest.shards.map((s) => s.index_type), ['ivf_flat', 'ivf_flat']);
    ({ truth, client } = served);
  });
  after(async () => {
    await served?.stop();
  });

  test('nprobes = num_partitions is exact; nprobes = 1 misses neighbours', async () => {
    const queries = await openSource({}, QUERIES);
    let exactHits = 0;
    let oneProbeHits = 0;
    let total = 0;
    for await (const record of queries.records()) {
      const all = await client.search({ vector: record.vector, top_k: 10, num_probes: 2, nprobes: 32 });
      assertMatchesBruteForce(truth, record.vector, all, 10, 'l2', `query ${total}`);
      const want = new Set(all.results.map((h) => h.id));
      const one = await client.search({ vector: record.vector, top_k: 10, num_probes: 2, nprobes: 1 });
      exactHits += all.results.length;
      oneProbeHits += one.results.filter((h) => want.has(h.id)).length;
      total++;
    }
    assert.equal(exactHits, 10 * QUERIES.limit);
    assert.ok(oneProbeHits < exactHits, `nprobes 1 found ${oneProbeHits} of ${exactHits}: the option did not reach the shards`);
  });
});
