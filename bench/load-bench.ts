/**
 * `npm run bench:load`: a bounded load test of a local cluster. Builds a snapshot of the bundled
 * Fashion-MNIST test split (9,000 base vectors, 8 shards, the default backend), starts a router and 3 shard nodes with
 * replication 2 as processes on 127.0.0.1, then runs closed-loop load at several concurrencies
 * for a fixed time each and prints QPS, p50/p99/max latency (ms, at the client), errors, CPU ms
 * per query (router and nodes, from /proc), and from the router's /metrics the nodes called per
 * query and each node's share of the node calls (how evenly replica choice spreads the load).
 * Options: `--seconds N` per step (default 10), `--concurrency 1,8,32`, `--num-probes 2`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { freePort } from '../src/cli/free-port.ts';
import { startLocalCluster } from '../src/cli/local-cluster.ts';
import { createLogger } from '../src/common/logger.ts';
import { promSamples } from '../src/eval/prometheus-text.ts';
import { cpuDeltaByProcess, snapshotCpu } from './lib/proc-stats.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { runLoad } from '../src/eval/load-generator.ts';
import { buildSnapshot } from '../src/writer/build-snapshot.ts';
import { openIdxSource, readIdxImages } from '../src/writer/input/idx-source.ts';

const DATA = join(import.meta.dirname, '..', 'examples', 'data', 'fashion-mnist');
const IMAGES = join(DATA, 't10k-images-idx3-ubyte.gz');

const { values: args } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, concurrency: { type: 'string', default: '1,8,32' }, 'num-probes': { type: 'string', default: '2' } },
});
const seconds = Number(args.seconds);
const levels = (args.concurrency ?? '1,8,32').split(',').map(Number);
const numProbes = Number(args['num-probes']);

const dir = await mkdtemp(join(tmpdir(), 'shardfleet-load-'));
const store = new FileObjectStore(join(dir, 'store'));
process.env.SHARDFLEET_LOG_LEVEL ??= 'warn';
try {
  const built = await buildSnapshot({
    store,
    source: await openIdxSource({ imagesPath: IMAGES, limit: 9000 }),
    sharding: { strategy: 'cluster', numDbs: 8, numProbes },
    metric: 'l2',
    progress: false,
    log: createLogger('bench'),
  });
  const queries = await readIdxImages(IMAGES, { start: 9000, limit: 1000 });
  const metricsAddress = `127.0.0.1:${await freePort()}`;
  const cluster = await startLocalCluster({
    store: join(dir, 'store'),
    numNodes: 3,
    replication: 2,
    cacheDir: join(dir, 'cache'),
    stderr: 'ignore',
    routerArgs: ['--metrics-listen', metricsAddress],
  });
  const pids = Object.fromEntries([...cluster.processes].map(([name, p]) => [name, p.pid as number]));
  const scrape = async (): Promise<RouterCounts> => routerCounts(await (await fetch(`http://${metricsAddress}/metrics`)).text());
  const client = new ShardfleetClient(cluster.routerAddress);
  try {
    const index = built.manifest.index;
    const quantization = typeof index.index_params.quantization === 'string' ? ` ${index.index_params.quantization}` : '';
    console.log(`# shardfleet load benchmark — run ${built.runId}, 9,000 x 784, 8 shards (${index.backend}${quantization}, the default backend), 3 nodes, R=2, num_probes ${numProbes}, ${seconds} s per step`);
    console.log('| concurrency | queries | errors | QPS | p50 ms | p99 ms | max ms | CPU ms per query (router / nodes) | nodes per query | node calls per query | share of node calls (node-0/1/2) |');
    console.log('|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|');
    await runLoad(client, { queries: queries.vectors, dim: queries.dim, concurrency: 4, durationMs: 2000, params: { num_probes: numProbes } }); // warm-up
    for (const concurrency of levels) {
      const before = await scrape();
      const cpuBefore = snapshotCpu(pids);
      const r = await runLoad(client, {
        queries: queries.vectors,
        dim: queries.dim,
        concurrency,
        durationMs: seconds * 1000,
        maxQueries: 200_000,
        params: { top_k: 10, num_probes: numProbes },
      });
      const cpu = cpuDeltaByProcess(cpuBefore, snapshotCpu(pids));
      const after = await scrape();
      const msPerQuery = (seconds: number): string => ((seconds * 1000) / Math.max(1, r.ok)).toFixed(2);
      const nodeCpu = Object.entries(cpu).filter(([name]) => name !== 'router').reduce((a, [, v]) => a + v, 0);
      const requests = after.requests - before.requests;
      const calls = [...after.callsByNode].map(([node, n]) => [node, n - (before.callsByNode.get(node) ?? 0)] as const).sort();
      const totalCalls = calls.reduce((s, [, n]) => s + n, 0);
      const shares = calls.map(([, n]) => (n / Math.max(1, totalCalls)).toFixed(2)).join(' / ');
      console.log(
        `| ${concurrency} | ${r.ok} | ${r.errorCount} | ${r.qps.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.max.toFixed(1)} | ` +
          `${msPerQuery((cpu.router ?? 0) + nodeCpu)} (${msPerQuery(cpu.router ?? 0)} / ${msPerQuery(nodeCpu)}) | ` +
          `${((after.widthSum - before.widthSum) / Math.max(1, requests)).toFixed(2)} | ${(totalCalls / Math.max(1, requests)).toFixed(2)} | ${shares} |`,
      );
      if (r.errorCount) console.log(`  errors: ${JSON.stringify([...r.errors])}`);
    }
  } finally {
    client.close();
    await cluster.stop();
  }
} finally {
  await store.close();
  await rm(dir, { recursive: true, force: true });
}

/** Router counters read from its /metrics: Search requests, first-wave width sum, node calls by node. */
interface RouterCounts {
  requests: number;
  widthSum: number;
  callsByNode: Map<string, number>;
}

function routerCounts(text: string): RouterCounts {
  const callsByNode = new Map<string, number>();
  for (const s of promSamples(text, 'shardfleet_router_node_rpc_duration_seconds_count')) {
    callsByNode.set(s.labels.node, (callsByNode.get(s.labels.node) ?? 0) + s.value);
  }
  return {
    requests: promSamples(text, 'shardfleet_router_fanout_nodes_count', { rpc: 'Search' }).reduce((a, s) => a + s.value, 0),
    widthSum: promSamples(text, 'shardfleet_router_fanout_nodes_sum', { rpc: 'Search' }).reduce((a, s) => a + s.value, 0),
    callsByNode,
  };
}
