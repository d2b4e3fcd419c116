/**
 * Live recall (issue 24): the router samples a fraction of the queries it answered and re-runs
 * each, off the request path, as an EXACT search over every shard of the same run (ShardQuery
 * `exact`: the nodes' low-priority lane, exact-search-lane.ts), then records the recall@k of the
 * user's answer against that true top-k (live-recall-window.ts) and exports it beside the
 * build-time figure of the same (num_probes, ef).
 *
 * What keeps it off the user's path:
 * - {@link LiveRecall.offer} is called after a query was answered, is synchronous, O(1) apart from
 *   copying the answer's ids, and never throws; the reference search starts on a later turn of
 *   the event loop (setImmediate) and its promise is never awaited by a request;
 * - at most `maxPerSecond` samples a second (token bucket) and `maxInFlight` reference searches
 *   at once; a sample beyond either is dropped (counted by reason), never queued;
 * - reference calls go straight to each node's client, not through the coalescer (node-call-
 *   coalescer.ts), so they never share or hold up a user query's call, never count in the
 *   hedge / ejection statistics, and a node refuses them (RESOURCE_EXHAUSTED: the sample is
 *   dropped as `node_busy`) while user searches wait for its admission.
 * A sample is dropped when the run it was answered from is no longer served when its reference
 * ends, or a shard has no ready replica or fails.
 */
import * as grpc from '@grpc/grpc-js';
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { errorMessage } from '../common/errors.ts';
import { describeGrpcError, isGrpcError } from '../common/grpc-status.ts';
import { unpackHits } from '../common/packed-hits.ts';
import type { ShardNodeClient } from '../common/proto.ts';
import type { LiveRecallStatus } from '../common/proto-gen/shardfleet/v1/LiveRecallStatus.ts';
import type { SearchResponse } from '../common/proto-gen/shardfleet/v1/SearchResponse.ts';
import type { SearchShardsResponse__Output } from '../common/proto-gen/shardfleet/v1/SearchShardsResponse.ts';
import { mergeTopK, type ScoredHit } from '../common/topk-merge.ts';
import { ConfigValidationError } from '../common/errors.ts';
import { TokenBucket } from './rate-limiter.ts';
import type { RouterSnapshot } from './router-snapshot.ts';
import { buildRecallOf, DEFAULT_RECALL_WINDOW, recallAtK, RecallWindow, type FilterClass, type RecallGroupKey, type RecallWindowOptions } from './live-recall-window.ts';

import { DEFAULT_COLLECTION } from '../common/catalog/collection-name.ts';
export { DEFAULT_LIVE_RECALL_FRACTION, DEFAULT_LIVE_RECALL_MAX_PER_SECOND } from './live-recall-defaults.ts';
/** Reference searches in flight at once (a router's share of every node's one-at-a-time lane). */
export const DEFAULT_LIVE_RECALL_IN_FLIGHT = 1;
/** Deadline of a reference search's node calls, ms. */
export const DEFAULT_LIVE_RECALL_TIMEOUT_MS = 30_000;

/** Why a sampled (or offered) query was not measured: the `reason` label. */
export type SkipReason =
  /** over `--live-recall-max-per-second` */
  | 'rate'
  /** `maxInFlight` reference searches were running */
  | 'in_flight'
  /** a node refused the exact search (its low-priority lane was busy or user searches waited) */
  | 'node_busy'
  /** a node call failed, or a shard answered with an error */
  | 'node_error'
  /** a shard of the run had no ready replica */
  | 'no_replica'
  /** the run was swapped out before the reference ended */
  | 'run_swapped'
  /** no row matches the query (its filter): recall is not defined */
  | 'no_reference';

/** Live recall settings (RouterConfig `liveRecall`). */
export interface LiveRecallOptions {
  /** Fraction of answered queries sampled, [0, 1] (0 = off); `--live-recall-fraction`. */
  fraction: number;
  /** Most samples a second, > 0; `--live-recall-max-per-second`. */
  maxPerSecond: number;
  /** Reference searches at once, >= 1 (default {@link DEFAULT_LIVE_RECALL_IN_FLIGHT}). */
  maxInFlight?: number;
  /** Deadline of a reference search, ms (default {@link DEFAULT_LIVE_RECALL_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** The sliding window (default {@link DEFAULT_RECALL_WINDOW}). */
  window?: Partial<RecallWindowOptions>;
}

