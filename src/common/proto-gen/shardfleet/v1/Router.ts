// Original file: proto/shardfleet/v1/router.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { BatchSearchRequest as _shardfleet_v1_BatchSearchRequest, BatchSearchRequest__Output as _shardfleet_v1_BatchSearchRequest__Output } from '../../shardfleet/v1/BatchSearchRequest.ts';
import type { BatchSearchResponse as _shardfleet_v1_BatchSearchResponse, BatchSearchResponse__Output as _shardfleet_v1_BatchSearchResponse__Output } from '../../shardfleet/v1/BatchSearchResponse.ts';
import type { GetRequest as _shardfleet_v1_GetRequest, GetRequest__Output as _shardfleet_v1_GetRequest__Output } from '../../shardfleet/v1/GetRequest.ts';
import type { GetResponse as _shardfleet_v1_GetResponse, GetResponse__Output as _shardfleet_v1_GetResponse__Output } from '../../shardfleet/v1/GetResponse.ts';
import type { HealthRequest as _shardfleet_v1_HealthRequest, HealthRequest__Output as _shardfleet_v1_HealthRequest__Output } from '../../shardfleet/v1/HealthRequest.ts';
import type { HealthResponse as _shardfleet_v1_HealthResponse, HealthResponse__Output as _shardfleet_v1_HealthResponse__Output } from '../../shardfleet/v1/HealthResponse.ts';
import type { MultiGetRequest as _shardfleet_v1_MultiGetRequest, MultiGetRequest__Output as _shardfleet_v1_MultiGetRequest__Output } from '../../shardfleet/v1/MultiGetRequest.ts';
import type { MultiGetResponse as _shardfleet_v1_MultiGetResponse, MultiGetResponse__Output as _shardfleet_v1_MultiGetResponse__Output } from '../../shardfleet/v1/MultiGetResponse.ts';
import type { RefreshRequest as _shardfleet_v1_RefreshRequest, RefreshRequest__Output as _shardfleet_v1_RefreshRequest__Output } from '../../shardfleet/v1/RefreshRequest.ts';
import type { RefreshResponse as _shardfleet_v1_RefreshResponse, RefreshResponse__Output as _shardfleet_v1_RefreshResponse__Output } from '../../shardfleet/v1/RefreshResponse.ts';
import type { RouteRequest as _shardfleet_v1_RouteRequest, RouteRequest__Output as _shardfleet_v1_RouteRequest__Output } from '../../shardfleet/v1/RouteRequest.ts';
import type { RouteResponse as _shardfleet_v1_RouteResponse, RouteResponse__Output as _shardfleet_v1_RouteResponse__Output } from '../../shardfleet/v1/RouteResponse.ts';
import type { SearchRequest as _shardfleet_v1_SearchRequest, SearchRequest__Output as _shardfleet_v1_SearchRequest__Output } from '../../shardfleet/v1/SearchRequest.ts';
import type { SearchResponse as _shardfleet_v1_SearchResponse, SearchResponse__Output as _shardfleet_v1_SearchResponse__Output } from '../../shardfleet/v1/SearchResponse.ts';
import type { ShardDetailsRequest as _shardfleet_v1_ShardDetailsRequest, ShardDetailsRequest__Output as _shardfleet_v1_ShardDetailsRequest__Output } from '../../shardfleet/v1/ShardDetailsRequest.ts';
import type { ShardDetailsResponse as _shardfleet_v1_ShardDetailsResponse, ShardDetailsResponse__Output as _shardfleet_v1_ShardDetailsResponse__Output } from '../../shardfleet/v1/ShardDetailsResponse.ts';
import type { SnapshotInfoRequest as _shardfleet_v1_SnapshotInfoRequest, SnapshotInfoRequest__Output as _shardfleet_v1_SnapshotInfoRequest__Output } from '../../shardfleet/v1/SnapshotInfoRequest.ts';
import type { SnapshotInfoResponse as _shardfleet_v1_SnapshotInfoResponse, SnapshotInfoResponse__Output as _shardfleet_v1_SnapshotInfoResponse__Output } from '../../shardfleet/v1/SnapshotInfoResponse.ts';

