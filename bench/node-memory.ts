/**
 * Node memory, disk and search CPU of usearch shards (issue 22, item 2: lean nodes).
 *
 * Builds `--vectors` seeded clustered vectors (256 Gaussian clusters, `--dim`, default 200,000 x
 * 128) into `--shards` usearch shards (f16, defaults) in three layouts, cached under `--dir`:
 *
 * - `lean`: a build since issue 22 without `--store-vectors` (rows.sqlite: ids, payload NULL,
 *   index on rows.id; no float32 copy);
 * - `stored`: the same with `--store-vectors`;
 * - `old`: the layout before issue 22 (float32 copies, no index on rows.id).
 *
 * Then, for each layout (and, with `--old-reader <module>`, the reader before issue 22 on the old
 * layout), a child process opens every shard the way a node does and reports its anonymous memory
 * (RssAnon of /proc/self/status, after a forced GC) beyond a baseline taken before opening:
 * after open + searches, and after get by id; and the process CPU per query at top_k 10, each
 * query searched on 2 shards, in native batches of 1 and of 16 queries. A last child opens only
 * the usearch indexes (`Index.view`, no row table): usearch's own per-vector memory, which the
 * issue's goal ("<= 16 B per vector beyond the index mapping") does not count. Figures include
 * per-process constants (the reader's modules, 16 SQLite connections): run two sizes and take
 * the difference for the per-vector slope. Last, the CPU of the id lookups alone (the cost the
 * on-disk ids add to a search).
 *
 *   nice -n 5 npx tsx bench/node-memory.ts [--vectors 200000] [--shards 16] [--dim 128] [--queries 2000]
 *     [--old-reader src/shard-node/<old reader>.ts] [--dir bench/results/tmp/node-memory-cache] [--json out.json]
 *
 * The reader before issue 22, for the "before" row: `git show 80ad8bd:src/shard-node/usearch-shard-reader.ts
 * > src/shard-node/.old-usearch-shard-reader.ts` (it must sit beside the other shard-node modules).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { DEFAULT_USEARCH_PARAMS, USEARCH_INDEX_FILE, USEARCH_ROWS_FILE, newUsearchIndex } from '../src/common/usearch-layout.ts';
import { SeededRandom } from '../src/writer/seeded-random.ts';
import { USEARCH_ID_INDEX, UsearchShardWriter } from '../src/writer/backends/usearch-shard-writer.ts';
import { UsearchRowTable } from '../src/shard-node/usearch-row-table.ts';
import { ownRssAnonAfterGc as rssAnon } from './lib/proc-stats.ts';

const SELF = fileURLToPath(import.meta.url);
type Layout = 'lean' | 'stored' | 'old';

interface Args {
  vectors: number;
  shards: number;
  dim: number;
  queries: number;
  dir: string;
  oldReader?: string;
  json?: string;
}

function parseArgs(argv: string[]): Args & { child?: string } {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    vectors: Number(get('vectors') ?? 200_000),
    shards: Number(get('shards') ?? 16),
    dim: Number(get('dim') ?? 128),
    queries: Number(get('queries') ?? 2000),
    dir: resolve(get('dir') ?? 'bench/results/tmp/node-memory-cache'),
    oldReader: get('old-reader'),
    json: get('json'),
    child: get('child'),
  };
}


/** Seeded cluster centers; vector i belongs to cluster i % 256 and to shard (cluster % shards). */
function centers(dim: number): Float32Array {
  const rng = new SeededRandom(7);
  return Float32Array.from({ length: 256 * dim }, () => rng.nextGaussian() * 4);
}

/** Builds (or reuses) the shards of one layout; returns the shard folders. */
async function buildLayout(a: Args, layout: Layout): Promise<string[]> {
  const root = join(a.dir, `${a.vectors}x${a.dim}-${a.shards}`, layout);
  const dirs = Array.from({ length: a.shards }, (_, s) => join(root, `db=${s}`));
  if (existsSync(join(root, 'done'))) return dirs;
  rmSync(root, { recursive: true, force: true });
  const c = centers(a.dim);
  const rng = new SeededRandom(11);
  for (let s = 0; s < a.shards; s++) {
    const writer = new UsearchShardWriter({ dir: dirs[s], dbId: s, dim: a.dim, metric: 'l2', params: DEFAULT_USEARCH_PARAMS, threads: 2, storeVectors: layout !== 'lean' });
    const rows = Array.from({ length: a.vectors }, (_, i) => i).filter((i) => (i % 256) % a.shards === s);
    for (let start = 0; start < rows.length; start += 8192) {
      const part = rows.slice(start, start + 8192);
      const v = new Float32Array(part.length * a.dim);
      part.forEach((i, r) => {
        for (let d = 0; d < a.dim; d++) v[r * a.dim + d] = c[(i % 256) * a.dim + d] + rng.nextGaussian() * (1 + (d % 4));
      });
      await writer.add({ ids: part.map((i) => `vec-${i}`), vectors: v, payloads: part.map(() => null) });
    }
    await writer.finish();
    if (layout === 'old') {
      const db = new Database(join(dirs[s], USEARCH_ROWS_FILE));
      db.exec(`DROP INDEX ${USEARCH_ID_INDEX}; DELETE FROM meta WHERE key = 'stored_vectors'; VACUUM`);
      db.close();
    }
    process.stderr.write(`built ${layout} shard ${s + 1}/${a.shards}\n`);
  }
  writeFileSync(join(root, 'done'), '');
  return dirs;
}

