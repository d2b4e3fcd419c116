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
import { ConfigValidationError, InvalidQueryError, ReaderStateError, errorMessage } from '../common/errors.ts';
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
import { enforceRateLimit, rateLimiterFromConfig, type TokenBucket } from './rate-limiter.ts';
import { checkCollectionLimits, describeCollectionLimit, type CollectionLimits } from './collection-limits.ts';
import type { RouterSnapshot } from './router-snapshot.ts';
import { MAX_TOP_K, search, type SearchBackend } from './search-service.ts';
import { resolveMaxResponseBytes } from '../common/work-bounds.ts';
import { SnapshotWatcher, type PendingRun, type RefreshOutcome } from './snapshot-watcher.ts';
import { CollectionCatalog, CollectionNotFoundError, checkCatalogOptions, listNames, type CatalogChange, type CatalogMode } from '../common/catalog/collection-catalog.ts';
import { DEFAULT_COLLECTION, assertCollectionName, collectionNameProblem } from '../common/catalog/collection-name.ts';
import { quoteInput } from '../common/bounded-text.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';
import type { SnapshotInfoRequest__Output } from '../common/proto-gen/shardfleet/v1/SnapshotInfoRequest.ts';
import type { ShardDetailsRequest__Output } from '../common/proto-gen/shardfleet/v1/ShardDetailsRequest.ts';
import type { RefreshRequest__Output } from '../common/proto-gen/shardfleet/v1/RefreshRequest.ts';
import { aggregateHealth, readinessOfCollections, type NamedHealth } from './collection-health.ts';
import { AliasTable } from '../common/catalog/aliases.ts';
import { CollectionViews } from './collection-views.ts';
import type { NodeViewSource } from './replica-state.ts';
import { runKey } from './run-key.ts';
import type { NodeCaller } from './node-call-coalescer.ts';
import { DEFAULT_LIVE_RECALL_FRACTION, DEFAULT_LIVE_RECALL_MAX_PER_SECOND, LiveRecall, validateLiveRecall, type LiveRecallSink } from './live-recall.ts';

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
  /**
   * Per-collection limits by collection name (collection-limits.ts): a rate limit taken after the
   * router-wide one, and a largest top_k at most `maxTopK`; CLI `--collection-limit`. An alias is
   * limited as the collection it names.
   */
  collectionLimits?: Record<string, CollectionLimits>;
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
   * Registry for the router metrics (default: a new one with process metrics). One registry can
   * hold the metrics of one router only (metric names are fixed).
   */
  metricsRegistry?: Registry;
  /**
   * `--collections`: serve only these collections under a catalog root (issue 24; see
   * src/common/catalog/collection-catalog.ts). Unset: every child prefix holding `_CURRENT`, or
   * the store itself when it holds `_CURRENT` (single-collection mode, exactly as before).
   */
  collections?: string[];
  /** `--max-collections` (default 64). */
  maxCollections?: number;
  /**
   * `--default-collection`: the collection a request without one is answered from. Unset: the
   * only served collection; with several, such a request fails INVALID_ARGUMENT listing them.
   */
  defaultCollection?: string;
}