/** What the sampler needs from the router. */
export interface LiveRecallDeps {
  /** The run `collection` serves now (to drop samples of a run swapped out); undefined when it is no longer served. */
  current(collection: string): RouterSnapshot | undefined;
  /** The node to ask for shard `dbId` of `snapshot` of `collection`: a ready replica, or undefined when none is. */
  nodeFor(collection: string, snapshot: RouterSnapshot, dbId: number): string | undefined;
  /** The gRPC client of a node (undefined when it left). */
  client(nodeId: string): ShardNodeClient | undefined;
  registry: Registry;
  log: Logger;
  /** [0, 1) uniform random numbers (default Math.random). */
  random?: () => number;
  /** Clock of the window, ms (default Date.now). */
  now?: () => number;
}

/** One answered query, as the search path offers it. */
export interface AnsweredQuery {
  /** The snapshot the query was answered from. */
  snapshot: RouterSnapshot;
  /** The query vector bytes (little-endian float32) as received. */
  queryBytes: Buffer;
  topK: number;
  /** The compiled filter as JSON (ShardQuery.filter), undefined = none. */
  filter?: string;
  /** The resolved num_probes (0 = the run's default) and whether the request named its shards. */
  numProbes: number;
  shardIdsGiven: boolean;
  /** The ef the shards searched with (0 = the run's ef_search). */
  ef: number;
  response: SearchResponse;
}

/** An answered query of a named collection, as {@link LiveRecall.offer} takes it. */
export interface CollectionQuery extends AnsweredQuery {
  /** The served collection that answered (the `collection` label; "default" in single-collection mode). */
  collection: string;
}

/** Where the search path offers answered queries (Search and every BatchSearch query). */
export interface LiveRecallSink {
  /** Offers one answered query; synchronous and never throws (see the module comment). */
  offer(query: AnsweredQuery): void;
}

/** The metrics of live recall, on the router's registry. */
interface LiveRecallMetrics {
  samples: Counter<'outcome' | 'reason'>;
  referenceSeconds: Histogram;
}

const LABELS = ['collection', 'num_probes', 'filter'] as const;

/** The live recall sampler of one router; see the module comment. */
export class LiveRecall {
  readonly fraction: number;
  readonly maxPerSecond: number;
  readonly maxInFlight: number;
  readonly timeoutMs: number;
  private readonly bucket: TokenBucket;
  private readonly window: RecallWindow;
  private readonly metrics: LiveRecallMetrics;
  private readonly random: () => number;
  private readonly now: () => number;
  private inFlight = 0;
  private measured = 0;
  private readonly skipped = new Map<SkipReason, number>();
  private readonly running = new Set<Promise<void>>();
  private readonly calls = new Set<grpc.ClientUnaryCall>();
  private stopped = false;

  /**
   * Registers the metrics `shardfleet_router_live_recall{collection,num_probes,filter}`,
   * `shardfleet_router_build_recall{...}` (build-time figure of the same samples),
   * `shardfleet_router_live_recall_window_samples{...}`,
   * `shardfleet_router_live_recall_samples_total{outcome,reason}` and
   * `shardfleet_router_live_recall_reference_seconds` on `deps.registry`.
   * @throws ConfigValidationError naming `--live-recall-fraction` / `--live-recall-max-per-second`
   *   for a fraction outside [0, 1] or a rate that is not > 0; RangeError for other bounds.
   */
  constructor(
    options: LiveRecallOptions,
    private readonly deps: LiveRecallDeps,
  ) {
    validateLiveRecall(options);
    this.fraction = options.fraction;
    this.maxPerSecond = options.maxPerSecond;
    this.maxInFlight = options.maxInFlight ?? DEFAULT_LIVE_RECALL_IN_FLIGHT;
    if (!Number.isSafeInteger(this.maxInFlight) || this.maxInFlight < 1) throw new RangeError(`live recall in-flight bound must be an integer >= 1, got ${this.maxInFlight}`);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_LIVE_RECALL_TIMEOUT_MS;
    this.bucket = new TokenBucket({ ratePerSecond: this.maxPerSecond, burst: Math.max(1, Math.ceil(this.maxPerSecond)) });
    this.window = new RecallWindow({ ...DEFAULT_RECALL_WINDOW, ...options.window });
    this.random = deps.random ?? Math.random;
    this.now = deps.now ?? Date.now;
    this.metrics = this.register(deps.registry);
  }

