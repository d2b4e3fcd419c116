// Original file: proto/shardfleet/v1/router.proto


export interface RefreshResponse {
  /**
   * The run served after the refresh.
   */
  'run_id'?: (string);
  /**
   * The run served before it.
   */
  'previous_run_id'?: (string);
  /**
   * True when the router switched runs.
   */
  'changed'?: (boolean);
  /**
   * What happened (e.g. "run X is loading on 2 of 3 nodes; still serving Y").
   */
  'message'?: (string);
  /**
   * The collection refreshed (empty when the request named none: run_id etc. then describe the
   * default collection, when there is one).
   */
  'collection'?: (string);
}

export interface RefreshResponse__Output {
  /**
   * The run served after the refresh.
   */
  'run_id': (string);
  /**
   * The run served before it.
   */
  'previous_run_id': (string);
  /**
   * True when the router switched runs.
   */
  'changed': (boolean);
  /**
   * What happened (e.g. "run X is loading on 2 of 3 nodes; still serving Y").
   */
  'message': (string);
  /**
   * The collection refreshed (empty when the request named none: run_id etc. then describe the
   * default collection, when there is one).
   */
  'collection': (string);
}
