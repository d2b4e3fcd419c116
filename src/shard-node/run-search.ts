/**
 * Answering a batched SearchShards request from one run: validate the queries, lease every
 * distinct shard the batch names (loading missing ones, once each), search each shard's queries
 * (as one batch where the backend supports it) inside a `shard.search` span, release the leases.
 *
 * The leases are held until every search of the request has finished, so neither eviction nor a
 * run swap closes a shard under an in-flight request.
 *
 * The work runs in pieces (at most {@link SEARCH_PIECE_QUERIES} queries of one shard), with a turn
 * of the event loop before each, so Status and health calls are answered while a large request
 * searches; a request whose caller gave up (`signal` aborted: call cancelled or deadline passed)
 * stops at the next piece. A request of exact searches only (the live recall reference) runs its
 * pieces one at a time, paced by {@link EXACT_PAUSE_FACTOR}.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import pLimit from 'p-limit';
import { InvalidQueryError, errorMessage } from '../common/errors.ts';
import type { ShardQuery__Output } from '../common/proto-gen/shardfleet/v1/ShardQuery.ts';
import { withSpan } from '../common/telemetry/spans.ts';
import { FilterExprSchema, filterColumnsOf, type FilterColumn, type FilterExpr } from '../common/filter/filter-expr.ts';
import { checkCompiledFilterJson, checkFilterExpr } from '../common/filter/filter-limits.ts';
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from '../common/request-limits.ts';
import { decodeVector } from '../common/vector-codec.ts';
import type { NodeMetrics } from './node-metrics.ts';
import type { NodeRun } from './node-run.ts';
import type { ShardHit, ShardQueryOptions } from './shard-index-reader.ts';
import type { ShardLease } from './shard-lease-cache.ts';

/** Largest top_k a node accepts. */
export const MAX_TOP_K = 10_000;
/** (query, shard) searches run at once per request. */
export const SEARCH_CONCURRENCY = 8;
/** Most queries of one shard searched as one piece of work (between two event-loop turns and cancellation checks). */
export const SEARCH_PIECE_QUERIES = 32;
/**
 * Exact searches (ShardQuery.exact, the routers' live recall reference) run their pieces one at a
 * time, each followed by a pause of this many times its own duration, so a node spends at most
 * 1 / (1 + factor) of one core (25%) on them however long they are.
 */
export const EXACT_PAUSE_FACTOR = 3;

/** A validated query. */
export interface PreparedQuery {
  vector: Float32Array;
  topK: number;
  shardIds: readonly number[];
  includePayload: boolean;
  options: ShardQueryOptions;
  /** The filter as received (JSON text; "" = none): part of the batch key. */
  filterKey?: string;
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
 * @throws InvalidQueryError naming the query index for a top_k outside 1..MAX_TOP_K, a query
 *   vector of the wrong length or with non-finite values, or a filter that is malformed or over
 *   `limits` (see {@link parseShardFilter}).
 */
export function prepareQueries(
  queries: readonly ShardQuery__Output[],
  dim: number,
  filterColumns: readonly FilterColumn[] = [],
  limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
): PreparedQuery[] {
  return queries.map((q, i) => {
    if (q.top_k < 1 || q.top_k > MAX_TOP_K) throw new InvalidQueryError(`query ${i}: top_k must be in 1..${MAX_TOP_K}, got ${q.top_k}`);
    const filter = q.filter === '' ? undefined : parseShardFilter(q.filter, filterColumns, `query ${i}`, limits);
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
        filter,
        ...(q.exact ? { exact: true } : {}),
      },
      filterKey: q.filter,
    };
  });
}

/**
 * Parses a ShardQuery's filter (JSON of a FilterExpr, compiled by the router). Its length and
 * nesting are checked on the text before `JSON.parse`, its depth, terms and `in` values on the
 * parsed value before the (recursive) schema check, so no filter can overflow the stack.
 * @throws InvalidQueryError naming `where` for malformed JSON, a column the run does not declare,
 *   or a filter over `limits` (naming the limit, the value and its flag).
 */
