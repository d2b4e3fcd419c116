/**
 * The router's search path: validate the request, route it with the run's routing function
 * (CLUSTER, LSH, EXPLICIT or CEL), fan out, check coverage against `min_coverage`, and merge the
 * per-shard top-k lists. Shared by Search (one query) and BatchSearch (many, see batch-search.ts).
 */
import * as grpc from '@grpc/grpc-js';
import { DeadlineExceededError, GrpcCode, InvalidQueryError, ResourceExhaustedError, ShardCoverageError, ShardfleetError } from '../common/errors.ts';
import { shardDirName } from '../common/manifest.ts';
import type { Hit } from '../common/proto-gen/shardfleet/v1/Hit.ts';
import type { SearchRequest__Output } from '../common/proto-gen/shardfleet/v1/SearchRequest.ts';
import type { SearchResponse } from '../common/proto-gen/shardfleet/v1/SearchResponse.ts';
import { decodeRoutingContext } from '../common/routing/routing-value-codec.ts';
import { resolveTargetRecall } from '../common/routing/recall-target.ts';
import { withSpan } from '../common/telemetry/spans.ts';
import { mergeTopK } from '../common/topk-merge.ts';
import { decodeVector } from '../common/vector-codec.ts';
import { checkAnswerBytes, estimateAnswerBytes, hitBytes } from '../common/work-bounds.ts';
import { compileFilter } from '../common/filter/cel-filter.ts';
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from '../common/request-limits.ts';
import { routeFiltered } from './filter-routing.ts';
import { fanOut, type FanOutDeps, type FanOutQuery, type FanOutResult, type QueryOutcome } from './fan-out.ts';
import { collectionLabel, type RouterMetrics } from './router-metrics.ts';
import type { RouterSnapshot } from './router-snapshot.ts';
import type { LiveRecallSink } from './live-recall.ts';

/** Default largest top_k a router accepts (`--max-top-k`). */
export const MAX_TOP_K = 1000;
/** top_k used when a request leaves it 0. */
export const DEFAULT_TOP_K = 10;

/** What the search path needs from the router. */
export interface SearchBackend {
  /** The collection this backend serves (issue 24), the `collection` label of its metrics (default "default"). */
  collection?: string;
  /**
   * The served snapshot; a request calls this ONCE and uses the result to its end.
   * @throws ReaderStateError (FAILED_PRECONDITION) when no run is served.
   */
  snapshot(): RouterSnapshot;
  /** Fan-out dependencies (clients, candidates, hedging) for a run's snapshot. */
  fanOutDeps(snapshot: RouterSnapshot): FanOutDeps;
  /** Metrics to update (optional). */
  metrics?: RouterMetrics;
  /** Request limits shared with the nodes (request-limits.ts); default {@link DEFAULT_REQUEST_LIMITS}. */
  limits?: RequestLimits;
  /**
   * Largest estimated answer of one Search, and of one BatchSearch in total, bytes (see
   * work-bounds.ts; `--max-response-bytes`). Undefined = no bound.
   */
  maxResponseBytes?: number;
  /** Largest top_k accepted (`--max-top-k`; default {@link MAX_TOP_K}). */
  maxTopK?: number;
  /** Where `maxTopK` comes from, for the message (default `--max-top-k`; a collection's `--collection-limit <c>:max_top_k=<n>`). */
  maxTopKFlag?: string;
  /** Live recall sampler, offered every answered query (live-recall.ts); unset = off. */
  liveRecall?: LiveRecallSink;
}

/** A validated and routed query. */
export interface PreparedQuery {
  topK: number;
  /** Shards to probe, routing order. */
  shardIds: number[];
  /** Required fraction of answering shards, (0, 1]. */
  minCoverage: number;
  fanOut: FanOutQuery;
  /** num_probes after target_recall (0 = the run's default), and whether the request named shard_ids (live recall labels). */
  numProbes: number;
  shardIdsGiven: boolean;
}

