/**
 * Shard balance vs routing recall of CLUSTER assignments (issue 22, item 1), in process, on seeded
 * clustered data like the issue's: `--clusters` anisotropic Gaussian clusters (lognormal sizes,
 * centres grouped around 20 super-centres, per-dimension standard deviations lognormal), `--dim`
 * dimensions, `--n` base vectors in random order plus 1,000 held-out queries from the same mixture.
 *
 * For every variant it trains k-means on a 20,000-vector sample (seed 42, 25 iterations, as
 * `build` does), assigns all n vectors and prints the shard sizes (min / max / mean, max/mean) and
 * routing-only recall@10 at num_probes 1, 2, 4 on the held-out queries (exact top-10 over all n
 * by brute force; a neighbour counts when its shard is among the probed ones), plus the curve the
 * build itself records in the manifest (measureRoutingRecall on the sample). Variants:
 *   off              plain k-means, nearest centroid (`--no-balanced`)
 *   stream <f>       balanced k-means + online first-fit capacity cap in arrival order (the old `--balanced f`)
 *   offsets <f>      balanced k-means + fitted centroid offsets (the new default `--balanced f`)
 *
 * Usage: nice -n 5 npx tsx bench/balance-bench.ts [--n 100000] [--dim 128] [--clusters 1000]
 *        [--shards 16] [--factors 1.05,1.1,1.2,1.5] [--json out.json]
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { exactSearch, MetricKind, type BatchMatches } from 'usearch';
import { CentroidRouter } from '../src/common/cluster-routing.ts';
import { ClusterRouting } from '../src/common/routing/cluster-shard-routing.ts';
import { balancedCapacity, CapacityAssigner } from '../src/writer/balanced-assignment.ts';
import { fitCentroidOffsets } from '../src/writer/centroid-offsets.ts';
import { trainKMeans } from '../src/writer/kmeans.ts';
import { measureRoutingRecall } from '../src/writer/routing-recall.ts';
import { SeededRandom } from '../src/writer/seeded-random.ts';

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    dim: { type: 'string', default: '128' },
    clusters: { type: 'string', default: '1000' },
    shards: { type: 'string', default: '16' },
    factors: { type: 'string', default: '1.05,1.1,1.2,1.5' },
    variants: { type: 'string', default: 'off,stream,offsets' },
    seed: { type: 'string', default: '7' },
    json: { type: 'string' },
  },
});
const n = Number(args.n);
const dim = Number(args.dim);
const numClusters = Number(args.clusters);
const k = Number(args.shards);
const factors = args.factors.split(',').map(Number);
const variants = new Set(args.variants.split(','));
const numQueries = 1000;
const sampleRows = Math.min(n, Math.max(20_000, 64 * k));


/** n + numQueries rows of the mixture, in random order. */
function clusteredData(rows: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  const supers = Array.from({ length: 20 }, () => Float64Array.from({ length: dim }, () => 10 * rng.nextGaussian()));
  const centres = Array.from({ length: numClusters }, () => {
    const s = supers[rng.nextInt(supers.length)];
    return Float64Array.from(s, (x) => x + 3 * rng.nextGaussian());
  });
  const spreads = Array.from({ length: numClusters }, () => Float64Array.from({ length: dim }, () => Math.exp(0.5 * rng.nextGaussian())));
  const weights = Array.from({ length: numClusters }, () => Math.exp(rng.nextGaussian()));
  const cumulative: number[] = [];
  let total = 0;
  for (const w of weights) cumulative.push((total += w));
  const out = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const u = rng.next() * total;
    let lo = 0;
    let hi = numClusters - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    for (let i = 0; i < dim; i++) out[r * dim + i] = centres[lo][i] + spreads[lo][i] * rng.nextGaussian();
  }
  return out;
}

interface Row {
  variant: string;
  factor: number | null;
  min: number;
  max: number;
  mean: number;
  maxOverMean: number;
  recall: number[];
  buildCurve: number[];
  seconds: number;
}

