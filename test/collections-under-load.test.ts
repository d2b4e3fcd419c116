/**
 * Issue 24's done-when, as one run through real processes: one router and three shard nodes
 * (child processes) serve a catalog root of three collections built by the real writer:
 * - `items`: vector-only (Fashion-MNIST rows 0..2999, usearch, 4 shards);
 * - `catalog`: filtered (rows 5000..5599 with the filter columns `label` and `label_name`, 3 shards);
 * - `kv`: a key-value collection (sqlite-vec index plus a SQLite KV store, hash-sharded).
 * Under a load of searches by name, filtered searches, searches through an alias and Gets, the
 * alias `live` is switched from `items` to `catalog` (one conditional write of `_ALIASES`) and
 * `catalog`'s run is swapped; a fourth collection `late` is published under the root. Every
 * answer is checked: 0 failed, and 0 mixed (an answer whose collection, run_id, ids and payloads
 * do not all belong to one collection's one run). Then the live recall gauge of `items` (every
 * answered query sampled) is within 0.02 of recall@10 measured offline by brute force on the
 * same queries.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { startLocalCluster, type LocalCluster } from '../src/cli/local-cluster.ts';
import { updateAliases } from '../src/common/catalog/aliases.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import type { ObjectStore } from '../src/common/storage/object-store.ts';
import { childStore } from '../src/common/storage/prefixed-object-store.ts';
import { promSample } from '../src/eval/prometheus-text.ts';
import { buildSnapshot, type BuildResult } from '../src/writer/build-snapshot.ts';
import { openIdxSource, readIdxImages } from '../src/writer/input/idx-source.ts';
import { buildFashionSnapshot, FASHION_IMAGES, FASHION_LABELS, quietLogger, tempDir } from './helpers/fixtures.ts';
import { waitFor } from './helpers/wait.ts';
import { buildKvCollection, publishStaged, waitForCollections } from './helpers/catalog-fixtures.ts';
import { closeAll } from './helpers/served-cluster.ts';
import { exactTopK } from './helpers/exact-top-k.ts';

const ITEMS = { start: 0, limit: 3000, numDbs: 4 };
const CATALOG_1 = { start: 5000, limit: 600 };
const CATALOG_2 = { start: 7000, limit: 600 };
const LATE = { start: 8000, limit: 120 };
const KV_KEYS = 40;
/** Held-out t10k queries for the live recall check (never in any collection). */
const QUERY_START = 9000;
const NUM_QUERIES = 120;
const K = 10;
/** Labels the filtered load asks for. */
const FILTER_LABELS = new Set([1, 3, 5]);
const FILTER = 'label in [1, 3, 5]';

/** Builds a filtered Fashion-MNIST collection (filter columns label:int, label_name:string). */
async function buildFilteredSnapshot(store: ObjectStore, rows: { start: number; limit: number }, seed: number): Promise<BuildResult> {
  return buildSnapshot({
    store,
    source: await openIdxSource({ imagesPath: FASHION_IMAGES, labelsPath: FASHION_LABELS, start: rows.start, limit: rows.limit }),
    sharding: { strategy: 'cluster', numDbs: 3, numProbes: 2 },
    filterColumns: [
      { name: 'label', type: 'int' },
      { name: 'label_name', type: 'string' },
    ],
    metric: 'l2',
    seed,
    progress: false,
    log: quietLogger(),
  });
}

/** A run's id range [start, start + limit). */
interface RunRows {
  collection: string;
  runId: string;
  start: number;
  limit: number;
}

