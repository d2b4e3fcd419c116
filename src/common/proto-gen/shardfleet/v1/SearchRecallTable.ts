// Original file: proto/shardfleet/v1/router.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Recall@k measured end to end (routing plus the shard search at each ef) by the build on its
 * built shards, with held-out sample queries and exact ground truth over all of the run's vectors.
 */
export interface SearchRecallTable {
  'k'?: (number);
  'sample_queries'?: (number);
  'ground_truth_vectors'?: (number | string | Long);
  /**
   * HNSW beam widths measured, ascending.
   */
  'ef'?: (number)[];
  /**
   * Rows measured: num_probes 1..probes.
   */
  'probes'?: (number);
  /**
   * Row-major: recall[(p - 1) * len(ef) + j] is the recall with p shards probed, each searched at ef[j].
   */
  'recall'?: (number | string)[];
}

/**
 * Recall@k measured end to end (routing plus the shard search at each ef) by the build on its
 * built shards, with held-out sample queries and exact ground truth over all of the run's vectors.
 */
export interface SearchRecallTable__Output {
  'k': (number);
  'sample_queries': (number);
  'ground_truth_vectors': (number);
  /**
   * HNSW beam widths measured, ascending.
   */
  'ef': (number)[];
  /**
   * Rows measured: num_probes 1..probes.
   */
  'probes': (number);
  /**
   * Row-major: recall[(p - 1) * len(ef) + j] is the recall with p shards probed, each searched at ef[j].
   */
  'recall': (number)[];
}