  /** Offers one answered query of `query.collection`; synchronous and never throws (see the module comment). */
  offer(query: CollectionQuery): void {
    try {
      if (this.stopped || this.fraction === 0 || !(this.random() < this.fraction)) return;
      if (!this.bucket.tryTake(1)) return this.skip('rate');
      if (this.inFlight >= this.maxInFlight) return this.skip('in_flight');
      this.inFlight++;
      const returned = (query.response.results ?? []).flatMap((h) => (h.id === undefined ? [] : [h.id]));
      // A later turn of the event loop, outside the request's trace context (the reference is no
      // part of the user's request).
      const run = new Promise<void>((resolve) => context.with(ROOT_CONTEXT, () => setImmediate(resolve)))
        .then(() => this.measure(query, returned))
        .catch((err: unknown) => {
          this.deps.log.warn({ err: errorMessage(err) }, 'live recall sample failed');
          this.skip('node_error');
        })
        .finally(() => {
          this.inFlight--;
          this.running.delete(run);
        });
      this.running.add(run);
    } catch (err) {
      this.deps.log.warn({ err: errorMessage(err) }, 'live recall could not take a sample');
    }
  }

  /** The figures for SnapshotInfo (`live_recall`) and `shardfleet status`. */
  status(): LiveRecallStatus {
    const groups = this.window.summary(this.now());
    return {
      fraction: this.fraction,
      max_per_second: this.maxPerSecond,
      window_samples: this.window.options.maxSamples,
      window_seconds: Math.round(this.window.options.windowMs / 1000),
      measured: this.measured,
      skipped: Object.fromEntries(this.skipped),
      groups: groups.map((g) => ({
        collection: g.collection,
        num_probes: g.numProbes,
        filter: g.filter,
        samples: g.samples,
        live_recall: g.liveRecall,
        has_build_recall: g.buildRecall !== undefined,
        build_recall: g.buildRecall ?? 0,
        build_samples: g.buildSamples,
      })),
    };
  }

  /** Stops sampling, cancels the reference calls in flight and waits for their samples to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const call of this.calls) call.cancel();
    await Promise.allSettled([...this.running]);
  }

  /** The reference search of one sample and its recording. */
  private async measure(q: CollectionQuery, returned: readonly string[]): Promise<void> {
    const { snapshot } = q;
    const runId = snapshot.manifest.run_id;
    if (this.deps.current(q.collection)?.manifest.run_id !== runId) return this.skip('run_swapped');
    const byNode = new Map<string, number[]>();
    for (const { db_id: dbId, vector_count: count } of snapshot.manifest.shards) {
      if (count === 0) continue;
      const node = this.deps.nodeFor(q.collection, snapshot, dbId);
      if (node === undefined) return this.skip('no_replica');
      const list = byNode.get(node) ?? [];
      list.push(dbId);
      byNode.set(node, list);
    }
    const started = performance.now();
    const deadline = Date.now() + this.timeoutMs;
    const answers = await Promise.allSettled(
      [...byNode].map(([node, shardIds]) =>
        this.exactCall(node, {
          run_id: runId,
          // The wire's collection: '' for the default one (as router-server.ts's node callers send it).
          collection: q.collection === DEFAULT_COLLECTION ? '' : q.collection,
          queries: [{ query: q.queryBytes, top_k: q.topK, shard_ids: shardIds, include_payload: false, include_vector: false, filter: q.filter ?? '', exact: true }],
        }, deadline),
      ),
    );
    const lists: ScoredHit[][] = [];
    for (const a of answers) {
      if (a.status === 'rejected') {
        const busy = isGrpcError(a.reason) && a.reason.code === grpc.status.RESOURCE_EXHAUSTED;
        if (!busy) this.deps.log.debug({ run_id: runId, err: describeGrpcError(a.reason) }, 'live recall reference call failed');
        return this.skip(this.deps.current(q.collection)?.manifest.run_id !== runId ? 'run_swapped' : busy ? 'node_busy' : 'node_error');
      }
      if (a.value.run_id !== runId) return this.skip('run_swapped');
      for (const r of a.value.shards) {
        if (r.error !== '') return this.skip(this.deps.current(q.collection)?.manifest.run_id !== runId ? 'run_swapped' : 'node_error');
        lists.push(unpackHits(r));
      }
    }
    if (this.deps.current(q.collection)?.manifest.run_id !== runId) return this.skip('run_swapped');
    const ties = snapshot.manifest.format === 'shardyfusion' ? 'list-order' : 'id';
    const exact = mergeTopK(lists, q.topK, ties).map((h) => h.id);
    const recall = recallAtK(returned, exact, q.topK);
    if (recall === undefined) return this.skip('no_reference');
    const filtered = q.filter !== undefined && q.filter !== '';
    const m = snapshot.manifest;
    const probes = q.shardIdsGiven ? 0 : Math.min(m.sharding.num_dbs, q.numProbes === 0 ? m.sharding.num_probes : q.numProbes);
    const key: RecallGroupKey = {
      collection: q.collection,
      numProbes: q.shardIdsGiven ? 'shard_ids' : String(probes),
      filter: (filtered ? 'filtered' : 'none') satisfies FilterClass,
    };
    const buildRecall = buildRecallOf(m, probes, q.ef, filtered, q.shardIdsGiven);
    this.window.add(key, { at: this.now(), recall, ...(buildRecall === undefined ? {} : { buildRecall }) });
    this.measured++;
    this.metrics.samples.inc({ outcome: 'measured', reason: '' });
    this.metrics.referenceSeconds.observe((performance.now() - started) / 1000);
  }

