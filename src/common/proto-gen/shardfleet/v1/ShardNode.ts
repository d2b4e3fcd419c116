// Original file: proto/shardfleet/v1/shard_node.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { NodeRefreshRequest as _shardfleet_v1_NodeRefreshRequest, NodeRefreshRequest__Output as _shardfleet_v1_NodeRefreshRequest__Output } from '../../shardfleet/v1/NodeRefreshRequest.ts';
import type { SearchShardsRequest as _shardfleet_v1_SearchShardsRequest, SearchShardsRequest__Output as _shardfleet_v1_SearchShardsRequest__Output } from '../../shardfleet/v1/SearchShardsRequest.ts';
import type { SearchShardsResponse as _shardfleet_v1_SearchShardsResponse, SearchShardsResponse__Output as _shardfleet_v1_SearchShardsResponse__Output } from '../../shardfleet/v1/SearchShardsResponse.ts';
import type { StatusRequest as _shardfleet_v1_StatusRequest, StatusRequest__Output as _shardfleet_v1_StatusRequest__Output } from '../../shardfleet/v1/StatusRequest.ts';
import type { StatusResponse as _shardfleet_v1_StatusResponse, StatusResponse__Output as _shardfleet_v1_StatusResponse__Output } from '../../shardfleet/v1/StatusResponse.ts';

export interface ShardNodeClient extends grpc.Client {
  /**
   * Re-reads _CURRENT now and starts loading a new run beside the current one.
   */
  Refresh(argument: _shardfleet_v1_NodeRefreshRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  Refresh(argument: _shardfleet_v1_NodeRefreshRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  Refresh(argument: _shardfleet_v1_NodeRefreshRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  Refresh(argument: _shardfleet_v1_NodeRefreshRequest, callback: grpc.requestCallback<_shardfleet_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Re-reads _CURRENT now and starts loading a new run beside the current one.
   */
  refresh(argument: _shardfleet_v1_NodeRefreshRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  refresh(argument: _shardfleet_v1_NodeRefreshRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  refresh(argument: _shardfleet_v1_NodeRefreshRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  refresh(argument: _shardfleet_v1_NodeRefreshRequest, callback: grpc.requestCallback<_shardfleet_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Searches shards of one run for one or more queries (a router sends ONE call per node per
   * Search or BatchSearch, carrying every query's shards on this node) and returns each
   * (query, shard)'s local top-k. A shard this node holds for another run, or has not loaded, is
   * loaded on demand when it belongs to a run the node knows (lazy load, e.g. while its usual
   * replica is down). A shard this node cannot search is reported in ShardResult.error, never
   * silently dropped.
   * Status codes: INVALID_ARGUMENT (bad query bytes, top_k), FAILED_PRECONDITION (run_id unknown).
   */
  SearchShards(argument: _shardfleet_v1_SearchShardsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_SearchShardsResponse__Output>): grpc.ClientUnaryCall;
  SearchShards(argument: _shardfleet_v1_SearchShardsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_SearchShardsResponse__Output>): grpc.ClientUnaryCall;
  SearchShards(argument: _shardfleet_v1_SearchShardsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_SearchShardsResponse__Output>): grpc.ClientUnaryCall;
  SearchShards(argument: _shardfleet_v1_SearchShardsRequest, callback: grpc.requestCallback<_shardfleet_v1_SearchShardsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Searches shards of one run for one or more queries (a router sends ONE call per node per
   * Search or BatchSearch, carrying every query's shards on this node) and returns each
   * (query, shard)'s local top-k. A shard this node holds for another run, or has not loaded, is
   * loaded on demand when it belongs to a run the node knows (lazy load, e.g. while its usual
   * replica is down). A shard this node cannot search is reported in ShardResult.error, never
   * silently dropped.
   * Status codes: INVALID_ARGUMENT (bad query bytes, top_k), FAILED_PRECONDITION (run_id unknown).
   */
  searchShards(argument: _shardfleet_v1_SearchShardsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_SearchShardsResponse__Output>): grpc.ClientUnaryCall;
  searchShards(argument: _shardfleet_v1_SearchShardsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_SearchShardsResponse__Output>): grpc.ClientUnaryCall;
  searchShards(argument: _shardfleet_v1_SearchShardsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_SearchShardsResponse__Output>): grpc.ClientUnaryCall;
  searchShards(argument: _shardfleet_v1_SearchShardsRequest, callback: grpc.requestCallback<_shardfleet_v1_SearchShardsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * What this node has loaded: every run it holds, shards loaded, shards that failed and why.
   */
  Status(argument: _shardfleet_v1_StatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  Status(argument: _shardfleet_v1_StatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  Status(argument: _shardfleet_v1_StatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  Status(argument: _shardfleet_v1_StatusRequest, callback: grpc.requestCallback<_shardfleet_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  /**
   * What this node has loaded: every run it holds, shards loaded, shards that failed and why.
   */
  status(argument: _shardfleet_v1_StatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  status(argument: _shardfleet_v1_StatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardfleet_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  status(argument: _shardfleet_v1_StatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardfleet_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  status(argument: _shardfleet_v1_StatusRequest, callback: grpc.requestCallback<_shardfleet_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface ShardNodeHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Re-reads _CURRENT now and starts loading a new run beside the current one.
   */
  Refresh: grpc.handleUnaryCall<_shardfleet_v1_NodeRefreshRequest__Output, _shardfleet_v1_StatusResponse>;
  
  /**
   * Searches shards of one run for one or more queries (a router sends ONE call per node per
   * Search or BatchSearch, carrying every query's shards on this node) and returns each
   * (query, shard)'s local top-k. A shard this node holds for another run, or has not loaded, is
   * loaded on demand when it belongs to a run the node knows (lazy load, e.g. while its usual
   * replica is down). A shard this node cannot search is reported in ShardResult.error, never
   * silently dropped.
   * Status codes: INVALID_ARGUMENT (bad query bytes, top_k), FAILED_PRECONDITION (run_id unknown).
   */
  SearchShards: grpc.handleUnaryCall<_shardfleet_v1_SearchShardsRequest__Output, _shardfleet_v1_SearchShardsResponse>;
  
  /**
   * What this node has loaded: every run it holds, shards loaded, shards that failed and why.
   */
  Status: grpc.handleUnaryCall<_shardfleet_v1_StatusRequest__Output, _shardfleet_v1_StatusResponse>;
  
}

export interface ShardNodeDefinition extends grpc.ServiceDefinition {
  Refresh: MethodDefinition<_shardfleet_v1_NodeRefreshRequest, _shardfleet_v1_StatusResponse, _shardfleet_v1_NodeRefreshRequest__Output, _shardfleet_v1_StatusResponse__Output>
  SearchShards: MethodDefinition<_shardfleet_v1_SearchShardsRequest, _shardfleet_v1_SearchShardsResponse, _shardfleet_v1_SearchShardsRequest__Output, _shardfleet_v1_SearchShardsResponse__Output>
  Status: MethodDefinition<_shardfleet_v1_StatusRequest, _shardfleet_v1_StatusResponse, _shardfleet_v1_StatusRequest__Output, _shardfleet_v1_StatusResponse__Output>
}
