/**
 * Answering a batched SearchShards request from one run: validate the queries, lease every
 * distinct shard the batch names (loading missing ones, once each), search each (query, shard)
 * pair inside a `shard.search` span, release the leases.
 *
 * The leases are held until every search of the request has finished, so neither eviction nor a
 * run swap closes a shard under an in-flight request.
 */
import pLimit from 'p-limit';
import { InvalidQueryError, errorMessage } from '../common/errors.ts';
import type { ShardQuery__Output } from '../common/proto-gen/shardfleet/v1/ShardQuery.ts';
import { withSpan } from '../common/telemetry/spans.ts';
import { decodeVector } from '../common/vector-codec.ts';
import type { NodeMetrics } from './node-metrics.ts';
import type { NodeRun } from './node-run.ts';
import type { ShardHit, ShardQueryOptions } from './shard-index-reader.ts';
import type { ShardLease } from './shard-lease-cache.ts';

/** Largest top_k a node accepts. */
export const MAX_TOP_K = 10_000;
/** (query, shard) searches run at once per request. */
export const SEARCH_CONCURRENCY = 8;

/** A validated query. */
export interface PreparedQuery {
  vector: Float32Array;
  topK: number;
  shardIds: readonly number[];
  includePayload: boolean;
  options: ShardQueryOptions;
}

/** The outcome of one (query, shard): hits, or why the shard could not answer. */
export interface ShardOutcome {
  dbId: number;
  queryIndex: number;
  hits: ShardHit[];
  /** "" on success. */
  error: string;
}

/**
 * Validates and decodes the request's queries for a run of dimension `dim`.
 * @throws InvalidQueryError naming the query index for a top_k outside 1..MAX_TOP_K or a query
 *   vector of the wrong length or with non-finite values.
 */
export function prepareQueries(queries: readonly ShardQuery__Output[], dim: number): PreparedQuery[] {
  return queries.map((q, i) => {
    if (q.top_k < 1 || q.top_k > MAX_TOP_K) throw new InvalidQueryError(`query ${i}: top_k must be in 1..${MAX_TOP_K}, got ${q.top_k}`);
    return {
      vector: decodeVector(q.query, dim, `query ${i}`),
      topK: q.top_k,
      shardIds: q.shard_ids,
      includePayload: q.include_payload,
      options: {
        nprobes: q.nprobes || undefined,
        ef: q.ef || undefined,
        refineFactor: q.refine_factor || undefined,
        includeVector: q.include_vector,
      },
    };
  });
}

/**
 * Searches `queries` against `run`: one outcome per (query, requested shard), in request order.
 * A shard that cannot be loaded or searched yields an outcome whose `error` names the shard and
 * the reason (never a silently missing entry). Never rejects.
 */
export async function searchRun(run: NodeRun, queries: readonly PreparedQuery[], metrics: NodeMetrics): Promise<ShardOutcome[]> {
  const distinct = [...new Set(queries.flatMap((q) => q.shardIds))];
  const leases = new Map<number, ShardLease | string>();
  await Promise.all(
    distinct.map(async (dbId) => {
      try {
        leases.set(dbId, await run.lease(dbId));
      } catch (err) {
        leases.set(dbId, errorMessage(err));
      }
    }),
  );
  try {
    const limit = pLimit(SEARCH_CONCURRENCY);
    return await Promise.all(
      queries.flatMap((q, queryIndex) =>
        q.shardIds.map((dbId) =>
          limit(async (): Promise<ShardOutcome> => {
            const lease = leases.get(dbId);
            if (lease === undefined || typeof lease === 'string') return { dbId, queryIndex, hits: [], error: lease ?? `shard ${dbId}: not leased` };
            const started = performance.now();
            try {
              const hits = await withSpan('shard.search', { db_id: dbId, run_id: run.runId }, () =>
                lease.reader.search(q.vector, q.topK, q.includePayload, q.options),
              );
              metrics.shardSearchSeconds.observe({ db_id: String(dbId) }, (performance.now() - started) / 1000);
              return { dbId, queryIndex, hits, error: '' };
            } catch (err) {
              return { dbId, queryIndex, hits: [], error: `run ${run.runId}: ${errorMessage(err)}` };
            }
          }),
        ),
      ),
    );
  } finally {
    for (const lease of leases.values()) if (typeof lease !== 'string') lease.release();
  }
}
