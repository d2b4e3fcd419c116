/**
 * The whole system with real processes: build a Fashion-MNIST snapshot into a file:// store and
 * into an s3:// store on s3rver, start a router and two shard nodes as child processes, and check
 * that answers through the router equal exact brute force on the probed shards.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { startLocalCluster, type LocalCluster } from '../src/cli/local-cluster.ts';
import { checkHealth } from '../src/common/health.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import type { ObjectStore } from '../src/common/storage/object-store.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import type { BuildResult } from '../src/writer/build-snapshot.ts';
import { assertRouterMatchesBruteForce, groundTruth, type GroundTruth } from './helpers/cluster-checks.ts';
import { buildFashionSnapshot, FASHION_IMAGES, FASHION_LABELS, tempDir } from './helpers/fixtures.ts';
import { startS3rver, type S3rverHandle } from './helpers/s3rver.ts';
import { isGrpcStatus } from './helpers/grpc-assert.ts';

const BASE = 3000;
const NUM_DBS = 4;

for (const backend of ['file', 's3'] as const) {
  describe(`cluster over a ${backend} store: router + 2 shard nodes as processes`, () => {
    let dir: Awaited<ReturnType<typeof tempDir>>;
    let s3: S3rverHandle | undefined;
    let store: ObjectStore;
    let storeUrl: string;
    let built: BuildResult;
    let truth: GroundTruth;
    let cluster: LocalCluster;
    let client: ShardfleetClient;

    before(async () => {
      dir = await tempDir(`e2e-${backend}`);
      if (backend === 's3') {
        s3 = await startS3rver();
        storeUrl = s3.url('snapshots/fashion');
        store = openObjectStore(storeUrl, s3.connection);
      } else {
        storeUrl = join(dir.path, 'store');
        store = openObjectStore(storeUrl);
      }
      built = await buildFashionSnapshot(store, { limit: BASE, numDbs: NUM_DBS });
      truth = await groundTruth(store, built.manifest, BASE);
      cluster = await startLocalCluster({ store: storeUrl, numNodes: 2, cacheDir: join(dir.path, 'cache'), env: s3?.env, stderr: 'ignore' });
      client = new ShardfleetClient(cluster.routerAddress);
    });
    after(async () => {
      client?.close();
      await cluster?.stop();
      await store?.close();
      await s3?.stop();
      await dir?.remove();
    });

    test('every process reports SERVING on grpc.health.v1', async () => {
      for (const address of [cluster.routerAddress, ...cluster.nodes.map((n) => n.address)]) {
        assert.equal(await checkHealth(address), 'SERVING');
      }
      assert.equal(await checkHealth(cluster.routerAddress, 'shardfleet.v1.Router'), 'SERVING');
    });

    test('SnapshotInfo describes the published run', async () => {
      const info = await client.snapshotInfo();
      assert.equal(info.run_id, built.runId);
      assert.equal(info.manifest_ref, built.manifestKey);
      assert.equal(info.dim, 784);
      assert.equal(info.num_dbs, NUM_DBS);
      assert.equal(info.total_vectors, BASE);
      assert.equal(info.default_num_probes, 2);
      assert.equal(info.default_ef, built.manifest.index.index_params.ef_search, 'the run\'s ef_search');
      assert.ok(info.default_ef >= 64);
    });

    test('results equal exact brute force over the probed shards (num_probes 1 and 2)', async () => {
      await assertRouterMatchesBruteForce(client, truth, { start: 9000, limit: 12 }, 1);
      await assertRouterMatchesBruteForce(client, truth, { start: 9100, limit: 12 }, 2);
    });

    test('probing every shard gives the exact global top-k', async () => {
      await assertRouterMatchesBruteForce(client, truth, { start: 9200, limit: 5 }, NUM_DBS);
    });

    test('shard_ids override routing and payloads carry the labels', async () => {
      const q = await readIdxImages(FASHION_IMAGES, { start: 9300, limit: 1 });
      const base = await readIdxImages(FASHION_IMAGES, { limit: BASE, labelsPath: FASHION_LABELS });
      const res = await client.search({ vector: q.vectors, top_k: 5, shard_ids: [3, 1], include_payload: true });
      assert.deepEqual(res.shard_ids, [3, 1]);
      const allowed = new Set([...truth.rowsOfShard[3], ...truth.rowsOfShard[1]].map(String));
      assert.equal(res.results.length, 5);
      for (const hit of res.results) {
        assert.ok(allowed.has(hit.id), `hit ${hit.id} is not in shard 1 or 3`);
        const payload = JSON.parse(hit.payload_json) as { label: number; label_name: string };
        assert.equal(payload.label, base.labels![Number(hit.id)]);
      }
    });

    test('bad queries get INVALID_ARGUMENT with a clear message', async () => {
      await assert.rejects(client.search({ vector: new Float32Array(783) }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /783 dimensions, expected 784/));
      const nan = new Float32Array(784);
      nan[17] = NaN;
      await assert.rejects(client.search({ vector: nan }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /element 17 is NaN/));
      await assert.rejects(client.search({ vector: new Float32Array(784), top_k: 5000 }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /top_k/));
      await assert.rejects(client.search({ vector: new Float32Array(784), num_probes: 9 }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /num_probes 9 exceeds/));
      await assert.rejects(client.search({ vector: new Float32Array(784), shard_ids: [4] }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /shard id 4 does not exist/));
    });
  });
}
