/**
 * `npm run bench:build`: writer throughput, peak memory and routing quality.
 *
 * Each build runs the real CLI (`bin/shardfleet.js build`) in its own process into a fresh
 * file:// store, so peak RSS is that build's alone (reported by bench/report-rss.mjs). Printed:
 * - vectors/s, wall seconds, peak RSS and k-means training time for Fashion-MNIST train
 *   (60,000 x 784) into 16 shards with each backend, and for 1,000,000 x 128 synthetic vectors;
 * - for CLUSTER (plain and --balanced) and LSH: routing recall (the fraction of each query's
 *   exact top-10 (brute force over all base vectors) that lies in the probed shards) at
 *   num_probes 1..4, and max/mean shard size.
 * Options: `--quick` (smaller inputs), `--only <name,...>`.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { CURRENT_KEY, parseCurrentPointer, parseManifest, type Manifest } from '../src/common/manifest.ts';
import { loadShardRouting } from '../src/common/routing/load-routing.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import { exactTopK } from '../src/eval/exact-knn.ts';
import { createRecordAssigner } from '../src/writer/record-assigner.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import { ensureSyntheticFvecs } from './synthetic-vectors.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'bin', 'shardfleet.js');
const SHARED = join(ROOT, '..', 'shared', 'datasets', 'fashion-mnist');
const BUNDLED = join(ROOT, 'examples', 'data', 'fashion-mnist');

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } } });
const quick = args.quick ?? false;

const fashionTrain = existsSync(join(SHARED, 'train-images-idx3-ubyte.gz')) ? join(SHARED, 'train-images-idx3-ubyte.gz') : join(BUNDLED, 't10k-images-idx3-ubyte.gz');
const fashionQueries = join(existsSync(join(SHARED, 't10k-images-idx3-ubyte.gz')) ? SHARED : BUNDLED, 't10k-images-idx3-ubyte.gz');
const fallback = !fashionTrain.includes('train');
// The bundled file has 10,000 rows; the last 1,000 are the recall queries.
const fashionRows = fallback ? 9_000 : quick ? 20_000 : 60_000;
if (fallback) {
  process.stderr.write(
    'WARNING: FALLBACK DATA: ../shared/datasets/fashion-mnist not found, so the fashion cases build the bundled examples/data/fashion-mnist t10k split ' +
      '(9,000 vectors), not the 60,000-vector train set; their figures are not comparable with a full run (see README, Benchmarks)\n',
  );
}
const syntheticRows = quick ? 200_000 : 1_000_000;

interface BuildCase {
  name: string;
  input: string[];
  vectors: number;
  flags: string[];
  /** Measure routing recall with t10k queries (Fashion-MNIST cases). */
  routingRecall: boolean;
}

/** Every case names its backend with `--backend`, and its label ends with that backend (checked below). */
const CASES: BuildCase[] = [
  { name: 'fashion cluster usearch', input: ['--input', fashionTrain, '--limit', String(fashionRows)], vectors: fashionRows, flags: ['--num-dbs', '16', '--backend', 'usearch'], routingRecall: true },
  { name: 'fashion cluster lancedb', input: ['--input', fashionTrain, '--limit', String(fashionRows)], vectors: fashionRows, flags: ['--num-dbs', '16', '--backend', 'lancedb'], routingRecall: false },
  { name: 'fashion cluster sqlite-vec', input: ['--input', fashionTrain, '--limit', String(fashionRows)], vectors: fashionRows, flags: ['--num-dbs', '16', '--backend', 'sqlite-vec'], routingRecall: false },
  { name: 'fashion cluster-balanced usearch', input: ['--input', fashionTrain, '--limit', String(fashionRows)], vectors: fashionRows, flags: ['--num-dbs', '16', '--balanced', '1.1', '--backend', 'usearch'], routingRecall: true },
  { name: 'fashion lsh usearch', input: ['--input', fashionTrain, '--limit', String(fashionRows)], vectors: fashionRows, flags: ['--num-dbs', '16', '--strategy', 'lsh', '--backend', 'usearch'], routingRecall: true },
  { name: 'synthetic-128 cluster usearch', input: [], vectors: syntheticRows, flags: ['--num-dbs', '16', '--backend', 'usearch'], routingRecall: false },
  { name: 'synthetic-128 cluster sqlite-vec', input: [], vectors: syntheticRows, flags: ['--num-dbs', '16', '--backend', 'sqlite-vec'], routingRecall: false },
];
for (const c of CASES) {
  const backend = c.flags[c.flags.indexOf('--backend') + 1];
  if (!c.flags.includes('--backend') || !c.name.endsWith(` ${backend}`)) throw new Error(`bench case "${c.name}" must pass --backend and end with its name (got ${backend ?? 'none'})`);
}

interface LogLine {
  msg?: string;
  ms?: number;
  stage?: string;
  seconds?: number;
  bench_max_rss_kb?: number;
}

