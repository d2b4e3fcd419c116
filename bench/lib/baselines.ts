/**
 * In-process baselines measured in the same run: (1) one embedded LanceDB table over the whole
 * base set with several index types and their knobs, (2) exact brute force, (3) hnswlib-node
 * (optional dependency; skipped with a note when it does not load).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createLogger } from '../../src/common/logger.ts';
import { FileObjectStore } from '../../src/common/storage/file-object-store.ts';
import { openShardReader } from '../../src/shard-node/open-shard-reader.ts';
import type { ShardQueryOptions } from '../../src/shard-node/shard-index-reader.ts';
import { knobParams } from './measure.ts';
import type { LanceIndexPlan } from '../../src/writer/backends/lancedb-shard-writer.ts';
import { buildSnapshot } from '../../src/writer/build-snapshot.ts';
import { openIdxSource } from '../../src/writer/input/idx-source.ts';
import type { Dataset } from './dataset.ts';
import { l2SquaredAll, smallestK } from './ground-truth.ts';
import { K, measureInProcess, type PointBudget } from './measure.ts';
import type { BenchPoint, BenchRun } from './types.ts';

/** One embedded LanceDB index and the knob settings swept on it. */
export interface EmbeddedLanceCase {
  name: string;
  plan: Partial<LanceIndexPlan>;
  knobs: ShardQueryOptions[];
}

/** Context shared by the baselines. */
export interface BaselineContext {
  ds: Dataset;
  gt: Float32Array;
  workDir: string;
  /** Budgets of the points (concurrency 1 first; in-process LanceDB also runs the others). */
  budgets: PointBudget[];
  run: BenchRun;
}

function query(ds: Dataset, row: number): Float32Array {
  return ds.queries.subarray(row * ds.dim, (row + 1) * ds.dim);
}

/** (1) One embedded LanceDB table (a one-shard snapshot opened in-process), per index case. */
export async function embeddedLance(ctx: BaselineContext, cases: EmbeddedLanceCase[], onPoint: (p: BenchPoint) => void): Promise<void> {
  for (const c of cases) {
    const store = new FileObjectStore(join(ctx.workDir, `embedded-${c.name}`));
    const t0 = performance.now();
    const built = await buildSnapshot({
      store,
      source: await openIdxSource({ imagesPath: ctx.ds.basePath, limit: ctx.ds.baseCount }),
      sharding: { strategy: 'cluster', numDbs: 1, numProbes: 1 },
      backend: { backend: 'lancedb', plan: c.plan },
      metric: 'l2',
      progress: false,
      log: createLogger('bench'),
    });
    ctx.run.builds.push({ name: `embedded lancedb ${c.name}`, seconds: (performance.now() - t0) / 1000 });
    const entry = built.manifest.shards[0];
    const reader = await openShardReader(built.manifest, entry, join(store.root, entry.url));
    try {
      for (const knobs of c.knobs) {
        for (const budget of ctx.budgets) {
          const p = await measureInProcess(`embedded lancedb ${c.name}`, 'baseline', knobParams(knobs), ctx.ds.queryCount, ctx.gt, budget, async (row) =>
            (await reader.search(query(ctx.ds, row), K, false, knobs)).map((h) => h.score),
          );
          onPoint(p);
        }
      }
    } finally {
      reader.close();
      await store.close();
    }
  }
}

/** (2) Exact brute force in JavaScript, one thread (concurrency 1). */
export async function bruteForce(ctx: BaselineContext, onPoint: (p: BenchPoint) => void): Promise<void> {
  const dist = new Float32Array(ctx.ds.baseCount);
  const budget = { ...ctx.budgets[0], maxQueries: Math.min(ctx.budgets[0].maxQueries, 200) };
  onPoint(
    await measureInProcess('brute force (JS, 1 thread)', 'baseline', {}, ctx.ds.queryCount, ctx.gt, budget, (row) => {
      l2SquaredAll(ctx.ds.base, ctx.ds.baseCount, ctx.ds.dim, ctx.ds.queries, row * ctx.ds.dim, dist);
      return smallestK(dist, K).scores;
    }),
  );
}

interface HnswIndex {
  initIndex(maxElements: number, m?: number, efConstruction?: number, randomSeed?: number): void;
  addPoint(point: number[], label: number): void;
  setEf(ef: number): void;
  searchKnn(query: number[], k: number): { distances: number[]; neighbors: number[] };
}

/** (3) hnswlib-node (M 16, ef_construction 200), ef sweep at concurrency 1 (its search is synchronous). */
export async function hnswlib(ctx: BaselineContext, efs: number[], onPoint: (p: BenchPoint) => void): Promise<void> {
  let Ctor: new (space: 'l2', dim: number) => HnswIndex;
  try {
    const mod = createRequire(import.meta.url)('hnswlib-node') as { HierarchicalNSW: new (space: 'l2', dim: number) => HnswIndex };
    Ctor = mod.HierarchicalNSW;
  } catch (err) {
    ctx.run.notes.push(`hnswlib-node did not load (${String(err).slice(0, 120)}); its baseline is skipped.`);
    return;
  }
  const { ds } = ctx;
  const t0 = performance.now();
  const index = new Ctor('l2', ds.dim);
  index.initIndex(ds.baseCount, 16, 200, 42);
  for (let r = 0; r < ds.baseCount; r++) index.addPoint(Array.from(ds.base.subarray(r * ds.dim, (r + 1) * ds.dim)), r);
  ctx.run.builds.push({ name: 'hnswlib-node M16 efC200', seconds: (performance.now() - t0) / 1000 });
  const queries = Array.from({ length: ds.queryCount }, (_, q) => Array.from(query(ds, q)));
  for (const ef of efs) {
    index.setEf(ef);
    onPoint(
      await measureInProcess('hnswlib-node M16 (1 thread)', 'baseline', { ef }, ds.queryCount, ctx.gt, ctx.budgets[0], (row) =>
        index.searchKnn(queries[row], K).distances,
      ),
    );
  }
}
