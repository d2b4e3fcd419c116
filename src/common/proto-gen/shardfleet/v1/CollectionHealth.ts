// Original file: proto/shardfleet/v1/router.proto


/**
 * The health of one collection: the fields of HealthResponse with the same names, for it alone.
 */
export interface CollectionHealth {
  'name'?: (string);
  'status'?: (string);
  'reasons'?: (string)[];
  'run_id'?: (string);
  'snapshot_age_seconds'?: (number | string);
  'coverage'?: (number | string);
  'last_refresh_error'?: (string);
  'pending_run_id'?: (string);
}

/**
 * The health of one collection: the fields of HealthResponse with the same names, for it alone.
 */
export interface CollectionHealth__Output {
  'name': (string);
  'status': (string);
  'reasons': (string)[];
  'run_id': (string);
  'snapshot_age_seconds': (number);
  'coverage': (number);
  'last_refresh_error': (string);
  'pending_run_id': (string);
}
