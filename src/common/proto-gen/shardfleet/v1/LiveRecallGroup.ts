// Original file: proto/shardfleet/v1/router.proto


export interface LiveRecallGroup {
  /**
   * The effective num_probes of the sampled queries ("shard_ids" for queries that named shards).
   */
  'num_probes'?: (string);
  /**
   * "none" or "filtered".
   */
  'filter'?: (string);
  /**
   * Samples in the window, and their mean recall@k (k = each query's top_k).
   */
  'samples'?: (number);
  'live_recall'?: (number | string);
  /**
   * The build-time end-to-end recall (manifest search_recall, else the routing recall curve) of
   * the same samples' (num_probes, ef), averaged like live_recall; has_build_recall false when
   * the run has no build-time figure for them (filtered queries, EXPLICIT / CEL / HASH runs).
   */
  'has_build_recall'?: (boolean);
  'build_recall'?: (number | string);
  /**
   * Samples in the window that had a build-time figure.
   */
  'build_samples'?: (number);
  /**
   * The collection the samples searched.
   */
  'collection'?: (string);
}

export interface LiveRecallGroup__Output {
  /**
   * The effective num_probes of the sampled queries ("shard_ids" for queries that named shards).
   */
  'num_probes': (string);
  /**
   * "none" or "filtered".
   */
  'filter': (string);
  /**
   * Samples in the window, and their mean recall@k (k = each query's top_k).
   */
  'samples': (number);
  'live_recall': (number);
  /**
   * The build-time end-to-end recall (manifest search_recall, else the routing recall curve) of
   * the same samples' (num_probes, ef), averaged like live_recall; has_build_recall false when
   * the run has no build-time figure for them (filtered queries, EXPLICIT / CEL / HASH runs).
   */
  'has_build_recall': (boolean);
  'build_recall': (number);
  /**
   * Samples in the window that had a build-time figure.
   */
  'build_samples': (number);
  /**
   * The collection the samples searched.
   */
  'collection': (string);
}
