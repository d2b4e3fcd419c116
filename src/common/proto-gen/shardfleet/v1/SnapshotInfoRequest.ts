// Original file: proto/shardfleet/v1/router.proto


export interface SnapshotInfoRequest {
}

export interface SnapshotInfoRequest__Output {
}
