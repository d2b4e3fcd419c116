/**
 * End-to-end recall bench (issue 22, item 3): builds a seeded clustered dataset (a mixture of
 * 1,000 anisotropic Gaussians, 128-d by default, like the scale runs), serves it with a real
 * local cluster (router + 2 shard nodes), and compares on held-out queries (another stream of the
 * mixture, never in the data; exact top-10 over all the data by usearch exactSearch):
 *   - `target_recall` with the build's end-to-end table (num_probes and ef chosen together) against
 *     the old routing-only choice (num_probes from the routing curve, default ef): delivered recall;
 *   - the table's prediction against delivered recall at a grid of (num_probes, ef) pairs;
 *   - the build time the measurement costs (seconds and % of the build).
 *
 * Usage: node --import tsx bench/search-recall-bench.ts [--n 100000] [--dim 128] [--clusters 1000]
 *   [--num-dbs 16] [--queries 1000] [--targets 0.9,0.95,0.99] [--out bench/results/search-recall-<n>.json]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { exactSearch, MetricKind, type BatchMatches } from 'usearch';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { startLocalCluster } from '../src/cli/local-cluster.ts';
import { probesAndEfForRecall, probesForRecall } from '../src/common/routing/recall-target.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import { arraySource, clusterModel, DEFAULT_MIXTURE_SPEC, sampleMixture } from '../src/eval/gaussian-clusters.ts';
import { buildSnapshot } from '../src/writer/build-snapshot.ts';
import { pino } from 'pino';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    dim: { type: 'string', default: '128' },
    clusters: { type: 'string', default: '1000' },
    'num-dbs': { type: 'string', default: '16' },
    queries: { type: 'string', default: '1000' },
    targets: { type: 'string', default: '0.9,0.95,0.99' },
    out: { type: 'string' },
  },
});
const n = Number(values.n);
const dim = Number(values.dim);
const numDbs = Number(values['num-dbs']);
const nq = Number(values.queries);
const targets = values.targets.split(',').map(Number);
const K = 10;

// bench:scale's mixture (with the default --dim and --clusters, the first n rows of its base.fvecs and its queries).
const spec = { ...DEFAULT_MIXTURE_SPEC, dim, clusters: Number(values.clusters) };
const mixture = clusterModel(spec);
const data = sampleMixture(mixture, n, spec.seed + 1);
const queries = sampleMixture(mixture, nq, spec.seed + 2); // held out: another stream, never in the data
const dir = mkdtempSync(join(tmpdir(), 'search-recall-bench-'));
const storeUrl = join(dir, 'store');
const store = openObjectStore(storeUrl);

console.log(`data: ${n} x ${dim} (${values.clusters} anisotropic Gaussian clusters), ${numDbs} shards, ${nq} held-out queries`);
const t0 = performance.now();
const built = await buildSnapshot({
  store,
  source: arraySource(data, dim),
  sharding: { strategy: 'cluster', numDbs, numProbes: 2 },
  metric: 'l2',
  progress: false,
  log: pino({ level: 'warn' }),
});
const buildSeconds = (performance.now() - t0) / 1000;
const m = built.manifest;
const sr = m.search_recall!;
console.log(
  `build ${buildSeconds.toFixed(1)} s; end-to-end measurement ${sr.seconds} s (${((100 * sr.seconds!) / buildSeconds).toFixed(1)}% of the build; exact ground truth ${sr.ground_truth_seconds} s), ` +
    `${sr.sample_queries} sample queries, exact over ${sr.ground_truth_vectors} vectors`,
);

// Exact top-10 of the held-out queries over all the data (chunked: exactSearch sorts per chunk).
const truth: Set<string>[] = [];
{
  const best: { d: number; id: number }[][] = Array.from({ length: nq }, () => []);
  const chunk = 16_384;
  for (let s = 0; s < n; s += chunk) {
    const rows = Math.min(chunk, n - s);
    const r = exactSearch(data.slice(s * dim, (s + rows) * dim), queries, dim, Math.min(K, rows), MetricKind.L2sq, 0) as BatchMatches;
    const w = Math.min(K, rows);
    for (let q = 0; q < nq; q++) {
      for (let j = 0; j < Number(r.counts[q]); j++) best[q].push({ d: r.distances[q * w + j], id: s + Number(r.keys[q * w + j]) });
      best[q].sort((a, b) => a.d - b.d);
      best[q].length = Math.min(best[q].length, K);
    }
  }
  for (const b of best) truth.push(new Set(b.map((x) => `v${x.id}`)));
}

const cluster = await startLocalCluster({ store: storeUrl, numNodes: 2, cacheDir: join(dir, 'cache'), stderr: 'ignore' });
const client = new ShardfleetClient(cluster.routerAddress);
try {
  async function delivered(params: { num_probes?: number; ef?: number; target_recall?: number }): Promise<{ recall: number; probes: number }> {
    let hits = 0;
    let probes = 0;
    for (let s = 0; s < nq; s += 50) {
      const batch = Array.from({ length: Math.min(50, nq - s) }, (_, i) => ({ vector: queries.subarray((s + i) * dim, (s + i + 1) * dim), top_k: K, ...params }));
      const res = await client.batchSearch(batch, 120_000);
      res.results.forEach((r, i) => {
        if (!r.response) throw new Error(`query ${s + i}: ${r.error_message}`);
        hits += r.response.results.filter((h) => truth[s + i].has(h.id)).length;
        probes += r.response.shard_ids.length;
      });
    }
    return { recall: hits / (nq * K), probes: probes / nq };
  }

  const rows: Record<string, unknown>[] = [];
  console.log('\ntarget  | before: routing-only choice (default ef 64)   | after: end-to-end table');
  for (const target of targets) {
    const old = probesForRecall(m.routing_recall!.recall_at_probes, target);
    const oldRun = await delivered({ num_probes: old.numProbes });
    const pick = probesAndEfForRecall(sr, target);
    const now = await delivered({ target_recall: target });
    console.log(
      `${target.toFixed(3)}   | p=${old.numProbes} predicted ${m.routing_recall!.recall_at_probes[old.numProbes - 1].toFixed(4)} delivered ${oldRun.recall.toFixed(4)} (${(oldRun.recall - target).toFixed(4)}) ` +
        `| p=${pick.numProbes} ef=${pick.ef} predicted ${pick.recall.toFixed(4)} delivered ${now.recall.toFixed(4)} (${(now.recall - target).toFixed(4)})`,
    );
    rows.push({ target, before: { num_probes: old.numProbes, ef: 64, predicted: m.routing_recall!.recall_at_probes[old.numProbes - 1], delivered: oldRun.recall }, after: { num_probes: pick.numProbes, ef: pick.ef, predicted: pick.recall, delivered: now.recall } });
  }

  console.log('\nprediction vs delivered at (num_probes, ef):');
  const grid: Record<string, unknown>[] = [];
  let worst = 0;
  for (const p of [1, 2, 3, 4].filter((x) => x <= sr.recall.length)) {
    const line: string[] = [];
    for (let j = 0; j < sr.ef.length; j++) {
      const got = await delivered({ num_probes: p, ef: sr.ef[j] });
      const predicted = sr.recall[p - 1][j];
      worst = Math.max(worst, Math.abs(got.recall - predicted));
      line.push(`ef${sr.ef[j]} ${predicted.toFixed(4)}/${got.recall.toFixed(4)}`);
      grid.push({ num_probes: p, ef: sr.ef[j], predicted, delivered: got.recall });
    }
    console.log(`  p=${p}: ${line.join('  ')}`);
  }
  console.log(`largest |predicted - delivered| on the grid: ${worst.toFixed(4)}`);
  const out = values.out ?? join(import.meta.dirname, 'results', `search-recall-${n}.json`);
  writeFileSync(
    out,
    JSON.stringify({ n, dim, clusters: Number(values.clusters), mixture: spec, num_dbs: numDbs, held_out_queries: nq, build_seconds: buildSeconds, measure_seconds: sr.seconds, search_recall: sr, routing_recall: m.routing_recall, targets: rows, grid, worst }, null, 2),
  );
  console.log(`wrote ${out}`);
} finally {
  client.close();
  await cluster.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
