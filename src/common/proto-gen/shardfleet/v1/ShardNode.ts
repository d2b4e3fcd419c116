// Original file: proto/shardfleet/v1/shard_node.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { SearchShardsRequest as _shardfleet_v1_SearchShardsRequest, SearchShardsRequest__Output as _shardfleet_v1_SearchShardsRequest__Output } from '../../shardfleet/v1/SearchShardsRequest.ts';
import type { SearchShardsResponse as _shardfleet_v1_SearchShardsResponse, SearchShardsResponse__Output as _shardfleet_v1_SearchShardsResponse__Output } from '../../shardfleet/v1/SearchShardsResponse.ts';
import type { StatusRequest as _shardfleet_v1_StatusRequest, StatusRequest__Output as _shardfleet_v1_StatusRequest__Output } from '../../shardfleet/v1/StatusRequest.ts';
import type { StatusResponse as _shardfleet_v1_StatusResponse, StatusResponse__Output as _shardfleet_v1_StatusResponse__Output } from '../../shardfleet/v1/StatusResponse.ts';

export interface ShardNodeClient extends grpc.Client {
  /**
   * Searches several shards of one run for one query and returns each shard's local top-k.
   * A shard this node cannot search is reported in ShardResult.error, never silently dropped.
   * Status codes: INVALID_ARGUMENT (bad query bytes, top_k), FAILED_PRECONDITION (run_id not loaded).
   */
  SearchShards(argument: _shardfleet_v1_SearchShardsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_SearchShardsResponse__Output>): grpc.ClientUnaryCall;
  SearchShards(argument: _shardfleet_v1_SearchShardsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_SearchShardsResponse__Output>): grpc.ClientUnaryCall;
  SearchShards(argument: _shardfleet_v1_SearchShardsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_SearchShardsResponse__Output>): grpc.ClientUnaryCall;
  SearchShards(argument: _shardfleet_v1_SearchShardsRequest, callback: grpc.requestCallback<_shardfleet_v1_SearchShardsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Searches several shards of one run for one query and returns each shard's local top-k.
   * A shard this node cannot search is reported in ShardResult.error, never silently dropped.
   * Status codes: INVALID_ARGUMENT (bad query bytes, top_k), FAILED_PRECONDITION (run_id not loaded).
   */
  searchShards(argument: _shardfleet_v1_SearchShardsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_SearchShardsResponse__Output>): grpc.ClientUnaryCall;
  searchShards(argument: _shardfleet_v1_SearchShardsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_SearchShardsResponse__Output>): grpc.ClientUnaryCall;
  searchShards(argument: _shardfleet_v1_SearchShardsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_SearchShardsResponse__Output>): grpc.ClientUnaryCall;
  searchShards(argument: _shardfleet_v1_SearchShardsRequest, callback: grpc.requestCallback<_shardfleet_v1_SearchShardsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * What this node has loaded: run, shards loaded, shards that failed and why.
   */
  Status(argument: _shardfleet_v1_StatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  Status(argument: _shardfleet_v1_StatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  Status(argument: _shardfleet_v1_StatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  Status(argument: _shardfleet_v1_StatusRequest, callback: grpc.requestCallback<_shardfleet_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  /**
   * What this node has loaded: run, shards loaded, shards that failed and why.
   */
  status(argument: _shardfleet_v1_StatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  status(argument: _shardfleet_v1_StatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  status(argument: _shardfleet_v1_StatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  status(argument: _shardfleet_v1_StatusRequest, callback: grpc.requestCallback<_shardfleet_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface ShardNodeHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Searches several shards of one run for one query and returns each shard's local top-k.
   * A shard this node cannot search is reported in ShardResult.error, never silently dropped.
   * Status codes: INVALID_ARGUMENT (bad query bytes, top_k), FAILED_PRECONDITION (run_id not loaded).
   */
  SearchShards: grpc.handleUnaryCall<_shardfleet_v1_SearchShardsRequest__Output, _shardfleet_v1_SearchShardsResponse>;
  
  /**
   * What this node has loaded: run, shards loaded, shards that failed and why.
   */
  Status: grpc.handleUnaryCall<_shardfleet_v1_StatusRequest__Output, _shardfleet_v1_StatusResponse>;
  
}

export interface ShardNodeDefinition extends grpc.ServiceDefinition {
  SearchShards: MethodDefinition<_shardfleet_v1_SearchShardsRequest, _shardfleet_v1_SearchShardsResponse, _shardfleet_v1_SearchShardsRequest__Output, _shardfleet_v1_SearchShardsResponse__Output>
  Status: MethodDefinition<_shardfleet_v1_StatusRequest, _shardfleet_v1_StatusResponse, _shardfleet_v1_StatusRequest__Output, _shardfleet_v1_StatusResponse__Output>
}
