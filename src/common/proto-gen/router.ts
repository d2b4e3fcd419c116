import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Hit as _shardfleet_v1_Hit, Hit__Output as _shardfleet_v1_Hit__Output } from './shardfleet/v1/Hit.ts';
import type { RouterClient as _shardfleet_v1_RouterClient, RouterDefinition as _shardfleet_v1_RouterDefinition } from './shardfleet/v1/Router.ts';
import type { RoutingValue as _shardfleet_v1_RoutingValue, RoutingValue__Output as _shardfleet_v1_RoutingValue__Output } from './shardfleet/v1/RoutingValue.ts';
import type { SearchRequest as _shardfleet_v1_SearchRequest, SearchRequest__Output as _shardfleet_v1_SearchRequest__Output } from './shardfleet/v1/SearchRequest.ts';
import type { SearchResponse as _shardfleet_v1_SearchResponse, SearchResponse__Output as _shardfleet_v1_SearchResponse__Output } from './shardfleet/v1/SearchResponse.ts';
import type { SnapshotInfoRequest as _shardfleet_v1_SnapshotInfoRequest, SnapshotInfoRequest__Output as _shardfleet_v1_SnapshotInfoRequest__Output } from './shardfleet/v1/SnapshotInfoRequest.ts';
import type { SnapshotInfoResponse as _shardfleet_v1_SnapshotInfoResponse, SnapshotInfoResponse__Output as _shardfleet_v1_SnapshotInfoResponse__Output } from './shardfleet/v1/SnapshotInfoResponse.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  shardfleet: {
    v1: {
      Hit: MessageTypeDefinition<_shardfleet_v1_Hit, _shardfleet_v1_Hit__Output>
      Router: SubtypeConstructor<typeof grpc.Client, _shardfleet_v1_RouterClient> & { service: _shardfleet_v1_RouterDefinition }
      RoutingValue: MessageTypeDefinition<_shardfleet_v1_RoutingValue, _shardfleet_v1_RoutingValue__Output>
      SearchRequest: MessageTypeDefinition<_shardfleet_v1_SearchRequest, _shardfleet_v1_SearchRequest__Output>
      SearchResponse: MessageTypeDefinition<_shardfleet_v1_SearchResponse, _shardfleet_v1_SearchResponse__Output>
      SnapshotInfoRequest: MessageTypeDefinition<_shardfleet_v1_SnapshotInfoRequest, _shardfleet_v1_SnapshotInfoRequest__Output>
      SnapshotInfoResponse: MessageTypeDefinition<_shardfleet_v1_SnapshotInfoResponse, _shardfleet_v1_SnapshotInfoResponse__Output>
    }
  }
}

