/**
 * Issue 21: shardfleet serves snapshots written by shardyfusion, unchanged, through real
 * processes (a router and 2 shard nodes per sample, `file://` on the unpacked prefix), and every
 * answer equals shardyfusion's own reader's (test/fixtures/shardyfusion: five genuine samples):
 * SnapshotInfo, ShardDetails, Route (default num_probes and all shards), Search (default
 * num_probes and all shards), Get / MultiGet with their key errors, the filter refusal; and the
 * prefix is left exactly as it was (nothing written into it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { ShardfleetClient } from '../src/client/router-client.ts';
import type { LocalCluster } from '../src/cli/local-cluster.ts';
import { tempDir } from './helpers/fixtures.ts';
import { isGrpcStatus } from './helpers/grpc-assert.ts';
import { closeAll, serveStore } from './helpers/served-cluster.ts';
import { assertSameAnswer } from './helpers/shardyfusion-answers.ts';
import { FROM_SOURCE_SAMPLES, SHARDYFUSION_SAMPLES, expectedFromSource, expectedSample, lanceAnswer, sampleQueries, unpackShardyfusionSamples, type ExpectedSample, type ShardyfusionSample, type UnpackedSamples } from './helpers/shardyfusion-samples.ts';
import { waitFor } from './helpers/wait.ts';
import { treeState } from './helpers/tree-state.ts';

const queries = sampleQueries();
let samples: UnpackedSamples;

before(() => {
  samples = unpackShardyfusionSamples(SHARDYFUSION_SAMPLES, FROM_SOURCE_SAMPLES);
});
after(() => samples?.remove());

for (const name of SHARDYFUSION_SAMPLES) {
  describe(`shardyfusion sample ${name}, served unchanged`, () => {
    const want: ExpectedSample = expectedSample(name);
    const info = want.snapshot_info as { run_id: string; num_dbs: number; dim?: number; metric?: string; sharding?: string; total_vectors?: number };
    const metric = info.metric ?? (want.config as { metric: string }).metric;
    const dim = info.dim ?? 784;
    const kind = name.includes('unified') ? 'unified' : name.includes('explicit') ? 'explicit' : 'routed';
    let cluster: LocalCluster | undefined;
    let client: ShardfleetClient | undefined;
    let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
    let before0: string[] = [];

    before(async () => {
      before0 = treeState(samples.prefixDir(name));
      dir = await tempDir('sf-serve-');
      ({ cluster, client } = await serveStore(`file://${samples.prefixDir(name)}`, dir.path));
      const c = client;
      await waitFor('every shard on a ready replica', async () => (await c.health()).status === 'healthy', { timeoutMs: 120_000, retryOnError: true });
    });
    after(async () => closeAll({ client, cluster, dir }));

    it('SnapshotInfo and ShardDetails describe the snapshot as shardyfusion does', async () => {
      const c = client as ShardfleetClient;
      const si = await c.snapshotInfo();
      assert.equal(si.format, 'shardyfusion');
      assert.equal(si.run_id, info.run_id);
      assert.equal(si.num_dbs, info.num_dbs);
      assert.equal(si.dim, dim);
      assert.equal(si.metric, metric === 'dot_product' ? 'dot' : metric);
      assert.equal(si.backend, 'sqlite-vec');
      assert.equal(si.source_manifest_url, JSON.parse(want.published.current_pointer_raw).manifest_ref);
      if (kind === 'unified') {
        assert.equal(si.strategy, 'hash');
        assert.equal(si.kv_backend, 'sqlite');
        assert.equal(si.kv_key_encoding, want.published.build_meta.key_encoding);
      } else {
        assert.equal(si.strategy, info.sharding);
        assert.equal(si.total_vectors, info.total_vectors);
      }
      const details = await c.shardDetails();
      assert.match(details.format, /^shardyfusion (vector|unified) sqlite-vec$/);
      const rows = want.published.shards as Array<{ db_id: number; db_url: string; row_count: number; db_bytes: number; checkpoint_id: string }>;
      assert.equal(details.shards.length, info.num_dbs);
      for (const row of rows) {
        const got = details.shards[row.db_id];
        assert.equal(got.vector_count, row.row_count, `shard ${row.db_id} vector_count`);
        const sidecar = statSync(join(samples.prefixDir(name), row.db_url.slice(want.s3_prefix.length + 1), 'shard.sidecar')).size;
        assert.equal(got.bytes, row.db_bytes + sidecar, `shard ${row.db_id} bytes: shard.db (db_bytes) + shard.sidecar`);
        assert.equal(got.checkpoint_id, row.checkpoint_id, `shard ${row.db_id} checkpoint_id`);
        assert.equal(got.source_url, row.db_url, `shard ${row.db_id} db_url`);
        assert.ok(got.replicas.some((r) => r.state === 'loaded'), `shard ${row.db_id} has a loaded replica`);
      }
    });

    if (kind === 'routed') {
      it('Route reaches the shards shardyfusion routes to, in its order (default num_probes and all shards)', async () => {
        const c = client as ShardfleetClient;
        for (const q of want.queries) {
          const v = queries[q.query_index];
          const byDefault = await c.route({ vector: v });
          assert.deepEqual(byDefault.shards.map((s) => s.db_id), q.route_default_probes, `query ${q.query_index} default route`);
          const all = await c.route({ vector: v, num_probes: info.num_dbs });
          assert.deepEqual(all.shards.map((s) => s.db_id), q.route_all_probes, `query ${q.query_index} route over num_dbs probes`);
        }
      });

      it('Search equals shardyfusion at the default num_probes and over all shards', async () => {
        const c = client as ShardfleetClient;
        for (const q of want.queries) {
          const v = queries[q.query_index];
          const byDefault = await c.search({ vector: v, top_k: want.top_k, include_payload: true });
          assertSameAnswer(byDefault.results, q.default as NonNullable<typeof q.default>, metric, `query ${q.query_index} (default probes)`);
          assert.deepEqual(byDefault.shard_ids, q.route_default_probes, `query ${q.query_index} probed shards`);
          const all = await c.search({ vector: v, top_k: want.top_k, include_payload: true, shard_ids: Array.from({ length: info.num_dbs }, (_, i) => i) });
          assertSameAnswer(all.results, q.all_shards, metric, `query ${q.query_index} (all shards)`);
        }
      });

      it('BatchSearch of all 50 queries equals shardyfusion query by query', async () => {
        const c = client as ShardfleetClient;
        const batch = await c.batchSearch(want.queries.map((q) => ({ vector: queries[q.query_index], top_k: want.top_k, include_payload: true })), 60_000);
        assert.equal(batch.results.length, want.queries.length);
        batch.results.forEach((r, i) => {
          assert.equal(r.error_message, '', `query ${i}: ${r.error_message}`);
          assertSameAnswer(r.response?.results ?? [], want.queries[i].default as NonNullable<ExpectedSample['queries'][number]['default']>, metric, `batch query ${i}`);
        });
      });
    }

    if (kind === 'explicit') {
      it('Search needs shard_ids (as shardyfusion) and equals it on the home shard and on all shards', async () => {
        const c = client as ShardfleetClient;
        await assert.rejects(c.search({ vector: queries[0], top_k: 10 }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /shard_ids/));
        for (const q of want.queries) {
          const v = queries[q.query_index];
          const home = await c.search({ vector: v, top_k: want.top_k, include_payload: true, shard_ids: [q.home_shard as number] });
          assertSameAnswer(home.results, q.home_shard_only as NonNullable<typeof q.home_shard_only>, metric, `query ${q.query_index} (home shard ${q.home_shard})`);
          const route = await c.route({ vector: v, shard_ids: [q.home_shard as number] });
          assert.deepEqual(route.shards.map((s) => s.db_id), [q.home_shard]);
          const all = await c.search({ vector: v, top_k: want.top_k, include_payload: true, shard_ids: Array.from({ length: info.num_dbs }, (_, i) => i) });
          assertSameAnswer(all.results, q.all_shards, metric, `query ${q.query_index} (all shards)`);
        }
      });
    }

    if (kind === 'unified') {
      it('Search equals shardyfusion (every shard by default, and all shards named)', async () => {
        const c = client as ShardfleetClient;
        for (const q of want.queries) {
          const v = queries[q.query_index];
          const byDefault = await c.search({ vector: v, top_k: want.top_k, include_payload: true });
          assertSameAnswer(byDefault.results, q.default as NonNullable<typeof q.default>, metric, `query ${q.query_index} (default)`);
          const all = await c.search({ vector: v, top_k: want.top_k, include_payload: true, shard_ids: Array.from({ length: info.num_dbs }, (_, i) => i) });
          assertSameAnswer(all.results, q.all_shards, metric, `query ${q.query_index} (all shards)`);
        }
      });

      it('Get and MultiGet return shardyfusion values from the shard it routes each key to; bad keys get its errors', async () => {
        const c = client as ShardfleetClient;
        const intKeys = want.published.build_meta.key_encoding === 'u64be';
        const keyOf = (keyStr: string): string | bigint => (intKeys ? BigInt(keyStr) : keyStr);
        for (const g of want.kv_get ?? []) {
          const r = await c.get({ key: keyOf(g.key_str) });
          const res = r.result;
          assert.ok(res, `key ${g.key_str}: a result`);
          assert.equal(res.error, '', `key ${g.key_str}: no error`);
          assert.equal(res.found, g.present, `key ${g.key_str} found`);
          assert.equal(res.db_id, g.shard, `key ${g.key_str} shard`);
          if (g.present) {
            assert.equal(Buffer.from(res.value).toString('utf8'), g.value, `key ${g.key_str} value`);
            assert.equal(res.id, g.key_str, `key ${g.key_str}: the row's id`);
            const payload = JSON.parse(res.payload_json) as { label: number };
            assert.equal(payload.label, (JSON.parse(g.value as string) as { label: number }).label);
          }
        }
        const multi = want.kv_multi_get ?? [];
        const keys = (want.kv_get ?? []).map((g) => keyOf(g.key_str));
        const m = await c.multiGet({ keys });
        assert.equal(m.results.length, multi.length);
        m.results.forEach((res, i) => {
          const [, value] = multi[i];
          assert.equal(res.found, value !== null, `MultiGet key ${String(keys[i])} found`);
          if (value !== null) assert.equal(Buffer.from(res.value).toString('utf8'), value);
        });
        if (intKeys) {
          await assert.rejects(c.get({ key: -1 }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /u64be/));
          await assert.rejects(c.get({ key: 2n ** 63n }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /signed 64-bit range/));
        } else {
          await assert.rejects(c.get({ key: 42 }), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /keys are string/));
        }
      });
    }

    if (kind !== 'unified') {
      it('Get looks record ids up in every shard and finds each in the shard shardyfusion wrote it to', async () => {
        const c = client as ShardfleetClient;
        const ids = want.id_shards.filter((_, i) => i % 97 === 0);
        const m = await c.multiGet({ keys: [...ids.map(([id]) => String(id)), 'no-such-id'] });
        ids.forEach(([id, shard], i) => {
          const r = m.results[i];
          assert.equal(r.found, true, `id ${id}`);
          assert.equal(r.db_id, shard, `id ${id} shard`);
          assert.equal(r.id, String(id));
        });
        assert.equal(m.results.at(-1)?.found, false);
      });
    }

    it('refuses a filter, saying shardyfusion declares no filter columns', async () => {
      const c = client as ShardfleetClient;
      await assert.rejects(
        c.search({ vector: queries[0], top_k: 5, filter: 'label == 3', shard_ids: kind === 'explicit' ? [0] : undefined }),
        isGrpcStatus(grpc.status.INVALID_ARGUMENT, /shardyfusion declares no filter columns/),
      );
    });

    it('writes nothing into the prefix', () => {
      assert.deepEqual(treeState(samples.prefixDir(name as ShardyfusionSample)), before0);
    });
  });
}

/**
 * The LanceDB and composite layouts, on the two snapshots made by following shardyfusion's source
 * (not genuine: its Python LanceDB writer cannot run here). Answers are compared with
 * shardyfusion's LanceDB query on the same files (`lance_default` / `lance_all_shards`, raw
 * `_distance`, which is shardfleet's score for both metrics), order among ties included.
 */
