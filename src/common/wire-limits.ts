/**
 * The request limits routers and shard nodes apply BEFORE decoding a request (see
 * message-prescan.ts), sized to the largest legal request so that the pre-scan never refuses
 * one the handlers accept:
 *
 * - a BatchSearch carries at most {@link MAX_BATCH_QUERIES} queries (the router's batch cap);
 * - a MultiGet carries at most `--max-get-keys` keys (the router's key cap);
 * - a query names a shard at most once and shard ids exist (< num_dbs), so a query's `shard_ids`
 *   hold at most num_dbs ids: {@link MAX_SHARD_IDS_PER_QUERY} per query and
 *   {@link MAX_SHARD_IDS_PER_REQUEST} per request cover a full batch probing 4,096 shards each;
 * - a query's `routing_context` holds only the CEL expression's columns (others are refused):
 *   {@link MAX_ROUTING_CONTEXT_ENTRIES};
 * - a router-to-node SearchShards call carries one query per query of a batch (at most 1,000),
 *   or coalesced calls of at most 64, or one lookup query per shard of a MultiGet:
 *   {@link MAX_NODE_CALL_QUERIES} leaves room for all of these; its lookup keys are bounded by
 *   {@link MAX_LOOKUP_KEYS} as the node's handler does.
 *
 * The same constants bound the router's requests and the node's, so a router never sends a node
 * what the node refuses.
 */
import type { RepeatedFieldLimit, WireLimits } from './message-prescan.ts';

/** Most queries one BatchSearch may carry (a fixed limit). */
export const MAX_BATCH_QUERIES = 1000;
/** Most shard ids one query may name (a query names each shard at most once; 65,536 shards). */
export const MAX_SHARD_IDS_PER_QUERY = 65_536;
/** Most shard ids in all queries of one request (1,000 queries x 4,096 shards, rounded up to 2^22). */
export const MAX_SHARD_IDS_PER_REQUEST = 4_194_304;
/** Most routing_context entries of one query (a CEL expression reads fewer columns). */
export const MAX_ROUTING_CONTEXT_ENTRIES = 256;
/** Most routing_context entries in all queries of one request (a full batch with 65 columns each). */
export const MAX_ROUTING_CONTEXT_ENTRIES_PER_REQUEST = 65_536;
/** Most queries of one SearchShards call from a router (10x a full batch). */
export const MAX_NODE_CALL_QUERIES = 10_000;
/** Most keys one SearchShards request may look up, over all its queries. */
export const MAX_LOOKUP_KEYS = 100_000;
/** Most run leases one Status or Refresh call may carry (a router leases a handful of runs). */
export const MAX_RUN_LEASES = 1024;
/** Largest request of a method whose request has no payload (Health, SnapshotInfo, ...), bytes. */
export const MAX_CONTROL_REQUEST_BYTES = 64 * 1024;
/** Largest Status / Refresh request of a node (its run leases), bytes. */
export const MAX_STATUS_REQUEST_BYTES = 1024 * 1024;
/** Largest Get request (one key of at most 65,535 bytes plus a routing context), bytes. */
export const MAX_GET_REQUEST_BYTES = 4 * 1024 * 1024;
/** Limit of a repeated field no table below names (none today; a field added later). */
export const DEFAULT_REPEATED_FIELD_LIMIT: RepeatedFieldLimit = { perMessage: 1024, raise: 'a fixed limit' };

const FIXED = 'a fixed limit';
const shardIds: RepeatedFieldLimit = { perMessage: MAX_SHARD_IDS_PER_QUERY, perRequest: MAX_SHARD_IDS_PER_REQUEST, raise: `${FIXED}: a snapshot has fewer shards` };
const routingContext: RepeatedFieldLimit = {
  perMessage: MAX_ROUTING_CONTEXT_ENTRIES,
  perRequest: MAX_ROUTING_CONTEXT_ENTRIES_PER_REQUEST,
  raise: `${FIXED}: pass only the CEL expression's columns`,
};
const fixedBytes = (bytes: number): { bytes: number; raise: string } => ({ bytes, raise: FIXED });

/**
 * The router's limits.
 * @param maxGetKeys most keys one MultiGet may carry (`--max-get-keys`).
 */
export function routerWireLimits(maxGetKeys: number): WireLimits {
  const p = 'shardfleet.v1';
  return {
    fields: {
      [`${p}.BatchSearchRequest.queries`]: { perMessage: MAX_BATCH_QUERIES, raise: `${FIXED}: split the batch` },
      [`${p}.SearchRequest.shard_ids`]: shardIds,
      [`${p}.SearchRequest.routing_context`]: routingContext,
      [`${p}.RouteRequest.shard_ids`]: shardIds,
      [`${p}.RouteRequest.routing_context`]: routingContext,
      [`${p}.GetRequest.routing_context`]: routingContext,
      [`${p}.MultiGetRequest.routing_context`]: routingContext,
      [`${p}.MultiGetRequest.keys`]: { perMessage: maxGetKeys, raise: 'raise it with --max-get-keys' },
    },
    defaultField: DEFAULT_REPEATED_FIELD_LIMIT,
    maxRequestBytes: {
      [`/${p}.Router/Get`]: fixedBytes(MAX_GET_REQUEST_BYTES),
      [`/${p}.Router/SnapshotInfo`]: fixedBytes(MAX_CONTROL_REQUEST_BYTES),
      [`/${p}.Router/ShardDetails`]: fixedBytes(MAX_CONTROL_REQUEST_BYTES),
      [`/${p}.Router/Health`]: fixedBytes(MAX_CONTROL_REQUEST_BYTES),
      [`/${p}.Router/Refresh`]: fixedBytes(MAX_CONTROL_REQUEST_BYTES),
    },
  };
}

/** A shard node's limits: what a router may send it (see the module comment). */
export function shardNodeWireLimits(): WireLimits {
  const p = 'shardfleet.v1';
  const leases: RepeatedFieldLimit = { perMessage: MAX_RUN_LEASES, raise: FIXED };
  return {
    fields: {
      [`${p}.SearchShardsRequest.queries`]: { perMessage: MAX_NODE_CALL_QUERIES, raise: FIXED },
      [`${p}.ShardQuery.shard_ids`]: shardIds,
      [`${p}.ShardQuery.keys`]: { perMessage: MAX_LOOKUP_KEYS, perRequest: MAX_LOOKUP_KEYS, raise: `${FIXED}: a router sends at most --max-get-keys keys per shard` },
      [`${p}.StatusRequest.run_leases`]: leases,
      [`${p}.NodeRefreshRequest.run_leases`]: leases,
      // The shards a router still needs from a node that is giving them up (one entry per run).
      [`${p}.RunShards.db_ids`]: { perMessage: MAX_SHARD_IDS_PER_QUERY, raise: `${FIXED}: a snapshot has fewer shards` },
    },
    defaultField: DEFAULT_REPEATED_FIELD_LIMIT,
    maxRequestBytes: {
      [`/${p}.ShardNode/Status`]: fixedBytes(MAX_STATUS_REQUEST_BYTES),
      [`/${p}.ShardNode/Refresh`]: fixedBytes(MAX_STATUS_REQUEST_BYTES),
    },
  };
}