export interface RouterClient extends grpc.Client {
  /**
   * Many queries in one call. The router fans out ONE SearchShards RPC per node carrying every
   * query's shards for that node. Each query gets its own result or error (in order).
   */
  BatchSearch(argument: _shardfleet_v1_BatchSearchRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_BatchSearchResponse__Output>): grpc.ClientUnaryCall;
  BatchSearch(argument: _shardfleet_v1_BatchSearchRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_BatchSearchResponse__Output>): grpc.ClientUnaryCall;
  BatchSearch(argument: _shardfleet_v1_BatchSearchRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_BatchSearchResponse__Output>): grpc.ClientUnaryCall;
  BatchSearch(argument: _shardfleet_v1_BatchSearchRequest, callback: grpc.requestCallback<_shardfleet_v1_BatchSearchResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Many queries in one call. The router fans out ONE SearchShards RPC per node carrying every
   * query's shards for that node. Each query gets its own result or error (in order).
   */
  batchSearch(argument: _shardfleet_v1_BatchSearchRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_BatchSearchResponse__Output>): grpc.ClientUnaryCall;
  batchSearch(argument: _shardfleet_v1_BatchSearchRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_BatchSearchResponse__Output>): grpc.ClientUnaryCall;
  batchSearch(argument: _shardfleet_v1_BatchSearchRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_BatchSearchResponse__Output>): grpc.ClientUnaryCall;
  batchSearch(argument: _shardfleet_v1_BatchSearchRequest, callback: grpc.requestCallback<_shardfleet_v1_BatchSearchResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Point lookup of one key: its value (KV snapshots), payload and optionally vector.
   * On a KV snapshot (built with --kv) the key is a KV key of the snapshot's key type; on a
   * vector-only snapshot it is a record id (string_key). The router routes the key to its shard
   * (hash of the key, the routing context's shard for CEL, or the per-shard id filters of
   * cluster / LSH / explicit snapshots) and asks a ready replica, with the retry, hedging and
   * run pinning of Search. A key that is absent is found = false; a key whose shard could not
   * answer fails the call UNAVAILABLE (never "not found").
   * Status codes: INVALID_ARGUMENT (no key, an empty key, a key of the wrong type, a missing or
   * bad routing context), FAILED_PRECONDITION (no snapshot published), UNAVAILABLE,
   * DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAUTHENTICATED.
   */
  Get(argument: _shardfleet_v1_GetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  Get(argument: _shardfleet_v1_GetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  Get(argument: _shardfleet_v1_GetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  Get(argument: _shardfleet_v1_GetRequest, callback: grpc.requestCallback<_shardfleet_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Point lookup of one key: its value (KV snapshots), payload and optionally vector.
   * On a KV snapshot (built with --kv) the key is a KV key of the snapshot's key type; on a
   * vector-only snapshot it is a record id (string_key). The router routes the key to its shard
   * (hash of the key, the routing context's shard for CEL, or the per-shard id filters of
   * cluster / LSH / explicit snapshots) and asks a ready replica, with the retry, hedging and
   * run pinning of Search. A key that is absent is found = false; a key whose shard could not
   * answer fails the call UNAVAILABLE (never "not found").
   * Status codes: INVALID_ARGUMENT (no key, an empty key, a key of the wrong type, a missing or
   * bad routing context), FAILED_PRECONDITION (no snapshot published), UNAVAILABLE,
   * DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAUTHENTICATED.
   */
  get(argument: _shardfleet_v1_GetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  get(argument: _shardfleet_v1_GetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  get(argument: _shardfleet_v1_GetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  get(argument: _shardfleet_v1_GetRequest, callback: grpc.requestCallback<_shardfleet_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * healthy / degraded / unhealthy, with reasons (staleness, missing coverage, refresh errors).
   */
  Health(argument: _shardfleet_v1_HealthRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  Health(argument: _shardfleet_v1_HealthRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  Health(argument: _shardfleet_v1_HealthRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  Health(argument: _shardfleet_v1_HealthRequest, callback: grpc.requestCallback<_shardfleet_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  /**
   * healthy / degraded / unhealthy, with reasons (staleness, missing coverage, refresh errors).
   */
  health(argument: _shardfleet_v1_HealthRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  health(argument: _shardfleet_v1_HealthRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  health(argument: _shardfleet_v1_HealthRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  health(argument: _shardfleet_v1_HealthRequest, callback: grpc.requestCallback<_shardfleet_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Point lookup of many keys: results in request order. Keys are grouped per owning node: one
   * node call per node, in parallel. A key whose shard has no answering replica is reported with
   * `error` (and the response is partial) when min_coverage allows it, else the call fails
   * UNAVAILABLE naming the shards. INVALID_ARGUMENT also for more keys than the router's
   * --max-get-keys (default 1000).
   */
  MultiGet(argument: _shardfleet_v1_MultiGetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_MultiGetResponse__Output>): grpc.ClientUnaryCall;
  MultiGet(argument: _shardfleet_v1_MultiGetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_MultiGetResponse__Output>): grpc.ClientUnaryCall;
  MultiGet(argument: _shardfleet_v1_MultiGetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_MultiGetResponse__Output>): grpc.ClientUnaryCall;
  MultiGet(argument: _shardfleet_v1_MultiGetRequest, callback: grpc.requestCallback<_shardfleet_v1_MultiGetResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Point lookup of many keys: results in request order. Keys are grouped per owning node: one
   * node call per node, in parallel. A key whose shard has no answering replica is reported with
   * `error` (and the response is partial) when min_coverage allows it, else the call fails
   * UNAVAILABLE naming the shards. INVALID_ARGUMENT also for more keys than the router's
   * --max-get-keys (default 1000).
   */
  multiGet(argument: _shardfleet_v1_MultiGetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_MultiGetResponse__Output>): grpc.ClientUnaryCall;
  multiGet(argument: _shardfleet_v1_MultiGetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_MultiGetResponse__Output>): grpc.ClientUnaryCall;
  multiGet(argument: _shardfleet_v1_MultiGetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_MultiGetResponse__Output>): grpc.ClientUnaryCall;
  multiGet(argument: _shardfleet_v1_MultiGetRequest, callback: grpc.requestCallback<_shardfleet_v1_MultiGetResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Re-reads _CURRENT now (instead of waiting for the next poll) and switches run when the new
   * run is fully loaded on the nodes.
   */
  Refresh(argument: _shardfleet_v1_RefreshRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_RefreshResponse__Output>): grpc.ClientUnaryCall;
  Refresh(argument: _shardfleet_v1_RefreshRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_RefreshResponse__Output>): grpc.ClientUnaryCall;
  Refresh(argument: _shardfleet_v1_RefreshRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_RefreshResponse__Output>): grpc.ClientUnaryCall;
  Refresh(argument: _shardfleet_v1_RefreshRequest, callback: grpc.requestCallback<_shardfleet_v1_RefreshResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Re-reads _CURRENT now (instead of waiting for the next poll) and switches run when the new
   * run is fully loaded on the nodes.
   */
  refresh(argument: _shardfleet_v1_RefreshRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_RefreshResponse__Output>): grpc.ClientUnaryCall;
  refresh(argument: _shardfleet_v1_RefreshRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_RefreshResponse__Output>): grpc.ClientUnaryCall;
  refresh(argument: _shardfleet_v1_RefreshRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_RefreshResponse__Output>): grpc.ClientUnaryCall;
  refresh(argument: _shardfleet_v1_RefreshRequest, callback: grpc.requestCallback<_shardfleet_v1_RefreshResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Which shards and which ready replicas a query would hit, without searching
   * (shardyfusion's route_vector).
   */
  Route(argument: _shardfleet_v1_RouteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_RouteResponse__Output>): grpc.ClientUnaryCall;
  Route(argument: _shardfleet_v1_RouteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_RouteResponse__Output>): grpc.ClientUnaryCall;
  Route(argument: _shardfleet_v1_RouteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_RouteResponse__Output>): grpc.ClientUnaryCall;
  Route(argument: _shardfleet_v1_RouteRequest, callback: grpc.requestCallback<_shardfleet_v1_RouteResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Which shards and which ready replicas a query would hit, without searching
   * (shardyfusion's route_vector).
   */
  route(argument: _shardfleet_v1_RouteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_RouteResponse__Output>): grpc.ClientUnaryCall;
  route(argument: _shardfleet_v1_RouteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_RouteResponse__Output>): grpc.ClientUnaryCall;
  route(argument: _shardfleet_v1_RouteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_RouteResponse__Output>): grpc.ClientUnaryCall;
  route(argument: _shardfleet_v1_RouteRequest, callback: grpc.requestCallback<_shardfleet_v1_RouteResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Approximate nearest-neighbour search.
   * Status codes: INVALID_ARGUMENT (query of the wrong dimension, NaN/Inf, top_k or num_probes out
   * of range, unknown shard id, bad routing context), FAILED_PRECONDITION (no snapshot published),
   * UNAVAILABLE (fewer probed shards answered than min_coverage requires; the message names the
   * missing shards and why), DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED (rate limit),
   * UNAUTHENTICATED (bearer token required).
   */
  Search(argument: _shardfleet_v1_SearchRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  Search(argument: _shardfleet_v1_SearchRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  Search(argument: _shardfleet_v1_SearchRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  Search(argument: _shardfleet_v1_SearchRequest, callback: grpc.requestCallback<_shardfleet_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Approximate nearest-neighbour search.
   * Status codes: INVALID_ARGUMENT (query of the wrong dimension, NaN/Inf, top_k or num_probes out
   * of range, unknown shard id, bad routing context), FAILED_PRECONDITION (no snapshot published),
   * UNAVAILABLE (fewer probed shards answered than min_coverage requires; the message names the
   * missing shards and why), DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED (rate limit),
   * UNAUTHENTICATED (bearer token required).
   */
  search(argument: _shardfleet_v1_SearchRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  search(argument: _shardfleet_v1_SearchRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  search(argument: _shardfleet_v1_SearchRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  search(argument: _shardfleet_v1_SearchRequest, callback: grpc.requestCallback<_shardfleet_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Per shard of the served run: vector count, bytes, index type, replicas and their state.
   */
  ShardDetails(argument: _shardfleet_v1_ShardDetailsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_ShardDetailsResponse__Output>): grpc.ClientUnaryCall;
  ShardDetails(argument: _shardfleet_v1_ShardDetailsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_ShardDetailsResponse__Output>): grpc.ClientUnaryCall;
  ShardDetails(argument: _shardfleet_v1_ShardDetailsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_ShardDetailsResponse__Output>): grpc.ClientUnaryCall;
  ShardDetails(argument: _shardfleet_v1_ShardDetailsRequest, callback: grpc.requestCallback<_shardfleet_v1_ShardDetailsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Per shard of the served run: vector count, bytes, index type, replicas and their state.
   */
  shardDetails(argument: _shardfleet_v1_ShardDetailsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_ShardDetailsResponse__Output>): grpc.ClientUnaryCall;
  shardDetails(argument: _shardfleet_v1_ShardDetailsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_ShardDetailsResponse__Output>): grpc.ClientUnaryCall;
  shardDetails(argument: _shardfleet_v1_ShardDetailsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_ShardDetailsResponse__Output>): grpc.ClientUnaryCall;
  shardDetails(argument: _shardfleet_v1_ShardDetailsRequest, callback: grpc.requestCallback<_shardfleet_v1_ShardDetailsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * The snapshot this router serves.
   */
  SnapshotInfo(argument: _shardfleet_v1_SnapshotInfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_SnapshotInfoResponse__Output>): grpc.ClientUnaryCall;
  SnapshotInfo(argument: _shardfleet_v1_SnapshotInfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_SnapshotInfoResponse__Output>): grpc.ClientUnaryCall;
  SnapshotInfo(argument: _shardfleet_v1_SnapshotInfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_SnapshotInfoResponse__Output>): grpc.ClientUnaryCall;
  SnapshotInfo(argument: _shardfleet_v1_SnapshotInfoRequest, callback: grpc.requestCallback<_shardfleet_v1_SnapshotInfoResponse__Output>): grpc.ClientUnaryCall;
  /**
   * The snapshot this router serves.
   */
  snapshotInfo(argument: _shardfleet_v1_SnapshotInfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_SnapshotInfoResponse__Output>): grpc.ClientUnaryCall;
  snapshotInfo(argument: _shardfleet_v1_SnapshotInfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_SnapshotInfoResponse__Output>): grpc.ClientUnaryCall;
  snapshotInfo(argument: _shardfleet_v1_SnapshotInfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_SnapshotInfoResponse__Output>): grpc.ClientUnaryCall;
  snapshotInfo(argument: _shardfleet_v1_SnapshotInfoRequest, callback: grpc.requestCallback<_shardfleet_v1_SnapshotInfoResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface RouterHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Many queries in one call. The router fans out ONE SearchShards RPC per node carrying every
   * query's shards for that node. Each query gets its own result or error (in order).
   */
  BatchSearch: grpc.handleUnaryCall<_shardfleet_v1_BatchSearchRequest__Output, _shardfleet_v1_BatchSearchResponse>;
  
  /**
   * Point lookup of one key: its value (KV snapshots), payload and optionally vector.
   * On a KV snapshot (built with --kv) the key is a KV key of the snapshot's key type; on a
   * vector-only snapshot it is a record id (string_key). The router routes the key to its shard
   * (hash of the key, the routing context's shard for CEL, or the per-shard id filters of
   * cluster / LSH / explicit snapshots) and asks a ready replica, with the retry, hedging and
   * run pinning of Search. A key that is absent is found = false; a key whose shard could not
   * answer fails the call UNAVAILABLE (never "not found").
   * Status codes: INVALID_ARGUMENT (no key, an empty key, a key of the wrong type, a missing or
   * bad routing context), FAILED_PRECONDITION (no snapshot published), UNAVAILABLE,
   * DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAUTHENTICATED.
   */
  Get: grpc.handleUnaryCall<_shardfleet_v1_GetRequest__Output, _shardfleet_v1_GetResponse>;
  
  /**
   * healthy / degraded / unhealthy, with reasons (staleness, missing coverage, refresh errors).
   */
  Health: grpc.handleUnaryCall<_shardfleet_v1_HealthRequest__Output, _shardfleet_v1_HealthResponse>;
  
  /**
   * Point lookup of many keys: results in request order. Keys are grouped per owning node: one
   * node call per node, in parallel. A key whose shard has no answering replica is reported with
   * `error` (and the response is partial) when min_coverage allows it, else the call fails
   * UNAVAILABLE naming the shards. INVALID_ARGUMENT also for more keys than the router's
   * --max-get-keys (default 1000).
   */
  MultiGet: grpc.handleUnaryCall<_shardfleet_v1_MultiGetRequest__Output, _shardfleet_v1_MultiGetResponse>;
  
  /**
   * Re-reads _CURRENT now (instead of waiting for the next poll) and switches run when the new
   * run is fully loaded on the nodes.
   */
  Refresh: grpc.handleUnaryCall<_shardfleet_v1_RefreshRequest__Output, _shardfleet_v1_RefreshResponse>;
  
  /**
   * Which shards and which ready replicas a query would hit, without searching
   * (shardyfusion's route_vector).
   */
  Route: grpc.handleUnaryCall<_shardfleet_v1_RouteRequest__Output, _shardfleet_v1_RouteResponse>;
  
  /**
   * Approximate nearest-neighbour search.
   * Status codes: INVALID_ARGUMENT (query of the wrong dimension, NaN/Inf, top_k or num_probes out
   * of range, unknown shard id, bad routing context), FAILED_PRECONDITION (no snapshot published),
   * UNAVAILABLE (fewer probed shards answered than min_coverage requires; the message names the
   * missing shards and why), DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED (rate limit),
   * UNAUTHENTICATED (bearer token required).
   */
  Search: grpc.handleUnaryCall<_shardfleet_v1_SearchRequest__Output, _shardfleet_v1_SearchResponse>;
  
  /**
   * Per shard of the served run: vector count, bytes, index type, replicas and their state.
   */
  ShardDetails: grpc.handleUnaryCall<_shardfleet_v1_ShardDetailsRequest__Output, _shardfleet_v1_ShardDetailsResponse>;
  
  /**
   * The snapshot this router serves.
   */
  SnapshotInfo: grpc.handleUnaryCall<_shardfleet_v1_SnapshotInfoRequest__Output, _shardfleet_v1_SnapshotInfoResponse>;
  
}

export interface RouterDefinition extends grpc.ServiceDefinition {
  BatchSearch: MethodDefinition<_shardfleet_v1_BatchSearchRequest, _shardfleet_v1_BatchSearchResponse, _shardfleet_v1_BatchSearchRequest__Output, _shardfleet_v1_BatchSearchResponse__Output>
  Get: MethodDefinition<_shardfleet_v1_GetRequest, _shardfleet_v1_GetResponse, _shardfleet_v1_GetRequest__Output, _shardfleet_v1_GetResponse__Output>
  Health: MethodDefinition<_shardfleet_v1_HealthRequest, _shardfleet_v1_HealthResponse, _shardfleet_v1_HealthRequest__Output, _shardfleet_v1_HealthResponse__Output>
  MultiGet: MethodDefinition<_shardfleet_v1_MultiGetRequest, _shardfleet_v1_MultiGetResponse, _shardfleet_v1_MultiGetRequest__Output, _shardfleet_v1_MultiGetResponse__Output>
  Refresh: MethodDefinition<_shardfleet_v1_RefreshRequest, _shardfleet_v1_RefreshResponse, _shardfleet_v1_RefreshRequest__Output, _shardfleet_v1_RefreshResponse__Output>
  Route: MethodDefinition<_shardfleet_v1_RouteRequest, _shardfleet_v1_RouteResponse, _shardfleet_v1_RouteRequest__Output, _shardfleet_v1_RouteResponse__Output>
  Search: MethodDefinition<_shardfleet_v1_SearchRequest, _shardfleet_v1_SearchResponse, _shardfleet_v1_SearchRequest__Output, _shardfleet_v1_SearchResponse__Output>
  ShardDetails: MethodDefinition<_shardfleet_v1_ShardDetailsRequest, _shardfleet_v1_ShardDetailsResponse, _shardfleet_v1_ShardDetailsRequest__Output, _shardfleet_v1_ShardDetailsResponse__Output>
  SnapshotInfo: MethodDefinition<_shardfleet_v1_SnapshotInfoRequest, _shardfleet_v1_SnapshotInfoResponse, _shardfleet_v1_SnapshotInfoRequest__Output, _shardfleet_v1_SnapshotInfoResponse__Output>
}