/** Estimated answer bytes of `queries` (see work-bounds.ts) and how the estimate was made. */
export function estimatePrepared(dim: number, queries: readonly PreparedQuery[]): { bytes: number; detail: string } {
  const bytes = estimateAnswerBytes(
    queries.map((p) => ({ shards: p.shardIds.length, topK: p.topK, includeVector: p.fanOut.includeVector, includePayload: p.fanOut.includePayload })),
    dim,
  );
  if (queries.length === 1) {
    const p = queries[0];
    const perHit = hitBytes(dim, p.fanOut.includeVector, p.fanOut.includePayload);
    return { bytes, detail: `${p.shardIds.length} shards x top_k ${p.topK} x ${perHit.toLocaleString('en-US')} bytes per hit` };
  }
  const hits = queries.reduce((n, p) => n + p.shardIds.length * p.topK, 0);
  const perHit = Math.max(0, ...queries.map((p) => hitBytes(dim, p.fanOut.includeVector, p.fanOut.includePayload)));
  return { bytes, detail: `${queries.length} queries, ${hits.toLocaleString('en-US')} hits (probed shards x top_k) of up to ${perHit.toLocaleString('en-US')} bytes each` };
}

/**
 * Refuses work whose estimated answer exceeds `backend.maxResponseBytes`, before any node call.
 * @throws ResourceExhaustedError naming the estimate, the limit and `--max-response-bytes`.
 */
export function checkWork(backend: SearchBackend, snapshot: RouterSnapshot, what: string, queries: readonly PreparedQuery[]): void {
  if (backend.maxResponseBytes === undefined) return;
  const { bytes, detail } = estimatePrepared(snapshot.manifest.index.dim, queries);
  checkAnswerBytes(bytes, backend.maxResponseBytes, what, detail);
}
/**
 * Validates and routes one request against `snapshot`.
 * @throws InvalidQueryError (INVALID_ARGUMENT) for a bad query, top_k, num_probes, min_coverage,
 *   shard id or routing context; a target_recall outside (0, 1], or one used on a run without a
 *   routing recall curve (resolveTargetRecall); a filter that does not compile against the
 *   run's filter columns (naming the column or construct and its offset, cel-filter.ts).
 * With a filter, shards whose statistics rule out a match are skipped (filter-routing.ts).
 */
export function prepareQuery(snapshot: RouterSnapshot, req: SearchRequest__Output, limits: RequestLimits = DEFAULT_REQUEST_LIMITS, maxTopK = MAX_TOP_K, maxTopKFlag = '--max-top-k'): PreparedQuery {
  const { manifest } = snapshot;
  const query = decodeVector(req.query, manifest.index.dim);
  const topK = req.top_k === 0 ? DEFAULT_TOP_K : req.top_k;
  if (topK > maxTopK) throw new InvalidQueryError(`top_k must be in 1..${maxTopK} (${maxTopKFlag}), got ${topK}`);
  const mc = req.min_coverage;
  if (!Number.isFinite(mc) || mc < 0 || mc > 1) throw new InvalidQueryError(`min_coverage must be in [0, 1] (0 = every probed shard), got ${mc}`);
  const { numProbes, ef } = resolveTargetRecall(
    req.target_recall,
    req.num_probes,
    req.shard_ids.length > 0,
    manifest.routing_recall,
    manifest.run_id,
    manifest.search_recall,
    req.ef,
    manifest.sharding.num_dbs,
  );
  const filter = compileFilter(req.filter, manifest.index.filter_columns ?? [], limits, manifest.format);
  const { shardIds } = routeFiltered(
    snapshot,
    { vector: query, numProbes, shardIds: req.shard_ids, routingContext: decodeRoutingContext(req.routing_context) },
    filter,
    topK,
  );
  return {
    topK,
    shardIds,
    minCoverage: mc === 0 ? 1 : mc,
    numProbes,
    shardIdsGiven: req.shard_ids.length > 0,
    fanOut: {
      queryBytes: req.query,
      topK,
      shardIds,
      includePayload: req.include_payload,
      includeVector: req.include_vector,
      options: { nprobes: req.nprobes, ef, refine_factor: req.refine_factor },
      ...(filter === undefined ? {} : { filter: JSON.stringify(filter) }),
    },
  };
}

