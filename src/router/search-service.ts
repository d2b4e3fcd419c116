/**
 * The router's search path: validate the request, route it (nearest centroids, or explicit
 * shard ids), fan out, require every probed shard, and merge the per-shard top-k lists.
 */
import { InvalidQueryError, ShardCoverageError } from '../common/errors.ts';
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
 * The shards a request probes, in routing order (nearest centroid first).
 * @throws InvalidQueryError for an unknown or repeated shard id, or num_probes > num_dbs.
 */
export function routeQuery(snapshot: RouterSnapshot, query: Float32Array, numProbes: number, shardIds: readonly number[]): number[] {
  const numDbs = snapshot.manifest.sharding.num_dbs;
  if (shardIds.length > 0) {
    const seen = new Set<number>();
    for (const id of shardIds) {
      if (!Number.isInteger(id) || id < 0 || id >= numDbs) {
        throw new InvalidQueryError(`shard id ${id} does not exist; run ${snapshot.manifest.run_id} has shards 0..${numDbs - 1}`);
      }
      if (seen.has(id)) throw new InvalidQueryError(`shard id ${id} is listed twice`);
      seen.add(id);
    }
    return [...shardIds];
  }
  const probes = numProbes === 0 ? snapshot.manifest.sharding.num_probes : numProbes;
  if (probes > numDbs) throw new InvalidQueryError(`num_probes ${probes} exceeds the number of shards (${numDbs})`);
  return snapshot.centroids.nearest(query, 0, probes);
}

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
  const shardIds = routeQuery(snapshot, query, req.num_probes, req.shard_ids);
  const result = await fanOut(pool, snapshot.placement, {
    runId: manifest.run_id,
    queryBytes: req.query,
    topK,
    shardIds,
    includePayload: req.include_payload,
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
