// Original file: proto/shardfleet/v1/router.proto


export interface ShardRoute {
  'db_id'?: (number);
  /**
   * Node ids of the replicas that would be asked, preferred first (ready replicas only).
   */
  'node_ids'?: (string)[];
  /**
   * Their addresses, in the same order.
   */
  'addresses'?: (string)[];
}

export interface ShardRoute__Output {
  'db_id': (number);
  /**
   * Node ids of the replicas that would be asked, preferred first (ready replicas only).
   */
  'node_ids': (string)[];
  /**
   * Their addresses, in the same order.
   */
  'addresses': (string)[];
}
