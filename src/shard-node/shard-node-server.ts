/**
 * The shard node process: a gRPC `ShardNode` service (plus grpc.health.v1) over the shards that
 * placement assigns to this node, an optional Prometheus `/metrics` endpoint, and the wiring of
 * the parts:
 *
 * - `node-run-set.ts`: which runs are held, `_CURRENT` polling / `Refresh`, snapshot swap with a
 *   grace period, readiness;
 * - `node-run.ts`: one run's assignment, preloading, lazy loads, failures;
 * - `shard-lease-cache.ts`: the LRU byte-bounded cache of open shards with leases;
 * - `run-search.ts`: batched SearchShards, in pieces that yield to the event loop;
 * - `search-admission.ts`: at most a few SearchShards calls search at once (Status, Refresh and
 *   health are served outside it, so they answer while searches run).
 *
 * Every SearchShards call is bounded before any work: its estimated answer bytes (work-bounds.ts)
 * over `maxResponseBytes` is refused RESOURCE_EXHAUSTED naming `--max-response-bytes`; the real
 * answer is bounded again while packing (payloads are only estimated). A call whose caller gave up
 * (cancelled, or its deadline passed) stops searching at the next piece of work.
 *
 * On start it binds its port (health NOT_SERVING), reads `_CURRENT` and loads its assigned shards;
 * it reports SERVING once every assigned shard of the current run is loaded and verified (or, while
 * a newer run loads, while an older ready run keeps serving). `_CURRENT` is polled every
 * `pollIntervalMs` (the same interval retries the first load while no snapshot exists).
 */
import type * as grpc from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import { bearerAuthInterceptor } from '../common/bearer-auth.ts';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { ConfigValidationError, DeadlineExceededError, InvalidQueryError, ResourceExhaustedError, errorMessage } from '../common/errors.ts';
import { bindServer, newServer, setServing, shutdownServer } from '../common/grpc-server.ts';
import { serverCredentials } from '../common/grpc-security.ts';
import { toServiceError } from '../common/grpc-status.ts';
import type { HealthImplementation } from '../common/health.ts';
import { createMetricsRegistry, startMetricsServer, type MetricsServer } from '../common/metrics/metrics-server.ts';
import type { MembershipView } from '../common/membership/membership.ts';
import type { NodeEndpoint } from '../common/node-list.ts';
import { packHits } from '../common/packed-hits.ts';
import { packLookups } from '../common/packed-lookups.ts';
import { loadShardNodeProto } from '../common/proto.ts';
import { shardNodeWireLimits } from '../common/wire-limits.ts';
import type { SearchShardsRequest__Output } from '../common/proto-gen/shardfleet/v1/SearchShardsRequest.ts';
import type { SearchShardsResponse } from '../common/proto-gen/shardfleet/v1/SearchShardsResponse.ts';
import type { ShardQuery__Output } from '../common/proto-gen/shardfleet/v1/ShardQuery.ts';
import type { ShardResult } from '../common/proto-gen/shardfleet/v1/ShardResult.ts';
import type { ShardNodeHandlers } from '../common/proto-gen/shardfleet/v1/ShardNode.ts';
import type { NodeRefreshRequest__Output } from '../common/proto-gen/shardfleet/v1/NodeRefreshRequest.ts';
import type { StatusRequest__Output } from '../common/proto-gen/shardfleet/v1/StatusRequest.ts';
import type { StatusResponse } from '../common/proto-gen/shardfleet/v1/StatusResponse.ts';
import type { ReaderProcessConfig } from '../common/reader-config.ts';
import { resolveRequestLimits, type RequestLimits } from '../common/request-limits.ts';
import { DEFAULT_COLLECTION } from '../common/catalog/collection-name.ts';
import { createNodeMetrics } from './node-metrics.ts';
import { NodeCollections } from './node-collections.ts';
import { CollectionCatalog, checkCatalogOptions } from '../common/catalog/collection-catalog.ts';
import type { NodeRun } from './node-run.ts';
import { prepareQueries, searchRun, type ShardOutcome } from './run-search.ts';
import { checkLookups, lookupRun, type LookupOutcome } from './run-lookup.ts';
import { ShardLeaseCache } from './shard-lease-cache.ts';
import { DEFAULT_SEARCH_CALLS, SearchAdmission } from './search-admission.ts';
import { ExactSearchLane, ExactSearchRefusedError, MAX_EXACT_QUERIES } from './exact-search-lane.ts';
import { checkAnswerBytes, formatBytes, hitBytes, MAX_RESPONSE_BYTES_FLAG, resolveMaxResponseBytes } from '../common/work-bounds.ts';

