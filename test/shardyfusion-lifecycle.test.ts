/**
 * Issue 21: a shardyfusion prefix over its life, through real processes.
 * - Relocated: a genuine sample copied into another bucket and prefix of a real S3 server
 *   (s3rver) is served from where it is (its URLs still say s3://sfkit/...).
 * - Swapped: shardyfusion publishes a new run (manifest, then `_CURRENT`) while queries run: the
 *   router moves to it with no failed query and every answer equal to shardyfusion's.
 * - Damaged: a newer `_CURRENT` naming a malformed manifest leaves a serving router on its run;
 *   a cold router falls back to the newest earlier manifest by time (the pointer has no history).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cpSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ShardfleetClient } from '../src/client/router-client.ts';
import type { LocalCluster } from '../src/cli/local-cluster.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import type { ObjectStore } from '../src/common/storage/object-store.ts';
import { tempDir } from './helpers/fixtures.ts';
import { startS3rver, type S3rverHandle } from './helpers/s3rver.ts';
import { closeAll, serveStore } from './helpers/served-cluster.ts';
import { assertSameAnswer } from './helpers/shardyfusion-answers.ts';
import { expectedSample, publishShardyfusionRunCopy, sampleQueries, unpackShardyfusionSamples, type UnpackedSamples } from './helpers/shardyfusion-samples.ts';
import { waitFor } from './helpers/wait.ts';

const queries = sampleQueries();
let samples: UnpackedSamples;
before(() => {
  samples = unpackShardyfusionSamples(['fm-cluster-l2', 'fm-unified-utf8-cosine']);
});
after(() => samples?.remove());

/** Every file under `dir`, as keys relative to it. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (statSync(p).isFile()) out.push(relative(dir, p).split('\\').join('/'));
    }
  };
  walk(dir);
  return out;
}

describe('a shardyfusion snapshot copied into another S3 bucket and prefix', () => {
  const want = expectedSample('fm-unified-utf8-cosine');
  let s3: S3rverHandle | undefined;
  let store: ObjectStore | undefined;
  let cluster: LocalCluster | undefined;
  let client: ShardfleetClient | undefined;
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined;

  before(async () => {
    s3 = await startS3rver();
    const url = s3.url('copies/unified-utf8');
    store = openObjectStore(url, s3.connection);
    const prefixDir = samples.prefixDir('fm-unified-utf8-cosine');
    for (const key of filesUnder(prefixDir)) await store.upload(join(prefixDir, key), key);
    dir = await tempDir('sf-s3-');
    ({ cluster, client } = await serveStore(url, dir.path, { env: s3.env }));
    const c = client;
    await waitFor('every shard on a ready replica', async () => (await c.health()).status === 'healthy', { timeoutMs: 120_000, retryOnError: true });
  });
  after(async () => closeAll({ client, cluster, store, s3, dir }));

  it('is served from where it is: searches and gets equal shardyfusion', async () => {
    const c = client as ShardfleetClient;
    const info = await c.snapshotInfo();
    assert.equal(info.format, 'shardyfusion');
    assert.match(info.store_url, /^s3:\/\/shardfleet-test\/copies\/unified-utf8/);
    assert.match(info.source_manifest_url, /^s3:\/\/sfkit\/fm-unified-utf8-cosine\/manifests\//);
    for (const q of want.queries.slice(0, 10)) {
      const r = await c.search({ vector: queries[q.query_index], top_k: 10, include_payload: true });
      assertSameAnswer(r.results, q.default as NonNullable<typeof q.default>, 'cosine', `query ${q.query_index}`);
    }
    for (const g of (want.kv_get ?? []).slice(0, 10)) {
      const r = await c.get({ key: g.key_str });
      assert.equal(r.result?.found, g.present, `key ${g.key_str}`);
      if (g.present) assert.equal(Buffer.from(r.result?.value ?? []).toString('utf8'), g.value);
    }
  });
});

describe('shardyfusion publishes new runs into a served prefix', () => {
  const want = expectedSample('fm-cluster-l2');
  let cluster: LocalCluster | undefined;
  let client: ShardfleetClient | undefined;
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
  let prefixDir = '';
  const runB = '0b0b0b0b-0000-4000-8000-00000000000b';
  const runC = '0c0c0c0c-0000-4000-8000-00000000000c';

  before(async () => {
    dir = await tempDir('sf-swap-');
    prefixDir = join(dir.path, 'prefix');
    cpSync(samples.prefixDir('fm-cluster-l2'), prefixDir, { recursive: true });
    ({ cluster, client } = await serveStore(`file://${prefixDir}`, dir.path));
    const c = client;
    await waitFor('every shard on a ready replica', async () => (await c.health()).status === 'healthy', { timeoutMs: 120_000, retryOnError: true });
  });
  after(async () => closeAll({ client, cluster, dir }));

  it('swaps to a new run under load with no failed query and every answer equal to shardyfusion', async () => {
    const c = client as ShardfleetClient;
    const runA = (await c.snapshotInfo()).run_id;
    let stop = false;
    let failed = 0;
    let answered = 0;
    const runsSeen = new Set<string>();
    const errors: string[] = [];
    const worker = async (w: number): Promise<void> => {
      for (let i = w; !stop; i += 2) {
        const q = want.queries[i % want.queries.length];
        try {
          const r = await c.search({ vector: queries[q.query_index], top_k: 10, include_payload: true });
          assertSameAnswer(r.results, q.default as NonNullable<typeof q.default>, 'l2', `query ${q.query_index} on run ${r.run_id}`);
          runsSeen.add(r.run_id);
          answered++;
        } catch (err) {
          failed++;
          if (errors.length < 5) errors.push(String(err));
        }
      }
    };
    const load = [worker(0), worker(1)];
    await new Promise((r) => setTimeout(r, 1000));
    publishShardyfusionRunCopy(prefixDir, { runId: runB, createdAt: new Date() });
    await c.refresh();
    await waitFor('the router serves run B', async () => (await c.snapshotInfo()).run_id === runB, { timeoutMs: 120_000 });
    await new Promise((r) => setTimeout(r, 1000));
    stop = true;
    await Promise.all(load);
    assert.equal(failed, 0, `failed queries: ${errors.join(' | ')}`);
    assert.ok(answered > 0);
    assert.ok(runsSeen.has(runA) && runsSeen.has(runB), `answers came from runs ${[...runsSeen].join(', ')}`);
  });

  it('keeps serving its run when a newer _CURRENT names a malformed manifest, and a cold router falls back by manifest time', async () => {
    const c = client as ShardfleetClient;
    publishShardyfusionRunCopy(prefixDir, { runId: runC, createdAt: new Date(), corruptManifest: true });
    await c.refresh().catch(() => undefined);
    const health = await c.health();
    assert.equal(health.run_id, runB);
    assert.match(health.last_refresh_error, new RegExp(`run_id=${runC}/manifest`));
    const q = want.queries[0];
    assertSameAnswer((await c.search({ vector: queries[q.query_index], top_k: 10, include_payload: true })).results, q.default as NonNullable<typeof q.default>, 'l2', 'query 0 after the bad publish');

    // A cold router (a new cluster over the same prefix) serves the newest earlier manifest: run B.
    c.close();
    await cluster?.stop();
    cluster = undefined;
    client = undefined;
    ({ cluster, client } = await serveStore(`file://${prefixDir}`, (dir as { path: string }).path));
    const cold = client;
    await waitFor('the cold router serves a run', async () => (await cold.health()).run_id !== '', { timeoutMs: 120_000, retryOnError: true });
    assert.equal((await cold.snapshotInfo()).run_id, runB);
    assertSameAnswer((await cold.search({ vector: queries[q.query_index], top_k: 10, include_payload: true })).results, q.default as NonNullable<typeof q.default>, 'l2', 'query 0 on the cold router');
  });
});
