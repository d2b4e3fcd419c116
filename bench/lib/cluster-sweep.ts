/**
 * The cluster for real: for one configuration (shards x strategy x backend) builds a snapshot,
 * starts a router and 2 shard nodes as processes on 127.0.0.1, drives them from a separate client
 * process (bench/query-client.ts) over gRPC at every num_probes / backend knob / concurrency, and
 * charges CPU (utime + stime of router, nodes and client) and peak RSS per process to each point,
 * and reads the router's node calls per query (and queries per node call) off its /metrics.
 * Then runs the same shard searches in-process (no gRPC) for the cost of distribution.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '../../src/cli/free-port.ts';
import { startLocalCluster } from '../../src/cli/local-cluster.ts';
import { createLogger } from '../../src/common/logger.ts';
import { FileObjectStore } from '../../src/common/storage/file-object-store.ts';
import type { ShardQueryOptions } from '../../src/shard-node/shard-index-reader.ts';
import { knobParams } from './measure.ts';
import type { BackendOptions, ShardingOptions } from '../../src/writer/build-options.ts';
import { buildSnapshot } from '../../src/writer/build-snapshot.ts';
import { openIdxSource } from '../../src/writer/input/idx-source.ts';
import type { ClientCommand, ClientResult } from '../query-client.ts';
import type { Dataset } from './dataset.ts';
import { ROOT } from './dataset.ts';
import { openInProcessShards } from './in-process-shards.ts';
import { K, meanRecall, measureInProcess, type PointBudget } from './measure.ts';
import { cpuDeltaByProcess, peakRssMb, resetPeakRss, snapshotCpu } from './proc-stats.ts';
import { routerCallCounts, routerCallStats, type RouterCallCounts } from './router-calls.ts';
import type { BenchPoint, BenchRun } from './types.ts';

/** One cluster configuration of the sweep. */
export interface ClusterConfig {
  /** e.g. `8sh cluster lancedb`. */
  name: string;
  sharding: ShardingOptions;
  backend: BackendOptions;
  /** num_probes values to sweep. */
  probes: number[];
  /** Backend knob settings to sweep at every num_probes ({} = shard defaults). */
  knobs: ShardQueryOptions[];
}

/** Inputs shared by every configuration. */
export interface SweepContext {
  ds: Dataset;
  gt: Float32Array;
  workDir: string;
  /** Raw float32 query file for the client process. */
  queriesFile: string;
  /** Budgets per point: concurrency 1 and a saturating concurrency. */
  budgets: PointBudget[];
  run: BenchRun;
}

/** A JSON-lines conversation with the query-client child. */
class QueryClientProcess {
  private readonly waiting: ((line: string) => void)[] = [];
  private readonly lines: string[] = [];

  private constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const w = this.waiting.shift();
      if (w) w(line);
      else this.lines.push(line);
    });
  }

  static async start(routerAddress: string, queriesFile: string, dim: number): Promise<QueryClientProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'query-client.ts'), routerAddress, queriesFile, String(dim)], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, SHARDFLEET_LOG_LEVEL: 'warn' },
    });
    const c = new QueryClientProcess(child);
    await c.nextLine();
    return c;
  }

  private nextLine(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`query client exited (code ${code})`));
      this.child.once('exit', onExit);
      this.waiting.push((line) => {
        this.child.off('exit', onExit);
        resolve(line);
      });
    });
  }

  async run(cmd: ClientCommand): Promise<ClientResult> {
    this.child.stdin!.write(`${JSON.stringify(cmd)}\n`);
    return JSON.parse(await this.nextLine()) as ClientResult;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin!.end();
    await exited;
  }
}

