// Original file: proto/shardfleet/v1/router.proto

import type { CollectionHealth as _shardfleet_v1_CollectionHealth, CollectionHealth__Output as _shardfleet_v1_CollectionHealth__Output } from '../../shardfleet/v1/CollectionHealth.ts';
import type { CollectionAlias as _shardfleet_v1_CollectionAlias, CollectionAlias__Output as _shardfleet_v1_CollectionAlias__Output } from '../../shardfleet/v1/CollectionAlias.ts';

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
  /**
   * Per served collection (issue 24), sorted by name. The top-level fields above describe the
   * only collection when one is served (single-collection mode: exactly as before), else the
   * worst status of all, the lowest coverage, and reasons prefixed with the collection's name;
   * run_id / pending_run_id / snapshot_age_seconds are then the default collection's (empty when
   * there is none).
   */
  'collections'?: (_shardfleet_v1_CollectionHealth)[];
  /**
   * The collection a request without one is answered from; empty when there is none.
   */
  'default_collection'?: (string);
  /**
   * The catalog root's aliases (its `_ALIASES`), sorted by alias: a request naming an alias is
   * answered from the alias's collection (a collection of the same name wins). Empty in
   * single-collection mode.
   */
  'aliases'?: (_shardfleet_v1_CollectionAlias)[];
  /**
   * Why the router's last read of `_ALIASES` failed (it keeps the last good table); empty when it
   * succeeded.
   */
  'aliases_error'?: (string);
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
  /**
   * Per served collection (issue 24), sorted by name. The top-level fields above describe the
   * only collection when one is served (single-collection mode: exactly as before), else the
   * worst status of all, the lowest coverage, and reasons prefixed with the collection's name;
   * run_id / pending_run_id / snapshot_age_seconds are then the default collection's (empty when
   * there is none).
   */
  'collections': (_shardfleet_v1_CollectionHealth__Output)[];
  /**
   * The collection a request without one is answered from; empty when there is none.
   */
  'default_collection': (string);
  /**
   * The catalog root's aliases (its `_ALIASES`), sorted by alias: a request naming an alias is
   * answered from the alias's collection (a collection of the same name wins). Empty in
   * single-collection mode.
   */
  'aliases': (_shardfleet_v1_CollectionAlias__Output)[];
  /**
   * Why the router's last read of `_ALIASES` failed (it keeps the last good table); empty when it
   * succeeded.
   */
  'aliases_error': (string);
}