  /** One exact SearchShards call, straight to the node's client (not coalesced with user calls). */
  private exactCall(nodeId: string, request: Parameters<ShardNodeClient['SearchShards']>[0], deadline: number): Promise<SearchShardsResponse__Output> {
    const client = this.deps.client(nodeId);
    if (client === undefined) return Promise.reject(new Error(`node ${nodeId} left the membership`));
    if (this.stopped) return Promise.reject(new Error('the router is stopping'));
    return new Promise((resolve, reject) => {
      const call = client.SearchShards(request, new grpc.Metadata(), { deadline }, (err, res) => {
        this.calls.delete(call);
        if (err || !res) reject(err ?? new Error('empty answer'));
        else resolve(res);
      });
      this.calls.add(call);
    });
  }

  private skip(reason: SkipReason): void {
    this.skipped.set(reason, (this.skipped.get(reason) ?? 0) + 1);
    this.metrics.samples.inc({ outcome: 'skipped', reason });
  }

  private register(registry: Registry): LiveRecallMetrics {
    const registers = [registry];
    const window = this.window;
    const now = this.now;
    new Gauge({
      name: 'shardfleet_router_live_recall',
      help: 'Live recall@k: mean over the sliding window of sampled queries\' recall@k against an exact search over every shard of the same run, by collection, effective num_probes and filter class (none / filtered)',
      labelNames: LABELS,
      registers,
      collect() {
        this.reset();
        for (const g of window.summary(now())) this.set({ collection: g.collection, num_probes: g.numProbes, filter: g.filter }, g.liveRecall);
      },
    });
    new Gauge({
      name: 'shardfleet_router_build_recall',
      help: 'Build-time recall (manifest search_recall, else the routing recall curve) of the same sampled queries\' (num_probes, ef), averaged like shardfleet_router_live_recall; absent for samples without a build-time figure (filtered queries)',
      labelNames: LABELS,
      registers,
      collect() {
        this.reset();
        for (const g of window.summary(now())) if (g.buildRecall !== undefined) this.set({ collection: g.collection, num_probes: g.numProbes, filter: g.filter }, g.buildRecall);
      },
    });
    new Gauge({
      name: 'shardfleet_router_live_recall_window_samples',
      help: 'Samples in the live recall sliding window, by collection, num_probes and filter class',
      labelNames: LABELS,
      registers,
      collect() {
        this.reset();
        for (const g of window.summary(now())) this.set({ collection: g.collection, num_probes: g.numProbes, filter: g.filter }, g.samples);
      },
    });
    return {
      samples: new Counter({
        name: 'shardfleet_router_live_recall_samples_total',
        help: 'Live recall samples: outcome measured, or skipped with a reason (rate, in_flight, node_busy, node_error, no_replica, run_swapped, no_reference)',
        labelNames: ['outcome', 'reason'],
        registers,
      }),
      referenceSeconds: new Histogram({
        name: 'shardfleet_router_live_recall_reference_seconds',
        help: 'Time of one live recall reference (exact search over every shard), seconds',
        buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers,
      }),
    };
  }
}

/**
 * Checks live recall settings.
 * @throws ConfigValidationError naming `--live-recall-fraction` for a fraction outside [0, 1] and
 *   `--live-recall-max-per-second` for a rate that is not a finite number > 0.
 */
export function validateLiveRecall(options: Pick<LiveRecallOptions, 'fraction' | 'maxPerSecond'>): void {
  if (!Number.isFinite(options.fraction) || options.fraction < 0 || options.fraction > 1) {
    throw new ConfigValidationError(`--live-recall-fraction must be a number in [0, 1] (0 = off), got ${options.fraction}`);
  }
  if (!Number.isFinite(options.maxPerSecond) || options.maxPerSecond <= 0) {
    throw new ConfigValidationError(`--live-recall-max-per-second must be a number > 0, got ${options.maxPerSecond}`);
  }
}
