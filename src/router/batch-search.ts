/**
 * BatchSearch: many queries of one run in one call. Every query is validated and routed on its
 * own (a bad query fails alone), then ONE fan-out carries all of them, so each node gets one
 * SearchShards call holding every query's shards for that node. Each query then gets its own
 * response or error (coverage is checked per query).
 */
import * as grpc from '@grpc/grpc-js';
import { GrpcCode, InvalidQueryError, ShardCoverageError, ShardfleetError, errorMessage } from '../common/errors.ts';
import type { BatchSearchRequest__Output } from '../common/proto-gen/shardfleet/v1/BatchSearchRequest.ts';
import type { BatchSearchResponse } from '../common/proto-gen/shardfleet/v1/BatchSearchResponse.ts';
import type { BatchSearchResult } from '../common/proto-gen/shardfleet/v1/BatchSearchResult.ts';
import { withSpan } from '../common/telemetry/spans.ts';
import { boundDetails } from '../common/bounded-text.ts';
import { fanOut } from './fan-out.ts';
import { assembleResponse, checkWork, offerLiveRecall, outcomeLabel, prepareQuery, recordFanOut, type PreparedQuery, type SearchBackend } from './search-service.ts';

import { MAX_BATCH_QUERIES } from '../common/wire-limits.ts';
import { collectionLabel } from './router-metrics.ts';

/** Most queries one BatchSearch may carry (also checked before decoding, wire-limits.ts). */
export { MAX_BATCH_QUERIES };

/**
 * The `outcome` label of a BatchSearch in `shardfleet_router_request_duration_seconds`, from its
 * per-query results: `ok` when every query was answered in full; `partial` when every query was
 * answered and some lack shards (`partial = true`, the API's word for missing shards); when some
 * query failed, the gRPC status name of the failures in lower case if they share one
 * (`invalid_argument` for a bad query, `unavailable` for coverage, `deadline_exceeded`), and
 * `error` for failures with different codes. Never `partial` for a failed query.
 */
export function batchOutcomeLabel(results: readonly BatchSearchResult[]): string {
  const codes = new Set(results.map((r) => r.error_code ?? 0).filter((code) => code !== 0));
  if (codes.size === 1) {
    const [code] = codes;
    return (grpc.status[code] ?? 'error').toLowerCase();
  }
  if (codes.size > 1) return 'error';
  return results.some((r) => r.response?.partial === true) ? 'partial' : 'ok';
}

function errorResult(err: unknown): BatchSearchResult {
  const code = err instanceof ShardfleetError ? err.grpcCode : GrpcCode.INTERNAL;
  return { response: null, error_code: code, error_message: boundDetails(errorMessage(err)) };
}

/**
 * Answers a BatchSearch request from one run.
 * @param deadline absolute deadline of the call, ms since epoch.
 * @param signal aborted when the caller cancels its call: the node calls are cancelled.
 * @throws ReaderStateError (no run served); InvalidQueryError when the batch has more than
 *   {@link MAX_BATCH_QUERIES} queries; ResourceExhaustedError when the estimated answer of all
 *   its valid queries together exceeds `backend.maxResponseBytes` (before any node call).
 *   Per-query errors are returned in the results.
 */
export async function batchSearch(backend: SearchBackend, req: BatchSearchRequest__Output, deadline: number, signal?: AbortSignal): Promise<BatchSearchResponse> {
  const started = performance.now();
  const metrics = backend.metrics;
  try {
    const res = await withSpan('router.batch_search', { 'shardfleet.batch_size': req.queries.length }, async () => {
      if (req.queries.length > MAX_BATCH_QUERIES) {
        throw new InvalidQueryError(`a batch may carry at most ${MAX_BATCH_QUERIES} queries, got ${req.queries.length}`);
      }
      const snapshot = backend.snapshot();
      const prepared: (PreparedQuery | undefined)[] = [];
      const results: BatchSearchResult[] = [];
      for (const q of req.queries) {
        try {
          prepared.push(prepareQuery(snapshot, q, backend.limits, backend.maxTopK, backend.maxTopKFlag));
          results.push({ response: null, error_code: 0, error_message: '' });
        } catch (err) {
          prepared.push(undefined);
          results.push(errorResult(err));
        }
      }
      const valid = prepared.flatMap((p, i) => (p ? [{ p, i }] : []));
      checkWork(
        backend,
        snapshot,
        `BatchSearch of ${req.queries.length} queries`,
        valid.map(({ p }) => p),
      );
      const queries = valid.map(({ p }) => p.fanOut);
      const result = await fanOut(backend.fanOutDeps(snapshot), { runId: snapshot.manifest.run_id, queries, deadline, signal });
      recordFanOut(metrics, 'BatchSearch', result, queries);
      valid.forEach(({ p, i }, k) => {
        try {
          const response = assembleResponse(snapshot, p, result.queries[k], started, deadline);
          if (response.partial) metrics?.partialResponses.inc({ rpc: 'BatchSearch', collection: collectionLabel(backend) });
          results[i] = { response, error_code: 0, error_message: '' };
          offerLiveRecall(backend, snapshot, p, response);
        } catch (err) {
          if (err instanceof ShardCoverageError) metrics?.coverageFailures.inc({ rpc: 'BatchSearch', collection: collectionLabel(backend) });
          results[i] = errorResult(err);
        }
      });
      return { results, run_id: snapshot.manifest.run_id };
    });
    metrics?.requestDuration.observe({ rpc: 'BatchSearch', outcome: batchOutcomeLabel(res.results), collection: collectionLabel(backend) }, (performance.now() - started) / 1000);
    return res;
  } catch (err) {
    metrics?.requestDuration.observe({ rpc: 'BatchSearch', outcome: outcomeLabel(err), collection: collectionLabel(backend) }, (performance.now() - started) / 1000);
    throw err;
  }
}
