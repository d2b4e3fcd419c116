/**
 * The router's search path: validate the request, route it with the run's routing function
 * (CLUSTER, LSH, EXPLICIT or CEL), fan out, require every probed shard, and merge the per-shard
 * top-k lists.
 */
import { InvalidQueryError, ShardCoverageError } from '../common/errors.ts';
import { decodeRoutingContext } from '../common/routing/routing-value-codec.ts';
import { shardDirName } from '../common/manifest.ts';
import type { SearchRequest__Output } from '../common/proto-gen/shardfleet/v1/SearchRequest.ts';
import type { SearchResponse } from '../common/proto-gen/shardfleet/v1/SearchResponse.ts';
import { mergeTopK } from '../common/topk-merge.ts';
import { decodeVector } from '../common/vector-codec.ts';
import { fanOut } from './fan-out.ts';
import type { NodePool } from './node-pool.ts';
import type { RouterSnapshot } from './router-snapshot.ts';

/** Largest top_k a router accepts. */
export const MAX_TOP_K = 1000;
/** top_k used when a request leaves it 0. */
export const DEFAULT_TOP_K = 10;

/**
 * Answers one Search request from `snapshot`.
 * @param deadline absolute deadline of the call, ms since epoch.
 * @throws InvalidQueryError (INVALID_ARGUMENT) for a bad query; ShardCoverageError (UNAVAILABLE)
 *   naming every probed shard that could not answer and why.
 */
export async function search(
  snapshot: RouterSnapshot,
  pool: NodePool,
  req: SearchRequest__Output,
  deadline: number,
): Promise<SearchResponse> {
  const started = performance.now();
  const { manifest } = snapshot;
  const query = decodeVector(req.query, manifest.index.dim);
  const topK = req.top_k === 0 ? DEFAULT_TOP_K : req.top_k;
  if (topK > MAX_TOP_K) throw new InvalidQueryError(`top_k must be in 1..${MAX_TOP_K}, got ${topK}`);
  const shardIds = snapshot.routing.route({
    vector: query,
    numProbes: req.num_probes,
    shardIds: req.shard_ids,
    routingContext: decodeRoutingContext(req.routing_context),
  });
  const result = await fanOut(pool, snapshot.placement, {
    runId: manifest.run_id,
    queryBytes: req.query,
    topK,
    shardIds,
    includePayload: req.include_payload,
    options: { nprobes: req.nprobes, ef: req.ef, refine_factor: req.refine_factor },
    deadline,
  });
  if (result.failed.size > 0) {
    const missing = [...result.failed.keys()].sort((a, b) => a - b);
    const reasons = missing.map((id) => `shard ${id} (${shardDirName(id)}): ${result.failed.get(id)!.join('; ')}`);
    throw new ShardCoverageError(
      `${missing.length} of ${shardIds.length} probed shards of run ${manifest.run_id} could not answer: ${reasons.join(' | ')}`,
      missing,
    );
  }
  const results = mergeTopK(
    shardIds.map((id) => result.answered.get(id)!),
    topK,
  );
  return {
    results,
    num_shards_queried: shardIds.length,
    run_id: manifest.run_id,
    latency_ms: performance.now() - started,
    shard_ids: shardIds,
  };
}
