// Original file: proto/shardfleet/v1/router.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { SearchRequest as _shardfleet_v1_SearchRequest, SearchRequest__Output as _shardfleet_v1_SearchRequest__Output } from '../../shardfleet/v1/SearchRequest.ts';
import type { SearchResponse as _shardfleet_v1_SearchResponse, SearchResponse__Output as _shardfleet_v1_SearchResponse__Output } from '../../shardfleet/v1/SearchResponse.ts';
import type { SnapshotInfoRequest as _shardfleet_v1_SnapshotInfoRequest, SnapshotInfoRequest__Output as _shardfleet_v1_SnapshotInfoRequest__Output } from '../../shardfleet/v1/SnapshotInfoRequest.ts';
import type { SnapshotInfoResponse as _shardfleet_v1_SnapshotInfoResponse, SnapshotInfoResponse__Output as _shardfleet_v1_SnapshotInfoResponse__Output } from '../../shardfleet/v1/SnapshotInfoResponse.ts';

export interface RouterClient extends grpc.Client {
  /**
   * Approximate nearest-neighbour search.
   * Status codes: INVALID_ARGUMENT (query of the wrong dimension, NaN/Inf, top_k or num_probes out
   * of range, unknown shard id), FAILED_PRECONDITION (no snapshot published), UNAVAILABLE (a
   * probed shard could not answer; the message names the shards), DEADLINE_EXCEEDED.
   */
  Search(argument: _shardfleet_v1_SearchRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  Search(argument: _shardfleet_v1_SearchRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  Search(argument: _shardfleet_v1_SearchRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  Search(argument: _shardfleet_v1_SearchRequest, callback: grpc.requestCallback<_shardfleet_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Approximate nearest-neighbour search.
   * Status codes: INVALID_ARGUMENT (query of the wrong dimension, NaN/Inf, top_k or num_probes out
   * of range, unknown shard id), FAILED_PRECONDITION (no snapshot published), UNAVAILABLE (a
   * probed shard could not answer; the message names the shards), DEADLINE_EXCEEDED.
   */
  search(argument: _shardfleet_v1_SearchRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  search(argument: _shardfleet_v1_SearchRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  search(argument: _shardfleet_v1_SearchRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  search(argument: _shardfleet_v1_SearchRequest, callback: grpc.requestCallback<_shardfleet_v1_SearchResponse__Output>): grpc.ClientUnaryCall;
  
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
   * Approximate nearest-neighbour search.
   * Status codes: INVALID_ARGUMENT (query of the wrong dimension, NaN/Inf, top_k or num_probes out
   * of range, unknown shard id), FAILED_PRECONDITION (no snapshot published), UNAVAILABLE (a
   * probed shard could not answer; the message names the shards), DEADLINE_EXCEEDED.
   */
  Search: grpc.handleUnaryCall<_shardfleet_v1_SearchRequest__Output, _shardfleet_v1_SearchResponse>;
  
  /**
   * The snapshot this router serves.
   */
  SnapshotInfo: grpc.handleUnaryCall<_shardfleet_v1_SnapshotInfoRequest__Output, _shardfleet_v1_SnapshotInfoResponse>;
  
}

export interface RouterDefinition extends grpc.ServiceDefinition {
  Search: MethodDefinition<_shardfleet_v1_SearchRequest, _shardfleet_v1_SearchResponse, _shardfleet_v1_SearchRequest__Output, _shardfleet_v1_SearchResponse__Output>
  SnapshotInfo: MethodDefinition<_shardfleet_v1_SnapshotInfoRequest, _shardfleet_v1_SnapshotInfoResponse, _shardfleet_v1_SnapshotInfoRequest__Output, _shardfleet_v1_SnapshotInfoResponse__Output>
}
