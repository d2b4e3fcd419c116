/**
 * `npm run bench:shardyfusion`: search latency of a shardyfusion snapshot served unchanged against
 * native shardfleet snapshots of the same data (issue 21).
 *
 * Data: the genuine sample `fm-cluster-l2` (test/fixtures/shardyfusion: 2,000 Fashion-MNIST t10k
 * images as float32/255, CLUSTER 4 shards, num_probes 2, l2, sqlite-vec, written by shardyfusion)
 * and two native builds of the same 2,000 vectors and payloads (CLUSTER 4 shards, num_probes 2,
 * l2): `sqlite-vec` (the same index engine: the cost of the format itself) and `usearch` (the
 * default backend: what a rebuild would give). One local cluster each (router + 2 shard nodes,
 * real processes on 127.0.0.1), all three running at once; rounds of the 50 sample queries are
 * interleaved across the three (closed loop, concurrency 1, then 4), so machine noise hits them
 * alike. Reported per snapshot: p50 / p99 client latency, queries per second, and recall@10
 * against the exact top-10 shardyfusion recorded (`all_shards`).
 *
 * Writes bench/results/shardyfusion-<date>.json and prints a markdown table.
 * Options: `--rounds N` rounds of 50 queries per snapshot and concurrency (default 20).
 */
import { rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { startLocalCluster, type LocalCluster } from '../src/cli/local-cluster.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { percentile } from '../src/eval/recall.ts';
import { openJsonlSource } from '../src/writer/input/jsonl-source.ts';
import { buildSnapshot } from '../src/writer/build-snapshot.ts';
import { expectedSample, fashionLabels, fashionRows, sampleQueries, unpackShardyfusionSamples } from '../test/helpers/shardyfusion-samples.ts';
import { quietLogger, tempDir } from '../test/helpers/fixtures.ts';
import { ROOT } from './lib/dataset.ts';
import { onExit } from './lib/exit-cleanup.ts';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '20' } } });
const ROUNDS = Number(args.rounds);
const CONCURRENCY = [1, 4];

interface Target {
  name: string;
  cluster: LocalCluster;
  client: ShardfleetClient;
  latencies: Map<number, number[]>;
  wallMs: Map<number, number>;
  recall: number;
}

const log = quietLogger();
const want = expectedSample('fm-cluster-l2');
const queries = sampleQueries();
const exact = want.queries.map((q) => new Set(q.all_shards.results.map((r) => String(r.id))));

const dir = await tempDir('bench-sf');
const samples = unpackShardyfusionSamples(['fm-cluster-l2']);
const clusters: LocalCluster[] = [];
onExit('remove the bench folders', () => {
  samples.remove();
  rmSync(dir.path, { recursive: true, force: true });
});

// The native builds: the same vectors (t10k rows [0, 2000) / 255), ids and payloads.
const labels = want.id_shards.length;
const base = fashionRows(0, labels);
const labelRows = fashionLabels(0, labels);
const jsonl = join(dir.path, 'fm-2000.jsonl');
await writeFile(jsonl, base.map((v, i) => JSON.stringify({ id: i, vector: Array.from(v), payload: { label: labelRows[i] } })).join('\n') + '\n');

const stores: Array<{ name: string; url: string }> = [{ name: 'shardyfusion sqlite-vec (unchanged)', url: `file://${samples.prefixDir('fm-cluster-l2')}` }];
for (const backend of ['sqlite-vec', 'usearch'] as const) {
  const path = join(dir.path, `native-${backend}`);
  await mkdir(path, { recursive: true });
  const store = new FileObjectStore(path);
  await buildSnapshot({
    store,
    source: await openJsonlSource({ path: jsonl }),
    sharding: { strategy: 'cluster', numDbs: 4, numProbes: 2 },
    metric: 'l2',
    backend: { backend },
    seed: 42,
    progress: false,
    log,
  });
  stores.push({ name: `shardfleet ${backend} (native build)`, url: `file://${path}` });
}

const targets: Target[] = [];
for (const s of stores) {
  const cluster = await startLocalCluster({ store: s.url, numNodes: 2, cacheDir: join(dir.path, `cache-${targets.length}`), stderr: 'ignore' });
  clusters.push(cluster);
  const client = new ShardfleetClient(cluster.routerAddress);
  for (let i = 0; i < 600; i++) {
    if ((await client.health().catch(() => ({ status: '' }))).status === 'healthy') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  targets.push({ name: s.name, cluster, client, latencies: new Map(), wallMs: new Map(), recall: 0 });
}

// Recall@10 at the default num_probes against shardyfusion's exact answers.
for (const t of targets) {
  let hit = 0;
  for (let i = 0; i < queries.length; i++) {
    const r = await t.client.search({ vector: queries[i], top_k: 10 });
    hit += r.results.filter((h) => exact[i].has(h.id)).length;
  }
  t.recall = hit / (queries.length * 10);
}

/** One round of the 50 queries against `t` at `concurrency`, latencies appended. */
async function round(t: Target, concurrency: number): Promise<void> {
  let next = 0;
  const lat = t.latencies.get(concurrency) ?? [];
  t.latencies.set(concurrency, lat);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < queries.length; i = next++) {
        const t0 = performance.now();
        await t.client.search({ vector: queries[i], top_k: 10, include_payload: true });
        lat.push(performance.now() - t0);
      }
    }),
  );
  t.wallMs.set(concurrency, (t.wallMs.get(concurrency) ?? 0) + performance.now() - started);
}

for (const concurrency of CONCURRENCY) {
  for (const t of targets) await round(t, concurrency); // warm-up
  for (const t of targets) t.latencies.set(concurrency, []), t.wallMs.set(concurrency, 0);
  for (let r = 0; r < ROUNDS; r++) for (const t of targets) await round(t, concurrency);
}

const rows = targets.flatMap((t) =>
  CONCURRENCY.map((c) => {
    const lat = t.latencies.get(c) ?? [];
    return { snapshot: t.name, concurrency: c, queries: lat.length, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), qps: lat.length / ((t.wallMs.get(c) ?? 1) / 1000), recallAt10: t.recall };
  }),
);
const date = new Date().toISOString().slice(0, 10);
const out = join(ROOT, 'bench', 'results', `shardyfusion-${date}.json`);
await writeFile(out, JSON.stringify({ date, rounds: ROUNDS, queriesPerRound: queries.length, rows }, null, 2) + '\n');
console.log('| snapshot | concurrency | queries | p50 ms | p99 ms | QPS | recall@10 (default probes) |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.snapshot} | ${r.concurrency} | ${r.queries} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.qps.toFixed(0)} | ${r.recallAt10.toFixed(3)} |`);
console.log(`\nwritten: ${out}`);
for (const t of targets) t.client.close();
for (const c of clusters) await c.stop();
process.exit(0);