const started = performance.now();
const all = clusteredData(n + numQueries, Number(args.seed));
const base = all.subarray(0, n * dim);
const queries = all.slice(n * dim);
const sample = base.subarray(0, sampleRows * dim); // rows are in random order: a uniform sample
const truth = exactSearch(base, queries, dim, 10, MetricKind.L2sq, 0) as BatchMatches;
console.log(`data: ${n} x ${dim}, ${numClusters} clusters, ${k} shards, sample ${sampleRows}, ${((performance.now() - started) / 1000).toFixed(1)} s`);

function evaluate(variant: string, factor: number | null, routing: ClusterRouting, assign: (row: number) => number, buildCurve: number[], t0: number): Row {
  const shardOf = new Int32Array(n);
  const counts = new Array<number>(k).fill(0);
  for (let r = 0; r < n; r++) counts[(shardOf[r] = assign(r))]++;
  const recall = [1, 2, 4].map((p) => {
    let hit = 0;
    for (let q = 0; q < numQueries; q++) {
      const probed = new Set(routing.route({ vector: queries.subarray(q * dim, (q + 1) * dim), numProbes: p, shardIds: [] }));
      for (let j = 0; j < 10; j++) if (probed.has(shardOf[Number(truth.keys[q * 10 + j])])) hit++;
    }
    return hit / (numQueries * 10);
  });
  const mean = n / k;
  const row: Row = {
    variant,
    factor,
    min: Math.min(...counts),
    max: Math.max(...counts),
    mean,
    maxOverMean: Math.max(...counts) / mean,
    recall,
    buildCurve: [0, 1, 3].map((i) => buildCurve[i]),
    seconds: (performance.now() - t0) / 1000,
  };
  console.log(
    `${`${variant}${factor === null ? '' : ` ${factor}`}`.padEnd(14)} sizes ${row.min}-${row.max} (mean ${mean.toFixed(0)}, max/mean ${row.maxOverMean.toFixed(2)})  ` +
      `recall@10 p=1,2,4: ${recall.map((x) => x.toFixed(4)).join(' ')}  (build curve ${row.buildCurve.map((x) => x.toFixed(4)).join(' ')})  ${row.seconds.toFixed(1)} s`,
  );
  return row;
}

const rows: Row[] = [];
const km = (balanceFactor?: number) => trainKMeans(sample, dim, { k, metric: 'l2', seed: 42, maxIterations: 25, balanceFactor });
if (variants.has('off')) {
  const t0 = performance.now();
  const routing = new ClusterRouting(km().centroids, dim, 'l2', 2);
  const curve = measureRoutingRecall({ sample, dim, metric: 'l2', routing, seed: 42 })!.recall_at_probes;
  rows.push(evaluate('off', null, routing, (r) => routing.centroids.assign(base, r), curve, t0));
}
for (const f of factors) {
  const trained = variants.has('stream') || variants.has('offsets') ? km(f) : undefined;
  if (trained && variants.has('stream')) {
    const t0 = performance.now();
    const routing = new ClusterRouting(trained.centroids, dim, 'l2', 2);
    const curve = measureRoutingRecall({ sample, dim, metric: 'l2', routing, balanceFactor: f, seed: 42 })!.recall_at_probes;
    const capped = new CapacityAssigner(routing.centroids, n, f);
    rows.push(evaluate('stream', f, routing, (r) => capped.assign(base, r), curve, t0));
  }
  if (trained && variants.has('offsets')) {
    const t0 = performance.now();
    const fitted = fitCentroidOffsets(sample, new CentroidRouter(trained.centroids, dim, 'l2'), balancedCapacity(sampleRows, k, f));
    const routing = new ClusterRouting(trained.centroids, dim, 'l2', 2, fitted.offsets);
    const curve = measureRoutingRecall({ sample, dim, metric: 'l2', routing, balanceFactor: f, seed: 42 })!.recall_at_probes;
    rows.push(evaluate('offsets', f, routing, (r) => routing.centroids.assign(base, r), curve, t0));
  }
}
if (args.json) await writeFile(args.json, `${JSON.stringify({ n, dim, clusters: numClusters, shards: k, sample: sampleRows, rows }, null, 2)}\n`);