/**
 * Builds the response of one query from its fan-out outcome.
 * @param startedMs `performance.now()` at the request start.
 * @param deadline the request's absolute deadline, ms since epoch.
 * @throws DeadlineExceededError (DEADLINE_EXCEEDED) when too few shards answered because the
 *   caller's deadline passed (a missing shard ended by the deadline, or the deadline has passed):
 *   the caller ran out of time, not a coverage failure.
 * @throws InvalidQueryError / ResourceExhaustedError when a node refused the call for the
 *   request's own fault (see {@link rejectionOf}), with the node's reason.
 * @throws ShardCoverageError (UNAVAILABLE) when the answering fraction of the probed shards is
 *   below the query's min_coverage otherwise; the message names every missing shard and why.
 */
export function assembleResponse(snapshot: RouterSnapshot, prepared: PreparedQuery, outcome: QueryOutcome, startedMs: number, deadline: number): SearchResponse {
  const runId = snapshot.manifest.run_id;
  const rejection = rejectionOf(outcome, runId);
  if (rejection) throw rejection;
  const { shardIds } = prepared;
  const missing = shardIds.filter((id) => !outcome.answered.has(id)).sort((a, b) => a - b);
  const reasonOf = (id: number): string => (outcome.failed.get(id) ?? ['no answer']).join('; ');
  const answeredCount = shardIds.length - missing.length;
  if (shardIds.length > 0 && answeredCount / shardIds.length < prepared.minCoverage - 1e-9) {
    const reasons = missing.map((id) => `shard ${id} (${shardDirName(id)}): ${reasonOf(id)}`);
    if (missing.some((id) => outcome.expired.has(id)) || Date.now() >= deadline) {
      throw new DeadlineExceededError(
        `deadline passed with ${answeredCount}/${shardIds.length} probed shards of run ${runId} answered (min_coverage ${prepared.minCoverage}); ` +
          `not answered: ${reasons.join(' | ')}`,
        missing,
      );
    }
    throw new ShardCoverageError(
      `coverage ${answeredCount}/${shardIds.length} is below min_coverage ${prepared.minCoverage}; ` +
        `${missing.length} of ${shardIds.length} probed shards of run ${runId} could not answer: ${reasons.join(' | ')}`,
      missing,
    );
  }
  const lists = shardIds.flatMap((id) => {
    const hits = outcome.answered.get(id);
    return hits ? [hits] : [];
  });
  // A shardyfusion snapshot keeps shardyfusion's order among equal scores (earlier-probed shard
  // first); shardfleet's own is by id.
  const ties = snapshot.manifest.format === 'shardyfusion' ? 'list-order' : 'id';
  const results: Hit[] = mergeTopK(lists, prepared.topK, ties).map((h) => ({
    id: h.id,
    score: h.score,
    payload_json: h.payload_json,
    vector: h.vector,
  }));
  const failed = missing.map((id) => ({ db_id: id, reason: reasonOf(id) }));
  return {
    results,
    num_shards_queried: shardIds.length,
    run_id: runId,
    latency_ms: performance.now() - startedMs,
    shard_ids: shardIds,
    num_shards_answered: answeredCount,
    failed_shards: failed,
    partial: failed.length > 0,
  };
}

/**
 * The refusal of a query a node refused for the request's own fault (QueryOutcome.callerFault:
 * INVALID_ARGUMENT, e.g. over a node's request limits when the nodes run lower limits than this
 * router, or RESOURCE_EXHAUSTED, over the node's `--max-response-bytes`), carrying the node's
 * message; undefined when no node refused it. Another replica would refuse it too, so the whole
 * request fails, whatever its min_coverage.
 */
export function rejectionOf(outcome: QueryOutcome, runId: string): InvalidQueryError | ResourceExhaustedError | undefined {
  const fault = outcome.callerFault;
  if (fault === undefined) return undefined;
  const message = `a shard node refused the request: ${fault.message} (run ${runId}; retrying on another replica cannot help)`;
  return fault.code === GrpcCode.RESOURCE_EXHAUSTED ? new ResourceExhaustedError(message) : new InvalidQueryError(message);
}