interface ChildResult {
  vectors: number;
  anonAfterOpenAndSearch: number;
  anonAfterGets: number;
  cpuUsPerQueryBatch1: number;
  cpuUsPerQueryBatch16: number;
}

/** A shard reader as both the reader before and after issue 22 expose it. */
interface AnyReader {
  searchBatch(queries: readonly Float32Array[], topK: number, includePayload: boolean, options: object): Promise<{ id: string }[][]>;
  fetchByIds(ids: readonly string[], includePayload: boolean, includeVector: boolean): Promise<unknown[]>;
  close(): void;
}

/** Child: opens every shard of `dirs` with the reader module, measures memory and CPU. */
async function child(a: Args, spec: { dirs: string[]; reader: string; indexOnly: boolean }): Promise<ChildResult> {
  const counts = spec.dirs.map((d) => {
    const db = new Database(join(d, USEARCH_ROWS_FILE), { readonly: true });
    const n = Number(db.prepare<[], string>("SELECT value FROM meta WHERE key = 'vector_count'").pluck(true).get());
    db.close();
    return n;
  });
  const vectors = counts.reduce((x, y) => x + y, 0);
  const c = centers(a.dim);
  const rng = new SeededRandom(99);
  const queries = Array.from({ length: a.queries }, () => {
    const k = rng.nextInt(256);
    return Float32Array.from({ length: a.dim }, (_, d) => c[k * a.dim + d] + rng.nextGaussian());
  });
  const shardOf = (q: Float32Array): number => {
    let best = 0;
    let bestD = Infinity;
    for (let k = 0; k < 256; k++) {
      let d2 = 0;
      for (let d = 0; d < a.dim; d++) d2 += (q[d] - c[k * a.dim + d]) ** 2;
      if (d2 < bestD) [best, bestD] = [k, d2];
    }
    return best % a.shards;
  };
  const probe = queries.map(shardOf);
  const before = rssAnon();
  if (spec.indexOnly) {
    const held = spec.dirs.map((d, s) => {
      const index = newUsearchIndex(a.dim, 'l2', DEFAULT_USEARCH_PARAMS, 1);
      index.view(join(d, USEARCH_INDEX_FILE));
      for (let i = 0; i < 50; i++) index.search(queries[i], 64, 1);
      void s;
      return index;
    });
    const after = rssAnon();
    void held.length;
    return { vectors, anonAfterOpenAndSearch: after - before, anonAfterGets: after - before, cpuUsPerQueryBatch1: NaN, cpuUsPerQueryBatch16: NaN };
  }
  const mod = (await import(pathToFileURL(resolve(spec.reader)).href)) as { UsearchShardReader: { open(dir: string, dbId: number, spec: object): AnyReader } };
  const readers = spec.dirs.map((d, s) => mod.UsearchShardReader.open(d, s, { dim: a.dim, metric: 'l2', params: DEFAULT_USEARCH_PARAMS, vectorCount: counts[s] }));
  const run = async (batch: number): Promise<number> => {
    const t = process.cpuUsage();
    for (let start = 0; start < queries.length; start += batch) {
      // Each query on its nearest shard and the next one (num_probes 2), batched per shard.
      const byShard = new Map<number, Float32Array[]>();
      for (let q = start; q < Math.min(queries.length, start + batch); q++) {
        for (const s of [probe[q], (probe[q] + 1) % a.shards]) {
          const list = byShard.get(s) ?? [];
          list.push(queries[q]);
          byShard.set(s, list);
        }
      }
      for (const [s, list] of byShard) await readers[s].searchBatch(list, 10, false, {});
    }
    const used = process.cpuUsage(t);
    return (used.user + used.system) / queries.length;
  };
  await run(16); // warm-up
  const cpu1 = await run(1);
  const cpu16 = await run(16);
  const anonSearch = rssAnon() - before;
  const grng = new SeededRandom(5);
  for (let s = 0; s < readers.length; s++) {
    const ids = Array.from({ length: 64 }, () => `vec-${grng.nextInt(a.vectors)}`);
    await readers[s].fetchByIds(ids, true, false);
  }
  const anonGets = rssAnon() - before;
  for (const r of readers) r.close();
  return { vectors, anonAfterOpenAndSearch: anonSearch, anonAfterGets: anonGets, cpuUsPerQueryBatch1: cpu1, cpuUsPerQueryBatch16: cpu16 };
}

