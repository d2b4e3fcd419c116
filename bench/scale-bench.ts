/**
 * `npm run bench:scale` (issue 22): the scale table for clustered synthetic data.
 *
 * 1. Generates (seeded, cached under --cache, written in chunks) N vectors of 1,000 anisotropic
 *    Gaussian clusters of uneven sizes, 128-d float32, and 1,000 held-out queries of the same
 *    mixture (bench/lib/clustered-data.ts), and their exact top-10 by brute force (usearch
 *    exactSearch over chunks of the base, all cores; cached).
 * 2. Builds a snapshot with the real CLI in a child process (`shardfleet build`, defaults, 16
 *    shards, cluster strategy, plus any --build-arg), charging its CPU time (getrusage of the
 *    child, all threads, via bench/report-rss.mjs) per vector.
 * 3. Serves an empty-ish baseline snapshot (the first --baseline-n vectors) and then the snapshot
 *    with 2 shard nodes (R=1) and a router (src/cli/local-cluster.ts), timing each node from
 *    spawn to SERVING, and reads each node's RssAnon from /proc/<pid>/status.
 * 4. Queries the router with the held-out queries at num_probes 1,2,4,8 (and at a large ef, which
 *    approximates the routing-only ceiling on held-out queries), and at target_recall 0.95 and
 *    0.99, next to the manifest's build-time curve(s).
 * Prints the table, writes bench/results/scale-<date>-<n>.json and an SVG of recall vs num_probes.
 *
 * Usage: tsx bench/scale-bench.ts [--n 1000000] [--queries 1000] [--num-dbs 16] [--nodes 2]
 *   [--probes 1,2,4,8] [--targets 0.95,0.99] [--ceiling-ef 512 (0 = none)] [--ceiling-probes 2,4]
 *   [--build-arg=--balanced ...] (one build flag per --build-arg, written with `=`)
 *   [--keep] [--cache bench/.cache/scale] [--label text] [--concurrency 4]
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import pLimit from 'p-limit';
import { startLocalCluster, type LocalCluster } from '../src/cli/local-cluster.ts';
import { ShardfleetClient, type SearchParams } from '../src/client/router-client.ts';
import { waitForServing } from '../src/common/health.ts';
import { CURRENT_KEY, parseCurrentPointer } from '../src/common/manifest.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import { cachedExactNeighbours, recallOf, type ExactNeighbours } from './lib/chunked-ground-truth.ts';
import { DEFAULT_CLUSTERED_SPEC, ensureClusteredData, readFvecsFile, type ClusteredSpec } from './lib/clustered-data.ts';
import { ROOT } from './lib/dataset.ts';
import { cpuSeconds } from './lib/proc-stats.ts';
import { diskPerVector, manifestCurves, placementLoad, residentBytes, shardSizeStats, type ManifestLike, type ShardDetailsLike } from './lib/scale-figures.ts';
import { lineSvg, type LineSeries } from './lib/svg-plot.ts';
import { parseBuildReport } from './lib/build-report.ts';

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '1000000' },
    queries: { type: 'string', default: '1000' },
    'num-dbs': { type: 'string', default: '16' },
    nodes: { type: 'string', default: '2' },
    probes: { type: 'string', default: '1,2,4,8' },
    targets: { type: 'string', default: '0.95,0.99' },
    'ceiling-ef': { type: 'string', default: '512' },
    'ceiling-probes': { type: 'string' },
    'baseline-n': { type: 'string', default: '1600' },
    'build-arg': { type: 'string', multiple: true, default: [] },
    keep: { type: 'boolean', default: false },
    cache: { type: 'string', default: join(ROOT, 'bench', '.cache', 'scale') },
    out: { type: 'string', default: join(ROOT, 'bench', 'results') },
    label: { type: 'string' },
    concurrency: { type: 'string', default: '4' },
  },
});

function intFlag(name: keyof typeof args, min: number): number {
  const v = Number(args[name]);
  if (!Number.isInteger(v) || v < min) throw new Error(`--${name}: expected an integer >= ${min}, got ${String(args[name])}`);
  return v;
}
const N = intFlag('n', 1);
const QUERIES = intFlag('queries', 1);
const NUM_DBS = intFlag('num-dbs', 1);
const NODES = intFlag('nodes', 1);
const CEILING_EF = intFlag('ceiling-ef', 0);
const BASELINE_N = Math.min(intFlag('baseline-n', NUM_DBS), N);
const CONCURRENCY = intFlag('concurrency', 1);
const PROBES = args.probes.split(',').map(Number).filter((p) => Number.isInteger(p) && p >= 1 && p <= NUM_DBS);
/** num_probes measured at --ceiling-ef (default: all of --probes). */
const CEILING_PROBES = args['ceiling-probes'] === undefined ? PROBES : args['ceiling-probes'].split(',').map(Number).filter((p) => PROBES.includes(p));
const TARGETS = args.targets.split(',').map(Number);
if (TARGETS.some((t) => !(t > 0 && t <= 1))) throw new Error(`--targets: each value must be in (0, 1], got ${args.targets}`);
const BUILD_ARGS = args['build-arg'];
const K = 10;
const CLI = join(ROOT, 'src', 'cli', 'main.ts');
const PRELOAD = join(ROOT, 'bench', 'report-rss.mjs');