export { MAX_TOP_K } from './run-search.ts';

const SERVICE = 'shardfleet.v1.ShardNode';

/** Default grace period of a superseded run (and of a shard moved away by placement), ms. */
export const DEFAULT_RUN_GRACE_MS = 60_000;
/** Default time graceful shutdown waits for in-flight calls, ms. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
/** Default time a stopping node keeps serving the shards whose new owners are not ready yet, ms. */
export const DEFAULT_LEAVE_TIMEOUT_MS = 120_000;

/** Shard node configuration. Give either `nodes` (static) or `membership`. */
export interface ShardNodeConfig extends Omit<ReaderProcessConfig, 'nodes'> {
  /** This node's id in the placement; must appear in `nodes` when that is given. */
  nodeId: string;
  /** Local folder for downloaded shards (`<cacheDir>/<run_id>/db=00007/`). */
  cacheDir: string;
  /** Static node list. */
  nodes?: NodeEndpoint[];
  /** Dynamic node list (e.g. DNS); overrides `nodes`. */
  membership?: MembershipView;
  /** Byte budget of the shard cache; 0 = unbounded (default). Assigned shards are never evicted. */
  maxCacheBytes?: number;
  /** How long a superseded run stays loaded after the new current run is ready, ms (default 60,000). */
  runGraceMs?: number;
  /** How long a shard moved away by a membership change stays loaded, ms (default: runGraceMs). */
  releaseGraceMs?: number;
  /** How long graceful shutdown waits for in-flight calls before cancelling them, ms (default 10,000). */
  drainTimeoutMs?: number;
  /**
   * How long {@link ShardNodeHandle.stop} keeps serving, draining, the shards whose new owners
   * are not ready yet (as the routers report), before it stops accepting calls, ms (default
   * 120,000; 0 = stop at once).
   */
  leaveTimeoutMs?: number;
  /** `host:port` for the Prometheus `/metrics` endpoint (port 0 = any free port); none when unset. */
  metricsListen?: string;
  /** Assigned shards downloaded/opened at once (default 2). */
  loadConcurrency?: number;
  /** Back-off after a shard's first failed load, ms, doubling per failure up to 5 min (default: pollIntervalMs). */
  retryBaseMs?: number;
  /**
   * Bearer token every ShardNode call (SearchShards, Status, Refresh) must carry as
   * `authorization: Bearer <token>`, else UNAUTHENTICATED; the health and reflection services are
   * exempt (probes). Routers send it with `nodeAuthToken`. Unset = the node answers every caller
   * that reaches its port (and logs a warning at start unless `tls.requireClientCert` is set).
   */
  authToken?: string;
  /**
   * Request limits (request-limits.ts: filter length / depth / terms / `in` values, keys per
   * lookup, key bytes, run leases per Status); unset fields keep their defaults. Set the same
   * values as the routers' (the CLI flags are shared).
   */
  requestLimits?: Partial<RequestLimits>;
  /**
   * Largest estimated answer of one SearchShards call, bytes (default 64 MiB, see
   * work-bounds.ts); CLI `--max-response-bytes`. Larger calls fail RESOURCE_EXHAUSTED before any
   * search. Routers should use the same value (they split and refuse work by it).
   */
  maxResponseBytes?: number;
  /** SearchShards calls that search at once; later ones queue (default {@link DEFAULT_SEARCH_CALLS}). */
  searchConcurrency?: number;
  /**
   * `--collections`: serve only these collections under a catalog root (issue 24; see
   * src/common/catalog/collection-catalog.ts). Unset: every child prefix holding `_CURRENT`, or
   * the store itself when it holds `_CURRENT` (single-collection mode, as before).
   */
  collections?: string[];
  /** `--max-collections` (default 64). */
  maxCollections?: number;
}