/** CPU us per (query, shard) of reading the ids of 10 random keys through {@link UsearchRowTable}, alone and 16 queries at a time. */
function lookupCost(shardDir: string, queries: number): { single: number; batched: number } {
  const db = new Database(join(shardDir, USEARCH_ROWS_FILE), { readonly: true });
  try {
    const n = Number(db.prepare<[], string>("SELECT value FROM meta WHERE key = 'vector_count'").pluck(true).get());
    const table = new UsearchRowTable(db, n);
    const rng = new SeededRandom(3);
    const keys = Array.from({ length: queries }, () => Array.from({ length: 10 }, () => rng.nextInt(n)));
    for (const k of keys) table.rowsOf(k, false); // warm-up
    let t = process.cpuUsage();
    for (const k of keys) table.rowsOf(k, false);
    let u = process.cpuUsage(t);
    const single = (u.user + u.system) / queries;
    t = process.cpuUsage();
    for (let i = 0; i < queries; i += 16) table.rowsOf(keys.slice(i, i + 16).flat(), false);
    u = process.cpuUsage(t);
    return { single, batched: (u.user + u.system) / queries };
  } finally {
    db.close();
  }
}

function diskPerVector(dirs: string[], vectors: number): { index: number; rows: number } {
  let index = 0;
  let rows = 0;
  for (const d of dirs) {
    index += statSync(join(d, USEARCH_INDEX_FILE)).size;
    rows += statSync(join(d, USEARCH_ROWS_FILE)).size;
  }
  return { index: index / vectors, rows: rows / vectors };
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  if (a.child !== undefined) {
    const result = await child(a, JSON.parse(a.child) as { dirs: string[]; reader: string; indexOnly: boolean });
    process.stdout.write(JSON.stringify(result));
    return;
  }
  mkdirSync(a.dir, { recursive: true });
  const layouts: Record<Layout, string[]> = { lean: await buildLayout(a, 'lean'), stored: await buildLayout(a, 'stored'), old: await buildLayout(a, 'old') };
  const runs: { name: string; layout: Layout; reader: string; indexOnly?: boolean }[] = [
    ...(a.oldReader ? [{ name: 'old reader, old layout (before)', layout: 'old' as Layout, reader: a.oldReader }] : []),
    { name: 'new reader, old layout', layout: 'old', reader: 'src/shard-node/usearch-shard-reader.ts' },
    { name: 'new reader, --store-vectors', layout: 'stored', reader: 'src/shard-node/usearch-shard-reader.ts' },
    { name: 'new reader, lean (after)', layout: 'lean', reader: 'src/shard-node/usearch-shard-reader.ts' },
    { name: 'usearch Index.view only', layout: 'lean', reader: '', indexOnly: true },
  ];
  const out: Record<string, unknown>[] = [];
  console.log(`${a.vectors} x ${a.dim} f16 vectors, ${a.shards} shards, ${a.queries} queries at top_k 10 on 2 shards each`);
  console.log('run                              | anon B/vec open+search | after gets | CPU us/query b1 | b16 | disk B/vec index + rows.sqlite');
  for (const r of runs) {
    const args = ['--expose-gc', '--import', 'tsx', SELF, '--dim', String(a.dim), '--shards', String(a.shards), '--vectors', String(a.vectors), '--queries', String(a.queries), '--child', JSON.stringify({ dirs: layouts[r.layout], reader: r.reader, indexOnly: r.indexOnly === true })];
    const res = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (res.status !== 0) throw new Error(`${r.name}: child failed: ${res.stderr}`);
    const c = JSON.parse(res.stdout) as ChildResult;
    const disk = diskPerVector(layouts[r.layout], c.vectors);
    const row = { run: r.name, ...c, anonPerVectorOpenSearch: c.anonAfterOpenAndSearch / c.vectors, anonPerVectorGets: c.anonAfterGets / c.vectors, diskIndexPerVector: disk.index, diskRowsPerVector: disk.rows };
    out.push(row);
    const f = (x: number | null, d = 1): string => (x === null || Number.isNaN(x) ? '-' : x.toFixed(d));
    console.log(
      `${r.name.padEnd(32)} | ${f(row.anonPerVectorOpenSearch).padStart(22)} | ${f(row.anonPerVectorGets).padStart(10)} | ${f(c.cpuUsPerQueryBatch1, 0).padStart(15)} | ${f(c.cpuUsPerQueryBatch16, 0).padStart(3)} | ${f(disk.index, 0)} + ${f(disk.rows, 0)} = ${f(disk.index + disk.rows, 0)} (${f((disk.index + disk.rows) / disk.index, 2)}x)`,
    );
  }
  const lookup = lookupCost(layouts.lean[3], a.queries);
  console.log(`ids of a shard's 10 hits from rows.sqlite (lean shard 3): ${lookup.single.toFixed(1)} us CPU per (query, shard) alone, ${lookup.batched.toFixed(1)} in native batches of 16 queries`);
  out.push({ run: 'row lookup', cpuUsPerQueryShard: lookup.single, cpuUsPerQueryShardBatch16: lookup.batched });
  if (a.json) writeFileSync(a.json, JSON.stringify(out, null, 2));
}

await main();
