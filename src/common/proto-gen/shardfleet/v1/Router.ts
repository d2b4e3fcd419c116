// Original file: proto/shardfleet/v1/router.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { BatchSearchRequest as _shardfleet_v1_BatchSearchRequest, BatchSearchRequest__Output as _shardfleet_v1_BatchSearchRequest__Output } from '../../shardfleet/v1/BatchSearchRequest.ts';
import type { BatchSearchResponse as _shardfleet_v1_BatchSearchResponse, BatchSearchResponse__Output as _shardfleet_v1_BatchSearchResponse__Output } from '../../shardfleet/v1/BatchSearchResponse.ts';
import type { HealthRequest as _shardfleet_v1_HealthRequest, HealthRequest__Output as _shardfleet_v1_HealthRequest__Output } from '../../shardfleet/v1/HealthRequest.ts';
import type { HealthResponse as _shardfleet_v1_HealthResponse, HealthResponse__Output as _shardfleet_v1_HealthResponse__Output } from '../../shardfleet/v1/HealthResponse.ts';
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
   * healthy / degraded / unhealthy, with reasons (staleness, missing coverage, refresh errors).
   */
  Health: grpc.handleUnaryCall<_shardfleet_v1_HealthRequest__Output, _shardfleet_v1_HealthResponse>;
  
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
  Health: MethodDefinition<_shardfleet_v1_HealthRequest, _shardfleet_v1_HealthResponse, _shardfleet_v1_HealthRequest__Output, _shardfleet_v1_HealthResponse__Output>
  Refresh: MethodDefinition<_shardfleet_v1_RefreshRequest, _shardfleet_v1_RefreshResponse, _shardfleet_v1_RefreshRequest__Output, _shardfleet_v1_RefreshResponse__Output>
  Route: MethodDefinition<_shardfleet_v1_RouteRequest, _shardfleet_v1_RouteResponse, _shardfleet_v1_RouteRequest__Output, _shardfleet_v1_RouteResponse__Output>
  Search: MethodDefinition<_shardfleet_v1_SearchRequest, _shardfleet_v1_SearchResponse, _shardfleet_v1_SearchRequest__Output, _shardfleet_v1_SearchResponse__Output>
  ShardDetails: MethodDefinition<_shardfleet_v1_ShardDetailsRequest, _shardfleet_v1_ShardDetailsResponse, _shardfleet_v1_ShardDetailsRequest__Output, _shardfleet_v1_ShardDetailsResponse__Output>
  SnapshotInfo: MethodDefinition<_shardfleet_v1_SnapshotInfoRequest, _shardfleet_v1_SnapshotInfoResponse, _shardfleet_v1_SnapshotInfoRequest__Output, _shardfleet_v1_SnapshotInfoResponse__Output>
}
