import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { BatchSearchRequest as _shardfleet_v1_BatchSearchRequest, BatchSearchRequest__Output as _shardfleet_v1_BatchSearchRequest__Output } from './shardfleet/v1/BatchSearchRequest.ts';
import type { BatchSearchResponse as _shardfleet_v1_BatchSearchResponse, BatchSearchResponse__Output as _shardfleet_v1_BatchSearchResponse__Output } from './shardfleet/v1/BatchSearchResponse.ts';
import type { BatchSearchResult as _shardfleet_v1_BatchSearchResult, BatchSearchResult__Output as _shardfleet_v1_BatchSearchResult__Output } from './shardfleet/v1/BatchSearchResult.ts';
import type { CollectionAlias as _shardfleet_v1_CollectionAlias, CollectionAlias__Output as _shardfleet_v1_CollectionAlias__Output } from './shardfleet/v1/CollectionAlias.ts';
import type { CollectionHealth as _shardfleet_v1_CollectionHealth, CollectionHealth__Output as _shardfleet_v1_CollectionHealth__Output } from './shardfleet/v1/CollectionHealth.ts';
import type { GetRequest as _shardfleet_v1_GetRequest, GetRequest__Output as _shardfleet_v1_GetRequest__Output } from './shardfleet/v1/GetRequest.ts';
import type { GetResponse as _shardfleet_v1_GetResponse, GetResponse__Output as _shardfleet_v1_GetResponse__Output } from './shardfleet/v1/GetResponse.ts';
import type { GetResult as _shardfleet_v1_GetResult, GetResult__Output as _shardfleet_v1_GetResult__Output } from './shardfleet/v1/GetResult.ts';
import type { HealthRequest as _shardfleet_v1_HealthRequest, HealthRequest__Output as _shardfleet_v1_HealthRequest__Output } from './shardfleet/v1/HealthRequest.ts';
import type { HealthResponse as _shardfleet_v1_HealthResponse, HealthResponse__Output as _shardfleet_v1_HealthResponse__Output } from './shardfleet/v1/HealthResponse.ts';
import type { Hit as _shardfleet_v1_Hit, Hit__Output as _shardfleet_v1_Hit__Output } from './shardfleet/v1/Hit.ts';
import type { Key as _shardfleet_v1_Key, Key__Output as _shardfleet_v1_Key__Output } from './shardfleet/v1/Key.ts';
import type { LiveRecallGroup as _shardfleet_v1_LiveRecallGroup, LiveRecallGroup__Output as _shardfleet_v1_LiveRecallGroup__Output } from './shardfleet/v1/LiveRecallGroup.ts';
import type { LiveRecallStatus as _shardfleet_v1_LiveRecallStatus, LiveRecallStatus__Output as _shardfleet_v1_LiveRecallStatus__Output } from './shardfleet/v1/LiveRecallStatus.ts';
import type { MultiGetRequest as _shardfleet_v1_MultiGetRequest, MultiGetRequest__Output as _shardfleet_v1_MultiGetRequest__Output } from './shardfleet/v1/MultiGetRequest.ts';
import type { MultiGetResponse as _shardfleet_v1_MultiGetResponse, MultiGetResponse__Output as _shardfleet_v1_MultiGetResponse__Output } from './shardfleet/v1/MultiGetResponse.ts';
import type { RefreshRequest as _shardfleet_v1_RefreshRequest, RefreshRequest__Output as _shardfleet_v1_RefreshRequest__Output } from './shardfleet/v1/RefreshRequest.ts';
import type { RefreshResponse as _shardfleet_v1_RefreshResponse, RefreshResponse__Output as _shardfleet_v1_RefreshResponse__Output } from './shardfleet/v1/RefreshResponse.ts';
import type { ReplicaState as _shardfleet_v1_ReplicaState, ReplicaState__Output as _shardfleet_v1_ReplicaState__Output } from './shardfleet/v1/ReplicaState.ts';
import type { RouteRequest as _shardfleet_v1_RouteRequest, RouteRequest__Output as _shardfleet_v1_RouteRequest__Output } from './shardfleet/v1/RouteRequest.ts';
import type { RouteResponse as _shardfleet_v1_RouteResponse, RouteResponse__Output as _shardfleet_v1_RouteResponse__Output } from './shardfleet/v1/RouteResponse.ts';
import type { RouterClient as _shardfleet_v1_RouterClient, RouterDefinition as _shardfleet_v1_RouterDefinition } from './shardfleet/v1/Router.ts';
import type { RoutingValue as _shardfleet_v1_RoutingValue, RoutingValue__Output as _shardfleet_v1_RoutingValue__Output } from './shardfleet/v1/RoutingValue.ts';
import type { SearchRecallTable as _shardfleet_v1_SearchRecallTable, SearchRecallTable__Output as _shardfleet_v1_SearchRecallTable__Output } from './shardfleet/v1/SearchRecallTable.ts';
import type { SearchRequest as _shardfleet_v1_SearchRequest, SearchRequest__Output as _shardfleet_v1_SearchRequest__Output } from './shardfleet/v1/SearchRequest.ts';
import type { SearchResponse as _shardfleet_v1_SearchResponse, SearchResponse__Output as _shardfleet_v1_SearchResponse__Output } from './shardfleet/v1/SearchResponse.ts';
import type { ShardDetail as _shardfleet_v1_ShardDetail, ShardDetail__Output as _shardfleet_v1_ShardDetail__Output } from './shardfleet/v1/ShardDetail.ts';
import type { ShardDetailsRequest as _shardfleet_v1_ShardDetailsRequest, ShardDetailsRequest__Output as _shardfleet_v1_ShardDetailsRequest__Output } from './shardfleet/v1/ShardDetailsRequest.ts';
import type { ShardDetailsResponse as _shardfleet_v1_ShardDetailsResponse, ShardDetailsResponse__Output as _shardfleet_v1_ShardDetailsResponse__Output } from './shardfleet/v1/ShardDetailsResponse.ts';
import type { ShardFailure as _shardfleet_v1_ShardFailure, ShardFailure__Output as _shardfleet_v1_ShardFailure__Output } from './shardfleet/v1/ShardFailure.ts';
import type { ShardRoute as _shardfleet_v1_ShardRoute, ShardRoute__Output as _shardfleet_v1_ShardRoute__Output } from './shardfleet/v1/ShardRoute.ts';
import type { SnapshotInfoRequest as _shardfleet_v1_SnapshotInfoRequest, SnapshotInfoRequest__Output as _shardfleet_v1_SnapshotInfoRequest__Output } from './shardfleet/v1/SnapshotInfoRequest.ts';
import type { SnapshotInfoResponse as _shardfleet_v1_SnapshotInfoResponse, SnapshotInfoResponse__Output as _shardfleet_v1_SnapshotInfoResponse__Output } from './shardfleet/v1/SnapshotInfoResponse.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  shardfleet: {
    v1: {
      BatchSearchRequest: MessageTypeDefinition<_shardfleet_v1_BatchSearchRequest, _shardfleet_v1_BatchSearchRequest__Output>
      BatchSearchResponse: MessageTypeDefinition<_shardfleet_v1_BatchSearchResponse, _shardfleet_v1_BatchSearchResponse__Output>
      BatchSearchResult: MessageTypeDefinition<_shardfleet_v1_BatchSearchResult, _shardfleet_v1_BatchSearchResult__Output>
      CollectionAlias: MessageTypeDefinition<_shardfleet_v1_CollectionAlias, _shardfleet_v1_CollectionAlias__Output>
      CollectionHealth: MessageTypeDefinition<_shardfleet_v1_CollectionHealth, _shardfleet_v1_CollectionHealth__Output>
      GetRequest: MessageTypeDefinition<_shardfleet_v1_GetRequest, _shardfleet_v1_GetRequest__Output>
      GetResponse: MessageTypeDefinition<_shardfleet_v1_GetResponse, _shardfleet_v1_GetResponse__Output>
      GetResult: MessageTypeDefinition<_shardfleet_v1_GetResult, _shardfleet_v1_GetResult__Output>
      HealthRequest: MessageTypeDefinition<_shardfleet_v1_HealthRequest, _shardfleet_v1_HealthRequest__Output>
      HealthResponse: MessageTypeDefinition<_shardfleet_v1_HealthResponse, _shardfleet_v1_HealthResponse__Output>
      Hit: MessageTypeDefinition<_shardfleet_v1_Hit, _shardfleet_v1_Hit__Output>
      Key: MessageTypeDefinition<_shardfleet_v1_Key, _shardfleet_v1_Key__Output>
      LiveRecallGroup: MessageTypeDefinition<_shardfleet_v1_LiveRecallGroup, _shardfleet_v1_LiveRecallGroup__Output>
      LiveRecallStatus: MessageTypeDefinition<_shardfleet_v1_LiveRecallStatus, _shardfleet_v1_LiveRecallStatus__Output>
      MultiGetRequest: MessageTypeDefinition<_shardfleet_v1_MultiGetRequest, _shardfleet_v1_MultiGetRequest__Output>
      MultiGetResponse: MessageTypeDefinition<_shardfleet_v1_MultiGetResponse, _shardfleet_v1_MultiGetResponse__Output>
      RefreshRequest: MessageTypeDefinition<_shardfleet_v1_RefreshRequest, _shardfleet_v1_RefreshRequest__Output>
      RefreshResponse: MessageTypeDefinition<_shardfleet_v1_RefreshResponse, _shardfleet_v1_RefreshResponse__Output>
      ReplicaState: MessageTypeDefinition<_shardfleet_v1_ReplicaState, _shardfleet_v1_ReplicaState__Output>
      RouteRequest: MessageTypeDefinition<_shardfleet_v1_RouteRequest, _shardfleet_v1_RouteRequest__Output>
      RouteResponse: MessageTypeDefinition<_shardfleet_v1_RouteResponse, _shardfleet_v1_RouteResponse__Output>
      Router: SubtypeConstructor<typeof grpc.Client, _shardfleet_v1_RouterClient> & { service: _shardfleet_v1_RouterDefinition }
      RoutingValue: MessageTypeDefinition<_shardfleet_v1_RoutingValue, _shardfleet_v1_RoutingValue__Output>
      SearchRecallTable: MessageTypeDefinition<_shardfleet_v1_SearchRecallTable, _shardfleet_v1_SearchRecallTable__Output>
      SearchRequest: MessageTypeDefinition<_shardfleet_v1_SearchRequest, _shardfleet_v1_SearchRequest__Output>
      SearchResponse: MessageTypeDefinition<_shardfleet_v1_SearchResponse, _shardfleet_v1_SearchResponse__Output>
      ShardDetail: MessageTypeDefinition<_shardfleet_v1_ShardDetail, _shardfleet_v1_ShardDetail__Output>
      ShardDetailsRequest: MessageTypeDefinition<_shardfleet_v1_ShardDetailsRequest, _shardfleet_v1_ShardDetailsRequest__Output>
      ShardDetailsResponse: MessageTypeDefinition<_shardfleet_v1_ShardDetailsResponse, _shardfleet_v1_ShardDetailsResponse__Output>
      ShardFailure: MessageTypeDefinition<_shardfleet_v1_ShardFailure, _shardfleet_v1_ShardFailure__Output>
      ShardRoute: MessageTypeDefinition<_shardfleet_v1_ShardRoute, _shardfleet_v1_ShardRoute__Output>
      SnapshotInfoRequest: MessageTypeDefinition<_shardfleet_v1_SnapshotInfoRequest, _shardfleet_v1_SnapshotInfoRequest__Output>
      SnapshotInfoResponse: MessageTypeDefinition<_shardfleet_v1_SnapshotInfoResponse, _shardfleet_v1_SnapshotInfoResponse__Output>
    }
  }
}

