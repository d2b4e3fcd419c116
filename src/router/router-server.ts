/**
 * The router process: wires the gRPC `Router` service (Search, BatchSearch, Route, SnapshotInfo,
 * ShardDetails, Health, Refresh) to its parts:
 * - node-pool.ts: one channel per shard node, following the membership (static list or DNS);
 * - node-status-poller.ts + replica-state.ts: every node's Status, i.e. which replicas are ready;
 * - outlier-ejection.ts + hedge-policy.ts: node health from the search calls themselves;
 * - snapshot-watcher.ts: which run is served, swapping runs only once the new one is loaded;
 * - search-service.ts / batch-search.ts / fan-out.ts: the search path;
 * - router-health.ts, router-info.ts, router-metrics.ts.
 * grpc.health.v1 reports SERVING while a run is served; until then Search fails with
 * FAILED_PRECONDITION and the router retries loading every `pollIntervalMs`.
 */
import type * as grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import { ConfigValidationError, ReaderStateError, errorMessage } from '../common/errors.ts';
import { bindServer, newServer, setServing, shutdownServer } from '../common/grpc-server.ts';
import { bearerAuthInterceptor } from '../common/bearer-auth.ts';
import { channelCredentials, serverCredentials, type ClientTlsFiles } from '../common/grpc-security.ts';
import { describeGrpcError, toServiceError } from '../common/grpc-status.ts';
import { cachedReadiness, startMetricsServer, type MetricsServer } from '../common/metrics/metrics-server.ts';
import { staticMembership, type MembershipView } from '../common/membership/membership.ts';
import type { NodeEndpoint } from '../common/node-list.ts';
import { loadRouterProto } from '../common/proto.ts';
import { routerWireLimits } from '../common/wire-limits.ts';
import type { BatchSearchRequest__Output } from '../common/proto-gen/shardfleet/v1/BatchSearchRequest.ts';
import type { HealthResponse } from '../common/proto-gen/shardfleet/v1/HealthResponse.ts';
import type { RouteRequest__Output } from '../common/proto-gen/shardfleet/v1/RouteRequest.ts';
import type { SearchRequest__Output } from '../common/proto-gen/shardfleet/v1/SearchRequest.ts';
import type { ReaderProcessConfig } from '../common/reader-config.ts';
import { batchSearch } from './batch-search.ts';
import { get, multiGet, type GetBackend } from './get-service.ts';
import { resolveRequestLimits, type RequestLimits } from '../common/request-limits.ts';
import type { GetRequest__Output } from '../common/proto-gen/shardfleet/v1/GetRequest.ts';
import type { MultiGetRequest__Output } from '../common/proto-gen/shardfleet/v1/MultiGetRequest.ts';
import type { FanOutDeps, NodeCallOutcome } from './fan-out.ts';
import { DEFAULT_COALESCING, type CoalescerOptions, type NodeCallReport } from './node-call-coalescer.ts';
import { DEFAULT_HEDGE, HedgePolicy } from './hedge-policy.ts';
import { NodePool } from './node-pool.ts';
import { NodeStatusPoller } from './node-status-poller.ts';
import { drainingNodeIds, keepShardsFor, placementMembers, retainedLeavers } from './leaving-nodes.ts';
import { DEFAULT_EJECTION, OutlierEjection, isNodeFailure } from './outlier-ejection.ts';
import { NodeLoad } from './replica-choice.ts';
import { ReplicaState } from './replica-state.ts';
import { computeHealth, readinessFromHealth, snapshotAgeSeconds, type ShardReplicaProblems } from './router-health.ts';
import { route, shardDetails, snapshotInfo } from './router-info.ts';
import { RouterMetrics, type RouterGaugeState } from './router-metrics.ts';
import { enforceRateLimit, rateLimiterFromConfig } from './rate-limiter.ts';
import type { RouterSnapshot } from './router-snapshot.ts';
import { MAX_TOP_K, search, type SearchBackend } from './search-service.ts';
import { resolveMaxResponseBytes } from '../common/work-bounds.ts';
import { SnapshotWatcher, type PendingRun, type RefreshOutcome } from './snapshot-watcher.ts';
import { DEFAULT_LIVE_RECALL_FRACTION, DEFAULT_LIVE_RECALL_MAX_PER_SECOND, LiveRecall, validateLiveRecall } from './live-recall.ts';

