// Original file: proto/shardfleet/v1/router.proto

import type { ReplicaState as _shardfleet_v1_ReplicaState, ReplicaState__Output as _shardfleet_v1_ReplicaState__Output } from '../../shardfleet/v1/ReplicaState.ts';
import type { Long } from '@grpc/proto-loader';

export interface ShardDetail {
  'db_id'?: (number);
  'vector_count'?: (number | string | Long);
  /**
   * Total bytes of the shard's files.
   */
  'bytes'?: (number | string | Long);
  'index_type'?: (string);
  'replicas'?: (_shardfleet_v1_ReplicaState)[];
}

export interface ShardDetail__Output {
  'db_id': (number);
  'vector_count': (number);
  /**
   * Total bytes of the shard's files.
   */
  'bytes': (number);
  'index_type': (string);
  'replicas': (_shardfleet_v1_ReplicaState__Output)[];
}
