/**
 * Result records of the benchmark suite (`npm run bench`), as written to bench/results/<date>.json
 * and read by the report writer.
 */

/** One measured point of a recall/throughput curve. */
export interface BenchPoint {
  /** Curve this point belongs to, e.g. `cluster 8sh cluster lancedb` or `embedded lancedb ivf_pq`. */
  series: string;
  /** `cluster` (gRPC, separate processes), `in-process` (same shard searches, no gRPC) or `baseline`. */
  kind: 'cluster' | 'in-process' | 'baseline';
  /** Parameters of the point (num_probes, nprobes, ef, refine_factor, ...). */
  params: Record<string, number>;
  /** Closed-loop concurrency (1 = one query at a time). */
  concurrency: number;
  /** Queries answered. */
  queries: number;
  /** Mean recall@10 (ANN-benchmarks counting), 0..1. */
  recall: number;
  /** Queries per second. */
  qps: number;
  /** Median latency, ms. */
  p50Ms: number;
  /** 99th percentile latency, ms. */
  p99Ms: number;
  /** CPU time per query summed over all processes involved, ms. */
  cpuMsPerQuery: number;
  /** Cluster points: CPU ms per query of each process (router, node-0, node-1, client). */
  cpuMsPerQueryByProcess?: Record<string, number>;
  /** Peak RSS per process during the point (or since start when it cannot be reset), MB. */
  peakRssMb: Record<string, number>;
  /** Fraction of the shards probed per query (cluster and in-process points), 0..1. */
  shardsProbedFraction?: number;
  /** Cluster points: SearchShards calls the router made per query (from its /metrics). */
  nodeCallsPerQuery?: number;
  /** Cluster points: queries' shard tasks per node call (1 = no coalescing; from its /metrics). */
  queriesPerNodeCall?: number;
}

/** Machine, versions and inputs of a run. */
export interface BenchEnvironment {
  date: string;
  command: string;
  mode: 'quick' | 'full';
  cpuModel: string;
  cores: number;
  memGb: number;
  node: string;
  versions: Record<string, string>;
  dataset: {
    source: string;
    baseVectors: number;
    queries: number;
    dim: number;
    note: string;
    /** True when the bundled fallback set was used (absent in runs recorded before it existed). */
    fallback?: boolean;
  };
  saturatingConcurrency: number;
}

/** A whole run. */
export interface BenchRun {
  env: BenchEnvironment;
  points: BenchPoint[];
  /** Build wall time per snapshot / index, seconds. */
  builds: { name: string; seconds: number }[];
  notes: string[];
}
