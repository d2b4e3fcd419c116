/**
 * The demo (`npm run demo`): build an 8-shard snapshot from the bundled Fashion-MNIST test split,
 * start a local cluster (router + 2 shard nodes, real processes on 127.0.0.1), send held-out
 * queries through the router with num_probes 1, 2 and 3, and print recall@10 against exact brute
 * force, p50/p99 latency and QPS.
 *
 * Data: the 10,000 t10k images; the first 9,500 are the base set, the last 500 are the queries.
 */
import { mkdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { startLocalCluster } from '../src/cli/local-cluster.ts';
import { createLogger } from '../src/common/logger.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import { exactTopK } from '../src/eval/exact-knn.ts';
import { percentile, recallAtK } from '../src/eval/recall.ts';
import { buildSnapshot } from '../src/writer/build-snapshot.ts';
import { openIdxSource, readIdxImages } from '../src/writer/input/idx-source.ts';
import { FASHION_IMAGES as IMAGES, FASHION_LABELS as LABELS, line } from './fashion-data.ts';

const WORK = fileURLToPath(new URL('../.shardfleet/demo/', import.meta.url));
const NUM_BASE = 9500;
const NUM_QUERIES = 500;
const NUM_DBS = 8;
const TOP_K = 10;
const CONCURRENCY = 8;

async function runQueries(
  client: ShardfleetClient,
  queries: Float32Array,
  dim: number,
  numProbes: number,
  concurrency: number,
): Promise<{ latencies: number[]; scores: number[][]; seconds: number }> {
  const count = queries.length / dim;
  const latencies: number[] = new Array(count);
  const scores: number[][] = new Array(count);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const q = next++;
        const t0 = performance.now();
        const res = await client.search({ vector: queries.subarray(q * dim, (q + 1) * dim), top_k: TOP_K, num_probes: numProbes });
        latencies[q] = performance.now() - t0;
        scores[q] = res.results.map((h) => h.score);
      }
    }),
  );
  return { latencies, scores, seconds: (performance.now() - started) / 1000 };
}

async function main(): Promise<void> {
  process.env.SHARDFLEET_LOG_LEVEL ??= 'warn'; // keep the demo's output to its table; set it to see logs
  const log = createLogger('demo');
  await rm(WORK, { recursive: true, force: true });
  await mkdir(WORK, { recursive: true });
  const storeUrl = join(WORK, 'store');
  line(`shardfleet demo: Fashion-MNIST t10k (bundled), ${NUM_BASE} base vectors, ${NUM_QUERIES} held-out queries, ${NUM_DBS} shards, l2`);

  // 1. Build and publish the snapshot.
  const store = openObjectStore(storeUrl);
  const source = await openIdxSource({ imagesPath: IMAGES, labelsPath: LABELS, limit: NUM_BASE });
  const built = await buildSnapshot({ store, source, sharding: { strategy: 'cluster', numDbs: NUM_DBS, numProbes: 2 }, metric: 'l2', progress: true, log });
  await store.close();
  const sizes = built.manifest.shards.map((s) => s.vector_count);
  line(`built run ${built.runId} in ${built.manifest.build_stats.build_seconds} s; shard sizes ${sizes.join(' ')}`);

  // 2. Ground truth by brute force.
  const base = await readIdxImages(IMAGES, { limit: NUM_BASE });
  const queries = await readIdxImages(IMAGES, { start: NUM_BASE, limit: NUM_QUERIES });
  const dim = base.dim;
  const ids = Array.from({ length: NUM_BASE }, (_, i) => String(i));
  const t0 = performance.now();
  const truth = Array.from({ length: NUM_QUERIES }, (_, q) => exactTopK(base.vectors, ids, queries.vectors, q, dim, TOP_K, 'l2').map((h) => h.score));
  line(`exact ground truth for ${NUM_QUERIES} queries in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // 3. Local cluster: router + 2 nodes.
  const cluster = await startLocalCluster({ store: storeUrl, numNodes: 2, cacheDir: join(WORK, 'cache'), stderr: 'ignore' });
  line(`cluster up: router ${cluster.routerAddress}, nodes ${cluster.nodes.map((n) => `${n.id}@${n.address}`).join(', ')}`);
  const client = new ShardfleetClient(cluster.routerAddress);
  try {
    await runQueries(client, queries.vectors.subarray(0, 50 * dim), dim, 1, 1); // warm-up
    line();
    line('num_probes  shards%  recall@10  p50 ms  p99 ms  QPS(c=1)  QPS(c=8)');
    for (const numProbes of [1, 2, 3]) {
      const serial = await runQueries(client, queries.vectors, dim, numProbes, 1);
      const parallel = await runQueries(client, queries.vectors, dim, numProbes, CONCURRENCY);
      const recall = serial.scores.reduce((s, sc, q) => s + recallAtK('l2', sc, truth[q], TOP_K), 0) / NUM_QUERIES;
      line(
        `${String(numProbes).padStart(10)}  ${((100 * numProbes) / NUM_DBS).toFixed(1).padStart(6)}%  ${recall.toFixed(4).padStart(9)}  ` +
          `${percentile(serial.latencies, 50).toFixed(2).padStart(6)}  ${percentile(serial.latencies, 99).toFixed(2).padStart(6)}  ` +
          `${(NUM_QUERIES / serial.seconds).toFixed(0).padStart(8)}  ${(NUM_QUERIES / parallel.seconds).toFixed(0).padStart(8)}`,
      );
    }
    line();
    line('recall@10 counted as ANN-benchmarks does (distance within the 10th true distance + 1e-3); latency measured at the client.');
  } finally {
    client.close();
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