const SERVICE = 'shardfleet.v1.Router';

/**
 * Router configuration. Either `nodes` (a static list) or `membership` (changes at runtime) is
 * required; every other new field is optional with the default given.
 */
export interface RouterConfig extends Omit<ReaderProcessConfig, 'nodes'> {
  /** A static node list (used when `membership` is not given). */
  nodes?: NodeEndpoint[];
  /**
   * A membership that may change at runtime (e.g. DNS, src/common/membership); takes precedence
   * over `nodes`. The caller starts and stops it; the router follows its changes.
   */
  membership?: MembershipView;
  /** Deadline applied to calls that carry none, ms (default 10,000). */
  defaultTimeoutMs?: number;
  // pollIntervalMs (inherited): the `_CURRENT` poll interval, also the retry interval while no
  // snapshot can be loaded, ms (default 5000).
  /** Interval between two Status calls to each node (also how often the membership is re-read), ms (default 1000). */
  statusPollIntervalMs?: number;
  /** Deadline of one node Status call, ms (default 1000). */
  statusTimeoutMs?: number;
  /**
   * Longest wait for the channel of a node that is not a ready replica (a last resort for a shard
   * with no ready replica, e.g. a node that just came up) to connect before calling it, ms
   * (default 2000).
   */
  connectGraceMs?: number;
  /**
   * Coalescing of concurrent requests' SearchShards calls to one node (node-call-coalescer.ts):
   * calls in flight per node before later ones queue (default 1), most queries per call (64),
   * most bytes per call (4 MiB, at most a quarter of maxMessageBytes), longest hold of a queued
   * call before the node's p95 call latency is known (20 ms).
   */
  coalescing?: Partial<Pick<CoalescerOptions, 'maxInFlight' | 'maxBatchQueries' | 'maxBatchBytes' | 'initialHoldMs'>>;
  /** Hedge slow node calls to a second replica (default true). */
  hedging?: boolean;
  /** Fixed hedge delay, ms; unset = adaptive: the node's p95 latency within [hedgeMinDelayMs, hedgeMaxDelayMs]. */
  hedgeDelayMs?: number;
  /** Floor of the adaptive hedge delay, ms (default 10). */
  hedgeMinDelayMs?: number;
  /** Ceiling of the adaptive hedge delay (also used before 10 samples), ms (default 500). */
  hedgeMaxDelayMs?: number;
  /** Latency samples kept per node for the p95 (default 100). */
  latencyWindowSize?: number;
  /** Consecutive failed SearchShards calls that eject a node (default 5). */
  ejectAfterFailures?: number;
  /** First ejection time, doubled on each repeated ejection, ms (default 5000). */
  ejectBaseMs?: number;
  /** Longest ejection time, ms (default 60,000). */
  ejectMaxMs?: number;
  /**
   * Most nodes ejected at once, percent of the membership, at least one (default 50; Envoy's
   * `max_ejection_percent`). A shard whose every ready replica is ejected still uses them.
   */
  maxEjectionPercent?: number;
  /**
   * The router's own limit on one SearchShards call, ms (default unset or 0: node calls carry
   * only their callers' deadline). A call cut off by it counts as the node's failure; a call cut
   * off by its callers' deadline never does.
   */
  nodeCallTimeoutMs?: number;
  /** Health is degraded when `_CURRENT` was last read longer ago than this, ms (default max(60,000, 3 x pollIntervalMs)). */
  staleAfterMs?: number;
  /** Health is degraded when a newer run has been loading longer than this, ms (default 60,000). */
  pendingRunWarnMs?: number;
  /** Health is degraded when the served run is older than this, ms (default 0 = never). */
  maxSnapshotAgeMs?: number;
  /** `host:port` for the Prometheus `/metrics` endpoint (unset = no HTTP endpoint). */
  metricsListen?: string;
  // tls and maxMessageBytes (inherited): TLS of the Router service and the message size limit
  // (also used for the channels to the nodes).
  /** TLS of the router's channels to the shard nodes (mutual TLS with a client certificate); default plaintext. */
  nodeTls?: ClientTlsFiles;
  /**
   * Bearer token every Router call must carry (`authorization: Bearer <token>`; the health and
   * reflection services are exempt); unset = no authentication. See src/common/bearer-auth.ts.
   */
  authToken?: string;
  /**
   * Bearer token sent as `authorization: Bearer <token>` on every call to the shard nodes
   * (SearchShards, Status, Refresh): the token nodes started with `authToken` require; unset =
   * no token sent.
   */
  nodeAuthToken?: string;
  /**
   * Largest estimated answer of one Search, of one BatchSearch in total, and of one coalesced
   * node call, bytes (default DEFAULT_MAX_RESPONSE_BYTES, 64 MiB; see work-bounds.ts); CLI
   * `--max-response-bytes`. Larger requests fail RESOURCE_EXHAUSTED before any node call. Give
   * the nodes the same value (they refuse larger calls themselves).
   */
  maxResponseBytes?: number;
  /** Largest top_k of a query (default {@link MAX_TOP_K}); CLI `--max-top-k`. */
  maxTopK?: number;
  /** Most keys one MultiGet may carry (default 1000); CLI `--max-get-keys`. Overrides `requestLimits.maxGetKeys`. */
  maxGetKeys?: number;
  /**
   * Request limits shared with the nodes (request-limits.ts: filter length / depth / terms / `in`
   * values, keys, key bytes); unset fields keep their defaults. Give the nodes the same values.
   */
  requestLimits?: Partial<RequestLimits>;
  /** Search rate limit, queries per second (a BatchSearch costs one per query, a Get or MultiGet one per call); unset or 0 = none. */
  rateLimitQps?: number;
  /** Rate-limit burst, queries (default max(1, ceil(rateLimitQps))). */
  rateLimitBurst?: number;
  /**
   * Live recall (live-recall.ts): the fraction of answered Search / BatchSearch queries re-run as
   * an exact search over every shard, off the request path, to measure recall@k, in [0, 1]
   * (default {@link DEFAULT_LIVE_RECALL_FRACTION}, 1%; 0 = off); CLI `--live-recall-fraction`.
   */
  liveRecallFraction?: number;
  /** Most live recall samples a second, > 0 (default {@link DEFAULT_LIVE_RECALL_MAX_PER_SECOND}); CLI `--live-recall-max-per-second`. */
  liveRecallMaxPerSecond?: number;
  /**
   * The collection a served snapshot belongs to, for the live recall `collection` label (default:
   * "default" for every snapshot).
   */
  collectionOf?: (snapshot: RouterSnapshot) => string;
  /**
   * Registry for the router metrics (default: a new one with process metrics). One registry can
   * hold the metrics of one router only (metric names are fixed).
   */
  metricsRegistry?: Registry;
}