export function parseShardFilter(text: string, columns: readonly FilterColumn[], where: string, limits: RequestLimits = DEFAULT_REQUEST_LIMITS): FilterExpr {
  checkCompiledFilterJson(text, limits, `${where}: `);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new InvalidQueryError(`${where}: filter is not JSON`);
  }
  checkFilterExpr(raw, limits, `${where}: `);
  const parsed = FilterExprSchema.safeParse(raw);
  if (!parsed.success) throw new InvalidQueryError(`${where}: filter is not a compiled filter expression: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  const known = new Set(columns.map((c) => c.name));
  const unknown = filterColumnsOf(parsed.data).filter((c) => !known.has(c));
  if (unknown.length > 0) throw new InvalidQueryError(`${where}: filter column ${unknown.map((c) => JSON.stringify(c)).join(', ')} is not a filter column of this run`);
  return parsed.data;
}

/** Queries of one request that search one shard with identical options: one batch. */
interface ShardBatch {
  dbId: number;
  /** Request query indexes, ascending. */
  queries: number[];
  /** For each of `queries`, the index of its outcome in the response. */
  outcomes: number[];
}

/** A key of the options that must be equal within a batch. */
function batchKey(q: PreparedQuery): string {
  const o = q.options;
  return `${q.topK}/${q.includePayload ? 1 : 0}/${o.includeVector ? 1 : 0}/${o.nprobes ?? 0}/${o.ef ?? 0}/${o.refineFactor ?? 0}/${o.exact ? 1 : 0}/${q.filterKey ?? ''}`;
}

/**
 * Searches `queries` against `run`: one outcome per (query, requested shard), in request order.
 * The queries that search one shard with the same top_k and options go to the shard as one batch
 * when its reader has `searchBatch` (usearch: one native call per batch), else query by query.
 * A shard that cannot be loaded or searched yields an outcome whose `error` names the shard and
 * the reason (never a silently missing entry).
 * @param signal aborted when the caller gave up: no further piece starts, and the call rejects.
 * @throws the signal's reason once it is aborted (pieces not yet searched are skipped and counted
 *   in `shardfleet_node_search_pieces_cancelled_total`); never rejects otherwise.
 */
export async function searchRun(run: NodeRun, queries: readonly PreparedQuery[], metrics: NodeMetrics, signal?: AbortSignal): Promise<ShardOutcome[]> {
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
    // Outcomes in request order, and the (shard, options) pieces that fill them: the open piece
    // of each batch key, and every piece in creation order.
    const outcomes: ShardOutcome[] = [];
    const open = new Map<string, ShardBatch>();
    const pieces: ShardBatch[] = [];
    queries.forEach((q, queryIndex) => {
      const key = batchKey(q);
      for (const dbId of q.shardIds) {
        outcomes.push({ dbId, queryIndex, hits: [], error: '' });
        const lease = leases.get(dbId);
        const batchable = lease !== undefined && typeof lease !== 'string' && lease.reader.searchBatch !== undefined;
        const id = batchable ? `${dbId}|${key}` : `${dbId}|${key}|${queryIndex}`;
        const batch = open.get(id);
        if (batch && batch.queries.length < SEARCH_PIECE_QUERIES) {
          batch.queries.push(queryIndex);
          batch.outcomes.push(outcomes.length - 1);
        } else {
          const piece = { dbId, queries: [queryIndex], outcomes: [outcomes.length - 1] };
          open.set(id, piece);
          pieces.push(piece);
        }
      }
    });
    const exactOnly = queries.length > 0 && queries.every((q) => q.options.exact === true);
    const limit = pLimit(exactOnly ? 1 : SEARCH_CONCURRENCY);
    await Promise.all(
      pieces.map((batch) =>
        limit(async (): Promise<void> => {
          // A turn of the event loop before each piece: Status and health calls go first.
          await yieldToEventLoop();
          if (signal?.aborted) {
            metrics.searchPiecesCancelled.inc();
            return;
          }
          const { dbId } = batch;
          const fill = (i: number, hits: ShardHit[], error: string): void => {
            const o = outcomes[batch.outcomes[i]];
            o.hits = hits;
            o.error = error;
          };
          const lease = leases.get(dbId);
          if (lease === undefined || typeof lease === 'string') {
            batch.queries.forEach((_, i) => fill(i, [], lease ?? `shard ${dbId}: not leased`));
            return;
          }
          const first = queries[batch.queries[0]];
          const options = signal === undefined ? first.options : { ...first.options, signal };
          const started = performance.now();
          try {
            const lists = await withSpan('shard.search', { db_id: dbId, run_id: run.runId, queries: batch.queries.length }, () =>
              lease.reader.searchBatch && batch.queries.length > 1
                ? lease.reader.searchBatch(batch.queries.map((q) => queries[q].vector), first.topK, first.includePayload, options)
                : lease.reader.search(first.vector, first.topK, first.includePayload, options).then((hits) => [hits]),
            );
            const seconds = (performance.now() - started) / 1000 / batch.queries.length;
            for (let i = 0; i < batch.queries.length; i++) {
              metrics.shardSearchSeconds.observe({ db_id: String(dbId) }, seconds);
              fill(i, lists[i] ?? [], lists[i] ? '' : `shard ${dbId}: the backend returned no result for the query`);
            }
          } catch (err) {
            batch.queries.forEach((_, i) => fill(i, [], `run ${run.runId}: ${errorMessage(err)}`));
          }
          if (exactOnly) await new Promise((resolve) => setTimeout(resolve, EXACT_PAUSE_FACTOR * (performance.now() - started)));
        }),
      ),
    );
    signal?.throwIfAborted();
    return outcomes;
  } finally {
    for (const lease of leases.values()) if (typeof lease !== 'string') lease.release();
  }
}
