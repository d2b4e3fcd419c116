/**
 * Node memory of sqlite-vec shards (issue 22, item 2: lean nodes), the small sqlite-vec mode of
 * bench/node-memory.ts.
 *
 * Builds `--vectors` seeded clustered vectors (`--dim`, default 100,000 x 32, ids `vec-<i>`) into
 * `--shards` sqlite-vec float32 shards in two layouts, cached under `--dir`:
 * - `new`: a build since issue 22 (index `items_id` on `items(id)`);
 * - `old`: the layout before (no index on `items.id`).
 *
 * Then a child process per (reader, layout) opens every shard the way a node does and reports its
 * anonymous memory (RssAnon of /proc/self/status, after two forced GCs) beyond a baseline taken
 * before opening: after open + 8 searches per shard, and after a get by id of 64 ids per shard
 * (the first get builds the reader's id structure), and the JS heap used beyond its baseline then. Figures include per-process constants (the
 * modules, one SQLite connection and its page cache per shard): run two sizes and take the
 * difference for the per-vector slope.
 *
 *   nice -n 5 npx tsx bench/sqlite-vec-memory.ts [--vectors 100000] [--shards 4] [--dim 32]
 *     [--old-reader src/shard-node/.old-sqlite-vec-shard-reader.ts] [--dir bench/results/tmp/sqlite-vec-memory-cache]
 *
 * The reader before issue 22, for the "before" rows (it must sit beside the other shard-node modules):
 *   git show 1515e02:src/shard-node/sqlite-vec-shard-reader.ts > src/shard-node/.old-sqlite-vec-shard-reader.ts
 *   git show 1515e02:src/common/sqlite-vec-file.ts > src/common/.old-sqlite-vec-file.ts
 *   sed -i "s#'../common/sqlite-vec-file.ts'#'../common/.old-sqlite-vec-file.ts'#" src/shard-node/.old-sqlite-vec-shard-reader.ts
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { SQLITE_VEC_FILE_NAME, SQLITE_VEC_ID_INDEX } from '../src/common/sqlite-vec-layout.ts';
import { SeededRandom } from '../src/writer/seeded-random.ts';
import { SqliteVecShardWriter } from '../src/writer/backends/sqlite-vec-shard-writer.ts';
import { ownRssAnonAfterGc as rssAnon } from './lib/proc-stats.ts';

const SELF = fileURLToPath(import.meta.url);
type Layout = 'new' | 'old';

interface Args {
  vectors: number;
  shards: number;
  dim: number;
  dir: string;
  oldReader?: string;
  child?: string;
}

/** Reads the command line with node:util parseArgs (unknown flags are errors). */
function readArgs(argv: string[]): Args {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      vectors: { type: 'string', default: '100000' },
      shards: { type: 'string', default: '4' },
      dim: { type: 'string', default: '32' },
      dir: { type: 'string', default: 'bench/results/tmp/sqlite-vec-memory-cache' },
      'old-reader': { type: 'string' },
      child: { type: 'string' },
    },
  });
  return {
    vectors: Number(v.vectors),
    shards: Number(v.shards),
    dim: Number(v.dim),
    dir: resolve(v.dir),
    oldReader: v['old-reader'],
    child: v.child,
  };
}

/** Vector i of the seeded data set: cluster (i % 64) plus noise. */
function data(a: Args): (i: number, out: Float32Array, at: number) => void {
  const rng = new SeededRandom(7);
  const c = Float32Array.from({ length: 64 * a.dim }, () => rng.next() * 8 - 4);
  const noise = new SeededRandom(11);
  return (i, out, at) => {
    for (let d = 0; d < a.dim; d++) out[at + d] = c[(i % 64) * a.dim + d] + noise.next() - 0.5;
  };
}

/** Builds (or reuses) the shards of one layout; returns the shard folders. */
async function buildLayout(a: Args, layout: Layout): Promise<string[]> {
  const root = join(a.dir, `${a.vectors}x${a.dim}-${a.shards}`, layout);
  const dirs = Array.from({ length: a.shards }, (_, s) => join(root, `db=${s}`));
  if (existsSync(join(root, 'done'))) return dirs;
  rmSync(root, { recursive: true, force: true });
  const fill = data(a);
  for (let s = 0; s < a.shards; s++) {
    const writer = new SqliteVecShardWriter({ dir: dirs[s], dbId: s, dim: a.dim, metric: 'l2', quantization: 'none' });
    const rows = Array.from({ length: a.vectors }, (_, i) => i).filter((i) => i % a.shards === s);
    for (let start = 0; start < rows.length; start += 8192) {
      const part = rows.slice(start, start + 8192);
      const v = new Float32Array(part.length * a.dim);
      part.forEach((i, r) => fill(i, v, r * a.dim));
      await writer.add({ ids: part.map((i) => `vec-${i}`), vectors: v, payloads: part.map(() => null) });
    }
    await writer.finish();
    if (layout === 'old') {
      const db = new Database(join(dirs[s], SQLITE_VEC_FILE_NAME));
      db.exec(`DROP INDEX ${SQLITE_VEC_ID_INDEX}; VACUUM`);
      db.close();
    }
    process.stderr.write(`built ${layout} shard ${s + 1}/${a.shards}\n`);
  }
  writeFileSync(join(root, 'done'), '');
  return dirs;
}

