// Original file: proto/shardfleet/v1/router.proto


export interface RefreshRequest {
  /**
   * The collection whose _CURRENT to re-read now; empty = every served collection (and a rescan of
   * the catalog root).
   */
  'collection'?: (string);
}

export interface RefreshRequest__Output {
  /**
   * The collection whose _CURRENT to re-read now; empty = every served collection (and a rescan of
   * the catalog root).
   */
  'collection': (string);
}