/** A running router. */
export interface RouterHandle {
  address: string;
  /** Bound `host:port` of `/metrics` (when `metricsListen` was given). */
  metricsAddress?: string;
  /** Resolves once the first load attempt finished. */
  firstLoad: Promise<void>;
  /** The served snapshot of the default collection (undefined until a run is loaded or when there is no default). */
  snapshot(): RouterSnapshot | undefined;
  /** The served snapshot of `collection` (undefined when not served or no run is loaded). */
  snapshotOf(collection: string): RouterSnapshot | undefined;
  /** Names of the served collections, sorted. */
  collections(): string[];
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
  const collectionLimits = config.collectionLimits ?? {};
  checkCollectionLimits(collectionLimits, maxTopK);
  /** Per-collection token buckets (--collection-limit <c>:qps=...), by collection name; they outlive a collection's removal and return. */
  const collectionBuckets = new Map<string, TokenBucket>();
  for (const [name, l] of Object.entries(collectionLimits)) {
    const b = rateLimiterFromConfig(l.rateLimitQps, l.rateLimitBurst);
    if (b !== undefined) collectionBuckets.set(name, b);
  }
  /** Takes `cost` tokens of collection `c`'s own rate limit (after the router-wide one), naming the flag when refused. */
  const enforceCollectionRate = (c: ServedCollection, cost: number, what: string): void => {
    const l = collectionLimits[c.name];
    if (l?.rateLimitQps !== undefined) enforceRateLimit(collectionBuckets.get(c.name), cost, `${what} in collection ${JSON.stringify(c.name)} (${describeCollectionLimit(c.name, 'qps', l.rateLimitQps)})`);
  };
  checkCatalogOptions({ collections: config.collections, maxCollections: config.maxCollections });
  if (config.defaultCollection !== undefined) assertCollectionName(config.defaultCollection, '--default-collection');
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
  // The collections are created below; leases are read at every Status call.
  const served = new Map<string, ServedCollection>();
  const poller: NodeStatusPoller = new NodeStatusPoller(
    pool,
    {
      intervalMs: statusIntervalMs,
      timeoutMs: statusTimeoutMs,
      // A lease outlives a few missed polls; nodes keep it at least their --run-grace-ms.
      leases: {
        routerId: routerInstanceId(),
        runs: () => [...served.values()].flatMap((c) => c.watcher.leasedRuns().map((l) => ({ ...l, collection: c.name }))),
        ttlMs: 3 * statusIntervalMs + statusTimeoutMs,
        shardWord: (nodeId: string) => ({
          keep_shards: [...served.values()].flatMap((c) =>
            keepShardsFor(c.views.view(nodeId), leasedSnapshots(c), c.isReady).map((k) => ({ ...k, collection: c.name })),
          ),
          draining_nodes: drainingNodeIds(poller.views()),
        }),
      },
    },
    log,
  );
  const missingOf = (c: ServedCollection, s: RouterSnapshot): number[] =>
    c.replicas.coverage(
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
  let catalogMode: CatalogMode = 'single';
  let started = false;
  const firstLoads = new Set<Promise<void>>();
  // Every fan-out call to a node: the hedge delay is the p95 of what a fan-out waits for a node,
  // from issuing a call to its answer, time queued behind the node's calls in flight included
  // (measured from the gRPC send instead, a call queued under load would outlast the p95 of
  // calls and be hedged nearly every time). The hedge timer starts at the issue too.
  const onCall = (o: NodeCallOutcome): void => {
    if (o.outcome === 'ok') hedge.record(o.nodeId, o.ms);
  };
  const load = new NodeLoad();

  // Live recall (src/router/live-recall.ts): one sampler for every collection; each collection's
  // backend offers its answered queries tagged with the collection's name.
  const liveRecallOptions = { fraction: config.liveRecallFraction ?? DEFAULT_LIVE_RECALL_FRACTION, maxPerSecond: config.liveRecallMaxPerSecond ?? DEFAULT_LIVE_RECALL_MAX_PER_SECOND };
  validateLiveRecall(liveRecallOptions);
  const liveRecall =
    liveRecallOptions.fraction > 0
      ? new LiveRecall(liveRecallOptions, {
          current: (collection) => served.get(collection)?.watcher.current(),
          nodeFor: (collection, s, dbId) => {
            const c = served.get(collection)?.replicas.candidates(s.manifest.run_id, dbId, s.placement.get(dbId) ?? []);
            return c?.ready ? c.nodes[0] : undefined;
          },
          client: (id) => pool.client(id),
          registry: metrics.registry,
          log,
        })
      : undefined;

  /** The largest top_k of collection `name` and the flag that set it (its --collection-limit, else --max-top-k). */
  const collectionTopK = (name: string): Pick<SearchBackend, 'maxTopK' | 'maxTopKFlag'> => {
    const own = collectionLimits[name]?.maxTopK;
    return own === undefined ? { maxTopK } : { maxTopK: own, maxTopKFlag: describeCollectionLimit(name, 'max_top_k', own) };
  };

  /** Serves collection `name` from `cstore`: its own watcher, node views, replica states and backends. */
  function addCollection(name: string, cstore: ObjectStore): ServedCollection {
    const views = catalogMode === 'single' ? poller : new CollectionViews(poller, name);
    const replicas = new ReplicaState(views, ejection);
    const watcher = new SnapshotWatcher({
      store: cstore,
      replication: config.replication,
      nodeIds: () => placementIds,
      missingShards: (s) => replicas.coverage(s.manifest.run_id, s.manifest.shards.map((x) => x.db_id), s.placement).missing,
      beforeFirstServe: () => poller.pollNow(),
      onServe: (_next, previous) => {
        if (previous) metrics.runSwitches.inc();
        if (health) setServing(health, [SERVICE], true);
      },
      onRefreshError: () => metrics.refreshErrors.inc(),
      log: catalogMode === 'single' ? log : log.child({ collection: name }),
      placementKey: catalogMode === 'single' ? undefined : name,
    });
    const requireSnapshot = (): RouterSnapshot => {
      const s = watcher.current();
      if (!s) throw new ReaderStateError(`router has no snapshot loaded from ${cstore.url}: ${watcher.lastLoadError}`);
      return s;
    };
    const backend: SearchBackend = {
      collection: name,
      snapshot: requireSnapshot,
      fanOutDeps: (s): FanOutDeps => ({
        node: (id) => collectionCaller(pool.caller(id), name),
        candidates: (dbId) => replicas.candidates(s.manifest.run_id, dbId, s.placement.get(dbId) ?? []),
        hedgeDelayMs: (id) => hedge.delayMs(id),
        onCall,
        connectGraceMs: config.connectGraceMs ?? 2000,
        load,
      }),
      metrics,
      limits,
      maxResponseBytes,
      ...collectionTopK(name),
      ...(liveRecall === undefined ? {} : { liveRecall: { offer: (q) => liveRecall.offer({ ...q, collection: name }) } satisfies LiveRecallSink }),
    };
    const c: ServedCollection = {
      name,
      store: cstore,
      views,
      replicas,
      isReady: (nodeId: string, runId: string, dbId: number): boolean => replicas.isReady(nodeId, runId, dbId),
      watcher,
      backend,
      getBackend: { ...backend, maxGetKeys },
    };
    served.set(name, c);
    if (started) {
      const first = c.watcher.start(pollIntervalMs);
      firstLoads.add(first);
      void first.finally(() => firstLoads.delete(first));
    }
    return c;
  }

  /** Applies a catalog change: new collections are watched at once, removed ones stop being served (their leases lapse). */
  function applyCatalog(change: CatalogChange): void {
    catalogMode = change.mode;
    for (const name of change.removed) {
      const c = served.get(name);
      if (c === undefined) continue;
      c.watcher.stop();
      served.delete(name);
    }
    for (const added of change.added) addCollection(added.name, added.store);
  }
  const catalog = new CollectionCatalog({
    store,
    collections: config.collections,
    maxCollections: config.maxCollections,
    log,
    onChange: applyCatalog,
  });

  /**
   * The catalog root's aliases (`_ALIASES`, src/common/catalog/aliases.ts), re-read every poll
   * interval in catalog mode (only when its etag changed) and by Refresh; a malformed or
   * unreadable `_ALIASES` keeps the last good table (Health.aliases_error says why).
   */
  const aliases = new AliasTable(store);
  const refreshAliases = async (): Promise<void> => {
    if (catalogMode === 'single') return;
    const before = aliases.lastError;
    try {
      const r = await aliases.refresh();
      if (aliases.lastError !== undefined && aliases.lastError !== before) log.warn({ err: aliases.lastError }, 'reading _ALIASES failed; keeping the last good alias table');
      else if (r.changed) log.info({ aliases: Object.fromEntries(aliases.entries()) }, 'alias table changed');
    } catch (err) {
      // AliasTable.refresh keeps its errors in lastError; this only guards the timer.
      log.warn({ err: errorMessage(err) }, 'reading _ALIASES failed; keeping the last good alias table');
    }
  };
  let aliasTimer: NodeJS.Timeout | undefined;

  /** A served collection by name: the collection of that name, else the collection an alias of that name points at. */
  const servedByName = (name: string): ServedCollection | undefined => {
    const direct = served.get(name);
    if (direct !== undefined) return direct;
    const target = aliases.resolve(name);
    return target === undefined ? undefined : served.get(target);
  };

  /**
   * The collection a request is answered from: `requested`, or for '' the default collection
   * (--default-collection, else the only one). A name that is no served collection is looked up
   * as an alias (one lookup per request, so a request is answered from one collection even while
   * the alias switches).
   * @throws InvalidQueryError for an invalid name, or '' with several collections and no default;
   *   CollectionNotFoundError (NOT_FOUND) naming an unknown collection or an alias whose collection is not served.
   */
  function resolveCollection(requested: string): ServedCollection {
    if (requested === '') {
      const name = defaultCollectionName();
      if (name === '') {
        throw new InvalidQueryError(
          `this router serves ${served.size} collections (${listNames(collectionNames())}) and no default: name one in the request's collection field (CLI --collection), or start the router with --default-collection`,
        );
      }
      const c = servedByName(name);
      if (c === undefined) throw new CollectionNotFoundError(`the default collection ${JSON.stringify(name)} (--default-collection) is not served (served: ${listNames(collectionNames())})`);
      return c;
    }
    const problem = collectionNameProblem(requested);
    if (problem !== undefined) throw new InvalidQueryError(`collection ${quoteInput(requested)} ${problem}`);
    const c = servedByName(requested);
    if (c === undefined) {
      const target = aliases.resolve(requested);
      if (target !== undefined) throw new CollectionNotFoundError(`alias ${JSON.stringify(requested)} names collection ${JSON.stringify(target)}, which this router does not serve (served: ${listNames(collectionNames())})`);
      throw new CollectionNotFoundError(`collection ${JSON.stringify(requested)} is not served by this router (served: ${listNames(collectionNames())})`);
    }
    return c;
  }
  const collectionNames = (): string[] => [...served.keys()].sort();
  /** --default-collection, else the only served collection, else ''. */
  const defaultCollectionName = (): string => config.defaultCollection ?? (served.size === 1 ? [...served.keys()][0] : '');

  /** The runs a collection serves, waits for or falls back to (what it leases). */
  const leasedSnapshots = (c: ServedCollection): RouterSnapshot[] => {
    const out: RouterSnapshot[] = [];
    for (const s of [c.watcher.current(), c.watcher.pending()?.snapshot, c.watcher.fallback()]) {
      if (s !== undefined && !out.some((o) => o.manifest.run_id === s.manifest.run_id)) out.push(s);
    }
    return out;
  };
  poller.onUpdate(() => {
    reconcileNodes();
    for (const c of served.values()) c.watcher.tryPromote();
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
    const retained = new Map<string, NodeEndpoint>();
    for (const c of served.values()) {
      for (const n of retainedLeavers(pool.endpoints(), memberIds, (id) => c.views.view(id), leasedSnapshots(c), c.isReady)) retained.set(n.id, n);
    }
    const change = pool.update([...members, ...retained.values()]);
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
    if (placementChanged) for (const c of served.values()) c.watcher.updatePlacement();
    if (change.added.length + change.removed.length + change.moved.length === 0 && !placementChanged) return;
    log.info(
      { ...change, nodes: members.map((n) => n.id), placement_nodes: ids, retiring: [...retained.keys()] },
      'node membership changed; placement recomputed',
    );
    void poller.pollNow();
  }
  membership.onChange(syncMembership);

  const healthOptions = {
    staleAfterMs: config.staleAfterMs ?? Math.max(60_000, 3 * pollIntervalMs),
    pendingRunWarnMs: config.pendingRunWarnMs ?? 60_000,
    maxSnapshotAgeMs: config.maxSnapshotAgeMs ?? 0,
  };
  /** One collection's Health (router-health.ts). */
  const healthOf = (c: ServedCollection): HealthResponse => {
    const s = c.watcher.current();
    const pending = c.watcher.pending();
    const coverage = s
      ? c.replicas.coverage(
          s.manifest.run_id,
          s.manifest.shards.map((x) => x.db_id),
          s.placement,
        )
      : { fraction: 0, missing: [] };
    return computeHealth(
      {
        served: s,
        pending,
        coverage,
        missingReplicas: s ? problemsOf(c, s, coverage.missing) : [],
        lastRefreshError: c.watcher.lastRefreshError,
        lastLoadError: c.watcher.lastLoadError,
        lastCheckAt: c.watcher.lastCheckAt,
        pendingMissing: pending ? missingOf(c, pending.snapshot) : [],
        pendingFailed: pending ? failedEverywhere(c, pending.snapshot) : [],
        replication: config.replication,
        underReplicated: s ? underReplicated(c, s) : [],
        fallbackRunId: c.watcher.fallback()?.manifest.run_id ?? '',
        membershipProblem: membership.problem?.() ?? '',
        now: Date.now(),
      },
      healthOptions,
    );
  };
  const namedHealths = (): NamedHealth[] => collectionNames().map((name) => ({ name, health: healthOf(served.get(name)!) }));
  const currentHealth = (): HealthResponse => ({
    ...aggregateHealth(namedHealths(), defaultCollectionName()),
    aliases: aliases.entries().map(([alias, collection]) => ({ alias, collection })),
    aliases_error: aliases.lastError ?? '',
  });
  /** The not-ready replica statuses of each shard in `dbIds` of `s` (for Health's grouped reasons). */
  const problemsOf = (c: ServedCollection, s: RouterSnapshot, dbIds: readonly number[]): ShardReplicaProblems[] =>
    dbIds.map((dbId) => ({ dbId, problems: c.replicas.replicas(s.manifest.run_id, dbId, s.placement.get(dbId) ?? []).filter((r) => r.state !== 'loaded') }));
  /** Shards of `s` with at least one but fewer than R ready replicas (R capped at the owner count). */
  const underReplicated = (c: ServedCollection, s: RouterSnapshot): Array<ShardReplicaProblems & { ready: number }> => {
    const out: Array<ShardReplicaProblems & { ready: number }> = [];
    for (const { db_id: dbId } of s.manifest.shards) {
      const owners = s.placement.get(dbId) ?? [];
      const want = Math.min(config.replication, owners.length);
      const ready = c.replicas.readyReplicas(s.manifest.run_id, dbId, owners).length;
      if (ready === 0 || ready >= want) continue;
      const notReady = c.replicas.replicas(s.manifest.run_id, dbId, owners).filter((r) => r.state !== 'loaded');
      out.push({ dbId, ready, problems: notReady });
    }
    return out;
  };
  /** Shards of `s` without a ready replica whose every owner reports them failed, with why. */
  const failedEverywhere = (c: ServedCollection, s: RouterSnapshot): ShardReplicaProblems[] =>
    problemsOf(c, s, missingOf(c, s)).filter(({ problems }) => problems.length > 0 && problems.every((r) => r.state === 'failed'));
  /** Refresh of one collection: re-reads its `_CURRENT`, asks the nodes to refresh when a run is pending. */
  const refreshOne = async (c: ServedCollection): Promise<RefreshOutcome> => {
    const previous = c.watcher.current()?.manifest.run_id ?? '';
    await c.watcher.refresh();
    if (c.watcher.pending()) {
      await poller.pollNow('Refresh');
      c.watcher.tryPromote();
    }
    return c.watcher.describe(previous);
  };
  /**
   * The Refresh RPC: `collection` names one collection; '' rescans the catalog and refreshes every
   * collection, answering for the default collection (or, with none, a summary).
   */
  const refreshCollection = async (collection: string): Promise<RefreshOutcome & { collection: string }> => {
    if (collection !== '') {
      const c = resolveCollection(collection);
      return { ...(await refreshOne(c)), collection: c.name };
    }
    await catalog.scan();
    await refreshAliases();
    const outcomes = await Promise.all(collectionNames().map(async (name) => ({ name, o: await refreshOne(served.get(name)!) })));
    const def = outcomes.find((x) => x.name === defaultCollectionName());
    if (def !== undefined) return { ...def.o, collection: outcomes.length === 1 ? def.name : '' };
    return {
      runId: '',
      previousRunId: '',
      changed: outcomes.some((x) => x.o.changed),
      message: outcomes.map((x) => `${x.name}: ${x.o.message}`).join(' | ') || 'no collection is served',
      collection: '',
    };
  };
  const refresh = async (): Promise<RefreshOutcome> => refreshCollection('');
  const pendingOf = (p: PendingRun | undefined): RouterGaugeState['pendingRun'] =>
    p ? { runId: p.snapshot.manifest.run_id, seconds: Math.max(0, (Date.now() - p.since) / 1000) } : undefined;
  /** The run gauges of one collection (router-metrics.ts). */
  const gaugeStateOf = (c: ServedCollection | undefined): Pick<RouterGaugeState, 'runId' | 'snapshotAgeSeconds' | 'coverage' | 'underReplicatedShards' | 'pendingRun'> => {
    const s = c?.watcher.current();
    return {
      runId: s?.manifest.run_id,
      snapshotAgeSeconds: s ? snapshotAgeSeconds(s.publishedAt, Date.now()) : undefined,
      coverage: c && s ? (s.manifest.shards.length - missingOf(c, s).length) / Math.max(1, s.manifest.shards.length) : 0,
      underReplicatedShards: c && s ? missingOf(c, s).length + underReplicated(c, s).length : 0,
      pendingRun: pendingOf(c?.watcher.pending()),
    };
  };
  metrics.bindState(() => ({
    // The single-run fields describe the default collection; the gauges read `collections` (label `collection`).
    ...gaugeStateOf(served.get(defaultCollectionName())),
    collections: collectionNames().map((name) => ({ name, ...gaugeStateOf(served.get(name)) })),
    ejectedNodes: ejection.ejectedNodes().length,
    inflightSearches: load.snapshot(),
  }));

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
    Search: unary('Search', async (call: grpc.ServerUnaryCall<SearchRequest__Output, unknown>) => {
      enforceRateLimit(bucket, 1, 'Search');
      const c = resolveCollection(call.request.collection);
      enforceCollectionRate(c, 1, 'Search');
      return { ...(await search(c.backend, call.request, deadlineOf(call), cancelSignalOf(call))), collection: c.name };
    }),
    BatchSearch: unary('BatchSearch', async (call: grpc.ServerUnaryCall<BatchSearchRequest__Output, unknown>) => {
      enforceRateLimit(bucket, call.request.queries.length, `BatchSearch of ${call.request.queries.length} queries`);
      const c = resolveCollection(batchCollection(call.request));
      enforceCollectionRate(c, call.request.queries.length, `BatchSearch of ${call.request.queries.length} queries`);
      const res = await batchSearch(c.backend, call.request, deadlineOf(call), cancelSignalOf(call));
      return { ...res, collection: c.name, results: (res.results ?? []).map((r) => (r.response ? { ...r, response: { ...r.response, collection: c.name } } : r)) };
    }),
    Get: unary('Get', async (call: grpc.ServerUnaryCall<GetRequest__Output, unknown>) => {
      enforceRateLimit(bucket, 1, 'Get');
      const c = resolveCollection(call.request.collection);
      enforceCollectionRate(c, 1, 'Get');
      return { ...(await get(c.backend, call.request, deadlineOf(call))), collection: c.name };
    }),
    MultiGet: unary('MultiGet', async (call: grpc.ServerUnaryCall<MultiGetRequest__Output, unknown>) => {
      enforceRateLimit(bucket, 1, 'MultiGet');
      const c = resolveCollection(call.request.collection);
      enforceCollectionRate(c, 1, 'MultiGet');
      return { ...(await multiGet(c.getBackend, call.request, deadlineOf(call))), collection: c.name };
    }),
    Route: unary('Route', (call: grpc.ServerUnaryCall<RouteRequest__Output, unknown>) => {
      const c = resolveCollection(call.request.collection);
      return { ...route(c.backend.snapshot(), c.replicas, addressOf, call.request, limits), collection: c.name };
    }),
    SnapshotInfo: unary('SnapshotInfo', (call: grpc.ServerUnaryCall<SnapshotInfoRequest__Output, unknown>) => {
      const c = resolveCollection(call.request.collection);
      return { ...snapshotInfo(c.backend.snapshot(), c.store.url), collection: c.name, ...(liveRecall === undefined ? {} : { live_recall: liveRecall.status() }) };
    }),
    ShardDetails: unary('ShardDetails', (call: grpc.ServerUnaryCall<ShardDetailsRequest__Output, unknown>) => {
      const c = resolveCollection(call.request.collection);
      return { ...shardDetails(c.backend.snapshot(), c.replicas, addressOf, config.replication), collection: c.name };
    }),
    Health: unary('Health', () => currentHealth()),
    Refresh: unary('Refresh', async (call: grpc.ServerUnaryCall<RefreshRequest__Output, unknown>) => {
      const o = await refreshCollection(call.request.collection);
      return { run_id: o.runId, previous_run_id: o.previousRunId, changed: o.changed, message: o.message, collection: o.collection };
    }),
  });
  let stopping = false;
  // /readyz: a served run with full coverage (router-health.ts), computed at most once a second.
  const cachedReady = cachedReadiness(() => readinessOfCollections(namedHealths()), 1000);
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
  // The first catalog scan creates the collections; each one's watcher then makes its first load.
  const firstLoad = catalog.scan().then(async () => {
    started = true;
    for (const c of served.values()) firstLoads.add(c.watcher.start(pollIntervalMs));
    await refreshAliases();
    if (!stopping) {
      catalog.start(pollIntervalMs);
      aliasTimer = setInterval(() => void refreshAliases(), pollIntervalMs);
      aliasTimer.unref();
    }
    await Promise.all([...firstLoads]);
  });

