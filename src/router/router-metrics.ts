/**
 * The router's Prometheus metrics (prom-client). Every series carries `component="router"` (from
 * the registry). Durations are in seconds, as Prometheus expects.
 *
 * - `shardfleet_router_request_duration_seconds{rpc,outcome}`: Search / BatchSearch latency;
 *   outcome `ok`, `partial` (answered with missing shards) or the gRPC status name in lower case:
 *   `unavailable` (coverage below min_coverage), `deadline_exceeded` (the caller's deadline passed
 *   first), `invalid_argument`, ... A BatchSearch with failed queries is labelled by their code
 *   (`error` when their codes differ), never `partial`; see batchOutcomeLabel in batch-search.ts.
 * - `shardfleet_router_node_rpc_duration_seconds{node,outcome}`: SearchShards calls to each node
 *   (gRPC calls: a coalesced call carrying several requests counts once); outcome `ok`, `error`,
 *   `expired` (DEADLINE_EXCEEDED once its callers' deadline had passed: not the node's failure),
 *   `cancelled` (hedge losers).
 * - `shardfleet_router_node_call_queries{node}`: queries one SearchShards call carried (above 1
 *   for BatchSearch and when concurrent requests were coalesced).
 * - `shardfleet_router_fanout_nodes{rpc}`: nodes called in a request's first wave.
 * - `shardfleet_router_query_shards{rpc}`: shards one query was sent to (its routing's probe
 *   width; Search and BatchSearch, per query: a BatchSearch of n queries observes n times).
 * - `shardfleet_router_retries_total`, `shardfleet_router_hedges_total`: extra node calls.
 * - `shardfleet_router_partial_responses_total{rpc}`: answers with failed shards (per query).
 * - `shardfleet_router_coverage_failures_total{rpc}`: queries failed for coverage below min_coverage
 *   (not those whose caller's deadline passed first: those are `deadline_exceeded`).
 * - `shardfleet_router_current_run{run_id}`: 1 for the served run.
 * - `shardfleet_router_snapshot_age_seconds`: seconds since the served run was published.
 * - `shardfleet_router_shard_coverage_ratio`: fraction of the served run's shards with a ready replica.
 * - `shardfleet_router_under_replicated_shards`: shards of the served run with fewer ready replicas
 *   than R (R capped at the shard's owner count), those with none included ("redundancy lost").
 * - `shardfleet_router_pending_run_seconds{run_id}`: seconds since the router first saw a published
 *   run it does not serve yet (loading on the nodes, or failed); no series when none is pending.
 * - `shardfleet_router_ejected_nodes`, `shardfleet_router_node_ejections_total{node}`.
 * - `shardfleet_router_run_switches_total`, `shardfleet_router_refresh_errors_total`.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { createMetricsRegistry } from '../common/metrics/metrics-server.ts';

/** Values read when metrics are scraped. */
export interface RouterGaugeState {
  /** The served run (undefined when none). */
  runId: string | undefined;
  /** Seconds since the served run was published (undefined when none). */
  snapshotAgeSeconds: number | undefined;
  /** Fraction of shards with a ready replica (0..1). */
  coverage: number;
  /** Shards of the served run with fewer than R ready replicas (none included); 0 when nothing is served. */
  underReplicatedShards: number;
  /** The published run not served yet and seconds since the router first saw it (undefined when none). */
  pendingRun: { runId: string; seconds: number } | undefined;
  /** Number of nodes currently ejected. */
  ejectedNodes: number;
  /** Shard searches sent and not yet answered, per node id (nodes with none may be left out). */
  inflightSearches: ReadonlyMap<string, number>;
  /**
   * The run gauges per served collection (issue 24): when given, current_run, snapshot_age_seconds,
   * shard_coverage_ratio, under_replicated_shards and pending_run_seconds have one series per
   * collection (label `collection`) from these entries, and the single-run fields above are not read.
   */
  collections?: ReadonlyArray<Pick<RouterGaugeState, 'runId' | 'snapshotAgeSeconds' | 'coverage' | 'underReplicatedShards' | 'pendingRun'> & { name: string }>;
}

