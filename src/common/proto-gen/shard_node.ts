import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Hit as _shardfleet_v1_Hit, Hit__Output as _shardfleet_v1_Hit__Output } from './shardfleet/v1/Hit.ts';
import type { NodeRefreshRequest as _shardfleet_v1_NodeRefreshRequest, NodeRefreshRequest__Output as _shardfleet_v1_NodeRefreshRequest__Output } from './shardfleet/v1/NodeRefreshRequest.ts';
import type { RoutingValue as _shardfleet_v1_RoutingValue, RoutingValue__Output as _shardfleet_v1_RoutingValue__Output } from './shardfleet/v1/RoutingValue.ts';
import type { RunLease as _shardfleet_v1_RunLease, RunLease__Output as _shardfleet_v1_RunLease__Output } from './shardfleet/v1/RunLease.ts';
import type { RunShards as _shardfleet_v1_RunShards, RunShards__Output as _shardfleet_v1_RunShards__Output } from './shardfleet/v1/RunShards.ts';
import type { RunStatus as _shardfleet_v1_RunStatus, RunStatus__Output as _shardfleet_v1_RunStatus__Output } from './shardfleet/v1/RunStatus.ts';
import type { SearchShardsRequest as _shardfleet_v1_SearchShardsRequest, SearchShardsRequest__Output as _shardfleet_v1_SearchShardsRequest__Output } from './shardfleet/v1/SearchShardsRequest.ts';
import type { SearchShardsResponse as _shardfleet_v1_SearchShardsResponse, SearchShardsResponse__Output as _shardfleet_v1_SearchShardsResponse__Output } from './shardfleet/v1/SearchShardsResponse.ts';
import type { ShardFailure as _shardfleet_v1_ShardFailure, ShardFailure__Output as _shardfleet_v1_ShardFailure__Output } from './shardfleet/v1/ShardFailure.ts';
import type { ShardNodeClient as _shardfleet_v1_ShardNodeClient, ShardNodeDefinition as _shardfleet_v1_ShardNodeDefinition } from './shardfleet/v1/ShardNode.ts';
import type { ShardQuery as _shardfleet_v1_ShardQuery, ShardQuery__Output as _shardfleet_v1_ShardQuery__Output } from './shardfleet/v1/ShardQuery.ts';
import type { ShardResult as _shardfleet_v1_ShardResult, ShardResult__Output as _shardfleet_v1_ShardResult__Output } from './shardfleet/v1/ShardResult.ts';
import type { StatusRequest as _shardfleet_v1_StatusRequest, StatusRequest__Output as _shardfleet_v1_StatusRequest__Output } from './shardfleet/v1/StatusRequest.ts';
import type { StatusResponse as _shardfleet_v1_StatusResponse, StatusResponse__Output as _shardfleet_v1_StatusResponse__Output } from './shardfleet/v1/StatusResponse.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  shardfleet: {
    v1: {
      Hit: MessageTypeDefinition<_shardfleet_v1_Hit, _shardfleet_v1_Hit__Output>
      NodeRefreshRequest: MessageTypeDefinition<_shardfleet_v1_NodeRefreshRequest, _shardfleet_v1_NodeRefreshRequest__Output>
      RoutingValue: MessageTypeDefinition<_shardfleet_v1_RoutingValue, _shardfleet_v1_RoutingValue__Output>
      RunLease: MessageTypeDefinition<_shardfleet_v1_RunLease, _shardfleet_v1_RunLease__Output>
      RunShards: MessageTypeDefinition<_shardfleet_v1_RunShards, _shardfleet_v1_RunShards__Output>
      RunStatus: MessageTypeDefinition<_shardfleet_v1_RunStatus, _shardfleet_v1_RunStatus__Output>
      SearchShardsRequest: MessageTypeDefinition<_shardfleet_v1_SearchShardsRequest, _shardfleet_v1_SearchShardsRequest__Output>
      SearchShardsResponse: MessageTypeDefinition<_shardfleet_v1_SearchShardsResponse, _shardfleet_v1_SearchShardsResponse__Output>
      ShardFailure: MessageTypeDefinition<_shardfleet_v1_ShardFailure, _shardfleet_v1_ShardFailure__Output>
      ShardNode: SubtypeConstructor<typeof grpc.Client, _shardfleet_v1_ShardNodeClient> & { service: _shardfleet_v1_ShardNodeDefinition }
      ShardQuery: MessageTypeDefinition<_shardfleet_v1_ShardQuery, _shardfleet_v1_ShardQuery__Output>
      ShardResult: MessageTypeDefinition<_shardfleet_v1_ShardResult, _shardfleet_v1_ShardResult__Output>
      StatusRequest: MessageTypeDefinition<_shardfleet_v1_StatusRequest, _shardfleet_v1_StatusRequest__Output>
      StatusResponse: MessageTypeDefinition<_shardfleet_v1_StatusResponse, _shardfleet_v1_StatusResponse__Output>
    }
  }
}