/** A running router. */
export interface RouterHandle {
  address: string;
  /** Bound `host:port` of `/metrics` (when `metricsListen` was given). */
  metricsAddress?: string;
  /** Resolves once the first load attempt finished. */
  firstLoad: Promise<void>;
  /** The served snapshot (undefined until a run is loaded). */
  snapshot(): RouterSnapshot | undefined;
  /** The router's metrics. */
  metrics: RouterMetrics;
  /** Same as the Refresh RPC. */
  refresh(): Promise<RefreshOutcome>;
  /** Same as the Health RPC. */
  health(): HealthResponse;
  stop(): Promise<void>;
}

type Handler<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => void;

/**
 * Starts a router.
 * @throws ConfigValidationError when `listen` or `metricsListen` is malformed, neither `nodes`
 *   nor `membership` is given, a TLS file is unusable, or the rate limit is invalid.
 */
export async function startRouter(config: RouterConfig): Promise<RouterHandle> {
  const { store, log } = config;
  if (!config.membership && !config.nodes) throw new ConfigValidationError('the router needs a node list (nodes) or a membership');
  const limits = resolveRequestLimits({ ...config.requestLimits, ...(config.maxGetKeys === undefined ? {} : { maxGetKeys: config.maxGetKeys }) });
  const membership = config.membership ?? staticMembership(config.nodes ?? []);
  const pollIntervalMs = config.pollIntervalMs ?? 5000;
  const bucket = rateLimiterFromConfig(config.rateLimitQps, config.rateLimitBurst);
  const metrics = new RouterMetrics(config.metricsRegistry);
  const maxResponseBytes = resolveMaxResponseBytes(config.maxResponseBytes);
  const maxTopK = config.maxTopK ?? MAX_TOP_K;
  if (!Number.isSafeInteger(maxTopK) || maxTopK < 1) throw new ConfigValidationError(`--max-top-k must be an integer >= 1, got ${maxTopK}`);
  // The ejection share counts the membership (pool is created below, before any node call).
  const ejection = new OutlierEjection(
    {
      consecutiveFailures: config.ejectAfterFailures ?? DEFAULT_EJECTION.consecutiveFailures,
      baseMs: config.ejectBaseMs ?? DEFAULT_EJECTION.baseMs,
      maxMs: config.ejectMaxMs ?? DEFAULT_EJECTION.maxMs,
      maxEjectionPercent: config.maxEjectionPercent ?? DEFAULT_EJECTION.maxEjectionPercent,
    },
    Date.now,
    () => pool.nodeIds.length,
  );
  const hedge = new HedgePolicy({
    ...DEFAULT_HEDGE,
    enabled: config.hedging ?? true,
    fixedDelayMs: config.hedgeDelayMs,
    minDelayMs: config.hedgeMinDelayMs ?? DEFAULT_HEDGE.minDelayMs,
    maxDelayMs: config.hedgeMaxDelayMs ?? DEFAULT_HEDGE.maxDelayMs,
    windowSize: config.latencyWindowSize ?? DEFAULT_HEDGE.windowSize,
  });
  // Every gRPC call to a node (one per coalesced batch): metrics and outlier ejection. A request
  // that expired locally in a node's queue is no call and never reaches ejection; a call ended by
  // its callers' deadline is `expired`, no failure (isNodeFailure).
  const onNodeCall = (c: NodeCallReport): void => {
    metrics.nodeRpcDuration.observe({ node: c.nodeId, outcome: c.outcome }, c.ms / 1000);
    metrics.nodeCallQueries.observe({ node: c.nodeId }, c.queries);
    if (c.outcome === 'ok') {
      ejection.recordSuccess(c.nodeId);
    } else if (isNodeFailure(c)) {
      const blockedBefore = ejection.blockedEjections;
      if (ejection.recordFailure(c.nodeId, describeGrpcError(c.error))) {
        metrics.nodeEjections.inc({ node: c.nodeId });
        log.warn({ node: c.nodeId, ejection: ejection.ejection(c.nodeId) }, 'node ejected after consecutive failures');
      } else if (ejection.blockedEjections > blockedBefore) {
        metrics.ejectionsBlocked.inc({ node: c.nodeId });
      }
    }
  };
  let members: NodeEndpoint[] = membership.current();
  /** Node ids placement is computed over: the members that are not draining (leaving-nodes.ts). */
  let placementIds: string[] = members.map((n) => n.id);
  const pool = new NodePool(members, {
    credentials: channelCredentials(config.nodeTls),
    bearerToken: config.nodeAuthToken,
    maxMessageBytes: config.maxMessageBytes,
    coalescing: {
      ...config.coalescing,
      // A coalesced call never carries more than a node accepts (its --max-response-bytes).
      maxBatchBytes: Math.min(config.coalescing?.maxBatchBytes ?? DEFAULT_COALESCING.maxBatchBytes, maxResponseBytes),
      callTimeoutMs: config.nodeCallTimeoutMs || undefined,
      onCall: onNodeCall,
      maxBatchKeys: limits.maxGetKeys,
    },
  });
  const statusIntervalMs = config.statusPollIntervalMs ?? 1000;
  const statusTimeoutMs = config.statusTimeoutMs ?? 1000;
  // `watcher` is created below; leases are read at every Status call.
  let leasedRuns: () => ReturnType<SnapshotWatcher['leasedRuns']> = () => [];
  const poller: NodeStatusPoller = new NodeStatusPoller(
    pool,
    {
      intervalMs: statusIntervalMs,
      timeoutMs: statusTimeoutMs,
      // A lease outlives a few missed polls; nodes keep it at least their --run-grace-ms.
      leases: {
        routerId: routerInstanceId(),
        runs: () => leasedRuns(),
        ttlMs: 3 * statusIntervalMs + statusTimeoutMs,
        shardWord: (nodeId: string) => ({
          keep_shards: keepShardsFor(poller.view(nodeId), leasedSnapshots(), isReady),
          draining_nodes: drainingNodeIds(poller.views()),
        }),
      },
    },
    log,
  );
  const replicas = new ReplicaState(poller, ejection);
  const isReady = (nodeId: string, runId: string, dbId: number): boolean => replicas.isReady(nodeId, runId, dbId);
  const missingOf = (s: RouterSnapshot): number[] =>
    replicas.coverage(
      s.manifest.run_id,
      s.manifest.shards.map((x) => x.db_id),
      s.placement,
    ).missing;

  const maxGetKeys = limits.maxGetKeys;
  const server = newServer({
    maxReceiveMessageBytes: config.maxMessageBytes,
    maxSendMessageBytes: config.maxMessageBytes,
    interceptors: config.authToken === undefined ? [] : [bearerAuthInterceptor(config.authToken)],
    wireLimits: routerWireLimits(maxGetKeys),
    http2: config.http2,
  });
  let health: Awaited<ReturnType<typeof bindServer>>['health'] | undefined;
  const watcher = new SnapshotWatcher({
    store,
    replication: config.replication,
    nodeIds: () => placementIds,
    missingShards: missingOf,
    beforeFirstServe: () => poller.pollNow(),
    onServe: (_next, previous) => {
      if (previous) metrics.runSwitches.inc();
      if (health) setServing(health, [SERVICE], true);
    },
    onRefreshError: () => metrics.refreshErrors.inc(),
    log,
  });

  leasedRuns = () => watcher.leasedRuns();
  /** The runs the router serves, waits for or falls back to (what it leases). */
  const leasedSnapshots = (): RouterSnapshot[] => {
    const out: RouterSnapshot[] = [];
    for (const s of [watcher.current(), watcher.pending()?.snapshot, watcher.fallback()]) {
      if (s !== undefined && !out.some((o) => o.manifest.run_id === s.manifest.run_id)) out.push(s);
    }
    return out;
  };
  poller.onUpdate(() => {
    reconcileNodes();
    watcher.tryPromote();
  });
  poller.onStatusOk((nodeId) => {
    if (ejection.readmitIfDue(nodeId)) log.info({ node: nodeId }, 'ejected node answered Status again; re-admitted');
  });
  // Follow the membership: on every change, and by re-reading current() every status interval
  // (so a membership started after startRouter, whose first resolution notifies nobody, is seen).
  // The pool also keeps nodes that left but still hold shards whose new owners are not ready, and
  // placement leaves out draining nodes (leaving-nodes.ts).
  const syncMembership = (nodes: NodeEndpoint[]): void => {
    members = nodes;
    reconcileNodes();
  };
  function reconcileNodes(): void {
    const memberIds = new Set(members.map((n) => n.id));
    const retained = retainedLeavers(pool.endpoints(), memberIds, (id) => poller.view(id), leasedSnapshots(), isReady);
    const change = pool.update([...members, ...retained]);
    for (const id of [...change.removed, ...change.moved]) {
      ejection.forget(id);
      hedge.forget(id);
    }
    const ids = placementMembers(
      members.map((n) => n.id),
      new Set(drainingNodeIds(poller.views())),
    );
    const placementChanged = ids.join('\n') !== placementIds.join('\n');
    placementIds = ids;
    if (placementChanged) watcher.updatePlacement();
    if (change.added.length + change.removed.length + change.moved.length === 0 && !placementChanged) return;
    log.info(
      { ...change, nodes: members.map((n) => n.id), placement_nodes: ids, retiring: retained.map((n) => n.id) },
      'node membership changed; placement recomputed',
    );
    void poller.pollNow();
  }
  membership.onChange(syncMembership);

  // Every fan-out call to a node: the hedge delay is the p95 of what a fan-out waits for a node,
  // from issuing a call to its answer, time queued behind the node's calls in flight included
  // (measured from the gRPC send instead, a call queued under load would outlast the p95 of
  // calls and be hedged nearly every time). The hedge timer starts at the issue too.
  const onCall = (o: NodeCallOutcome): void => {
    if (o.outcome === 'ok') hedge.record(o.nodeId, o.ms);
  };
  const requireSnapshot = (): RouterSnapshot => {
    const s = watcher.current();
    if (!s) throw new ReaderStateError(`router has no snapshot loaded from ${store.url}: ${watcher.lastLoadError}`);
    return s;
  };
  const load = new NodeLoad();
  const liveRecallOptions = { fraction: config.liveRecallFraction ?? DEFAULT_LIVE_RECALL_FRACTION, maxPerSecond: config.liveRecallMaxPerSecond ?? DEFAULT_LIVE_RECALL_MAX_PER_SECOND };
  validateLiveRecall(liveRecallOptions);
  const liveRecall =
    liveRecallOptions.fraction > 0
      ? new LiveRecall(
          liveRecallOptions,
          {
            current: () => watcher.current(),
            nodeFor: (s, dbId) => {
              const c = replicas.candidates(s.manifest.run_id, dbId, s.placement.get(dbId) ?? []);
              return c.ready ? c.nodes[0] : undefined;
            },
            client: (id) => pool.client(id),
            collectionOf: config.collectionOf ?? (() => 'default'),
            registry: metrics.registry,
            log,
          },
        )
      : undefined;
  const backend: SearchBackend = {
    snapshot: requireSnapshot,
    fanOutDeps: (s): FanOutDeps => ({
      node: (id) => pool.caller(id),
      candidates: (dbId) => replicas.candidates(s.manifest.run_id, dbId, s.placement.get(dbId) ?? []),
      hedgeDelayMs: (id) => hedge.delayMs(id),
      onCall,
      connectGraceMs: config.connectGraceMs ?? 2000,
      load,
    }),
    metrics,
    limits,
    maxResponseBytes,
    maxTopK,
    ...(liveRecall === undefined ? {} : { liveRecall }),
  };
  const getBackend: GetBackend = { ...backend, maxGetKeys };
  const healthOptions = {
    staleAfterMs: config.staleAfterMs ?? Math.max(60_000, 3 * pollIntervalMs),
    pendingRunWarnMs: config.pendingRunWarnMs ?? 60_000,
    maxSnapshotAgeMs: config.maxSnapshotAgeMs ?? 0,
  };
  const currentHealth = (): HealthResponse => {
    const served = watcher.current();
    const pending = watcher.pending();
    const coverage = served
      ? replicas.coverage(
          served.manifest.run_id,
          served.manifest.shards.map((x) => x.db_id),
          served.placement,
        )
      : { fraction: 0, missing: [] };
    return computeHealth(
      {
        served,
        pending,
        coverage,
        missingReplicas: served ? problemsOf(served, coverage.missing) : [],
        lastRefreshError: watcher.lastRefreshError,
        lastLoadError: watcher.lastLoadError,
        lastCheckAt: watcher.lastCheckAt,
        pendingMissing: pending ? missingOf(pending.snapshot) : [],
        pendingFailed: pending ? failedEverywhere(pending.snapshot) : [],
        replication: config.replication,
        underReplicated: served ? underReplicated(served) : [],
        fallbackRunId: watcher.fallback()?.manifest.run_id ?? '',
        membershipProblem: membership.problem?.() ?? '',
        now: Date.now(),
      },
      healthOptions,
    );
  };
  /** The not-ready replica statuses of each shard in `dbIds` of `s` (for Health's grouped reasons). */
  const problemsOf = (s: RouterSnapshot, dbIds: readonly number[]): ShardReplicaProblems[] =>
    dbIds.map((dbId) => ({ dbId, problems: replicas.replicas(s.manifest.run_id, dbId, s.placement.get(dbId) ?? []).filter((r) => r.state !== 'loaded') }));
  /** Shards of `s` with at least one but fewer than R ready replicas (R capped at the owner count). */
  const underReplicated = (s: RouterSnapshot): Array<ShardReplicaProblems & { ready: number }> => {
    const out: Array<ShardReplicaProblems & { ready: number }> = [];
    for (const { db_id: dbId } of s.manifest.shards) {
      const owners = s.placement.get(dbId) ?? [];
      const want = Math.min(config.replication, owners.length);
      const ready = replicas.readyReplicas(s.manifest.run_id, dbId, owners).length;
      if (ready === 0 || ready >= want) continue;
      const notReady = replicas.replicas(s.manifest.run_id, dbId, owners).filter((r) => r.state !== 'loaded');
      out.push({ dbId, ready, problems: notReady });
    }
    return out;
  };
  /** Shards of `s` without a ready replica whose every owner reports them failed, with why. */
  const failedEverywhere = (s: RouterSnapshot): ShardReplicaProblems[] =>
    problemsOf(s, missingOf(s)).filter(({ problems }) => problems.length > 0 && problems.every((r) => r.state === 'failed'));
  const refresh = async (): Promise<RefreshOutcome> => {
    const previous = watcher.current()?.manifest.run_id ?? '';
    await watcher.refresh();
    if (watcher.pending()) {
      await poller.pollNow('Refresh');
      watcher.tryPromote();
    }
    return watcher.describe(previous);
  };
  const pendingOf = (p: PendingRun | undefined): RouterGaugeState['pendingRun'] =>
    p ? { runId: p.snapshot.manifest.run_id, seconds: Math.max(0, (Date.now() - p.since) / 1000) } : undefined;
  metrics.bindState(() => {
    const s = watcher.current();
    return {
      runId: s?.manifest.run_id,
      snapshotAgeSeconds: s ? snapshotAgeSeconds(s.publishedAt, Date.now()) : undefined,
      coverage: s ? (s.manifest.shards.length - missingOf(s).length) / Math.max(1, s.manifest.shards.length) : 0,
      underReplicatedShards: s ? missingOf(s).length + underReplicated(s).length : 0,
      pendingRun: pendingOf(watcher.pending()),
      ejectedNodes: ejection.ejectedNodes().length,
      inflightSearches: load.snapshot(),
    };
  });

  const deadlineOf = (call: grpc.ServerUnaryCall<unknown, unknown>): number => {
    const d = call.getDeadline();
    const ms = d instanceof Date ? d.getTime() : Number(d);
    return Number.isFinite(ms) ? ms : Date.now() + (config.defaultTimeoutMs ?? 10_000);
  };
  /** Aborted when the caller cancels `call` (its deadline passing included): the search's node calls are cancelled. */
  const cancelSignalOf = (call: grpc.ServerUnaryCall<unknown, unknown>): AbortSignal => {
    const ac = new AbortController();
    if (call.cancelled) ac.abort();
    else call.once('cancelled', () => ac.abort());
    return ac.signal;
  };
  const unary =
    <Req, Res>(name: string, fn: (call: grpc.ServerUnaryCall<Req, Res>) => Res | Promise<Res>): Handler<Req, Res> =>
    (call, callback) => {
      Promise.resolve()
        .then(() => fn(call))
        .then(
          (res) => callback(null, res),
          (err: unknown) => {
            log.debug({ rpc: name, err: errorMessage(err) }, 'call failed');
            callback(toServiceError(err));
          },
        );
    };
  const addressOf = (id: string): string | undefined => pool.address(id);
  server.addService(loadRouterProto().shardfleet.v1.Router.service, {
    Search: unary('Search', (call: grpc.ServerUnaryCall<SearchRequest__Output, unknown>) => {
      enforceRateLimit(bucket, 1, 'Search');
      return search(backend, call.request, deadlineOf(call), cancelSignalOf(call));
    }),
    BatchSearch: unary('BatchSearch', (call: grpc.ServerUnaryCall<BatchSearchRequest__Output, unknown>) => {
      enforceRateLimit(bucket, call.request.queries.length, `BatchSearch of ${call.request.queries.length} queries`);
      return batchSearch(backend, call.request, deadlineOf(call), cancelSignalOf(call));
    }),
    Get: unary('Get', (call: grpc.ServerUnaryCall<GetRequest__Output, unknown>) => {
      enforceRateLimit(bucket, 1, 'Get');
      return get(backend, call.request, deadlineOf(call));
    }),
    MultiGet: unary('MultiGet', (call: grpc.ServerUnaryCall<MultiGetRequest__Output, unknown>) => {
      enforceRateLimit(bucket, 1, 'MultiGet');
      return multiGet(getBackend, call.request, deadlineOf(call));
    }),
    Route: unary('Route', (call: grpc.ServerUnaryCall<RouteRequest__Output, unknown>) => route(requireSnapshot(), replicas, addressOf, call.request, limits)),
    SnapshotInfo: unary('SnapshotInfo', () => ({ ...snapshotInfo(requireSnapshot(), store.url), ...(liveRecall === undefined ? {} : { live_recall: liveRecall.status() }) })),
    ShardDetails: unary('ShardDetails', () => shardDetails(requireSnapshot(), replicas, addressOf, config.replication)),
    Health: unary('Health', () => currentHealth()),
    Refresh: unary('Refresh', async () => {
      const o = await refresh();
      return { run_id: o.runId, previous_run_id: o.previousRunId, changed: o.changed, message: o.message };
    }),
  });
  let stopping = false;
  // /readyz: a served run with full coverage (router-health.ts), computed at most once a second.
  const cachedReady = cachedReadiness(() => readinessFromHealth(currentHealth()), 1000);
  const readiness = (): { ready: boolean; reason: string } => (stopping ? { ready: false, reason: 'router is stopping' } : cachedReady());
  let bound: Awaited<ReturnType<typeof bindServer>>;
  let metricsServer: MetricsServer | undefined;
  try {
    bound = await bindServer(server, config.listen, [SERVICE], { credentials: serverCredentials(config.tls) });
    if (config.metricsListen !== undefined) metricsServer = await startMetricsServer(metrics.registry, config.metricsListen, readiness);
  } catch (err) {
    await shutdownServer(server, 0);
    pool.close();
    throw err;
  }
  health = bound.health;
  log.info({ address: bound.address, nodes: pool.nodeIds, metrics: metricsServer?.address, max_response_bytes: maxResponseBytes, max_top_k: maxTopK }, 'router listening');

  const membershipTimer = setInterval(() => syncMembership(membership.current()), statusIntervalMs);
  membershipTimer.unref();
  poller.start();
  const firstLoad = watcher.start(pollIntervalMs);

  return {
    address: bound.address,
    metricsAddress: metricsServer?.address,
    firstLoad,
    snapshot: () => watcher.current(),
    metrics,
    refresh,
    health: currentHealth,
    stop: async () => {
      stopping = true;
      clearInterval(membershipTimer);
      watcher.stop();
      poller.stop();
      setServing(bound.health, [SERVICE], false);
      await shutdownServer(server);
      await liveRecall?.stop();
      await metricsServer?.close();
      pool.close();
      await store.close();
    },
  };
}

/** This router process's id for run leases: host, pid and a random suffix (unique per start). */
function routerInstanceId(): string {
  return `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
}