const log = (line: string): void => void process.stderr.write(`[scale ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

/** Wall and CPU seconds of one step: the bench's own CPU and its children's. */
interface StepTime {
  step: string;
  wallSeconds: number;
  benchCpuSeconds: number;
  childCpuSeconds?: number;
}
const steps: StepTime[] = [];
async function timed<T>(step: string, run: () => Promise<T> | T, childCpu?: (r: T) => number | undefined): Promise<T> {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  const r = await run();
  const used = process.cpuUsage(cpu);
  const s: StepTime = { step, wallSeconds: (performance.now() - wall) / 1000, benchCpuSeconds: (used.user + used.system) / 1e6 };
  const c = childCpu?.(r);
  if (c !== undefined) s.childCpuSeconds = c;
  steps.push(s);
  log(`${step}: ${s.wallSeconds.toFixed(1)} s wall, ${s.benchCpuSeconds.toFixed(1)} s bench CPU${c === undefined ? '' : `, ${c.toFixed(1)} s child CPU`}`);
  return r;
}

/** What one `shardfleet build` child reported. */
interface BuildRecord {
  args: string[];
  wallSeconds: number;
  cpuSeconds: number;
  peakRssMb: number;
  /** Stage -> seconds, from the build's info log lines that carry `stage` and `seconds`. */
  stages: Record<string, number>;
}

/** Runs `shardfleet build` as a child (through tsx, like the CLI's source fallback) and charges its CPU. */
async function runBuild(storeDir: string, basePath: string, extra: string[]): Promise<BuildRecord> {
  const buildArgs = ['build', '--store', storeDir, '--input', basePath, '--num-dbs', String(NUM_DBS), '--strategy', 'cluster', '--no-progress', ...extra];
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', PRELOAD, CLI, ...buildArgs], {
    cwd: ROOT,
    env: { ...process.env, SHARDFLEET_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  const wallSeconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`shardfleet ${buildArgs.join(' ')} exited with code ${code}:\n${stderr.slice(-4000)}`);
  const r = parseBuildReport(stderr);
  const rec: BuildRecord = { args: buildArgs.slice(1), wallSeconds, cpuSeconds: r.userSeconds + r.systemSeconds, peakRssMb: r.peakRssMb, stages: r.stages };
  return rec;
}

/** Builds into `<dir>` unless --keep and a published run with its build record is there. */
async function ensureBuilt(dir: string, basePath: string, extra: string[]): Promise<{ rec: BuildRecord; reused: boolean }> {
  const recordFile = join(dir, 'bench-build.json');
  if (args.keep && existsSync(join(dir, 'store', CURRENT_KEY)) && existsSync(recordFile)) return { rec: JSON.parse(readFileSync(recordFile, 'utf8')) as BuildRecord, reused: true };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const rec = await runBuild(join(dir, 'store'), basePath, extra);
  writeFileSync(recordFile, JSON.stringify(rec));
  return { rec, reused: false };
}

/** The published manifest of a store, as raw JSON (any version; unknown fields kept). */
async function readManifest(storeDir: string): Promise<ManifestLike> {
  const store = openObjectStore(storeDir);
  try {
    const pointer = parseCurrentPointer(await store.get(CURRENT_KEY));
    return JSON.parse((await store.get(pointer.manifest_ref)).toString('utf8')) as ManifestLike;
  } finally {
    await store.close();
  }
}

/** A served cluster with each node's spawn -> SERVING time. */
async function serve(storeDir: string, cacheDir: string): Promise<{ cluster: LocalCluster; readySeconds: Record<string, number>; allReadySeconds: number }> {
  const spawned = new Map<string, number>();
  const ready: Record<string, number> = {};
  const waits: Promise<void>[] = [];
  const started = performance.now();
  const cluster = await startLocalCluster({
    store: storeDir,
    numNodes: NODES,
    replication: 1,
    cacheDir,
    stderr: 'ignore',
    readyTimeoutMs: 30 * 60_000,
    onSpawn: (name) => spawned.set(name, performance.now()),
    onAddresses: (_router, nodes) => {
      for (const n of nodes) {
        waits.push(
          waitForServing(n.address, 30 * 60_000).then(
            () => void (ready[n.id] = (performance.now() - (spawned.get(n.id) ?? started)) / 1000),
            () => undefined,
          ),
        );
      }
    },
  });
  await Promise.all(waits);
  return { cluster, readySeconds: ready, allReadySeconds: (performance.now() - started) / 1000 };
}

/** One served measurement: recall@10 over the held-out queries with fixed request parameters. */
interface ServedPoint {
  params: Partial<Pick<SearchParams, 'num_probes' | 'ef' | 'target_recall'>>;
  recall: number;
  meanShardsQueried: number;
  queries: number;
  errors: number;
  firstError?: string;
  /** CPU ms per query of router + nodes (utime + stime from /proc). */
  clusterCpuMsPerQuery: number;
  wallSeconds: number;
}

async function measureServed(client: ShardfleetClient, pids: number[], queries: Float32Array, nb: ExactNeighbours, params: ServedPoint['params']): Promise<ServedPoint> {
  const limit = pLimit(CONCURRENCY);
  const cpuBefore = pids.reduce((a, p) => a + cpuSeconds(p), 0);
  const started = performance.now();
  let recall = 0;
  let shards = 0;
  let ok = 0;
  let errors = 0;
  let firstError: string | undefined;
  const dim = queries.length / nb.queries;
  await Promise.all(
    Array.from({ length: nb.queries }, (_, q) =>
      limit(async () => {
        try {
          const r = await client.search({ vector: queries.subarray(q * dim, (q + 1) * dim), top_k: K, timeout_ms: 60_000, ...params });
          recall += recallOf(nb, q, r.results.map((h) => h.id));
          shards += r.num_shards_queried;
          ok++;
        } catch (err) {
          errors++;
          firstError ??= (err as Error).message;
        }
      }),
    ),
  );
  const cpu = pids.reduce((a, p) => a + cpuSeconds(p), 0) - cpuBefore;
  return { params, recall: ok ? recall / ok : NaN, meanShardsQueried: ok ? shards / ok : NaN, queries: ok, errors, ...(firstError ? { firstError } : {}), clusterCpuMsPerQuery: ok ? (cpu * 1000) / ok : NaN, wallSeconds: (performance.now() - started) / 1000 };
}

/** Each node's resident memory now, by node id. */
function nodeMemory(cluster: LocalCluster): Record<string, { anon: number; file: number; rss: number }> {
  const out: Record<string, { anon: number; file: number; rss: number }> = {};
  for (const [name, child] of cluster.processes) if (name.startsWith('node') && child.pid !== undefined) out[name] = residentBytes(child.pid);
  return out;
}

/** usearch's own anonymous memory (bench/usearch-view-memory.ts) for the index files under `dir`. */
interface IndexOnlyMemory {
  files: number;
  vectors: number;
  anonBeforeBytes: number;
  anonAfterBytes: number;
}

/**
 * Views every `index.usearch` under `dir` (a node's cache folder) in a fresh child process, as
 * the node does, and returns usearch's own anonymous memory for them (undefined when the child
 * fails: the figure is then left out, not guessed).
 */
function indexOnlyMemory(dir: string, dim: number): IndexOnlyMemory | undefined {
  const files = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('index.usearch')).map((f) => join(dir, f));
  const res = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(ROOT, 'bench', 'usearch-view-memory.ts'), '--dim', String(dim), ...files], { encoding: 'utf8', cwd: ROOT });
  if (res.status !== 0) {
    log(`usearch-view-memory failed for ${dir}: ${res.stderr.slice(0, 500)}`);
    return undefined;
  }
  return JSON.parse(res.stdout.trim().split('\n').at(-1)!) as IndexOnlyMemory;
}

const fmtInt = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en') : '-');
const fmt = (x: number | undefined, d = 3): string => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));
const mb = (bytes: number): string => (Number.isFinite(bytes) ? `${(bytes / 2 ** 20).toFixed(0)} MB` : '-');

async function main(): Promise<void> {
  const spec: ClusteredSpec = { ...DEFAULT_CLUSTERED_SPEC, n: N, queries: QUERIES };
  log(`scale bench: n ${N.toLocaleString('en')}, ${QUERIES} queries, ${NUM_DBS} shards, ${NODES} nodes, build args [${BUILD_ARGS.join(' ')}], node ${process.version}, ${cpus().length} cores`);
  const data = await timed('data', () => ensureClusteredData(args.cache, spec, log));
  if (data.reused) steps.at(-1)!.step += ' (cached)';
  log(`data: ${relative(ROOT, data.basePath)} (${data.reused ? 'cached' : `generated in ${data.seconds.toFixed(1)} s`})`);
  const queries = readFvecsFile(data.queriesPath, QUERIES, spec.dim);
  const gt = await timed('ground truth', () => cachedExactNeighbours(join(args.cache, data.key, `gt-k${K}.bin`), data.basePath, N, spec.dim, queries, K, log));
  if (gt.reused) steps.at(-1)!.step += ' (cached)';
  log(`ground truth: ${gt.reused ? 'cached' : `${gt.seconds.toFixed(1)} s`}`);

  const buildKey = createHash('sha256').update(JSON.stringify([NUM_DBS, BUILD_ARGS])).digest('hex').slice(0, 10);
  const workDir = join(args.cache, data.key, `build-${buildKey}`);
  const baseDir = join(args.cache, data.key, `baseline-${buildKey}`);
  const built = await timed('build', () => ensureBuilt(workDir, data.basePath, BUILD_ARGS), (b) => (b.reused ? undefined : b.rec.cpuSeconds));
  if (built.reused) steps.at(-1)!.step += ' (reused with --keep: figures of the original build in the table and in build)';
  log(`build: ${built.reused ? 'reused (--keep)' : 'built'}; ${built.rec.wallSeconds.toFixed(1)} s wall, ${built.rec.cpuSeconds.toFixed(1)} s CPU, peak RSS ${built.rec.peakRssMb.toFixed(0)} MB`);
  const baselineBuild = await timed('baseline build', () => ensureBuilt(baseDir, data.basePath, [...BUILD_ARGS, '--limit', String(BASELINE_N)]));
  if (baselineBuild.reused) steps.at(-1)!.step += ' (reused with --keep)';
  const manifest = await readManifest(join(workDir, 'store'));
  const curves = manifestCurves(manifest);
  const counts = manifest.shards.map((s) => s.vector_count);
  const sizes = shardSizeStats(counts);
  const disk = diskPerVector(manifest);

  // Baseline: the same nodes serving a nearly empty snapshot, after a few queries.
  const baseline = await timed('baseline serve', async () => {
    const { cluster } = await serve(join(baseDir, 'store'), join(baseDir, 'node-cache'));
    const client = new ShardfleetClient(cluster.routerAddress);
    try {
      const small = { ...gt.nb, queries: Math.min(200, gt.nb.queries) };
      await measureServed(client, [], queries.subarray(0, small.queries * spec.dim), small, { num_probes: Math.min(2, NUM_DBS) });
      return nodeMemory(cluster);
    } finally {
      client.close();
      await cluster.stop();
      rmSync(join(baseDir, 'node-cache'), { recursive: true, force: true });
    }
  });
  const baselineAnon = Object.values(baseline).reduce((a, m) => a + m.anon, 0) / Math.max(1, Object.keys(baseline).length);

  const nodeCache = join(workDir, 'node-cache');
  rmSync(nodeCache, { recursive: true, force: true });
  const served = await timed('serve (start -> all SERVING)', () => serve(join(workDir, 'store'), nodeCache), (s) =>
    [...s.cluster.processes.values()].reduce((a, c) => a + (c.pid === undefined ? 0 : cpuSeconds(c.pid)), 0),
  );
  const { cluster } = served;
  const client = new ShardfleetClient(cluster.routerAddress);
  const pids = [...cluster.processes.values()].flatMap((c) => (c.pid === undefined ? [] : [c.pid]));
  const probePoints: ServedPoint[] = [];
  const ceilingPoints: ServedPoint[] = [];
  const targetPoints: ServedPoint[] = [];
  let details: ShardDetailsLike;
  let memAfterLoad: ReturnType<typeof nodeMemory>;
  let memAfterQueries: ReturnType<typeof nodeMemory>;
  const indexOnly: Record<string, IndexOnlyMemory | undefined> = {};
  let snapshotInfo: Record<string, unknown>;
  try {
    memAfterLoad = nodeMemory(cluster);
    for (const id of Object.keys(memAfterLoad)) indexOnly[id] = indexOnlyMemory(join(cluster.cacheRoot, id), spec.dim);
    details = (await client.shardDetails()) as unknown as ShardDetailsLike;
    snapshotInfo = (await client.snapshotInfo()) as unknown as Record<string, unknown>;
    await timed('queries', async () => {
      await measureServed(client, pids, queries.subarray(0, Math.min(100, QUERIES) * spec.dim), { ...gt.nb, queries: Math.min(100, QUERIES) }, { num_probes: PROBES[0] }); // warm-up
      for (const p of PROBES) {
        probePoints.push(await measureServed(client, pids, queries, gt.nb, { num_probes: p }));
        log(`served num_probes ${p}: recall@10 ${fmt(probePoints.at(-1)!.recall, 4)}, ${fmt(probePoints.at(-1)!.clusterCpuMsPerQuery, 2)} ms CPU/query`);
      }
      for (const t of TARGETS) {
        targetPoints.push(await measureServed(client, pids, queries, gt.nb, { target_recall: t }));
        log(`served target_recall ${t}: recall@10 ${fmt(targetPoints.at(-1)!.recall, 4)} (${fmt(targetPoints.at(-1)!.meanShardsQueried, 2)} shards)${targetPoints.at(-1)!.errors ? ` ERRORS ${targetPoints.at(-1)!.firstError}` : ''}`);
      }
      if (CEILING_EF > 0) {
        for (const p of CEILING_PROBES) {
          ceilingPoints.push(await measureServed(client, pids, queries, gt.nb, { num_probes: p, ef: CEILING_EF }));
          log(`served num_probes ${p} ef ${CEILING_EF}: recall@10 ${fmt(ceilingPoints.at(-1)!.recall, 4)}`);
        }
      }
    });
    memAfterQueries = nodeMemory(cluster);
  } finally {
    client.close();
    await cluster.stop();
    rmSync(nodeCache, { recursive: true, force: true });
    if (!args.keep) {
      rmSync(workDir, { recursive: true, force: true });
      rmSync(baseDir, { recursive: true, force: true });
    }
  }

  const placement = placementLoad(details);
  const memory = placement.nodes.map((n) => {
    const m = memAfterQueries[n.node] ?? { anon: NaN, file: NaN, rss: NaN };
    const afterLoad = memAfterLoad[n.node]?.anon ?? NaN;
    const own = indexOnly[n.node];
    const usearchOwnBytes = own ? own.anonAfterBytes - own.anonBeforeBytes : NaN;
    const nodeBaseline = baseline[n.node]?.anon ?? baselineAnon;
    return {
      node: n.node,
      vectors: n.vectors,
      bytes: n.bytes,
      rssAnonBytes: m.anon,
      rssFileBytes: m.file,
      rssAnonAfterLoadBytes: afterLoad,
      anonBytesPerVectorHeld: (m.anon - baselineAnon) / n.vectors,
      /** usearch's own anonymous memory for this node's indexes (Index.view in a bare process). */
      usearchOwnAnonBytes: usearchOwnBytes,
      /** Growth after load over this node's baseline, less usearch's own, per vector held. */
      anonBeyondIndexBytesPerVectorAfterLoad: (afterLoad - nodeBaseline - usearchOwnBytes) / n.vectors,
      /** The same after the query runs (adds query-time growth: SQLite page caches, gRPC and V8 buffers). */
      anonBeyondIndexBytesPerVectorAfterQueries: (m.anon - nodeBaseline - usearchOwnBytes) / n.vectors,
    };
  });
  const routingCurve = curves.find((c) => c.field === 'routing_recall') ?? curves[0];
  const benchUsage = process.resourceUsage();

  const result = {
    kind: 'scale',
    date: new Date().toISOString(),
    machine: { node: process.version, cores: cpus().length, cpu: cpus()[0]?.model },
    git: gitHead(),
    data: { ...spec, file: relative(ROOT, data.basePath), model: 'anisotropic Gaussian mixture (bench/lib/clustered-data.ts)' },
    build: { ...built.rec, reused: built.reused, cpuMicrosPerVector: (built.rec.cpuSeconds * 1e6) / N, extraArgs: BUILD_ARGS },
    shards: { counts, ...sizes },
    placement,
    disk,
    memory: { baselineVectors: BASELINE_N, baselineAnonBytes: baselineAnon, baselineByNode: baseline, nodes: memory },
    ready: { perNodeSeconds: served.readySeconds, allServingSeconds: served.allReadySeconds },
    recall: { probes: probePoints, ceilingEf: CEILING_EF, ceiling: ceilingPoints, targets: targetPoints, manifestCurves: curves, manifestRecallFields: Object.fromEntries(Object.entries(manifest).filter(([f]) => f.includes('recall'))) },
    snapshotInfo,
    steps,
    bench: { peakRssMb: benchUsage.maxRSS / 1024, cpuSeconds: (benchUsage.userCPUTime + benchUsage.systemCPUTime) / 1e6 },
  };

  // The issue's table.
  const perVec = memory.map((m) => m.anonBytesPerVectorHeld).filter(Number.isFinite);
  const rows: [string, string][] = [
    [`shard sizes (min-max vectors, max/mean)`, `${fmtInt(sizes.min)}-${fmtInt(sizes.max)} (${fmt(sizes.maxOverMin, 1)}x; max/mean ${fmt(sizes.maxOverMean, 2)})`],
    [`fullest node's share (R=1, ${NODES} nodes): vectors / bytes`, `${(placement.fullestVectorShare * 100).toFixed(0)}% / ${(placement.fullestByteShare * 100).toFixed(0)}%`],
    [`node anonymous memory (RssAnon; baseline ${mb(baselineAnon)} at ${BASELINE_N} vectors)`, memory.map((m) => `${m.node} ${mb(m.rssAnonBytes)} (${fmtInt(m.vectors)} vectors)`).join(', ')],
    [`node anon per vector held (beyond baseline)`, perVec.length ? `${perVec.map((v) => `${v.toFixed(0)} B`).join(', ')}` : '-'],
    [
      `node anon beyond usearch's own, per vector: after load / after queries (usearch's own)`,
      memory.map((m) => `${m.node} ${fmt(m.anonBeyondIndexBytesPerVectorAfterLoad, 1)} / ${fmt(m.anonBeyondIndexBytesPerVectorAfterQueries, 1)} B (${fmt(m.usearchOwnAnonBytes / m.vectors, 1)} B)`).join(', '),
    ],
    [`disk per vector (index + other)`, `${fmtInt(disk.total)} B (${fmtInt(disk.index)} + ${fmtInt(disk.other)}: ${Object.entries(disk.byFile).map(([f, b]) => `${f} ${fmtInt(b)}`).join(', ')})`],
    ...probePoints.map((p): [string, string] => [
      `recall@10 at num_probes ${p.params.num_probes} (build-time curve${CEILING_EF ? `; served ef ${CEILING_EF}` : ''})`,
      `${fmt(p.recall)} (${fmt(routingCurve?.recallAtProbes[(p.params.num_probes ?? 1) - 1])}${CEILING_EF ? `; ${fmt(ceilingPoints.find((c) => c.params.num_probes === p.params.num_probes)?.recall)}` : ''})`,
    ]),
    ...targetPoints.map((p): [string, string] => [`target_recall ${p.params.target_recall} delivered (mean shards)`, `${fmt(p.recall)} (${fmt(p.meanShardsQueried, 2)})${p.errors ? ` ${p.errors} errors: ${p.firstError}` : ''}`]),
    [`build CPU per vector (wall)`, `${fmtInt(result.build.cpuMicrosPerVector)} µs (${fmt(built.rec.wallSeconds, 1)} s wall, ${fmt(built.rec.cpuSeconds, 1)} s CPU, peak RSS ${fmt(built.rec.peakRssMb, 0)} MB)`],
    [`node ready time (spawn -> SERVING)`, Object.entries(served.readySeconds).map(([n, s]) => `${n} ${s.toFixed(1)} s`).join(', ')],
    [`query CPU at num_probes 2 (router + nodes)`, `${fmt(probePoints.find((p) => p.params.num_probes === 2)?.clusterCpuMsPerQuery, 2)} ms`],
  ];
  const table = [`| n = ${N.toLocaleString('en')}${BUILD_ARGS.length ? ` (${BUILD_ARGS.join(' ')})` : ''} | |`, '|---|---|', ...rows.map(([a, b]) => `| ${a} | ${b} |`)].join('\n');
  console.log(`\n${table}\n`);
  console.log('| step | wall s | bench CPU s | child CPU s |\n|---|---:|---:|---:|');
  for (const s of steps) console.log(`| ${s.step} | ${s.wallSeconds.toFixed(1)} | ${s.benchCpuSeconds.toFixed(1)} | ${s.childCpuSeconds === undefined ? '-' : s.childCpuSeconds.toFixed(1)} |`);
  console.log(`\nbench process: peak RSS ${result.bench.peakRssMb.toFixed(0)} MB, ${result.bench.cpuSeconds.toFixed(1)} s CPU; build stages ${JSON.stringify(built.rec.stages)}`);

  mkdirSync(args.out, { recursive: true });
  const name = `scale-${result.date.slice(0, 10)}-${N}${args.label ? `-${args.label}` : ''}`;
  writeFileSync(join(args.out, `${name}.json`), `${JSON.stringify({ ...result, table }, null, 1)}\n`);
  const series: LineSeries[] = [{ name: 'served (ef default)', points: probePoints.map((p) => [p.params.num_probes!, p.recall]) }];
  if (ceilingPoints.length) series.push({ name: `served ef ${CEILING_EF}`, points: ceilingPoints.map((p) => [p.params.num_probes!, p.recall]) });
  for (const c of curves) series.push({ name: `manifest ${c.field}`, dashed: true, points: c.recallAtProbes.map((r, i): [number, number] => [i + 1, r]).filter(([p]) => p <= Math.max(...PROBES)) });
  for (const t of targetPoints) series.push({ name: `target_recall ${t.params.target_recall}: ${fmt(t.recall)}`, points: [[t.meanShardsQueried, t.recall]] });
  const yMin = Math.max(0, Math.floor(Math.min(...series.flatMap((s) => s.points.map(([, r]) => r)).filter(Number.isFinite), 0.9) * 20) / 20);
  writeFileSync(
    join(args.out, `${name}.svg`),
    lineSvg(`recall@10 vs num_probes: ${N.toLocaleString('en')} x 128 clustered, ${NUM_DBS} shards, ${NODES} nodes${BUILD_ARGS.length ? `, ${BUILD_ARGS.join(' ')}` : ''}`, series, { x: 'num_probes (target_recall points at their mean shards queried)', y: 'recall@10 (1,000 held-out queries)', yMin, yMax: 1, xTicks: PROBES }),
  );
  log(`wrote ${relative(ROOT, join(args.out, `${name}.json`))} and .svg`);
}

function gitHead(): string | undefined {
  try {
    const head = readFileSync(join(ROOT, '.git', 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return head;
    const ref = head.slice(5);
    const loose = join(ROOT, '.git', ref);
    if (existsSync(loose)) return readFileSync(loose, 'utf8').trim();
    const packed = readFileSync(join(ROOT, '.git', 'packed-refs'), 'utf8').split('\n').find((l) => l.endsWith(` ${ref}`));
    return packed?.split(' ')[0];
  } catch {
    return undefined;
  }
}

await main();