/**
 * The metrics label of a failed request: its gRPC status name in lower case (`unavailable` for a
 * coverage failure, `deadline_exceeded` when the caller's deadline passed, `invalid_argument`).
 */
export function outcomeLabel(err: unknown): string {
  const code = err instanceof ShardfleetError ? err.grpcCode : grpc.status.INTERNAL;
  return (grpc.status[code] ?? 'unknown').toLowerCase();
}

/**
 * Records the fan-out counters of one request; `queries` (Search / BatchSearch: the searches
 * fanned out; Get / MultiGet pass none, a key lookup asks one shard by construction) feed the
 * shards-per-query histogram.
 */
export function recordFanOut(metrics: RouterMetrics | undefined, rpc: string, result: FanOutResult, queries: readonly FanOutQuery[] = []): void {
  if (!metrics) return;
  metrics.fanOutWidth.observe({ rpc }, result.width);
  for (const q of queries) metrics.queryShards.observe({ rpc }, q.shardIds.length);
  if (result.retries > 0) metrics.retries.inc(result.retries);
  if (result.hedges > 0) metrics.hedges.inc(result.hedges);
}

/**
 * Offers an answered query to the live recall sampler (when the router has one). Synchronous and
 * cheap: the sampler decides at once and runs its reference search later, off this request.
 */
export function offerLiveRecall(backend: SearchBackend, snapshot: RouterSnapshot, prepared: PreparedQuery, response: SearchResponse): void {
  backend.liveRecall?.offer({
    snapshot,
    queryBytes: prepared.fanOut.queryBytes,
    topK: prepared.topK,
    ...(prepared.fanOut.filter === undefined ? {} : { filter: prepared.fanOut.filter }),
    numProbes: prepared.numProbes,
    shardIdsGiven: prepared.shardIdsGiven,
    ef: prepared.fanOut.options.ef,
    response,
  });
}

/**
 * Answers one Search request.
 * @param deadline absolute deadline of the call, ms since epoch.
 * @param signal aborted when the caller cancels its call: the node calls are cancelled.
 * @throws ReaderStateError (no run served), InvalidQueryError (bad request), ResourceExhaustedError
 *   (estimated answer over `maxResponseBytes`, before any node call), ShardCoverageError
 *   (coverage below min_coverage, naming the shards and why).
 */
export async function search(backend: SearchBackend, req: SearchRequest__Output, deadline: number, signal?: AbortSignal): Promise<SearchResponse> {
  const started = performance.now();
  const metrics = backend.metrics;
  try {
    const res = await withSpan('router.search', { 'shardfleet.top_k': req.top_k, 'shardfleet.num_probes': req.num_probes }, async () => {
      const snapshot = backend.snapshot();
      const prepared = prepareQuery(snapshot, req, backend.limits, backend.maxTopK, backend.maxTopKFlag);
      checkWork(backend, snapshot, 'Search', [prepared]);
      const result = await fanOut(backend.fanOutDeps(snapshot), { runId: snapshot.manifest.run_id, queries: [prepared.fanOut], deadline, signal });
      recordFanOut(metrics, 'Search', result, [prepared.fanOut]);
      const response = assembleResponse(snapshot, prepared, result.queries[0], started, deadline);
      offerLiveRecall(backend, snapshot, prepared, response);
      return response;
    });
    if (res.partial) metrics?.partialResponses.inc({ rpc: 'Search', collection: collectionLabel(backend) });
    metrics?.requestDuration.observe({ rpc: 'Search', outcome: res.partial ? 'partial' : 'ok', collection: collectionLabel(backend) }, (performance.now() - started) / 1000);
    return res;
  } catch (err) {
    if (err instanceof ShardCoverageError) metrics?.coverageFailures.inc({ rpc: 'Search', collection: collectionLabel(backend) });
    metrics?.requestDuration.observe({ rpc: 'Search', outcome: outcomeLabel(err), collection: collectionLabel(backend) }, (performance.now() - started) / 1000);
    throw err;
  }
}
