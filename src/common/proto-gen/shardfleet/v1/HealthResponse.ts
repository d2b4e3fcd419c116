// Original file: proto/shardfleet/v1/router.proto


export interface HealthResponse {
  /**
   * "healthy", "degraded" (serving, with reasons) or "unhealthy" (cannot serve).
   */
  'status'?: (string);
  /**
   * Human-readable reasons for degraded / unhealthy.
   */
  'reasons'?: (string)[];
  /**
   * The run served ("" when none).
   */
  'run_id'?: (string);
  /**
   * Seconds since the served run was published.
   */
  'snapshot_age_seconds'?: (number | string);
  /**
   * Fraction of the served run's shards with at least one ready replica.
   */
  'coverage'?: (number | string);
  /**
   * The last refresh error ("" when the last refresh succeeded).
   */
  'last_refresh_error'?: (string);
  /**
   * A newer run that is published but not yet served (still loading on the nodes), or "".
   */
  'pending_run_id'?: (string);
}

export interface HealthResponse__Output {
  /**
   * "healthy", "degraded" (serving, with reasons) or "unhealthy" (cannot serve).
   */
  'status': (string);
  /**
   * Human-readable reasons for degraded / unhealthy.
   */
  'reasons': (string)[];
  /**
   * The run served ("" when none).
   */
  'run_id': (string);
  /**
   * Seconds since the served run was published.
   */
  'snapshot_age_seconds': (number);
  /**
   * Fraction of the served run's shards with at least one ready replica.
   */
  'coverage': (number);
  /**
   * The last refresh error ("" when the last refresh succeeded).
   */
  'last_refresh_error': (string);
  /**
   * A newer run that is published but not yet served (still loading on the nodes), or "".
   */
  'pending_run_id': (string);
}
