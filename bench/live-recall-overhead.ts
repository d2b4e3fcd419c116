/**
 * `npm run bench:live-recall`: what live recall (issue 24, src/router/live-recall.ts) costs the
 * user queries. Builds a snapshot of the bundled Fashion-MNIST test split (9,000 base vectors,
 * 4 shards, usearch, num_probes 2), then for each setting of `--live-recall-fraction` (default
 * 0 = off, 0.01, 1) starts a router and 2 shard nodes as processes on 127.0.0.1 with
 * `--live-recall-max-per-second` (default 2, the router's default; `--max-per-second`), runs
 * closed-loop Search load over 1,000 held-out queries for `--seconds` (default 15, after a 3 s
 * warm-up), and prints side by side: QPS, p50 / p99 / max latency (ms, at the client), failed
 * user queries, and from the router's /metrics the samples measured / skipped (by reason) and
 * the live recall@10 beside the build-time figure. `--rounds N` (default 1) repeats the settings
 * alternately, so a loaded machine's drift spreads over all of them.
 * Options: `--seconds`, `--concurrency` (default 8), `--fractions 0,0.01,1`, `--max-per-second`,
 * `--rounds`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { startLocalCluster } from '../src/cli/local-cluster.ts';
import { createLogger } from '../src/common/logger.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { runLoad, type LoadResult } from '../src/eval/load-generator.ts';
import { promSample, promSamples } from '../src/eval/prometheus-text.ts';
import { buildSnapshot } from '../src/writer/build-snapshot.ts';
import { openIdxSource, readIdxImages } from '../src/writer/input/idx-source.ts';

const DATA = join(import.meta.dirname, '..', 'examples', 'data', 'fashion-mnist');
const IMAGES = join(DATA, 't10k-images-idx3-ubyte.gz');

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    concurrency: { type: 'string', default: '8' },
    fractions: { type: 'string', default: '0,0.01,1' },
    'max-per-second': { type: 'string', default: '2' },
    rounds: { type: 'string', default: '1' },
  },
});
const seconds = Number(args.seconds);
const concurrency = Number(args.concurrency);
const fractions = (args.fractions ?? '0,0.01,1').split(',').map(Number);
const maxPerSecond = Number(args['max-per-second']);
const rounds = Number(args.rounds);
for (const [flag, v] of [['--seconds', seconds], ['--concurrency', concurrency], ['--max-per-second', maxPerSecond], ['--rounds', rounds]] as const) {
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${flag} must be a number > 0, got ${v}`);
}
for (const f of fractions) if (!(f >= 0 && f <= 1)) throw new Error(`--fractions must be fractions in [0, 1], got ${f}`);

interface Row {
  fraction: number;
  load: LoadResult;
  measured: number;
  skipped: Record<string, number>;
  live?: number;
  build?: number;
}

const dir = await mkdtemp(join(tmpdir(), 'shardfleet-live-recall-'));
const store = new FileObjectStore(join(dir, 'store'));
process.env.SHARDFLEET_LOG_LEVEL ??= 'warn';
try {
  await buildSnapshot({
    store,
    source: await openIdxSource({ imagesPath: IMAGES, limit: 9000 }),
    sharding: { strategy: 'cluster', numDbs: 4, numProbes: 2 },
    metric: 'l2',
    progress: false,
    log: createLogger('bench'),
  });
  const queries = await readIdxImages(IMAGES, { start: 9000, limit: 1000 });
  const rows: Row[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const fraction of fractions) {
      const cluster = await startLocalCluster({
        store: join(dir, 'store'),
        numNodes: 2,
        cacheDir: join(dir, 'cache'),
        stderr: 'ignore',
        metricsListen: 'auto',
        routerArgs: ['--live-recall-fraction', String(fraction), '--live-recall-max-per-second', String(maxPerSecond)],
      });
      const client = new ShardfleetClient(cluster.routerAddress);
      try {
        const params = { top_k: 10 };
        await runLoad(client, { queries: queries.vectors, dim: queries.dim, concurrency, durationMs: 3000, params });
        const load = await runLoad(client, { queries: queries.vectors, dim: queries.dim, concurrency, durationMs: seconds * 1000, params });
        const text = await (await fetch(`http://${cluster.metrics.get('router')}/metrics`)).text();
        const skipped: Record<string, number> = {};
        for (const s of promSamples(text, 'shardfleet_router_live_recall_samples_total', { outcome: 'skipped' })) skipped[s.labels.reason] = s.value;
        const labels = { collection: 'default', num_probes: '2', filter: 'none' };
        rows.push({
          fraction,
          load,
          measured: promSample(text, 'shardfleet_router_live_recall_samples_total', { outcome: 'measured' }) ?? 0,
          skipped,
          live: promSample(text, 'shardfleet_router_live_recall', labels),
          build: promSample(text, 'shardfleet_router_build_recall', labels),
        });
        console.error(`round ${round + 1}, fraction ${fraction}: ${load.qps.toFixed(0)} QPS, p50 ${load.p50.toFixed(2)} ms, p99 ${load.p99.toFixed(2)} ms, ${load.errorCount} errors`);
      } finally {
        client.close();
        await cluster.stop();
      }
    }
  }
  console.log(`\nLive recall overhead: ${concurrency} concurrent Search clients, top_k 10, ${seconds} s per run (+3 s warm-up), --live-recall-max-per-second ${maxPerSecond}, ${rounds} round(s)`);
  console.log('fraction  QPS     p50 ms  p99 ms  max ms  failed  measured  skipped                      live@10  build@10');
  for (const r of rows) {
    const skipped = Object.entries(r.skipped).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ') || '-';
    console.log(
      [
        String(r.fraction).padEnd(8),
        r.load.qps.toFixed(0).padStart(6),
        r.load.p50.toFixed(2).padStart(7),
        r.load.p99.toFixed(2).padStart(7),
        r.load.max.toFixed(1).padStart(7),
        String(r.load.errorCount).padStart(6),
        String(r.measured).padStart(9),
        ' ' + skipped.padEnd(28),
        r.live === undefined ? '      -' : r.live.toFixed(3).padStart(7),
        r.build === undefined ? '       -' : r.build.toFixed(3).padStart(8),
      ].join(' '),
    );
  }
  if (rows.some((r) => r.load.errorCount > 0)) {
    for (const r of rows) if (r.load.errorCount > 0) console.log(`fraction ${r.fraction} errors: ${JSON.stringify([...r.load.errors])}`);
    process.exitCode = 1;
  }
} finally {
  await store.close();
  await rm(dir, { recursive: true, force: true });
}
