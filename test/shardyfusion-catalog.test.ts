/**
 * Issue 24: shardyfusion prefixes served as collections. The seven shardyfusion samples (five
 * genuine, two made by following its source: test/fixtures/shardyfusion) unpacked side by side
 * under one folder are a catalog root: one router and two shard nodes (child processes) serve
 * each prefix as a collection named after it, and every collection answers exactly as
 * shardyfusion's own reader did (SnapshotInfo, Search at the default num_probes or on the home
 * shard, Get), while the root is left exactly as it was.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ShardfleetClient } from '../src/client/router-client.ts';
import type { LocalCluster } from '../src/cli/local-cluster.ts';
import { tempDir } from './helpers/fixtures.ts';
import { closeAll, serveStore } from './helpers/served-cluster.ts';
import { assertSameAnswer } from './helpers/shardyfusion-answers.ts';
import {
  FROM_SOURCE_SAMPLES,
  SHARDYFUSION_SAMPLES,
  expectedFromSource,
  expectedSample,
  lanceAnswer,
  sampleQueries,
  unpackShardyfusionSamples,
  type UnpackedSamples,
} from './helpers/shardyfusion-samples.ts';
import { waitFor } from './helpers/wait.ts';
import { treeState } from './helpers/tree-state.ts';

/** Queries checked per collection (of the samples' 50). */
const QUERIES = 5;

describe('shardyfusion prefixes under one catalog root, served as collections by one router and two nodes', () => {
  const queries = sampleQueries();
  const names = [...SHARDYFUSION_SAMPLES, ...FROM_SOURCE_SAMPLES].sort();
  let samples: UnpackedSamples;
  let cluster: LocalCluster | undefined;
  let client: ShardfleetClient | undefined;
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
  let rootBefore: string[];

  before(async () => {
    samples = unpackShardyfusionSamples(SHARDYFUSION_SAMPLES, FROM_SOURCE_SAMPLES);
    rootBefore = treeState(samples.bucketDir);
    dir = await tempDir('sf-catalog-');
    ({ cluster, client } = await serveStore(`file://${samples.bucketDir}`, dir.path));
    const c = client;
    await waitFor(
      'every collection on ready replicas',
      async () => {
        const h = await c.health();
        return h.collections.length === names.length && h.collections.every((x) => x.coverage === 1);
      },
      { timeoutMs: 180_000, retryOnError: true },
    );
  });
  after(async () => {
    await closeAll({ client, cluster, dir });
    samples?.remove();
  });

  it('Health lists one collection per prefix, each serving the run shardyfusion published', async () => {
    const h = await (client as ShardfleetClient).health();
    assert.deepEqual(h.collections.map((c) => c.name), names);
    for (const name of SHARDYFUSION_SAMPLES) {
      const want = expectedSample(name).snapshot_info as { run_id: string };
      assert.equal(h.collections.find((c) => c.name === name)?.run_id, want.run_id, name);
    }
    for (const name of FROM_SOURCE_SAMPLES) assert.equal(h.collections.find((c) => c.name === name)?.run_id, expectedFromSource(name).run_id, name);
  });

  for (const name of SHARDYFUSION_SAMPLES) {
    it(`collection ${name} answers as shardyfusion does`, async () => {
      const c = client as ShardfleetClient;
      const want = expectedSample(name);
      const info = want.snapshot_info as { run_id: string; num_dbs: number; metric?: string };
      const metric = info.metric ?? (want.config as { metric: string }).metric;
      const si = await c.snapshotInfo(10_000, name);
      assert.deepEqual([si.collection, si.format, si.run_id, si.num_dbs], [name, 'shardyfusion', info.run_id, info.num_dbs]);
      assert.equal((await c.shardDetails(10_000, name)).shards.length, info.num_dbs);
      for (const q of want.queries.slice(0, QUERIES)) {
        const v = queries[q.query_index];
        if (q.home_shard !== undefined) {
          const home = await c.search({ vector: v, top_k: want.top_k, include_payload: true, shard_ids: [q.home_shard], collection: name });
          assertSameAnswer(home.results, q.home_shard_only!, metric, `${name} query ${q.query_index} (home shard)`);
        } else {
          const r = await c.search({ vector: v, top_k: want.top_k, include_payload: true, collection: name });
          assert.equal(r.collection, name);
          assertSameAnswer(r.results, q.default!, metric, `${name} query ${q.query_index} (default)`);
        }
      }
      const intKeys = want.published.build_meta.key_encoding === 'u64be';
      for (const g of (want.kv_get ?? []).slice(0, QUERIES)) {
        const r = await c.get({ key: intKeys ? BigInt(g.key_str) : g.key_str, collection: name });
        assert.equal(r.collection, name);
        assert.deepEqual([r.result?.found, r.result?.db_id], [g.present, g.shard], `${name} key ${g.key_str}`);
        if (g.present) assert.equal(Buffer.from(r.result!.value).toString('utf8'), g.value);
      }
    });
  }

  for (const name of FROM_SOURCE_SAMPLES) {
    it(`collection ${name} (shardyfusion LanceDB layout) answers as shardyfusion's LanceDB query does`, async () => {
      const c = client as ShardfleetClient;
      const want = expectedFromSource(name);
      const si = await c.snapshotInfo(10_000, name);
      assert.deepEqual([si.collection, si.format, si.run_id, si.backend], [name, 'shardyfusion', want.run_id, 'lancedb']);
      for (const q of want.queries.slice(0, QUERIES)) {
        const all = await c.search({ vector: queries[q.query_index], top_k: 10, include_payload: true, shard_ids: want.shards.map((s) => s.db_id), collection: name });
        assertSameAnswer(all.results, lanceAnswer(q.lance_all_shards), 'raw', `${name} query ${q.query_index} (all shards)`);
      }
    });
  }

  it('writes nothing under the catalog root', () => {
    assert.deepEqual(treeState(samples.bucketDir), rootBefore);
  });
});
