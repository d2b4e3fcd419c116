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
  /**
   * The backend checkpoint of the shard (LanceDB table version; shardyfusion's checkpoint_id).
   */
  'checkpoint_id'?: (string);
  /**
   * Where the shard's files are, relative to the store prefix (its folder).
   */
  'url'?: (string);
  /**
   * shardyfusion snapshots: the shard's db_url as shardyfusion wrote it (absolute), else "".
   */
  'source_url'?: (string);
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
  /**
   * The backend checkpoint of the shard (LanceDB table version; shardyfusion's checkpoint_id).
   */
  'checkpoint_id': (string);
  /**
   * Where the shard's files are, relative to the store prefix (its folder).
   */
  'url': (string);
  /**
   * shardyfusion snapshots: the shard's db_url as shardyfusion wrote it (absolute), else "".
   */
  'source_url': (string);
}
