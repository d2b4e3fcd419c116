/**
 * The first include_vector request on a usearch shard built without `--store-vectors` (issue 22,
 * item 2): such a shard reads vectors from `index.usearch` through a key -> slot map, which the
 * reader before this change built synchronously inside the first request that needed it.
 *
 * Builds (or reuses, cached under `--dir`) one lean shard of `--vectors` seeded clustered vectors
 * (default 200,000 x 128, f16, 2 build threads, so slots are not in key order), then in a child
 * process per reader module: opens the shard (timed), lets the node idle `--settle-ms` (a node
 * loads its shards before it gets traffic), then times a first plain search (cold pages), then
 * the first and second `search(q, 10, includeVector)` calls, and reports the event loop's longest stall
 * after open while idle and during the requests (perf_hooks.monitorEventLoopDelay; open itself is
 * synchronous and reported apart) and the reader's `rowBytes`. The new reader runs twice: after the settle time,
 * and with its first request right after open (it then waits for the background build).
 *
 *   nice -n 5 npx tsx bench/usearch-first-vector.ts [--vectors 200000] [--dim 128] [--settle-ms 3000]
 *     [--old-reader src/shard-node/.old-usearch-shard-reader.ts] [--dir bench/results/tmp/first-vector-cache]
 *
 * The reader before, for the "before" row: copy the three modules of the old commit beside the
 * new ones, e.g. `git show <commit>:src/shard-node/usearch-index-vectors.ts >
 * src/shard-node/.old-usearch-index-vectors.ts` and the shard reader importing it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_USEARCH_PARAMS } from '../src/common/usearch-layout.ts';
import { SeededRandom } from '../src/writer/seeded-random.ts';
import { UsearchShardWriter } from '../src/writer/backends/usearch-shard-writer.ts';

const SELF = fileURLToPath(import.meta.url);

interface Args {
  vectors: number;
  dim: number;
  settleMs: number;
  dir: string;
  oldReader?: string;
  child?: string;
}

/** Reads the command line with node:util parseArgs (unknown flags are errors). */
function readArgs(argv: string[]): Args {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      vectors: { type: 'string', default: '200000' },
      dim: { type: 'string', default: '128' },
      'settle-ms': { type: 'string', default: '3000' },
      dir: { type: 'string', default: 'bench/results/tmp/first-vector-cache' },
      'old-reader': { type: 'string' },
      child: { type: 'string' },
    },
  });
  return {
    vectors: Number(v.vectors),
    dim: Number(v.dim),
    settleMs: Number(v['settle-ms']),
    dir: resolve(v.dir),
    oldReader: v['old-reader'],
    child: v.child,
  };
}


function centers(dim: number): Float32Array {
  const rng = new SeededRandom(7);
  return Float32Array.from({ length: 256 * dim }, () => rng.nextGaussian() * 4);
}

