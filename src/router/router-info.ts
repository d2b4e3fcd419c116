/**
 * The read-only RPCs about the served run: SnapshotInfo, ShardDetails (per shard: size and every
 * replica's state) and Route (which shards and ready replicas a query would hit, without
 * searching: shardyfusion's route_vector).
 */
import { compileFilter } from '../common/filter/cel-filter.ts';
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from '../common/request-limits.ts';
import { routeFiltered } from './filter-routing.ts';
import type { RouteRequest__Output } from '../common/proto-gen/shardfleet/v1/RouteRequest.ts';
import type { RouteResponse } from '../common/proto-gen/shardfleet/v1/RouteResponse.ts';
import type { ShardDetailsResponse } from '../common/proto-gen/shardfleet/v1/ShardDetailsResponse.ts';
import type { SnapshotInfoResponse } from '../common/proto-gen/shardfleet/v1/SnapshotInfoResponse.ts';
import { decodeRoutingContext } from '../common/routing/routing-value-codec.ts';
import { decodeVector } from '../common/vector-codec.ts';
import type { Manifest } from '../common/manifest.ts';
import type { ReplicaState } from './replica-state.ts';
import type { RouterSnapshot } from './router-snapshot.ts';

/** SnapshotInfo of the served run. */
export function snapshotInfo(s: RouterSnapshot, storeUrl: string): SnapshotInfoResponse {
  const m = s.manifest;
  return {
    run_id: m.run_id,
    manifest_ref: s.manifestKey,
    published_at: s.publishedAt,
    dim: m.index.dim,
    metric: m.index.metric,
    backend: m.index.backend,
    strategy: m.sharding.strategy,
    num_dbs: m.sharding.num_dbs,
    default_num_probes: m.sharding.num_probes,
    default_ef: m.index.backend === 'usearch' && typeof m.index.index_params.ef_search === 'number' ? m.index.index_params.ef_search : 0,
    total_vectors: m.build_stats.total_vectors,
    store_url: storeUrl,
    index_type: builtIndexTypes(m),
    requested_index_type: m.index.index_type,
    kv_backend: m.kv?.backend ?? '',
    kv_key_type: m.kv?.key_type ?? '',
    filter_columns: Object.fromEntries((m.index.filter_columns ?? []).map((c) => [c.name, c.type])),
    recall_at_probes: m.routing_recall?.recall_at_probes ?? [],
    ...(m.search_recall === undefined
      ? {}
      : {
          search_recall: {
            k: m.search_recall.k,
            sample_queries: m.search_recall.sample_queries,
            ground_truth_vectors: m.search_recall.ground_truth_vectors,
            ef: m.search_recall.ef,
            probes: m.search_recall.recall.length,
            recall: m.search_recall.recall.flat(),
          },
        }),
    cel_expr: m.sharding.strategy === 'cel' ? m.sharding.cel_expr : '',
    cel_columns: m.sharding.strategy === 'cel' ? m.sharding.cel_columns : {},
    format: m.format ?? 'shardfleet',
    source_manifest_url: m.shardyfusion?.manifest_url ?? '',
    kv_key_encoding: m.kv?.key_encoding ?? '',
  };
}

/**
 * The snapshot's format as ShardDetails reports it: `shardfleet`, or `shardyfusion <layout>
 * <backend>` for a shardyfusion snapshot (e.g. `shardyfusion unified sqlite-vec`).
 */
export function formatDescription(m: Manifest): string {
  if (m.shardyfusion === undefined) return 'shardfleet';
  const backend = m.shardyfusion.layout === 'composite' ? 'lancedb+slatedb' : m.index.backend;
  return `shardyfusion ${m.shardyfusion.layout} ${backend}`;
}

/**
 * ShardDetails of the served run: every shard with its size and every replica's state, and the
 * router's replication factor (`replication`, 0 when unknown).
 */