describe('issue 24 done-when: three collections on one router and three nodes, swaps under load, a fourth collection, live recall', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let rootUrl: string;
  let root: ObjectStore;
  let cluster: LocalCluster;
  let client: ShardfleetClient;
  let images: Float32Array[];
  let dim: number;
  let itemsRun: BuildResult;
  let catalogRun: BuildResult;

  before(async () => {
    dir = await tempDir('collections-load');
    rootUrl = join(dir.path, 'catalog-root');
    root = openObjectStore(rootUrl);
    const idx = await readIdxImages(FASHION_IMAGES, { limit: QUERY_START + NUM_QUERIES });
    dim = idx.dim;
    images = Array.from({ length: idx.count }, (_, i) => idx.vectors.subarray(i * idx.dim, (i + 1) * idx.dim));
    itemsRun = await buildFashionSnapshot(childStore(root, 'items'), { ...ITEMS, numProbes: 1 });
    catalogRun = await buildFilteredSnapshot(childStore(root, 'catalog'), CATALOG_1, 7);
    await buildKvCollection(childStore(root, 'kv'), dir.path, KV_KEYS);
    await updateAliases(root, [{ kind: 'set', alias: 'live', collection: 'items' }]);
    cluster = await startLocalCluster({
      store: rootUrl,
      numNodes: 3,
      cacheDir: join(dir.path, 'cache'),
      stderr: 'ignore',
      metricsListen: 'auto',
      extraArgs: ['--poll-interval-ms', '300'],
      routerArgs: ['--status-poll-ms', '200', '--live-recall-fraction', '1', '--live-recall-max-per-second', '10000'],
      nodeArgs: ['--run-grace-ms', '2000'],
    });
    client = new ShardfleetClient(cluster.routerAddress);
    await waitForCollections(client, 3);
  });

  after(() => closeAll({ client, cluster, store: root, dir }));

  test('placement spreads the three collections over the three nodes; the alias is served', async () => {
    const holders = new Set<string>();
    let shards = 0;
    for (const name of ['items', 'catalog', 'kv']) {
      const d = await client.shardDetails(10_000, name);
      assert.equal(d.collection, name);
      for (const s of d.shards) {
        shards++;
        for (const r of s.replicas) holders.add(r.node_id);
      }
    }
    assert.equal(shards, ITEMS.numDbs + 3 + 2);
    assert.equal(holders.size, 3, `nodes holding shards: ${[...holders].join(', ')}`);
    const h = await client.health();
    assert.deepEqual(h.aliases.map((a) => [a.alias, a.collection]), [['live', 'items']]);
    assert.equal(h.status, 'healthy', h.reasons.join(' | '));
  });

  test('under load: an alias switch and a run swap with 0 failed and 0 mixed answers; a fourth collection appears', async () => {
    const stagingCatalog = openObjectStore(join(dir.path, 'staging-catalog'));
    const stagingLate = openObjectStore(join(dir.path, 'staging-late'));
    // Built before the load starts: a build is CPU-heavy in this process.
    const nextCatalog = await buildFilteredSnapshot(stagingCatalog, CATALOG_2, 11);
    const late = await buildFashionSnapshot(stagingLate, { ...LATE, numDbs: 2 });
    const runs: RunRows[] = [
      { collection: 'items', runId: itemsRun.manifest.run_id, ...ITEMS },
      { collection: 'catalog', runId: catalogRun.manifest.run_id, ...CATALOG_1 },
      { collection: 'catalog', runId: nextCatalog.manifest.run_id, ...CATALOG_2 },
    ];
    let stop = false;
    const counts = { search: 0, filtered: 0, alias: 0, get: 0, failed: 0, mixed: 0 };
    const problems: string[] = [];
    const aliasAnswers = new Map<string, number>();
    const catalogRunsSeen: string[] = [];
    const note = (kind: 'failed' | 'mixed', what: string): void => {
      counts[kind]++;
      if (problems.length < 8) problems.push(`${kind}: ${what}`);
    };
    /** The answer's collection and run own every id it returns (else a mixed answer). */
    const checkOneRun = (what: string, collection: string, runId: string, ids: string[]): RunRows | undefined => {
      const run = runs.find((r) => r.collection === collection && r.runId === runId);
      if (!run) {
        note('mixed', `${what}: collection ${collection} run ${runId} is not one it may answer from`);
        return undefined;
      }
      const foreign = ids.filter((id) => !(Number(id) >= run.start && Number(id) < run.start + run.limit));
      if (foreign.length > 0) note('mixed', `${what}: ids ${foreign.join(',')} are not in ${collection} run ${runId}`);
      if (ids.length === 0) note('mixed', `${what}: no hits`);
      return run;
    };
    const searchItems = async (i: number): Promise<void> => {
      const r = await client.search({ vector: images[(i * 37) % ITEMS.limit], top_k: 5, collection: 'items', num_probes: 3 });
      counts.search++;
      if (r.collection !== 'items') note('mixed', `items answered as ${r.collection}`);
      checkOneRun('items', r.collection, r.run_id, r.results.map((h) => h.id));
    };
    let lastCatalogRun = catalogRun.manifest.run_id;
    const searchCatalog = async (i: number): Promise<void> => {
      const r = await client.search({ vector: images[CATALOG_1.start + (i % CATALOG_1.limit)], top_k: 5, collection: 'catalog', num_probes: 2, filter: FILTER, include_payload: true });
      counts.filtered++;
      const run = checkOneRun('catalog (filtered)', r.collection, r.run_id, r.results.map((h) => h.id));
      for (const h of r.results) {
        const label = (JSON.parse(h.payload_json) as { label: number }).label;
        if (!FILTER_LABELS.has(label)) note('mixed', `catalog hit ${h.id} has label ${label}, outside the filter`);
      }
      if (run && r.run_id !== lastCatalogRun) {
        // One router: once it answers from the new run it never answers from the old one again.
        if (r.run_id === catalogRun.manifest.run_id) note('mixed', 'catalog answered from the old run after the new one');
        lastCatalogRun = r.run_id;
        catalogRunsSeen.push(r.run_id);
      }
    };
    const searchAlias = async (i: number): Promise<void> => {
      const r = await client.search({ vector: images[(i * 13) % ITEMS.limit], top_k: 5, collection: 'live', num_probes: 2 });
      counts.alias++;
      aliasAnswers.set(r.collection, (aliasAnswers.get(r.collection) ?? 0) + 1);
      checkOneRun('alias live', r.collection, r.run_id, r.results.map((h) => h.id));
    };
    const getKv = async (i: number): Promise<void> => {
      const key = `k${i % KV_KEYS}`;
      const g = await client.get({ key, collection: 'kv' });
      counts.get++;
      const value = g.result?.found ? Buffer.from(g.result.value).toString('utf8') : undefined;
      if (g.collection !== 'kv' || value !== `value-${i % KV_KEYS}`) note('mixed', `get ${key} from ${g.collection}: ${value}`);
    };
    const loop = async (call: (i: number) => Promise<void>): Promise<void> => {
      for (let i = 0; !stop; i++) {
        try {
          await call(i);
        } catch (err) {
          note('failed', String(err));
        }
      }
    };
    const loops = [searchItems, searchCatalog, searchAlias, searchAlias, getKv].map(loop);
    const lateAnswers = async (): Promise<boolean> => {
      try {
        const r = await client.search({ vector: images[LATE.start + 3], top_k: 1, collection: 'late', num_probes: 2 });
        return r.run_id === late.manifest.run_id && r.results[0]?.id === String(LATE.start + 3);
      } catch {
        return false;
      }
    };
    try {
      await waitFor('some answers before the switches', async () => counts.alias > 5 && counts.filtered > 5 && counts.get > 5, { timeoutMs: 60_000, intervalMs: 50 });
      // The alias switch: one conditional write; the router re-reads _ALIASES within a poll interval.
      await updateAliases(root, [{ kind: 'set', alias: 'live', collection: 'catalog' }]);
      await waitFor('the alias to answer from catalog', async () => (aliasAnswers.get('catalog') ?? 0) > 5, { timeoutMs: 30_000, intervalMs: 50 });
      // The run swap of catalog (the alias's target now): its objects, then _CURRENT.
      await publishStaged(stagingCatalog, childStore(root, 'catalog'));
      await waitFor('catalog to answer from its new run', async () => catalogRunsSeen.includes(nextCatalog.manifest.run_id), { timeoutMs: 60_000, intervalMs: 50 });
      // A fourth collection published under the root while the load runs.
      await publishStaged(stagingLate, childStore(root, 'late'));
      await waitFor('the fourth collection to answer', lateAnswers, { timeoutMs: 60_000 });
      await new Promise((resolve) => setTimeout(resolve, 1000));
    } finally {
      stop = true;
      await Promise.all(loops);
      await stagingCatalog.close();
      await stagingLate.close();
    }
    console.log(
      `# under load: ${counts.search} items searches, ${counts.filtered} filtered catalog searches, ${counts.alias} alias searches ` +
        `(${[...aliasAnswers].map(([c, n]) => `${n} from ${c}`).join(', ')}), ${counts.get} gets; ${counts.failed} failed, ${counts.mixed} mixed`,
    );
    assert.deepEqual([counts.failed, counts.mixed], [0, 0], problems.join(' | '));
    assert.ok((aliasAnswers.get('items') ?? 0) > 0 && (aliasAnswers.get('catalog') ?? 0) > 0, 'the alias answered from both collections');
    assert.deepEqual(catalogRunsSeen, [nextCatalog.manifest.run_id], 'catalog moved to the new run once');
    const h = await client.health();
    assert.deepEqual(h.collections.map((c) => [c.name, c.run_id]), [
      ['catalog', nextCatalog.manifest.run_id],
      ['items', itemsRun.manifest.run_id],
      ['kv', h.collections.find((c) => c.name === 'kv')!.run_id],
      ['late', late.manifest.run_id],
    ]);
    assert.ok(h.collections.every((c) => c.coverage === 1), JSON.stringify(h.collections));
  });

  test('the live recall gauge of items is within 0.02 of recall@10 measured offline on the same queries', async () => {
    const info = async () => {
      const l = (await client.snapshotInfo(10_000, 'items')).live_recall;
      assert.ok(l, 'SnapshotInfo carries live_recall');
      return l;
    };
    const finished = async (): Promise<number> => {
      const l = await info();
      return Number(l.measured) + Object.values(l.skipped).reduce((a, b) => a + Number(b), 0);
    };
    // Let the load's last samples finish, so each query below is followed by its own sample.
    let last = -1;
    await waitFor('the sampler to be idle', async () => {
      const now = await finished();
      const idle = now === last;
      last = now;
      return idle;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    const skippedBefore = { ...(await info()).skipped };
    const queries = new Float32Array(NUM_QUERIES * dim);
    for (let i = 0; i < NUM_QUERIES; i++) queries.set(images[QUERY_START + i], i * dim);
    const base = new Float32Array(ITEMS.limit * dim);
    for (let i = 0; i < ITEMS.limit; i++) base.set(images[ITEMS.start + i], i * dim);
    const truth = exactTopK(base, queries, dim, K);
    let offline = 0;
    for (let i = 0; i < NUM_QUERIES; i++) {
      const before = await finished();
      const res = await client.search({ vector: images[QUERY_START + i], top_k: K, num_probes: 1, collection: 'items' });
      assert.equal(res.partial, false);
      const got = new Set(res.results.map((h) => h.id));
      offline += truth[i].filter((id) => got.has(id)).length / K;
      await waitFor(`sample ${i} to finish`, async () => (await finished()) > before, { timeoutMs: 60_000, intervalMs: 10 });
    }
    offline /= NUM_QUERIES;
    const l = await info();
    assert.deepEqual(l.skipped, skippedBefore, 'no sample of these queries was skipped');
    const group = l.groups.find((g) => g.collection === 'items' && g.num_probes === '1' && g.filter === 'none');
    assert.ok(group, JSON.stringify(l.groups));
    assert.equal(group.samples, NUM_QUERIES);
    const metrics = await (await fetch(`http://${cluster.metrics.get('router')}/metrics`)).text();
    const live = promSample(metrics, 'shardfleet_router_live_recall', { collection: 'items', num_probes: '1', filter: 'none' });
    const filtered = l.groups.filter((g) => g.filter === 'filtered').map((g) => `${g.collection} p${g.num_probes} ${g.samples} samples ${g.live_recall.toFixed(3)}`);
    console.log(`# live recall@10 of items ${live} vs offline ${offline.toFixed(4)} (build-time ${group.build_recall.toFixed(4)}) over ${NUM_QUERIES} queries; the load's filtered groups: ${filtered.join('; ')}`);
    assert.ok(live !== undefined);
    assert.ok(Math.abs(live - group.live_recall) < 1e-9, 'Prometheus and SnapshotInfo agree');
    assert.ok(Math.abs(live - offline) <= 0.02, `live ${live} vs offline ${offline}`);
    assert.ok(offline < 0.999, `one probe of four misses some neighbours, so the check means something: ${offline}`);
    assert.ok(filtered.length > 0, 'the filtered load was sampled under its own filter class');
  });
});
