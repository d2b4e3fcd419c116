/**
 * In-process baselines measured in the same run: (1) one embedded LanceDB table over the whole
 * base set with several index types and their knobs, (2) exact brute force, (3) hnswlib-node
 * (optional dependency; skipped with a note when it does not load), (4) one usearch HNSW index
 * over the whole base set (the cluster's usearch shards without sharding, routing or gRPC).
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Index, MetricKind, ScalarKind } from 'usearch';
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
import { K, measureBatches, measureInProcess, type PointBudget } from './measure.ts';
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

/**
 * The budget of a sub-millisecond in-process search (hnswlib, usearch): 10x the queries (rows
 * repeat; recall counts each row's first answer), at most 3 s, so a point lasts long enough to
 * time (1,000 queries at 10,000 QPS would be 0.1 s).
 */
function fastBudget(b: PointBudget): PointBudget {
  return { ...b, maxQueries: b.maxQueries * 10, durationMs: Math.min(b.durationMs, 3_000) };
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
      await measureInProcess('hnswlib-node M16 (1 thread)', 'baseline', { ef }, ds.queryCount, ctx.gt, fastBudget(ctx.budgets[0]), (row) =>
        index.searchKnn(queries[row], K).distances,
      ),
    );
  }
}

/** usearch quantizations the usearch baseline and shard series compare. */
export type UsearchQuantization = 'f32' | 'f16' | 'bf16' | 'i8';

/**
 * HNSW build parameters shared by the usearch shards of the cluster series and the whole-set
 * usearch baseline (the usearch backend's defaults), so the two differ only by sharding.
 */
export const USEARCH_M = 16;
export const USEARCH_EF_CONSTRUCTION = 128;

const SCALAR: Record<UsearchQuantization, ScalarKind> = { f32: ScalarKind.F32, f16: ScalarKind.F16, bf16: ScalarKind.BF16, i8: ScalarKind.I8 };

function usearchIndex(dim: number, quantization: UsearchQuantization, efSearch: number): Index {
  return new Index({
    dimensions: dim,
    metric: MetricKind.L2sq,
    quantization: SCALAR[quantization],
    connectivity: USEARCH_M,
    expansion_add: USEARCH_EF_CONSTRUCTION,
    expansion_search: efSearch,
    multi: false,
  });
}

/**
 * (4) One usearch index over the whole base set per quantization (M 16, ef_construction 128, as
 * the usearch shards), built with every core, saved, and memory-mapped (`view`) once per `ef`
 * (usearch fixes expansion_search when an index object is made, as the shard nodes do per ef).
 * At every ef: one query at a time on one thread (concurrency 1), and batches of the saturating
 * concurrency's size searched with every core (usearch's search is synchronous, so a closed loop
 * of 16 async callers would run one at a time; a batch of 16 is what 16 waiting callers get).
 * Each ef first searches every query once untimed (page-in), then runs with {@link fastBudget}.
 * Series `usearch <quantization> whole set`, params `{ ef }`.
 */
export async function usearchWhole(ctx: BaselineContext, quantizations: UsearchQuantization[], efs: number[], onPoint: (p: BenchPoint) => void): Promise<void> {
  const { ds } = ctx;
  const keys = BigUint64Array.from({ length: ds.baseCount }, (_, i) => BigInt(i));
  for (const quantization of quantizations) {
    const series = `usearch ${quantization} whole set`;
    const file = join(ctx.workDir, `usearch-whole-${quantization}.usearch`);
    const t0 = performance.now();
    const built = usearchIndex(ds.dim, quantization, efs[0]);
    built.add(keys, ds.base.subarray(0, ds.baseCount * ds.dim), availableParallelism());
    built.save(file);
    ctx.run.builds.push({ name: `${series} efC${USEARCH_EF_CONSTRUCTION} (all cores)`, seconds: (performance.now() - t0) / 1000 });
    for (const ef of efs) {
      const index = usearchIndex(ds.dim, quantization, ef);
      index.view(file);
      index.search(ds.queries, K, availableParallelism()); // warm-up: fault the mapped file's pages in before timing
      const distances = (row: number): number[] => Array.from(index.search(query(ds, row), K, 1).distances);
      for (const budget of ctx.budgets.map(fastBudget)) {
        if (budget.concurrency === 1) {
          onPoint(await measureInProcess(series, 'baseline', { ef }, ds.queryCount, ctx.gt, budget, distances));
          continue;
        }
        onPoint(
          await measureBatches(series, 'baseline', { ef }, ds.queryCount, ctx.gt, budget, (rows) => {
            const batch = new Float32Array(rows.length * ds.dim);
            rows.forEach((row, i) => batch.set(query(ds, row), i * ds.dim));
            const m = index.search(batch, K, availableParallelism());
            return rows.map((_, i) => Array.from(m.distances.subarray(i * K, (i + 1) * K)));
          }),
        );
      }
    }
  }
}