/** A running shard node. */
export interface ShardNodeHandle {
  /** Bound `host:port`. */
  address: string;
  /** Bound `/metrics` `host:port`, when `metricsListen` was given. */
  metricsAddress: string | undefined;
  /** The node's Prometheus registry. */
  metrics: Registry;
  /** Resolves once the first `_CURRENT` read finished and, when it found a run, that run's assigned shards loaded or failed. */
  firstLoad: Promise<void>;
  /** The node's status (what the Status RPC returns). */
  status(): StatusResponse;
  /** Re-reads `_CURRENT` now (what the Refresh RPC does). */
  refresh(): Promise<StatusResponse>;
  /**
   * Graceful stop: first leaves placement (Status reports `draining`) and keeps serving until
   * every router has the new owners of this node's shards ready, at most `leaveTimeoutMs`; then
   * NOT_SERVING, stops accepting calls, waits up to `drainTimeoutMs` for in-flight calls, closes
   * every shard (keeping the cached files for a restart) and the store.
   * @param options.leave false: skip leaving placement (the whole cluster is stopping, e.g.
   *   Ctrl-C of `shardfleet local`, SIGINT); default true (SIGTERM, a pod leaving).
   */
  stop(options?: { leave?: boolean }): Promise<void>;
}

/**
 * One (query, shard) outcome as a `ShardResult` with packed hits (see packed-hits.ts): payloads
 * and vectors only when `query` asked for them. A shard whose hits cannot be packed (a hit
 * without its stored vector) is reported in `error`, never sent half-filled.
 */
function packOutcome(o: ShardOutcome, query: ShardQuery__Output): ShardResult {
  const result: ShardResult = { db_id: o.dbId, query_index: o.queryIndex, error: o.error };
  if (o.error !== '') return result;
  try {
    return { ...result, ...packHits(o.hits, query.include_payload, query.include_vector) };
  } catch (err) {
    return { ...result, error: `shard ${o.dbId}: ${errorMessage(err)}` };
  }
}

/** Longest run of packing between two turns of the event loop, ms. */
const PACK_SLICE_MS = 2;

/** Bytes of a packed result on the wire, roughly: ids, scores, payloads, vectors, framing. */
function packedBytes(r: ShardResult): number {
  let bytes = 16 + (r.vectors?.length ?? 0);
  for (const id of r.ids ?? []) bytes += id.length + 10;
  for (const p of r.payloads_json ?? []) bytes += p.length + 4;
  return bytes;
}

/**
 * Packs `outcomes` (see packOutcome), yielding to the event loop whenever packing has run for
 * {@link PACK_SLICE_MS} (one outcome of 1,000 hits with 784-d vectors takes tens of ms).
 * @throws ResourceExhaustedError naming `--max-response-bytes` when the packed answer grows past
 *   `limit` (payloads larger than the estimate); the signal's reason once it is aborted.
 */
async function packAll(outcomes: readonly ShardOutcome[], queries: readonly ShardQuery__Output[], limit: number, signal: AbortSignal): Promise<ShardResult[]> {
  const out: ShardResult[] = [];
  let bytes = 0;
  let slice = performance.now();
  for (let i = 0; i < outcomes.length; i++) {
    if (performance.now() - slice > PACK_SLICE_MS) {
      await yieldToEventLoop();
      signal.throwIfAborted();
      slice = performance.now();
    }
    const r = packOutcome(outcomes[i], queries[outcomes[i].queryIndex]);
    bytes += packedBytes(r);
    if (bytes > limit) {
      throw new ResourceExhaustedError(
        `the answer grew past ${formatBytes(limit)} while packing ${i + 1} of ${outcomes.length} shard results (payloads larger than estimated); ` +
          `the limit per call is ${MAX_RESPONSE_BYTES_FLAG}`,
      );
    }
    out.push(r);
  }
  return out;
}

