// Original file: proto/shardfleet/v1/router.proto


export interface RefreshRequest {
}

export interface RefreshRequest__Output {
}
