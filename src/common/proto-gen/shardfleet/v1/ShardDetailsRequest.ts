// Original file: proto/shardfleet/v1/router.proto


export interface ShardDetailsRequest {
}

export interface ShardDetailsRequest__Output {
}
