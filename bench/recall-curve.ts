/**
 * Routing recall curve bench (issue 15): builds snapshots of an IDX image set (default the
 * Fashion-MNIST train split, 60,000 x 784, from ../shared/datasets) for each strategy and shard
 * count, and prints the build's own curve (manifest routing_recall), the time measuring it took
 * (ms, from the build log) beside the whole build, and the recall measured independently on
 * held-out queries (t10k images, never in the base) with exact top-10 over the whole base (usearch
 * exactSearch) through the run's routing.
 *
 * Usage: node --import tsx bench/recall-curve.ts [--base train|t10k] [--limit N] [--queries N]
 *   [--num-dbs 8,16] [--strategies cluster,lsh]
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { exactSearch, MetricKind, type BatchMatches } from 'usearch';
import { loadShardRouting } from '../src/common/routing/load-routing.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import { buildSnapshot } from '../src/writer/build-snapshot.ts';
import { openIdxSource, readIdxImages } from '../src/writer/input/idx-source.ts';

const { values } = parseArgs({
  options: {
    base: { type: 'string', default: 'train' },
    limit: { type: 'string' },
    queries: { type: 'string', default: '1000' },
    'num-dbs': { type: 'string', default: '8,16' },
    strategies: { type: 'string', default: 'cluster,lsh' },
  },
});
const SHARED = join(import.meta.dirname, '..', '..', 'shared', 'datasets', 'fashion-mnist');
const BUNDLED = join(import.meta.dirname, '..', 'examples', 'data', 'fashion-mnist');
const dataDir = existsSync(SHARED) ? SHARED : BUNDLED;
const basePath = join(dataDir, `${values.base}-images-idx3-ubyte.gz`);
const queryPath = join(dataDir, 't10k-images-idx3-ubyte.gz');
const limit = values.limit === undefined ? undefined : Number(values.limit);
const numQueries = Number(values.queries);

const base = await readIdxImages(basePath, { limit });
// Held-out queries: the last t10k images (with --base t10k keep --limit <= 10,000 - queries).
const queries = await readIdxImages(queryPath, { start: 10_000 - numQueries, limit: numQueries });
if (values.base === 't10k' && base.count > 10_000 - numQueries) throw new Error('with --base t10k, --limit must leave the last --queries images out');
const dim = base.dim;
const truth = exactSearch(base.vectors, queries.vectors, dim, 10, MetricKind.L2sq, 0) as BatchMatches;
console.log(`base ${basePath} (${base.count} x ${dim}), ${numQueries} held-out queries`);

for (const strategy of values.strategies.split(',')) {
  for (const numDbs of values['num-dbs'].split(',').map(Number)) {
    const dir = mkdtempSync(join(tmpdir(), 'recall-curve-'));
    const store = openObjectStore(join(dir, 'store'));
    const logged: Record<string, unknown>[] = [];
    const sink = new Writable({ write: (chunk, _enc, cb) => (logged.push(JSON.parse(String(chunk))), cb()) });
    const started = performance.now();
    const result = await buildSnapshot({
      store,
      source: await openIdxSource({ imagesPath: basePath, limit }),
      sharding: strategy === 'lsh' ? { strategy: 'lsh', numDbs, numProbes: 1 } : { strategy: 'cluster', numDbs, numProbes: 1 },
      metric: 'l2',
      progress: false,
      log: pino({ level: 'info' }, sink),
    });
    const buildMs = performance.now() - started;
    const curveMs = logged.find((l) => typeof l.msg === 'string' && l.msg.startsWith('routing recall'))?.ms;
    const rr = result.manifest.routing_recall!;
    const routing = await loadShardRouting(store, result.manifest);
    const shardOf = Int32Array.from({ length: base.count }, (_, r) => routing.assign({ vector: base.vectors.subarray(r * dim, (r + 1) * dim), location: '' }));
    const hits = new Float64Array(numDbs);
    for (let q = 0; q < numQueries; q++) {
      const order = routing.route({ vector: queries.vectors.subarray(q * dim, (q + 1) * dim), numProbes: numDbs, shardIds: [] });
      for (let j = 0; j < 10; j++) hits[order.indexOf(shardOf[Number(truth.keys[q * 10 + j])])]++;
    }
    let sum = 0;
    const measured = Array.from(hits, (h) => (sum += h) / (numQueries * 10));
    const fmt = (c: readonly number[]): string => c.slice(0, Math.min(c.length, 8)).map((x) => x.toFixed(4)).join(' ');
    console.log(
      `${strategy} ${numDbs} shards: build ${Math.round(buildMs)} ms, curve ${curveMs} ms (${rr.sample_queries} queries in ${rr.sample_size})\n` +
        `  curve    p=1..8: ${fmt(rr.recall_at_probes)}\n  held-out p=1..8: ${fmt(measured)}`,
    );
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