export function shardDetails(s: RouterSnapshot, replicas: ReplicaState, addressOf: (nodeId: string) => string | undefined, replication = 0): ShardDetailsResponse {
  const runId = s.manifest.run_id;
  const sourceUrls = new Map((s.manifest.shardyfusion?.shards ?? []).map((x) => [x.db_id, x.db_url]));
  return {
    run_id: runId,
    format: formatDescription(s.manifest),
    replication_factor: replication,
    shards: s.manifest.shards.map((shard) => ({
      db_id: shard.db_id,
      vector_count: shard.vector_count,
      bytes: shard.files.reduce((sum, f) => sum + f.bytes, 0),
      index_type: shard.index_type,
      checkpoint_id: shard.checkpoint_id,
      url: shard.url,
      source_url: sourceUrls.get(shard.db_id) ?? '',
      replicas: replicas.replicas(runId, shard.db_id, s.placement.get(shard.db_id) ?? []).map((r) => ({
        node_id: r.nodeId,
        address: addressOf(r.nodeId) ?? '',
        state: r.state,
        reason: r.reason,
      })),
    })),
  };
}

/**
 * Route: the shards a query would probe, in routing order, each with its ready replicas
 * (preferred first). An empty `query` is accepted for EXPLICIT, CEL and HASH runs, whose routing
 * does not look at the vector. A HASH run answers every shard (its records are placed by key, not
 * by similarity) unless the request names shard_ids; RouteResponse.note says so (as does the
 * README). With a filter, shards it cannot match are skipped and listed in `skipped`
 * (filter-routing.ts).
 * @throws InvalidQueryError (INVALID_ARGUMENT) for a bad query or one that cannot be routed.
 */
export function route(
  s: RouterSnapshot,
  replicas: ReplicaState,
  addressOf: (nodeId: string) => string | undefined,
  req: RouteRequest__Output,
  limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
): RouteResponse {
  const { manifest } = s;
  const vectorFree = manifest.sharding.strategy === 'explicit' || manifest.sharding.strategy === 'cel' || manifest.sharding.strategy === 'hash';
  const vector = vectorFree && req.query.length === 0 ? new Float32Array(manifest.index.dim) : decodeVector(req.query, manifest.index.dim);
  const filter = compileFilter(req.filter, manifest.index.filter_columns ?? [], limits, manifest.format);
  const { shardIds, skipped } = routeFiltered(
    s,
    { vector, numProbes: req.num_probes, shardIds: req.shard_ids, routingContext: decodeRoutingContext(req.routing_context) },
    filter,
  );
  const runId = manifest.run_id;
  return {
    run_id: runId,
    skipped,
    note: routeNote(manifest, req.shard_ids.length > 0),
    shards: shardIds.map((dbId) => {
      const nodes = replicas.readyReplicas(runId, dbId, s.placement.get(dbId) ?? []);
      return { db_id: dbId, node_ids: nodes, addresses: nodes.map((n) => addressOf(n) ?? '') };
    }),
  };
}

/** Why Route picked the shards it did, when it is not by similarity ("" otherwise). */
function routeNote(m: Manifest, shardIdsGiven: boolean): string {
  if (shardIdsGiven) return 'shard_ids given: those shards, as listed';
  switch (m.sharding.strategy) {
    case 'hash':
      return 'hash-sharded snapshot: records are placed by key hash, not by similarity, so a search probes every shard (or the shard_ids given)';
    case 'cel':
      return 'CEL-sharded snapshot: the routing_context selects one shard';
    case 'explicit':
      return 'explicit-sharded snapshot: the shard_ids given';
    default:
      return '';
  }
}

/**
 * The index types the shards of `m` really have (their manifest entries), distinct, sorted and
 * comma-separated; empty shards (`empty`) are left out unless every shard is empty.
 */
export function builtIndexTypes(m: Manifest): string {
  const types = new Set(m.shards.map((s) => s.index_type));
  if (types.size > 1) types.delete('empty');
  return [...types].sort().join(', ');
}