/** Builds (or reuses) the lean shard; returns its folder. */
async function build(a: Args): Promise<string> {
  const dir = join(a.dir, `${a.vectors}x${a.dim}`);
  if (existsSync(join(dir, 'done'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  const c = centers(a.dim);
  const rng = new SeededRandom(11);
  const writer = new UsearchShardWriter({ dir, dbId: 0, dim: a.dim, metric: 'l2', params: DEFAULT_USEARCH_PARAMS, threads: 2, storeVectors: false });
  for (let start = 0; start < a.vectors; start += 8192) {
    const n = Math.min(8192, a.vectors - start);
    const v = new Float32Array(n * a.dim);
    for (let r = 0; r < n; r++) for (let d = 0; d < a.dim; d++) v[r * a.dim + d] = c[((start + r) % 256) * a.dim + d] + rng.nextGaussian();
    await writer.add({ ids: Array.from({ length: n }, (_, r) => `vec-${start + r}`), vectors: v, payloads: new Array<null>(n).fill(null) });
    process.stderr.write(`\radded ${start + n}/${a.vectors}`);
  }
  await writer.finish();
  process.stderr.write('\n');
  writeFileSync(join(dir, 'done'), '');
  return dir;
}

interface ChildResult {
  openMs: number;
  /** A search without include_vector first (warms the index pages and statements). */
  plainMs: number;
  firstMs: number;
  secondMs: number;
  /** Longest event-loop stall while idling after open (the background build runs then). */
  settleStallMs: number | null;
  /** Longest event-loop stall during the three requests. */
  maxStallMs: number;
  rowBytes: number;
}

interface AnyReader {
  search(query: Float32Array, topK: number, includePayload: boolean, options: object): Promise<{ id: string; vector?: Float32Array }[]>;
  readonly rowBytes: number;
  close(): void;
}

async function child(a: Args, spec: { dir: string; reader: string }): Promise<ChildResult> {
  const mod = (await import(pathToFileURL(resolve(spec.reader)).href)) as { UsearchShardReader: { open(dir: string, dbId: number, spec: object): AnyReader } };
  const c = centers(a.dim);
  const q = Float32Array.from({ length: a.dim }, (_, d) => c[5 * a.dim + d] + 0.3);
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  let t = performance.now();
  const reader = mod.UsearchShardReader.open(spec.dir, 0, { dim: a.dim, metric: 'l2', params: DEFAULT_USEARCH_PARAMS, vectorCount: a.vectors });
  const openMs = performance.now() - t;
  h.reset();
  await new Promise((r) => setTimeout(r, a.settleMs));
  const settleStallMs = a.settleMs > 0 ? h.max / 1e6 : NaN;
  h.reset();
  t = performance.now();
  await reader.search(q, 10, false, {});
  const plainMs = performance.now() - t;
  t = performance.now();
  const first = await reader.search(q, 10, false, { includeVector: true });
  const firstMs = performance.now() - t;
  if (first.length !== 10 || first[0].vector?.length !== a.dim) throw new Error('include_vector returned no vectors');
  t = performance.now();
  await reader.search(q, 10, false, { includeVector: true });
  const secondMs = performance.now() - t;
  h.disable();
  const rowBytes = reader.rowBytes;
  reader.close();
  return { openMs, plainMs, firstMs, secondMs, settleStallMs, maxStallMs: h.max / 1e6, rowBytes };
}

async function main(): Promise<void> {
  const a = readArgs(process.argv.slice(2));
  if (a.child !== undefined) {
    process.stdout.write(JSON.stringify(await child(a, JSON.parse(a.child) as { dir: string; reader: string })));
    return;
  }
  mkdirSync(a.dir, { recursive: true });
  const dir = await build(a);
  const runs = [
    ...(a.oldReader ? [{ name: 'before (map built in the 1st request)', reader: a.oldReader, settleMs: a.settleMs }] : []),
    { name: 'after (map built in the background)', reader: 'src/shard-node/usearch-shard-reader.ts', settleMs: a.settleMs },
    { name: 'after, 1st request right after open', reader: 'src/shard-node/usearch-shard-reader.ts', settleMs: 0 },
  ];
  console.log(`${a.vectors} x ${a.dim} f16 lean shard (no float32 copy), settle ${a.settleMs} ms after open`);
  console.log('reader                                 | open ms | 1st search (no vectors) ms | then 1st include_vector ms | 2nd ms | longest stall idle after open ms | longest stall in requests ms | rowBytes');
  for (const r of runs) {
    const res = spawnSync(process.execPath, ['--import', 'tsx', SELF, '--vectors', String(a.vectors), '--dim', String(a.dim), '--settle-ms', String(r.settleMs), '--child', JSON.stringify({ dir, reader: r.reader })], {
      encoding: 'utf8',
    });
    if (res.status !== 0) throw new Error(`${r.name}: child failed: ${res.stderr}`);
    const c = JSON.parse(res.stdout) as ChildResult;
    console.log(`${r.name.padEnd(38)} | ${c.openMs.toFixed(1).padStart(7)} | ${c.plainMs.toFixed(1).padStart(26)} | ${c.firstMs.toFixed(1).padStart(27)} | ${c.secondMs.toFixed(1).padStart(6)} | ${(c.settleStallMs === null || Number.isNaN(c.settleStallMs) ? '-' : c.settleStallMs.toFixed(1)).padStart(32)} | ${c.maxStallMs.toFixed(1).padStart(28)} | ${c.rowBytes}`);
  }
}

await main();
