// Original file: proto/shardfleet/v1/shard_node.proto


export interface NodeRefreshRequest {
}

export interface NodeRefreshRequest__Output {
}
