/**
 * `npm run bench:get`: point-lookup latency and throughput of KV + vector snapshots (issue 14).
 *
 * Data: the 10,000 Fashion-MNIST t10k images (../shared/datasets/fashion-mnist when present, else
 * the bundled copy: the same file) as KV records (examples/fashion-data.ts: key `fm-NNNNN`, a JSON
 * value of about 90 bytes, payload {label, label_name}, 784-dim vector). Two hash-sharded
 * snapshots of 8 shards: composite (`--kv slatedb --backend usearch`) and unified (`--kv sqlite
 * --backend sqlite-vec`). For each: a local cluster (router + 3 shard nodes, R = 2, real processes
 * on 127.0.0.1), closed-loop Get and MultiGet(100) of uniformly random keys through the router at
 * concurrency 1 and 8 (latency at the client, every key checked found); then, once the cluster is
 * stopped, in-process `getMany` of 1 and of 100 random keys of shard 0 with the KV reader the node
 * uses, opened on the node's downloaded copy of the shard (its cache folder).
 *
 * Writes bench/results/get-<date>.json and prints a markdown table.
 * Options: `--seconds N` per router step (default 6), `--records N` (default 10000).
 */
import { readdir, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { startLocalCluster } from '../src/cli/local-cluster.ts';
import { createLogger } from '../src/common/logger.ts';
import { canonicalKeyBytes, shardOfKey } from '../src/common/routing/key-hash-routing.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { percentile } from '../src/eval/recall.ts';
import type { KvStoreReader } from '../src/shard-node/kv-store-reader.ts';
import { SlateDbKvReader } from '../src/shard-node/slatedb-kv-reader.ts';
import { SqliteKvReader } from '../src/shard-node/sqlite-kv-reader.ts';
import { buildSnapshot } from '../src/writer/build-snapshot.ts';
import { FASHION_IMAGES, FASHION_LABELS, fashionKey, openFashionKvSource } from '../examples/fashion-data.ts';
import { onExit } from './lib/exit-cleanup.ts';
import { ROOT, sharedDatasetPresent } from './lib/dataset.ts';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '6' }, records: { type: 'string', default: '10000' } } });
const SECONDS = Number(args.seconds);
const RECORDS = Number(args.records);
const NUM_DBS = 8;
const BATCH = 100;
const CONCURRENCY = [1, 8];
const SHARED = join(ROOT, '..', 'shared', 'datasets', 'fashion-mnist');
const IMAGES = sharedDatasetPresent() ? join(SHARED, 't10k-images-idx3-ubyte.gz') : FASHION_IMAGES;
const LABELS = sharedDatasetPresent() ? join(SHARED, 't10k-labels-idx1-ubyte.gz') : FASHION_LABELS;

const VARIANTS = [
  { name: 'composite', kv: 'slatedb', backend: 'usearch' },
  { name: 'unified', kv: 'sqlite', backend: 'sqlite-vec' },
] as const;

/** One measured row. */
interface Row {
  snapshot: string;
  path: 'router' | 'in-process';
  op: string;
  concurrency: number;
  calls: number;
  keys: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  callsPerSec: number;
  keysPerSec: number;
}

/** Deterministic uniform random ints (mulberry32). */
function rng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/**
 * Closed loop: `concurrency` workers call `call()` (returns keys answered and keys missing)
 * until `durationMs` (or `maxCalls`) is spent.
 */
