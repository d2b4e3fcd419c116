// Original file: proto/shardfleet/v1/shard_node.proto


export interface StatusRequest {
}

export interface StatusRequest__Output {
}
