// Original file: proto/shardfleet/v1/router.proto


/**
 * One alias of a catalog root: `alias` names `collection`.
 */
export interface CollectionAlias {
  'alias'?: (string);
  'collection'?: (string);
}

/**
 * One alias of a catalog root: `alias` names `collection`.
 */
export interface CollectionAlias__Output {
  'alias': (string);
  'collection': (string);
}