for (const name of FROM_SOURCE_SAMPLES) {
  describe(`from-source sample ${name} (shardyfusion LanceDB layout), served unchanged`, () => {
    const want = expectedFromSource(name);
    const composite = name.includes('composite');
    const numDbs = want.shards.length;
    let cluster: LocalCluster | undefined;
    let client: ShardfleetClient | undefined;
    let dir: Awaited<ReturnType<typeof tempDir>> | undefined;

    before(async () => {
      dir = await tempDir('sf-serve-lance-');
      ({ cluster, client } = await serveStore(`file://${samples.prefixDir(name)}`, dir.path));
      const c = client;
      await waitFor('every shard on a ready replica', async () => (await c.health()).status === 'healthy', { timeoutMs: 120_000, retryOnError: true });
    });
    after(async () => closeAll({ client, cluster, dir }));

    it('reports the layout, and Search (and Route) equal shardyfusion on the same files', async () => {
      const c = client as ShardfleetClient;
      const si = await c.snapshotInfo();
      assert.equal(si.format, 'shardyfusion');
      assert.equal(si.run_id, want.run_id);
      assert.equal(si.backend, 'lancedb');
      assert.equal(si.kv_backend, composite ? 'slatedb' : '');
      const details = await c.shardDetails();
      assert.equal(details.format, composite ? 'shardyfusion composite lancedb+slatedb' : 'shardyfusion vector lancedb');
      for (const s of want.shards) assert.equal(details.shards[s.db_id].checkpoint_id, s.checkpoint_id);
      for (const q of want.queries) {
        const v = queries[q.query_index];
        if (q.lance_default !== undefined) {
          assert.deepEqual((await c.route({ vector: v })).shards.map((s) => s.db_id), q.route_default_probes);
          const byDefault = await c.search({ vector: v, top_k: 10, include_payload: true });
          assertSameAnswer(byDefault.results, lanceAnswer(q.lance_default), 'raw', `query ${q.query_index} (default probes)`);
        }
        const all = await c.search({ vector: v, top_k: 10, include_payload: true, shard_ids: Array.from({ length: numDbs }, (_, i) => i) });
        assertSameAnswer(all.results, lanceAnswer(q.lance_all_shards), 'raw', `query ${q.query_index} (all shards)`);
      }
    });

    if (composite) {
      it('Get and MultiGet read the SlateDB of each key\'s shard', async () => {
        const c = client as ShardfleetClient;
        for (const g of want.kv_get ?? []) {
          const r = await c.get({ key: g.key_str });
          assert.equal(r.result?.error, '', `key ${g.key_str}`);
          assert.equal(r.result?.found, g.present, `key ${g.key_str} found`);
          assert.equal(r.result?.db_id, g.shard, `key ${g.key_str} shard`);
          if (g.present) assert.equal(Buffer.from(r.result?.value ?? []).toString('utf8'), g.value);
        }
        const keys = (want.kv_get ?? []).map((g) => g.key_str);
        const m = await c.multiGet({ keys });
        m.results.forEach((res, i) => assert.equal(res.found, (want.kv_multi_get ?? [])[i]?.[1] !== null, `MultiGet key ${keys[i]}`));
      });
    }
  });
}