/**
 * Refuses a SearchShards call whose estimated answer (work-bounds.ts) exceeds `limit`.
 * @throws ResourceExhaustedError naming the estimate, the limit and `--max-response-bytes`.
 */
function checkCallWork(queries: readonly ShardQuery__Output[], dim: number, limit: number): void {
  let bytes = 0;
  let hits = 0;
  let perHit = 0;
  for (const q of queries) {
    if (q.keys.length > 0) continue;
    const each = hitBytes(dim, q.include_vector, q.include_payload);
    const n = q.shard_ids.length * Math.max(0, q.top_k);
    hits += n;
    bytes += n * each;
    perHit = Math.max(perHit, each);
  }
  checkAnswerBytes(
    bytes,
    limit,
    `SearchShards call of ${queries.length} queries`,
    `${hits.toLocaleString('en-US')} hits (shards x top_k) of up to ${perHit.toLocaleString('en-US')} bytes each`,
  );
}

/**
 * Bounds a SearchShards call carrying exact queries (ShardQuery.exact) before any work: exact
 * queries travel alone (no point lookups nor index searches beside them), at most
 * {@link MAX_EXACT_QUERIES} of them. Their cost is then at most the scan of the named shards' rows
 * per query (shards of the run, which the node holds) and their answer is bounded by
 * `--max-response-bytes` like any call's.
 * @throws InvalidQueryError naming the rule broken.
 */
function checkExactCall(queries: readonly ShardQuery__Output[]): void {
  if (queries.some((q) => !q.exact || q.keys.length > 0)) {
    throw new InvalidQueryError('a SearchShards call with an exact query must carry only exact searches (no point lookups, no index searches)');
  }
  if (queries.length > MAX_EXACT_QUERIES) throw new InvalidQueryError(`a SearchShards call may carry at most ${MAX_EXACT_QUERIES} exact queries, got ${queries.length}`);
}

/**
 * An AbortSignal that aborts when `call` is cancelled or its deadline passes, with a
 * DeadlineExceededError; `dispose()` clears its timer.
 */
function callSignal(call: grpc.ServerUnaryCall<unknown, unknown>): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const stop = (why: string): void => {
    if (!ac.signal.aborted) ac.abort(new DeadlineExceededError(`search stopped: ${why}`, []));
  };
  const onCancel = (): void => stop('the caller cancelled the call or its deadline passed');
  if (call.cancelled) onCancel();
  else call.once('cancelled', onCancel);
  const d = call.getDeadline();
  const deadline = d instanceof Date ? d.getTime() : Number(d);
  let timer: NodeJS.Timeout | undefined;
  if (Number.isFinite(deadline)) timer = setTimeout(() => stop('the call deadline passed'), Math.max(0, deadline - Date.now()));
  return {
    signal: ac.signal,
    dispose: () => {
      clearTimeout(timer);
      call.removeListener('cancelled', onCancel);
    },
  };
}

/** One (lookup query, shard) outcome as a `ShardResult` with packed lookups (packed-lookups.ts). */
function packLookupOutcome(o: LookupOutcome, query: ShardQuery__Output): ShardResult {
  const result: ShardResult = { db_id: o.dbId, query_index: o.queryIndex, error: o.error };
  if (o.error !== '') return result;
  try {
    return { ...result, ...packLookups(o.rows, query.include_payload, query.include_vector) };
  } catch (err) {
    return { ...result, error: `shard ${o.dbId}: ${errorMessage(err)}` };
  }
}

/** Resolves a non-negative integer option. @throws ConfigValidationError naming the option. */
function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) throw new ConfigValidationError(`${name} must be a non-negative integer, got ${value}`);
  return value;
}

/**
 * Starts a shard node.
 * @throws ConfigValidationError when neither `nodes` nor `membership` is given, `nodeId` is not in a
 *   static `nodes` list, a numeric option is negative, or `listen` / `metricsListen` is malformed;
 *   the bind error when a port is taken.
 */