/** Builds, serves and measures one configuration; calls `onPoint` for every point. */
export async function sweepCluster(ctx: SweepContext, cfg: ClusterConfig, onPoint: (p: BenchPoint) => void): Promise<void> {
  const storeDir = join(ctx.workDir, `store-${cfg.name.replaceAll(' ', '-')}`);
  const store = new FileObjectStore(storeDir);
  const t0 = performance.now();
  const built = await buildSnapshot({
    store,
    source: await openIdxSource({ imagesPath: ctx.ds.basePath, limit: ctx.ds.baseCount }),
    sharding: cfg.sharding,
    backend: cfg.backend,
    metric: 'l2',
    progress: false,
    log: createLogger('bench'),
  });
  ctx.run.builds.push({ name: `cluster ${cfg.name}`, seconds: (performance.now() - t0) / 1000 });
  const numDbs = built.manifest.shards.length;
  const series = `cluster ${cfg.name}`;

  const metricsAddress = `127.0.0.1:${await freePort()}`;
  const cluster = await startLocalCluster({
    store: storeDir,
    numNodes: 2,
    cacheDir: join(ctx.workDir, `cache-${cfg.name.replaceAll(' ', '-')}`),
    stderr: 'ignore',
    routerArgs: ['--metrics-listen', metricsAddress],
  });
  // Scraped outside the CPU snapshots, so rendering /metrics is not charged to the point.
  const scrape = async (): Promise<RouterCallCounts | undefined> => {
    try {
      return routerCallCounts(await (await fetch(`http://${metricsAddress}/metrics`)).text());
    } catch {
      return undefined;
    }
  };
  let client: QueryClientProcess | undefined;
  try {
    client = await QueryClientProcess.start(cluster.routerAddress, ctx.queriesFile, ctx.ds.dim);
    const pids: Record<string, number> = { client: client.child.pid! };
    for (const [name, child] of cluster.processes) pids[name] = child.pid!;
    await client.run({ concurrency: 4, maxQueries: 200, durationMs: 5000, params: { top_k: K, num_probes: cfg.probes[0] } }); // warm-up
    for (const numProbes of cfg.probes) {
      for (const knobs of cfg.knobs) {
        for (const budget of ctx.budgets) {
          for (const pid of Object.values(pids)) resetPeakRss(pid);
          const callsBefore = await scrape();
          const before = snapshotCpu(pids);
          const r = await client.run({
            concurrency: budget.concurrency,
            maxQueries: budget.maxQueries,
            durationMs: budget.durationMs,
            params: { top_k: K, num_probes: numProbes, nprobes: knobs.nprobes, ef: knobs.ef, refine_factor: knobs.refineFactor },
          });
          const cpuByProcess = cpuDeltaByProcess(before, snapshotCpu(pids));
          const calls = routerCallStats(callsBefore, await scrape());
          const cpu = Object.values(cpuByProcess).reduce((a, b) => a + b, 0);
          if (r.errors > 0) {
            const note = `${series} num_probes ${numProbes} ${JSON.stringify(knobParams(knobs))} c=${budget.concurrency}: ${r.errors} errors (${r.firstError})`;
            ctx.run.notes.push(note);
            process.stderr.write(`ERRORS: ${note}\n`);
          }
          onPoint({
            series,
            kind: 'cluster',
            params: { num_probes: numProbes, ...knobParams(knobs) },
            concurrency: budget.concurrency,
            queries: r.ok,
            recall: meanRecall(r.scores, ctx.gt),
            qps: r.qps,
            p50Ms: r.p50,
            p99Ms: r.p99,
            cpuMsPerQuery: (cpu * 1000) / r.ok,
            cpuMsPerQueryByProcess: Object.fromEntries(Object.entries(cpuByProcess).map(([name, s]) => [name, +((s * 1000) / r.ok).toFixed(3)])),
            peakRssMb: Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, +peakRssMb(pid).toFixed(1)])),
            shardsProbedFraction: r.meanShards / numDbs,
            ...(calls ? { nodeCallsPerQuery: +calls.nodeCallsPerQuery.toFixed(3), queriesPerNodeCall: +calls.queriesPerNodeCall.toFixed(3) } : {}),
          });
        }
      }
    }
  } finally {
    await client?.stop();
    await cluster.stop();
  }

  // The cost of distribution: the same routing + shard searches + merge in this process.
  const shards = await openInProcessShards(store, built.manifest);
  try {
    for (const numProbes of cfg.probes) {
      for (const knobs of cfg.knobs) {
        const p = await measureInProcess(`in-process ${cfg.name}`, 'in-process', { num_probes: numProbes, ...knobParams(knobs) }, ctx.ds.queryCount, ctx.gt, ctx.budgets[0], (row) =>
          shards.search(ctx.ds.queries.subarray(row * ctx.ds.dim, (row + 1) * ctx.ds.dim), K, numProbes, knobs),
        );
        p.shardsProbedFraction = numProbes / numDbs;
        onPoint(p);
      }
    }
  } finally {
    shards.close();
    await store.close();
  }
}
