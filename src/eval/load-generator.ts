/**
 * A bounded closed-loop load generator for a router: `concurrency` workers send searches back to
 * back, cycling through a set of query vectors, until `durationMs` has passed or `maxQueries`
 * were sent. Records every latency (ms, at the client), every error with its gRPC status, and
 * which run answered, so fault tests and `npm run bench:load` read the same figures.
 */
import type { ServiceError } from '@grpc/grpc-js';
import type { SearchParams, SearchResponse, ShardfleetClient } from '../client/router-client.ts';
import { percentile } from './recall.ts';

/** Options of {@link runLoad}. */
export interface LoadOptions {
  /** Query vectors, `Float32Array` of length count * dim, row-major. */
  queries: Float32Array;
  dim: number;
  /** Workers sending concurrently (default 4). */
  concurrency?: number;
  /** Stop after this long, ms (default 10,000). */
  durationMs?: number;
  /** Stop after this many queries (default unbounded). */
  maxQueries?: number;
  /** Extra search parameters for every query (top_k, num_probes, ...). */
  params?: Omit<SearchParams, 'vector'>;
  /** Called with every successful response (e.g. to check which run answered). */
  onResponse?: (res: SearchResponse, queryRow: number) => void;
  /** Resolves to stop early. */
  stop?: Promise<void>;
}

/** What a load run measured. */
export interface LoadResult {
  /** Queries sent. */
  sent: number;
  /** Queries answered. */
  ok: number;
  /** Queries that failed, by "CODE: message" (first 200 characters). */
  errors: Map<string, number>;
  /** Total errors. */
  errorCount: number;
  /** Latencies of the answered queries, ms. */
  latencies: number[];
  /** Wall time of the run, ms. */
  wallMs: number;
  /** Answered queries per second. */
  qps: number;
  p50: number;
  p99: number;
  max: number;
  /** Responses by run_id. */
  runs: Map<string, number>;
  /** Responses marked partial. */
  partial: number;
}

/** Runs the load. Never throws for failed queries: they are counted in `errors`. */
export async function runLoad(client: ShardfleetClient, o: LoadOptions): Promise<LoadResult> {
  const count = o.queries.length / o.dim;
  const deadline = performance.now() + (o.durationMs ?? 10_000);
  const maxQueries = o.maxQueries ?? Infinity;
  const latencies: number[] = [];
  const errors = new Map<string, number>();
  const runs = new Map<string, number>();
  let sent = 0;
  let partial = 0;
  let stopped = false;
  void o.stop?.then(() => {
    stopped = true;
  });
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (!stopped && performance.now() < deadline && sent < maxQueries) {
      const row = sent++ % count;
      const t0 = performance.now();
      try {
        const res = await client.search({ ...o.params, vector: o.queries.subarray(row * o.dim, (row + 1) * o.dim) });
        latencies.push(performance.now() - t0);
        runs.set(res.run_id, (runs.get(res.run_id) ?? 0) + 1);
        if (res.partial) partial++;
        o.onResponse?.(res, row);
      } catch (err) {
        const e = err as Partial<ServiceError>;
        const key = `${e.code ?? '?'}: ${(e.details ?? String(err)).slice(0, 200)}`;
        errors.set(key, (errors.get(key) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency ?? 4 }, worker));
  const wallMs = performance.now() - started;
  const errorCount = [...errors.values()].reduce((a, b) => a + b, 0);
  return {
    sent,
    ok: latencies.length,
    errors,
    errorCount,
    latencies,
    wallMs,
    qps: latencies.length / (wallMs / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.length ? Math.max(...latencies) : NaN,
    runs,
    partial,
  };
}

/** One line summary: `N ok, E errors, QPS q, p50 a ms, p99 b ms, max c ms`. */
export function describeLoad(r: LoadResult): string {
  return `${r.ok} ok, ${r.errorCount} errors, ${r.qps.toFixed(0)} QPS, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, max ${r.max.toFixed(1)} ms`;
}