/** The collection label of a request's metrics ("default" for a router serving one snapshot prefix). */
export function collectionLabel(backend: { collection?: string }): string {
  return backend.collection ?? 'default';
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const WIDTH_BUCKETS = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128];
const QUERIES_BUCKETS = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256, 1000];

/** The router's metric objects, registered in one registry. */
export class RouterMetrics {
  readonly requestDuration: Histogram<'rpc' | 'outcome' | 'collection'>;
  readonly nodeRpcDuration: Histogram<'node' | 'outcome'>;
  readonly nodeCallQueries: Histogram<'node'>;
  readonly fanOutWidth: Histogram<'rpc'>;
  /** Shards one query was sent to. */
  readonly queryShards: Histogram<'rpc'>;
  readonly retries: Counter;
  readonly hedges: Counter;
  readonly partialResponses: Counter<'rpc' | 'collection'>;
  readonly coverageFailures: Counter<'rpc' | 'collection'>;
  readonly nodeEjections: Counter<'node'>;
  /** Ejections not made because max_ejection_percent of the nodes were already ejected. */
  readonly ejectionsBlocked: Counter<'node'>;
  readonly runSwitches: Counter;
  readonly refreshErrors: Counter;
  private state: () => RouterGaugeState = () => ({
    runId: undefined,
    snapshotAgeSeconds: undefined,
    coverage: 0,
    underReplicatedShards: 0,
    pendingRun: undefined,
    ejectedNodes: 0,
    inflightSearches: new Map(),
  });

