/**
 * Closed-loop measurement of an in-process search function: latency percentiles, QPS, recall@10
 * against the ground truth, CPU ms per query (process.cpuUsage: every thread of this process,
 * including LanceDB's Rust workers) and this process's peak RSS.
 */
import { percentile, recallAtK } from '../../src/eval/recall.ts';
import { peakRssMb, resetPeakRss } from './proc-stats.ts';
import { trueScores } from './ground-truth.ts';
import type { ShardQueryOptions } from '../../src/shard-node/shard-index-reader.ts';
import type { BenchPoint } from './types.ts';

export const K = 10;

/** A point's index knobs as its report parameters (`nprobes`, `ef`, `refine_factor`; unset ones omitted). */
export function knobParams(k: ShardQueryOptions): Record<string, number> {
  const p: Record<string, number> = {};
  if (k.nprobes) p.nprobes = k.nprobes;
  if (k.ef) p.ef = k.ef;
  if (k.refineFactor) p.refine_factor = k.refineFactor;
  return p;
}

/** Mean recall@K over the answered query rows. */
export function meanRecall(scores: Record<number, number[]> | Map<number, number[]>, gt: Float32Array): number {
  const entries = scores instanceof Map ? [...scores.entries()] : Object.entries(scores).map(([r, s]) => [Number(r), s] as const);
  if (entries.length === 0) return NaN;
  let sum = 0;
  for (const [row, s] of entries) sum += recallAtK('l2', s, trueScores(gt, row, K), K);
  return sum / entries.length;
}

/** Limits of one measured point. */
export interface PointBudget {
  concurrency: number;
  /** Stop after this many queries. */
  maxQueries: number;
  /** Stop after this long, ms. */
  durationMs: number;
}

/**
 * Runs `search(row)` (returns the top-K scores of query row `row`) in a closed loop over
 * `queryCount` rows.
 */
export async function measureInProcess(
  series: string,
  kind: BenchPoint['kind'],
  params: Record<string, number>,
  queryCount: number,
  gt: Float32Array,
  budget: PointBudget,
  search: (row: number) => Promise<number[]> | number[],
): Promise<BenchPoint> {
  const latencies: number[] = [];
  const scores = new Map<number, number[]>();
  resetPeakRss(process.pid);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + budget.durationMs;
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < budget.maxQueries && performance.now() < deadline) {
      const row = sent++ % queryCount;
      const s = performance.now();
      const result = await search(row);
      latencies.push(performance.now() - s);
      if (!scores.has(row)) scores.set(row, result);
    }
  };
  await Promise.all(Array.from({ length: budget.concurrency }, worker));
  return inProcessPoint({ series, kind, params }, budget.concurrency, latencies, scores, gt, performance.now() - t0, process.cpuUsage(cpu0));
}

/**
 * Measures a library whose search is synchronous but can spread one batch of queries over all
 * cores (usearch): the in-process equivalent of a closed loop at concurrency `budget.concurrency`.
 * `search(rows)` answers the query rows of one batch (`budget.concurrency` rows, fewer for the
 * last) and returns their top-K scores in order; every query of a batch is charged the batch's
 * wall time as its latency, as a closed-loop client waiting for it would be.
 */
export async function measureBatches(
  series: string,
  kind: BenchPoint['kind'],
  params: Record<string, number>,
  queryCount: number,
  gt: Float32Array,
  budget: PointBudget,
  search: (rows: number[]) => number[][],
): Promise<BenchPoint> {
  const latencies: number[] = [];
  const scores = new Map<number, number[]>();
  resetPeakRss(process.pid);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + budget.durationMs;
  let sent = 0;
  while (sent < budget.maxQueries && performance.now() < deadline) {
    const rows = Array.from({ length: Math.min(budget.concurrency, budget.maxQueries - sent) }, (_, i) => (sent + i) % queryCount);
    sent += rows.length;
    const s = performance.now();
    const results = search(rows);
    const ms = performance.now() - s;
    rows.forEach((row, i) => {
      latencies.push(ms);
      if (!scores.has(row)) scores.set(row, results[i]);
    });
    await new Promise<void>((resolve) => setImmediate(resolve)); // let timers and I/O run between batches
  }
  return inProcessPoint({ series, kind, params }, budget.concurrency, latencies, scores, gt, performance.now() - t0, process.cpuUsage(cpu0));
}

/**
 * The point of an in-process measurement: recall from `scores` (query row -> top-K scores), QPS
 * from `wallMs`, latency percentiles (ms) from `latencies`, and the process's CPU per query.
 */
function inProcessPoint(
  what: Pick<BenchPoint, 'series' | 'kind' | 'params'>,
  concurrency: number,
  latencies: number[],
  scores: Map<number, number[]>,
  gt: Float32Array,
  wallMs: number,
  cpu: NodeJS.CpuUsage,
): BenchPoint {
  return {
    ...what,
    concurrency,
    queries: latencies.length,
    recall: meanRecall(scores, gt),
    qps: latencies.length / (wallMs / 1000),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    cpuMsPerQuery: (cpu.user + cpu.system) / 1000 / latencies.length,
    peakRssMb: { bench: peakRssMb(process.pid) },
  };
}