async function runBuild(c: BuildCase, storeDir: string): Promise<{ seconds: number; rssMb: number; kmeansMs: number | null; manifest: Manifest; stages: Record<string, number> }> {
  const started = performance.now();
  const { stderr } = await run(
    process.execPath,
    ['--import', join(ROOT, 'bench', 'report-rss.mjs'), CLI, 'build', '--store', storeDir, ...c.input, ...c.flags, '--no-progress', '--concurrency', '2'],
    { env: { ...process.env, SHARDFLEET_LOG_LEVEL: 'info' }, maxBuffer: 64 * 1024 * 1024 },
  );
  const seconds = (performance.now() - started) / 1000;
  let rssKb = 0;
  let kmeansMs: number | null = null;
  const stages: Record<string, number> = {};
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    const j = JSON.parse(line) as LogLine;
    if (j.bench_max_rss_kb) rssKb = j.bench_max_rss_kb;
    if (j.msg === 'k-means trained' && typeof j.ms === 'number') kmeansMs = j.ms;
    if (j.stage && typeof j.seconds === 'number') stages[j.stage] = j.seconds;
  }
  const store = openObjectStore(storeDir);
  try {
    const pointer = parseCurrentPointer(await store.get(CURRENT_KEY));
    return { seconds, rssMb: rssKb / 1024, kmeansMs, manifest: parseManifest(await store.get(pointer.manifest_ref), pointer.manifest_ref), stages };
  } finally {
    await store.close();
  }
}

/** Routing recall@10 at num_probes 1..4 over `numQueries` t10k queries. */
async function routingRecall(storeDir: string, manifest: Manifest, numQueries: number): Promise<number[]> {
  const store = openObjectStore(storeDir);
  const routing = await loadShardRouting(store, manifest);
  await store.close();
  const base = await readIdxImages(fashionTrain, { limit: manifest.build_stats.total_vectors });
  const queries = await readIdxImages(fashionQueries, { start: 9000, limit: numQueries });
  const dim = base.dim;
  const shardOf = new Int32Array(base.count);
  const assign = createRecordAssigner(manifest.sharding, routing, base.count);
  for (let r = 0; r < base.count; r++) {
    const vector = base.vectors.subarray(r * dim, (r + 1) * dim);
    shardOf[r] = assign({ vector, location: `row ${r}` });
  }
  const ids = Array.from({ length: base.count }, (_, i) => String(i));
  const found = [0, 0, 0, 0];
  for (let q = 0; q < queries.count; q++) {
    const exact = exactTopK(base.vectors, ids, queries.vectors, q, dim, 10, manifest.index.metric);
    const vector = queries.vectors.subarray(q * dim, (q + 1) * dim);
    for (let p = 1; p <= 4; p++) {
      const probed = new Set(routing.route({ vector, numProbes: p, shardIds: [] }));
      found[p - 1] += exact.filter((h) => probed.has(shardOf[Number(h.id)])).length / exact.length;
    }
  }
  return found.map((f) => f / queries.count);
}

async function main(): Promise<void> {
  const only = args.only ? new Set(args.only.split(',')) : undefined;
  const cacheDir = join(tmpdir(), 'shardfleet-bench-cache');
  const synthetic = join(cacheDir, `synthetic-${syntheticRows}x128.fvecs`);
  console.log(`# shardfleet build benchmark (${quick ? 'quick' : 'full'}) — node ${process.version}, ${(await import('node:os')).cpus().length} cores`);
  console.log(`fashion input: ${fashionTrain} (${fashionRows} rows); synthetic: ${syntheticRows} x 128\n`);
  const rows: string[] = [];
  const recallRows: string[] = [];
  for (const c of CASES) {
    if (only && !only.has(c.name)) continue;
    if (c.name.startsWith('synthetic')) {
      await ensureSyntheticFvecs(synthetic, syntheticRows, 128);
      c.input = ['--input', synthetic];
    }
    const storeDir = await mkdtemp(join(tmpdir(), 'shardfleet-bench-store-'));
    try {
      const r = await runBuild(c, storeDir);
      const counts = r.manifest.shards.map((s) => s.vector_count);
      const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
      const maxOverMean = Math.max(...counts) / mean;
      rows.push(
        `| ${c.name} | ${c.vectors.toLocaleString('en')} | ${r.seconds.toFixed(1)} | ${Math.round(c.vectors / r.seconds).toLocaleString('en')} | ${r.rssMb.toFixed(0)} | ` +
          `${r.kmeansMs === null ? '-' : (r.kmeansMs / 1000).toFixed(1)} | ${maxOverMean.toFixed(2)} | ${(r.manifest.build_stats.total_bytes / 1e6).toFixed(0)} |`,
      );
      console.log(rows.at(-1), JSON.stringify(r.stages));
      if (c.routingRecall) {
        const recall = await routingRecall(storeDir, r.manifest, quick ? 100 : 300);
        recallRows.push(`| ${c.name} | ${recall.map((x) => x.toFixed(3)).join(' | ')} | ${maxOverMean.toFixed(2)} |`);
        console.log(recallRows.at(-1));
      }
    } finally {
      await rm(storeDir, { recursive: true, force: true });
    }
  }
  console.log('\n## Build\n');
  console.log('| case | vectors | wall s | vectors/s | peak RSS MB | k-means s | max/mean shard | MB stored |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(r);
  if (recallRows.length > 0) {
    console.log('\n## Routing recall@10 (fraction of the exact top-10 inside the probed shards)\n');
    console.log('| case | p=1 | p=2 | p=3 | p=4 | max/mean shard |');
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const r of recallRows) console.log(r);
  }
}

await main();