  return {
    address: bound.address,
    metricsAddress: metricsServer?.address,
    firstLoad,
    snapshot: () => served.get(defaultCollectionName())?.watcher.current(),
    snapshotOf: (collection: string) => served.get(collection)?.watcher.current(),
    collections: collectionNames,
    metrics,
    refresh,
    health: currentHealth,
    stop: async () => {
      stopping = true;
      clearInterval(membershipTimer);
      catalog.stop();
      clearInterval(aliasTimer);
      for (const c of served.values()) c.watcher.stop();
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

/** One served collection (issue 24): its store, watcher, node views, replica states and backends. */
interface ServedCollection {
  name: string;
  store: ObjectStore;
  /** The node views with this collection's runs only (the poller itself in single-collection mode). */
  views: NodeViewSource;
  replicas: ReplicaState;
  isReady: (nodeId: string, runId: string, dbId: number) => boolean;
  watcher: SnapshotWatcher;
  backend: SearchBackend;
  getBackend: GetBackend;
}

/**
 * A node caller that sends the run key of (`collection`, run) (run-key.ts), so the coalescer
 * never merges two collections' calls and the node searches the right collection's run.
 */
function collectionCaller(caller: NodeCaller | undefined, collection: string): NodeCaller | undefined {
  if (caller === undefined || collection === DEFAULT_COLLECTION) return caller;
  return {
    call: (req, done) => caller.call({ ...req, runId: runKey(collection, req.runId) }, done),
    isConnected: () => caller.isConnected(),
    waitForReady: (deadline, cb) => caller.waitForReady(deadline, cb),
  };
}

/**
 * The collection of a BatchSearch: the batch's; a query may name none or the same one. With no
 * batch collection, the one every naming query agrees on.
 * @throws InvalidQueryError when queries name different collections (one request is answered from one collection).
 */
function batchCollection(req: BatchSearchRequest__Output): string {
  const named = new Set(req.queries.map((q) => q.collection).filter((c) => c !== ''));
  if (req.collection !== '') named.add(req.collection);
  if (named.size > 1) {
    throw new InvalidQueryError(`a BatchSearch is answered from one collection, but it names ${named.size}: ${listNames([...named].map((n) => quoteInput(n)))}`);
  }
  return [...named][0] ?? '';
}

/** This router process's id for run leases: host, pid and a random suffix (unique per start). */
function routerInstanceId(): string {
  return `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
}
