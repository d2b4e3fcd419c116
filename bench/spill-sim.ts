/**
 * Spill assignment simulation (issue 15, optional part; not implemented in the writer): SPANN's
 * closure rule stores a vector also in its second-nearest shard when
 * dist(x, c2) <= (1 + eps) * dist(x, c1). On the Fashion-MNIST train split (60,000 x 784, k-means
 * on 20,000, seed 42), prints the storage factor and routing recall@10 at num_probes 1..4 over
 * 1,000 held-out t10k queries (exact top-10 by usearch exactSearch), for eps 0 (no spill), 0.02,
 * 0.05 and 0.1, at 8 and 16 shards.
 *
 * Usage: node --import tsx bench/spill-sim.ts (needs ../shared/datasets/fashion-mnist)
 */
import { exactSearch, MetricKind, type BatchMatches } from 'usearch';
import { ClusterRouting } from '../src/common/routing/cluster-shard-routing.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import { trainKMeans } from '../src/writer/kmeans.ts';
const base = await readIdxImages('/work/shared/datasets/fashion-mnist/train-images-idx3-ubyte.gz');
const q = await readIdxImages('/work/shared/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz', { start: 9000, limit: 1000 });
const dim = 784, n = base.count, m = q.count;
const truth = exactSearch(base.vectors, q.vectors, dim, 10, MetricKind.L2sq, 0) as BatchMatches;
for (const numDbs of [8, 16]) {
  const km = trainKMeans(base.vectors.subarray(0, 20000 * dim), dim, { k: numDbs, metric: 'l2', seed: 42, maxIterations: 25 });
  const routing = new ClusterRouting(km.centroids, dim, 'l2', 1);
  const two = Array.from({ length: n }, (_, r) => routing.centroids.nearest(base.vectors, r, 2));
  const d = (r: number, c: number) => { let s = 0; for (let i = 0; i < dim; i++) { const x = base.vectors[r * dim + i] - km.centroids[c * dim + i]; s += x * x; } return Math.sqrt(s); };
  const orders = Array.from({ length: m }, (_, qi) => routing.route({ vector: q.vectors.subarray(qi * dim, (qi + 1) * dim), numProbes: numDbs, shardIds: [] }));
  for (const eps of [0, 0.02, 0.05, 0.1]) {
    const spill = two.map(([a, b], r) => eps > 0 && d(r, b) <= (1 + eps) * d(r, a));
    const stored = n + spill.filter(Boolean).length;
    const rec: number[] = [];
    for (let p = 1; p <= 4; p++) {
      let hit = 0;
      for (let qi = 0; qi < m; qi++) {
        const probed = new Set(orders[qi].slice(0, p));
        for (let j = 0; j < 10; j++) {
          const r = Number(truth.keys[qi * 10 + j]);
          if (probed.has(two[r][0]) || (spill[r] && probed.has(two[r][1]))) hit++;
        }
      }
      rec.push(hit / (m * 10));
    }
    console.log(`${numDbs} shards eps ${eps}: storage x${(stored / n).toFixed(3)}, recall p=1..4 ${rec.map((x) => x.toFixed(4)).join(' ')}`);
  }
}