export async function startShardNode(config: ShardNodeConfig): Promise<ShardNodeHandle> {
  const { store, log } = config;
  if (config.membership === undefined) {
    if (config.nodes === undefined) throw new ConfigValidationError('a shard node needs a node list (nodes) or a membership source');
    if (!config.nodes.some((n) => n.id === config.nodeId)) {
      throw new ConfigValidationError(`node id "${config.nodeId}" is not in the node list (${config.nodes.map((n) => n.id).join(', ')})`);
    }
  }
  const pollIntervalMs = nonNegative('pollIntervalMs', config.pollIntervalMs, 5000);
  const maxCacheBytes = nonNegative('maxCacheBytes', config.maxCacheBytes, 0);
  const runGraceMs = nonNegative('runGraceMs', config.runGraceMs, DEFAULT_RUN_GRACE_MS);
  const releaseGraceMs = nonNegative('releaseGraceMs', config.releaseGraceMs, runGraceMs);
  const drainTimeoutMs = nonNegative('drainTimeoutMs', config.drainTimeoutMs, DEFAULT_DRAIN_TIMEOUT_MS);
  const leaveTimeoutMs = nonNegative('leaveTimeoutMs', config.leaveTimeoutMs, DEFAULT_LEAVE_TIMEOUT_MS);
  const loadConcurrency = Math.max(1, nonNegative('loadConcurrency', config.loadConcurrency, 2));
  const retryBaseMs = nonNegative('retryBaseMs', config.retryBaseMs, Math.max(1000, pollIntervalMs));
  const limits = resolveRequestLimits(config.requestLimits);
  const maxResponseBytes = resolveMaxResponseBytes(config.maxResponseBytes);
  const admission = new SearchAdmission(config.searchConcurrency ?? DEFAULT_SEARCH_CALLS);
  const exactLane = new ExactSearchLane(admission);

  let nodes: readonly NodeEndpoint[] = config.membership?.current() ?? config.nodes ?? [];
  const registry = createMetricsRegistry('shard-node', { node_id: config.nodeId });
  const metrics = createNodeMetrics(registry);
  metrics.cacheMaxBytes.set(maxCacheBytes);

  checkCatalogOptions({ collections: config.collections, maxCollections: config.maxCollections });
  // The collections are created below; the cache reports changes to them.
  let runSet: NodeCollections | undefined;
  const cache = new ShardLeaseCache({
    maxBytes: maxCacheBytes,
    log,
    onChange: (bytes) => {
      metrics.cacheBytes.set(bytes);
      runSet?.scheduleReconcile();
    },
    onEvict: () => metrics.evictions.inc(),
  });

  const proto = loadShardNodeProto();
  const server = newServer({
    maxReceiveMessageBytes: config.maxMessageBytes,
    maxSendMessageBytes: config.maxMessageBytes,
    interceptors: config.authToken === undefined ? [] : [bearerAuthInterceptor(config.authToken)],
    wireLimits: shardNodeWireLimits(),
    http2: config.http2,
  });
  let health: HealthImplementation | undefined; // set once bound
  let stopped = false;
  const runs = new NodeCollections(
    {
      cacheDir: config.cacheDir,
      log,
      metrics,
      cache,
      loadConcurrency,
      retryBaseMs,
      nodeId: config.nodeId,
      replication: config.replication,
      nodes: () => nodes,
      runGraceMs,
      releaseGraceMs,
    },
    limits,
    (serving) => {
      if (health !== undefined && !stopped) setServing(health, [SERVICE], serving);
    },
    log,
  );
  const catalog = new CollectionCatalog({
    store,
    collections: config.collections,
    maxCollections: config.maxCollections,
    log,
    onChange: (change) => runs.apply(change),
  });
  runSet = runs;

  const status = (): StatusResponse => ({
    node_id: config.nodeId,
    // runs.status() also numbers the answer (status_seq) and says whether the node drains.
    ...runs.status(),
    cache_bytes: cache.bytes,
    max_cache_bytes: maxCacheBytes,
  });

  const handlers: ShardNodeHandlers = {
    SearchShards: (call: grpc.ServerUnaryCall<SearchShardsRequest__Output, SearchShardsResponse>, callback: grpc.sendUnaryData<SearchShardsResponse>) => {
      const { signal, dispose } = callSignal(call);
      handleSearch(call.request, signal)
        .then(
          (res) => callback(null, res),
          (err: unknown) => {
            if (err instanceof ExactSearchRefusedError) metrics.searchCallsRefused.inc({ reason: err.reason });
            else if (err instanceof ResourceExhaustedError) metrics.searchCallsRefused.inc({ reason: 'response_bytes' });
            callback(toServiceError(err));
          },
        )
        .finally(dispose);
    },
    Status: (call, callback) => {
      try {
        renewLeases(call.request);
      } catch (err) {
        callback(toServiceError(err));
        return;
      }
      callback(null, status());
    },
    Refresh: (call, callback) => {
      try {
        renewLeases(call.request);
      } catch (err) {
        callback(toServiceError(err));
        return;
      }
      catalog.scan().then(() => runs.refresh(true)).then(
        () => callback(null, status()),
        (err: unknown) => callback(toServiceError(err)),
      );
    },
  };
  server.addService(proto.shardfleet.v1.ShardNode.service, handlers);

  /**
   * Records the run leases a router's Status / Refresh carries (see run-leases.ts), deduplicated,
   * and what it says about moving shards (shard-keep-leases.ts).
   * @throws InvalidQueryError for more than `maxRunLeases` distinct runs (nothing recorded).
   */
  function renewLeases(req: StatusRequest__Output | NodeRefreshRequest__Output): void {
    if (req.router_id === '') return;
    runs.renewLeases({
      routerId: req.router_id,
      ttlMs: req.lease_ttl_ms,
      leases: req.run_leases.map((l) => ({ collection: l.collection, runId: l.run_id, manifestKey: l.manifest_key })),
      keep: req.keep_shards.map((k) => ({ collection: k.collection, runId: k.run_id, dbIds: k.db_ids })),
      draining: req.draining_nodes,
      seenSeq: Number(req.seen_status_seq),
    });
  }

  /**
   * Answers one SearchShards call: bounded first (checkCallWork), then admitted (at most
   * `searchConcurrency` calls search at once), searched in pieces that stop once `signal` aborts.
   */
  async function handleSearch(req: SearchShardsRequest__Output, signal: AbortSignal): Promise<SearchShardsResponse> {
    const run = runs.resolve(req.collection, req.run_id);
    checkCallWork(req.queries, run.manifest.index.dim, maxResponseBytes);
    if (req.queries.some((q) => q.exact)) {
      // Exact (live recall reference) searches: bounded, then the low-priority lane, never
      // the user searches' admission (exact-search-lane.ts).
      checkExactCall(req.queries);
      return exactLane.run(() => searchAndPack(run, req, signal));
    }
    metrics.searchCallsInProgress.inc();
    try {
      return await admission.run(signal, () => searchAndPack(run, req, signal));
    } finally {
      metrics.searchCallsInProgress.dec();
    }
  }

  async function searchAndPack(run: NodeRun, req: SearchShardsRequest__Output, signal: AbortSignal): Promise<SearchShardsResponse> {
    const searchIdx: number[] = [];
    const lookupIdx: number[] = [];
    req.queries.forEach((q, i) => (q.keys.length > 0 ? lookupIdx : searchIdx).push(i));
    if (lookupIdx.length === 0) {
      const outcomes = await searchRun(run, prepareQueries(req.queries, run.manifest.index.dim, run.manifest.index.filter_columns, limits), metrics, signal);
      return { run_id: run.runId, collection: collectionOf(req), shards: await packAll(outcomes, req.queries, maxResponseBytes, signal) };
    }
    // Point lookups (Get / MultiGet), possibly coalesced with searches into one call.
    checkLookups(req.queries, run.manifest.sharding.num_dbs, limits);
    const searches = req.queries.filter((q) => q.keys.length === 0);
    const [searched, looked] = await Promise.all([
      searches.length > 0 ? searchRun(run, prepareQueries(searches, run.manifest.index.dim, run.manifest.index.filter_columns, limits), metrics, signal) : Promise.resolve([]),
      lookupRun(run, req.queries, lookupIdx),
    ]);
    const shards: ShardResult[] = searched.map((o) => {
      const queryIndex = searchIdx[o.queryIndex];
      return packOutcome({ ...o, queryIndex }, req.queries[queryIndex]);
    });
    for (const o of looked) shards.push(packLookupOutcome(o, req.queries[o.queryIndex]));
    return { run_id: run.runId, collection: collectionOf(req), shards };
  }

  /** The collection a SearchShards call was answered from ('' = "default"). */
  function collectionOf(req: SearchShardsRequest__Output): string {
    return req.collection === '' ? DEFAULT_COLLECTION : req.collection;
  }

  let metricsServer: MetricsServer | undefined;
  // /readyz says what health SERVING says (the served run's assigned shards are loaded), with why.
  const readiness = (): { ready: boolean; reason: string } => (stopped ? { ready: false, reason: 'shard node is stopping' } : runs.readiness());
  if (config.metricsListen !== undefined) metricsServer = await startMetricsServer(registry, config.metricsListen, readiness);
  let bound;
  try {
    bound = await bindServer(server, config.listen, [SERVICE], { credentials: serverCredentials(config.tls) });
  } catch (err) {
    await metricsServer?.close();
    throw err;
  }
  health = bound.health;
  log.info(
    { address: bound.address, node_id: config.nodeId, metrics: metricsServer?.address, max_cache_bytes: maxCacheBytes, max_response_bytes: maxResponseBytes },
    'shard node listening',
  );
  if (config.authToken === undefined && !config.tls?.requireClientCert) {
    log.warn(
      { address: bound.address },
      'shard node port is unauthenticated: anyone who can reach it can call SearchShards (hits and payloads), Status and Refresh, ' +
        "bypassing the routers' auth and rate limits; set --auth-token-file here and --node-auth-token-file on the routers, " +
        'or require router client certificates (--tls-require-client-cert), or restrict the port (Helm networkPolicy.enabled)',
    );
  }

  config.membership?.onChange((next) => {
    if (stopped) return;
    nodes = next;
    runs.membershipChanged();
  });

  let pollTimer: NodeJS.Timeout | undefined;
  const poll = (): void => {
    pollTimer = setTimeout(() => {
      void runs.refresh(false).finally(() => {
        if (!stopped) poll();
      });
    }, pollIntervalMs);
  };
  // The first catalog scan creates the collections' run sets, each starting its first refresh.
  const firstLoad = catalog.scan().then(async () => {
    await runs.refresh(false);
    if (!stopped) {
      poll();
      catalog.start(pollIntervalMs);
    }
    return runs.settled();
  });

  return {
    address: bound.address,
    metricsAddress: metricsServer?.address,
    metrics: registry,
    firstLoad,
    status,
    refresh: async () => {
      await catalog.scan();
      await runs.refresh(true);
      return status();
    },
    stop: async (options: { leave?: boolean } = {}) => {
      if (stopped) return;
      if (leaveTimeoutMs > 0 && (options.leave ?? true)) {
        runs.startDraining();
        const released = await runs.whenReleased(leaveTimeoutMs);
        if (released) log.info('left placement: every router has the new owners of this node\'s shards ready');
        else log.warn({ leave_timeout_ms: leaveTimeoutMs }, 'leave timeout: stopping while some routers still need shards of this node (--leave-timeout-ms)');
      }
      if (stopped) return;
      stopped = true;
      clearTimeout(pollTimer);
      catalog.stop();
      setServing(bound.health, [SERVICE], false);
      log.info({ drain_timeout_ms: drainTimeoutMs }, 'shard node stopping: draining in-flight calls');
      await shutdownServer(server, drainTimeoutMs);
      runs.close();
      // Calls cancelled by the drain timeout may still hold leases briefly; do not wait forever.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([cache.closeAll(false), new Promise<void>((resolve) => (timer = setTimeout(resolve, drainTimeoutMs)))]);
      clearTimeout(timer);
      await metricsServer?.close();
      await store.close();
      log.info('shard node stopped');
    },
  };
}
