// Original file: proto/shardfleet/v1/router.proto


export interface HealthRequest {
}

export interface HealthRequest__Output {
}
