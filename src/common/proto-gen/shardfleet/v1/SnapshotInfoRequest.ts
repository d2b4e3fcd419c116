// Original file: proto/shardfleet/v1/router.proto


export interface SnapshotInfoRequest {
  /**
   * The collection to ask (issue 24): a collection name under the router's catalog root, or empty
   * for the default collection (the router's --default-collection, else its only collection; with
   * several and no default, INVALID_ARGUMENT listing them). An unknown name is NOT_FOUND. A router
   * serving one snapshot prefix (no catalog) serves it as "default".
   */
  'collection'?: (string);
}

export interface SnapshotInfoRequest__Output {
  /**
   * The collection to ask (issue 24): a collection name under the router's catalog root, or empty
   * for the default collection (the router's --default-collection, else its only collection; with
   * several and no default, INVALID_ARGUMENT listing them). An unknown name is NOT_FOUND. A router
   * serving one snapshot prefix (no catalog) serves it as "default".
   */
  'collection': (string);
}