interface ChildResult {
  anonAfterOpenAndSearch: number;
  anonAfterGets: number;
  /** JS heap used beyond the baseline after the gets (after GC). */
  heapAfterGets: number;
  firstGetMs: number;
}

interface AnyReader {
  search(query: Float32Array, topK: number, includePayload: boolean): Promise<{ id: string }[]>;
  fetchByIds(ids: readonly string[], includePayload: boolean, includeVector: boolean): Promise<unknown[]>;
  close(): void;
}

/** Child: opens every shard with the reader module, measures anonymous memory. */
async function child(a: Args, spec: { dirs: string[]; reader: string }): Promise<ChildResult> {
  const mod = (await import(pathToFileURL(resolve(spec.reader)).href)) as { SqliteVecShardReader: { open(dir: string, dbId: number, metric: string): AnyReader } };
  const fill = data(a);
  const q = new Float32Array(a.dim);
  // Warm-up on a throwaway reader (modules, JIT, SQLite's allocator), so the baseline after it is stable.
  const warm = mod.SqliteVecShardReader.open(spec.dirs[0], 0, 'l2');
  await warm.search(q, 10, false);
  warm.close();
  const before = rssAnon();
  const heapBefore = process.memoryUsage().heapUsed;
  const readers = spec.dirs.map((d, s) => mod.SqliteVecShardReader.open(d, s, 'l2'));
  for (let i = 0; i < 8; i++) {
    fill(i * 7, q, 0);
    for (const r of readers) await r.search(q, 10, false);
  }
  const anonSearch = rssAnon() - before;
  const rng = new SeededRandom(5);
  const t = performance.now();
  for (let s = 0; s < readers.length; s++) {
    const ids = Array.from({ length: 64 }, () => `vec-${rng.nextInt(a.vectors / a.shards) * a.shards + s}`);
    const got = await readers[s].fetchByIds(ids, true, false);
    if (got.some((g) => g === undefined)) throw new Error(`shard ${s}: an id was not found`);
  }
  const firstGetMs = performance.now() - t;
  const anonGets = rssAnon() - before;
  const heapGets = process.memoryUsage().heapUsed - heapBefore;
  for (const r of readers) r.close();
  return { anonAfterOpenAndSearch: anonSearch, anonAfterGets: anonGets, heapAfterGets: heapGets, firstGetMs };
}

async function main(): Promise<void> {
  const a = readArgs(process.argv.slice(2));
  if (a.child !== undefined) {
    process.stdout.write(JSON.stringify(await child(a, JSON.parse(a.child) as { dirs: string[]; reader: string })));
    return;
  }
  mkdirSync(a.dir, { recursive: true });
  const layouts: Record<Layout, string[]> = { new: await buildLayout(a, 'new'), old: await buildLayout(a, 'old') };
  const current = 'src/shard-node/sqlite-vec-shard-reader.ts';
  const runs: { name: string; layout: Layout; reader: string }[] = [
    ...(a.oldReader ? [{ name: 'old reader, old layout (before)', layout: 'old' as Layout, reader: a.oldReader }] : []),
    { name: 'new reader, old layout', layout: 'old', reader: current },
    { name: 'new reader, new layout (after)', layout: 'new', reader: current },
  ];
  console.log(`${a.vectors} x ${a.dim} float32 vectors, ${a.shards} sqlite-vec shards, ids vec-<i>`);
  console.log('run                              | anon B/vec open+search | after 64 gets/shard | JS heap B/vec after gets | 1st gets ms | file B/vec');
  for (const r of runs) {
    const args = ['--expose-gc', '--import', 'tsx', SELF, '--dim', String(a.dim), '--shards', String(a.shards), '--vectors', String(a.vectors), '--child', JSON.stringify({ dirs: layouts[r.layout], reader: r.reader })];
    const res = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (res.status !== 0) throw new Error(`${r.name}: child failed: ${res.stderr}`);
    const c = JSON.parse(res.stdout) as ChildResult;
    const disk = layouts[r.layout].reduce((sum, d) => sum + statSync(join(d, SQLITE_VEC_FILE_NAME)).size, 0) / a.vectors;
    console.log(
      `${r.name.padEnd(32)} | ${(c.anonAfterOpenAndSearch / a.vectors).toFixed(1).padStart(22)} | ${(c.anonAfterGets / a.vectors).toFixed(1).padStart(19)} | ${(c.heapAfterGets / a.vectors).toFixed(1).padStart(24)} | ${c.firstGetMs.toFixed(1).padStart(11)} | ${disk.toFixed(1)}`,
    );
  }
}

await main();
