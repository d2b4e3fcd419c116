// Original file: proto/shardfleet/v1/router.proto

import type { LiveRecallGroup as _shardfleet_v1_LiveRecallGroup, LiveRecallGroup__Output as _shardfleet_v1_LiveRecallGroup__Output } from '../../shardfleet/v1/LiveRecallGroup.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * Live recall of the queries this router answered: a sampled fraction of Search / BatchSearch
 * queries re-run exactly (every shard, exact search) off the request path.
 */
export interface LiveRecallStatus {
  /**
   * --live-recall-fraction and --live-recall-max-per-second.
   */
  'fraction'?: (number | string);
  'max_per_second'?: (number | string);
  /**
   * The sliding window: at most window_samples samples per group, none older than window_seconds.
   */
  'window_samples'?: (number);
  'window_seconds'?: (number);
  /**
   * Samples measured since the router started, and samples dropped by reason (rate, in_flight,
   * node_busy, node_error, run_swapped, no_reference, ...).
   */
  'measured'?: (number | string | Long);
  'skipped'?: ({[key: string]: number | string | Long});
  /**
   * One group per (num_probes, filter class) with samples in the window.
   */
  'groups'?: (_shardfleet_v1_LiveRecallGroup)[];
}

/**
 * Live recall of the queries this router answered: a sampled fraction of Search / BatchSearch
 * queries re-run exactly (every shard, exact search) off the request path.
 */
export interface LiveRecallStatus__Output {
  /**
   * --live-recall-fraction and --live-recall-max-per-second.
   */
  'fraction': (number);
  'max_per_second': (number);
  /**
   * The sliding window: at most window_samples samples per group, none older than window_seconds.
   */
  'window_samples': (number);
  'window_seconds': (number);
  /**
   * Samples measured since the router started, and samples dropped by reason (rate, in_flight,
   * node_busy, node_error, run_swapped, no_reference, ...).
   */
  'measured': (number);
  'skipped': ({[key: string]: number});
  /**
   * One group per (num_probes, filter class) with samples in the window.
   */
  'groups': (_shardfleet_v1_LiveRecallGroup__Output)[];
}