async function closedLoop(
  what: Omit<Row, 'calls' | 'keys' | 'errors' | 'p50Ms' | 'p99Ms' | 'callsPerSec' | 'keysPerSec'>,
  durationMs: number,
  maxCalls: number,
  call: (worker: number) => Promise<{ keys: number; missing: number }>,
): Promise<Row> {
  const latencies: number[] = [];
  let keys = 0;
  let errors = 0;
  let calls = 0;
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  await Promise.all(
    Array.from({ length: what.concurrency }, async (_, w) => {
      while (calls < maxCalls && performance.now() < deadline) {
        calls++;
        const s = performance.now();
        try {
          const r = await call(w);
          latencies.push(performance.now() - s);
          keys += r.keys;
          errors += r.missing;
        } catch (err) {
          errors++;
          if (errors <= 3) process.stderr.write(`${what.snapshot} ${what.op}: ${err instanceof Error ? err.message : String(err)}\n`);
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return {
    ...what,
    calls: latencies.length,
    keys,
    errors,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    callsPerSec: latencies.length / seconds,
    keysPerSec: keys / seconds,
  };
}

/** The node's downloaded copy of shard `dbId` of `runId` under the local cluster's cache root. */
async function downloadedShardDir(cacheRoot: string, runId: string, dbId: number): Promise<string> {
  const name = `db=${String(dbId).padStart(5, '0')}`;
  for (const node of (await readdir(cacheRoot)).sort()) {
    const dir = join(cacheRoot, node, runId, name);
    if (await stat(dir).then((s) => s.isDirectory(), () => false)) return dir;
  }
  throw new Error(`no node under ${cacheRoot} has downloaded ${name} of run ${runId}`);
}

function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

process.env.SHARDFLEET_LOG_LEVEL ??= 'warn';
const started = performance.now();
const work = await mkdtemp(join(tmpdir(), 'shardfleet-get-bench-'));
onExit(`remove ${work}`, () => void rm(work, { recursive: true, force: true }).catch(() => undefined));
const rows: Row[] = [];
const builds: Record<string, unknown>[] = [];
const keys = Array.from({ length: RECORDS }, (_, i) => fashionKey(i));
process.stderr.write(`data: ${IMAGES} (${RECORDS} records as KV records), ${NUM_DBS} shards, hash strategy; ${cpus().length} CPUs\n`);

for (const v of VARIANTS) {
  const storeDir = join(work, v.name, 'store');
  const cacheDir = join(work, v.name, 'cache');
  await mkdir(storeDir, { recursive: true });
  const store = new FileObjectStore(storeDir);
  const b0 = performance.now();
  const built = await buildSnapshot({
    store,
    source: await openFashionKvSource({ imagesPath: IMAGES, labelsPath: LABELS, limit: RECORDS }),
    sharding: { strategy: 'hash', numDbs: NUM_DBS },
    backend: { backend: v.backend },
    kv: { backend: v.kv },
    metric: 'l2',
    progress: false,
    log: createLogger('bench'),
  });
  await store.close();
  const buildSeconds = (performance.now() - b0) / 1000;
  builds.push({ snapshot: v.name, kv: v.kv, backend: v.backend, run_id: built.runId, build_seconds: Number(buildSeconds.toFixed(1)), shard_sizes: built.manifest.shards.map((s) => s.vector_count) });
  process.stderr.write(`${v.name} (--kv ${v.kv} --backend ${v.backend}): built ${built.runId} in ${buildSeconds.toFixed(1)} s\n`);

  const cluster = await startLocalCluster({ store: storeDir, numNodes: 3, replication: 2, cacheDir, stderr: 'ignore' });
  const client = new ShardfleetClient(cluster.routerAddress);
  try {
    const pick = rng(42);
    const get = async (): Promise<{ keys: number; missing: number }> => {
      const res = await client.get({ key: keys[pick(RECORDS)] });
      return { keys: 1, missing: res.result?.found ? 0 : 1 };
    };
    const multiGet = async (): Promise<{ keys: number; missing: number }> => {
      const res = await client.multiGet({ keys: Array.from({ length: BATCH }, () => keys[pick(RECORDS)]) });
      return { keys: res.results.length, missing: res.results.filter((r) => !r.found || r.error !== '').length };
    };
    // Warm-up: connections, page cache, JIT.
    await closedLoop({ snapshot: v.name, path: 'router', op: 'warm-up', concurrency: 4 }, 1500, 2000, get);
    await closedLoop({ snapshot: v.name, path: 'router', op: 'warm-up', concurrency: 4 }, 1000, 200, multiGet);
    for (const concurrency of CONCURRENCY) {
      rows.push(await closedLoop({ snapshot: v.name, path: 'router', op: 'Get', concurrency }, SECONDS * 1000, 1e9, get));
      rows.push(await closedLoop({ snapshot: v.name, path: 'router', op: `MultiGet(${BATCH})`, concurrency }, SECONDS * 1000, 1e9, multiGet));
    }
  } finally {
    client.close();
    await cluster.stop();
  }

  // In-process: the node's KV reader on its downloaded copy of shard 0.
  const shardDir = await downloadedShardDir(cacheDir, built.runId, 0);
  const shardKeys = keys.map((k) => canonicalKeyBytes(k)).filter((k) => shardOfKey(k, NUM_DBS) === 0);
  const reader: KvStoreReader = v.kv === 'slatedb' ? await SlateDbKvReader.open(shardDir, 0) : SqliteKvReader.open(shardDir, 'shard.sqlite', 0);
  try {
    const pick = rng(7);
    const readMany = (n: number) => async (): Promise<{ keys: number; missing: number }> => {
      const got = await reader.getMany(Array.from({ length: n }, () => shardKeys[pick(shardKeys.length)]));
      return { keys: n, missing: got.filter((g) => g === undefined).length };
    };
    const label = v.kv === 'slatedb' ? 'SlateDB' : 'SQLite';
    await closedLoop({ snapshot: v.name, path: 'in-process', op: 'warm-up', concurrency: 1 }, 500, 500, readMany(BATCH));
    rows.push(await closedLoop({ snapshot: v.name, path: 'in-process', op: `${label} getMany(1)`, concurrency: 1 }, 3000, 20_000, readMany(1)));
    rows.push(await closedLoop({ snapshot: v.name, path: 'in-process', op: `${label} getMany(${BATCH})`, concurrency: 1 }, 3000, 5_000, readMany(BATCH)));
    process.stderr.write(`${v.name}: in-process reads on ${shardDir} (${shardKeys.length} keys in shard 0)\n`);
  } finally {
    await reader.close();
  }
}

const date = new Date().toISOString().slice(0, 10);
const totalSeconds = (performance.now() - started) / 1000;
const table = [
  `# shardfleet Get benchmark — ${RECORDS.toLocaleString('en')} Fashion-MNIST t10k records (784 dims, ~90-byte JSON values), ${NUM_DBS} hash shards; router: 3 nodes, R=2, ${SECONDS} s per step; in-process: shard 0 (${date}, ${cpus().length} CPUs)`,
  '',
  '| snapshot | path | operation | concurrency | calls | p50 ms | p99 ms | calls/s | keys/s | errors |',
  '|---|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.snapshot} | ${r.path} | ${r.op} | ${r.concurrency} | ${r.calls} | ${fmt(r.p50Ms)} | ${fmt(r.p99Ms)} | ${fmt(r.callsPerSec, 0)} | ${fmt(r.keysPerSec, 0)} | ${r.errors} |`,
  ),
  '',
  `composite = --kv slatedb --backend usearch; unified = --kv sqlite --backend sqlite-vec. Router latencies at the client (gRPC, ShardfleetClient); keys uniformly random over all ${RECORDS.toLocaleString('en')} (MultiGet: over all shards); errors = keys not found or failed (expected 0). Total ${totalSeconds.toFixed(0)} s.`,
].join('\n');
const outDir = join(ROOT, 'bench', 'results');
await mkdir(outDir, { recursive: true });
const outFile = join(outDir, `get-${date}.json`);
await writeFile(
  outFile,
  JSON.stringify(
    {
      benchmark: 'get',
      date,
      cpus: cpus().length,
      data: { images: IMAGES, records: RECORDS, dim: 784 },
      num_dbs: NUM_DBS,
      cluster: { nodes: 3, replication: 2, seconds_per_step: SECONDS },
      builds,
      rows,
      total_seconds: Number(totalSeconds.toFixed(1)),
    },
    null,
    2,
  ) + '\n',
);
console.log(table);
console.log(`\nwrote ${outFile}`);
await rm(work, { recursive: true, force: true });