  /** @param registry where to register (default: a new router registry with process metrics). */
  constructor(readonly registry: Registry = createMetricsRegistry('router')) {
    const registers = [registry];
    this.requestDuration = new Histogram({
      name: 'shardfleet_router_request_duration_seconds',
      help: 'Search and BatchSearch latency in the router, seconds, by rpc, outcome and collection',
      labelNames: ['rpc', 'outcome', 'collection'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.nodeRpcDuration = new Histogram({
      name: 'shardfleet_router_node_rpc_duration_seconds',
      help: "SearchShards call latency per shard node, seconds, by outcome (ok, error, expired = the callers' deadline passed, cancelled)",
      labelNames: ['node', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.nodeCallQueries = new Histogram({
      name: 'shardfleet_router_node_call_queries',
      help: 'Queries carried by one SearchShards call per shard node (above 1: a batch, or concurrent requests coalesced)',
      labelNames: ['node'],
      buckets: QUERIES_BUCKETS,
      registers,
    });
    this.fanOutWidth = new Histogram({
      name: 'shardfleet_router_fanout_nodes',
      help: 'Shard nodes called in the first wave of a request',
      labelNames: ['rpc'],
      buckets: WIDTH_BUCKETS,
      registers,
    });
    this.queryShards = new Histogram({
      name: 'shardfleet_router_query_shards',
      help: 'Shards one query was sent to (the routing probe width), per query',
      labelNames: ['rpc'],
      buckets: WIDTH_BUCKETS,
      registers,
    });
    this.retries = new Counter({ name: 'shardfleet_router_retries_total', help: 'Node calls retried on another replica', registers });
    this.hedges = new Counter({ name: 'shardfleet_router_hedges_total', help: 'Hedged node calls sent to a second replica', registers });
    this.partialResponses = new Counter({
      name: 'shardfleet_router_partial_responses_total',
      help: 'Query answers with failed shards (partial = true), per query',
      labelNames: ['rpc', 'collection'],
      registers,
    });
    this.coverageFailures = new Counter({
      name: 'shardfleet_router_coverage_failures_total',
      help: "Queries failed UNAVAILABLE because fewer shards answered than min_coverage requires (before the caller's deadline)",
      labelNames: ['rpc', 'collection'],
      registers,
    });
    this.nodeEjections = new Counter({ name: 'shardfleet_router_node_ejections_total', help: 'Outlier ejections per node', labelNames: ['node'], registers });
    this.ejectionsBlocked = new Counter({
      name: 'shardfleet_router_ejections_blocked_total',
      help: 'Failures past the ejection threshold that did not eject the node because the most nodes allowed (--max-ejection-percent) were already ejected',
      labelNames: ['node'],
      registers,
    });
    this.runSwitches = new Counter({ name: 'shardfleet_router_run_switches_total', help: 'Switches of the served run', registers });
    this.refreshErrors = new Counter({ name: 'shardfleet_router_refresh_errors_total', help: 'Failed snapshot refreshes (storage errors, malformed manifests)', registers });
    const metrics = this;
    new Gauge({
      name: 'shardfleet_router_current_run',
      help: 'The run this router serves per collection (value 1, run_id and collection labels)',
      labelNames: ['run_id', 'collection'],
      registers,
      collect(this: Gauge<'run_id' | 'collection'>) {
        this.reset();
        for (const c of metrics.runStates()) if (c.runId !== undefined) this.set({ run_id: c.runId, collection: c.name }, 1);
      },
    });
    new Gauge({
      name: 'shardfleet_router_snapshot_age_seconds',
      help: 'Seconds since the served run was published, per collection',
      labelNames: ['collection'],
      registers,
      collect(this: Gauge<'collection'>) {
        this.reset();
        for (const c of metrics.runStates()) if (c.snapshotAgeSeconds !== undefined) this.set({ collection: c.name }, c.snapshotAgeSeconds);
      },
    });
    new Gauge({
      name: 'shardfleet_router_shard_coverage_ratio',
      help: "Fraction of the served run's shards with at least one ready replica, per collection",
      labelNames: ['collection'],
      registers,
      collect(this: Gauge<'collection'>) {
        this.reset();
        for (const c of metrics.runStates()) this.set({ collection: c.name }, c.coverage);
      },
    });
    new Gauge({
      name: 'shardfleet_router_under_replicated_shards',
      help: "Shards of the served run with fewer ready replicas than the replication factor R (R capped at the shard's owners), those with none included, per collection",
      labelNames: ['collection'],
      registers,
      collect(this: Gauge<'collection'>) {
        this.reset();
        for (const c of metrics.runStates()) this.set({ collection: c.name }, c.underReplicatedShards);
      },
    });
    new Gauge({
      name: 'shardfleet_router_pending_run_seconds',
      help: 'Seconds since the router first saw a published run (_CURRENT) it does not serve yet, run_id and collection labels; no series when none is pending',
      labelNames: ['run_id', 'collection'],
      registers,
      collect(this: Gauge<'run_id' | 'collection'>) {
        this.reset();
        for (const c of metrics.runStates()) if (c.pendingRun !== undefined) this.set({ run_id: c.pendingRun.runId, collection: c.name }, c.pendingRun.seconds);
      },
    });
    new Gauge({
      name: 'shardfleet_router_node_inflight_searches',
      help: 'Shard searches sent to a node and not yet answered (what replica choice balances)',
      labelNames: ['node'],
      registers,
      collect(this: Gauge<'node'>) {
        this.reset();
        for (const [node, n] of metrics.state().inflightSearches) this.set({ node }, n);
      },
    });
    new Gauge({
      name: 'shardfleet_router_ejected_nodes',
      help: 'Shard nodes currently ejected as outliers',
      registers,
      collect(this: Gauge) {
        this.set(metrics.state().ejectedNodes);
      },
    });
  }

  /** The per-collection run states of the gauges (the single-run fields as collection "default" when none are given). */
  private runStates(): NonNullable<RouterGaugeState['collections']> {
    const st = this.state();
    return st.collections ?? [{ name: 'default', runId: st.runId, snapshotAgeSeconds: st.snapshotAgeSeconds, coverage: st.coverage, underReplicatedShards: st.underReplicatedShards, pendingRun: st.pendingRun }];
  }

  /** Sets the function the scrape-time gauges read. */
  bindState(state: () => RouterGaugeState): void {
    this.state = state;
  }
}
