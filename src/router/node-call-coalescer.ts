/**
 * Coalesced SearchShards calls to ONE shard node, shared by every fan-out of a router.
 *
 * A grpc-js unary call costs the router and the node about 0.3-0.5 ms of CPU whatever it
 * carries, while one more query in a call costs a small fraction of that. So:
 * - idle (fewer than `maxInFlight` calls to the node in flight, nothing queued), a request is
 *   sent at once, alone: no added wait;
 * - while calls are in flight, later requests queue, and are sent together (one call per run)
 *   when an in-flight call ends, when the queue reaches `maxBatchQueries` queries or
 *   `maxBatchBytes` bytes (request plus estimated answer), or when the oldest queued request has
 *   waited as long as this node's p95 call latency (the in-flight call is then a straggler: a
 *   node stuck on one call, e.g. loading a shard on demand, must not hold every later query).
 *
 * Each request keeps its own callback, deadline and cancellation:
 * - the combined call carries the latest deadline of its requests (its callers' deadline), or the
 *   router's own `callTimeoutMs` from the send when that is sooner; a request whose own deadline
 *   passes first is answered DEADLINE_EXCEEDED locally with `expired: true` (the caller's
 *   deadline, never the node's failure: it is not in the call report, see {@link NodeCallReport});
 * - a request whose deadline has already passed when it would be sent (it arrived expired, or the
 *   event loop ran its expiry timer late) is answered the same way and never sent;
 * - a call that ends DEADLINE_EXCEEDED once its callers' deadline has passed is reported
 *   `expired` (the callers ran out of time: no verdict on the node), its requests answered with
 *   `expired: true`; only a call cut off by the router's own `callTimeoutMs`, or a
 *   DEADLINE_EXCEEDED before any deadline we gave it (the node's own), is reported `error`;
 * - cancelling a request detaches it (its callback is never called); the gRPC call is cancelled
 *   only once every request in it is cancelled or expired;
 * - the answer is split by `query_index` back to each request, renumbered to its own queries.
 * A node that answers from another run than the call asked for fails the whole call (every
 * request gets the error, and the call report says `error`).
 *
 * Request limits (request-limits.ts): requests are combined into one call only while their point
 * lookups stay within `maxBatchKeys` (key, shard) pairs, the node's per-call allowance for
 * lookups, so combining never makes a call the node refuses. A combined call the node refuses
 * INVALID_ARGUMENT is sent again request by request, so one caller's bad request fails only that
 * caller (a request alone gets the node's INVALID_ARGUMENT).
 */
import * as grpc from '@grpc/grpc-js';
import { context, ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import type { ShardNodeClient } from '../common/proto.ts';
import type { SearchShardsResponse__Output } from '../common/proto-gen/shardfleet/v1/SearchShardsResponse.ts';
import type { ShardQuery } from '../common/proto-gen/shardfleet/v1/ShardQuery.ts';
import type { ShardResult__Output } from '../common/proto-gen/shardfleet/v1/ShardResult.ts';
import { hitBytes } from '../common/work-bounds.ts';
import { LatencyWindow } from './latency-window.ts';
import { splitRunKey } from './run-key.ts';

/** One fan-out's request to a node: queries of ONE run. */
export interface NodeCallRequest {
  /** The run's key (run-key.ts: the run id, prefixed by its collection unless that is the default one). */
  runId: string;
  /** The queries, each with the shards to search on this node. */
  queries: ShardQuery[];
  /** Absolute deadline, ms since epoch. */
  deadline: number;
}

/**
 * The answer to one {@link NodeCallRequest}: the node's results for its queries (`query_index`
 * counts within the request's own `queries`), or why there is none. `expired` = the request's own
 * deadline passed while its call was queued or still running for requests with later deadlines.
 */
export type NodeCallResult =
  | { ok: true; runId: string; shards: ShardResult__Output[] }
  | { ok: false; error: unknown; expired: boolean };

/** Cancels one request: its callback will not be called. Idempotent; a no-op once answered. */
export interface NodeCallHandle {
  cancel(): void;
}

/**
 * One gRPC call the coalescer made (not one request: a call carries one or more).
 * `outcome`: `ok` (the node answered, from the asked run), `error` (RPC error or another run: a
 * verdict on the node, see isNodeFailure), `expired` (DEADLINE_EXCEEDED after its callers'
 * deadline, the latest of its requests', had passed: the callers ran out of time, which says
 * nothing about the node), `cancelled` (every request in it was cancelled or expired first).
 */
export interface NodeCallReport {
  nodeId: string;
  /** From send to end (answer, error or cancellation), ms. */
  ms: number;
  outcome: 'ok' | 'error' | 'expired' | 'cancelled';
  error?: unknown;
  /**
   * Whose deadline the call carried: `callers` (the latest deadline of its requests) or `router`
   * (`callTimeoutMs` from the send, sooner than every caller's).
   */
  deadlineOf: 'callers' | 'router';
  /** Time left to the call's deadline when it was sent, ms (compare with `ms`: event-loop lag). */
  budgetMs: number;
  /** ShardQuery messages the call carried. */
  queries: number;
  /** Requests it carried. */
  requests: number;
}

/** What the fan-out needs of a node: its coalesced calls and its channel state. */
export interface NodeCaller {
  /**
   * Sends (or queues) `request`; `done` is called once, asynchronously, with its answer, unless
   * the request is cancelled first.
   */
  call(request: NodeCallRequest, done: (result: NodeCallResult) => void): NodeCallHandle;
  /** True when the channel is connected (asks it to connect when idle). */
  isConnected(): boolean;
  /** Calls `cb` once the channel is connected or at `deadline` (ms since epoch), whichever is first. */
  waitForReady(deadline: number, cb: () => void): void;
}

/** Coalescing settings. */
export interface CoalescerOptions {
  /** Calls in flight before requests start queuing (>= 1). */
  maxInFlight: number;
  /** Queued queries that send the queue at once, even with calls in flight (>= 1). */
  maxBatchQueries: number;
  /** Queued bytes (requests plus estimated answers) that send the queue at once. */
  maxBatchBytes: number;
  /**
   * Most lookup (key, shard) pairs of requests combined into one call (a request alone may carry
   * more); the shared `maxGetKeys` request limit (`--max-get-keys`).
   */
  maxBatchKeys: number;
  /** Longest hold of a queued request before the node has `minSamples` answered calls, ms. */
  initialHoldMs: number;
  /**
   * The router's own limit on one SearchShards call, ms from its send (undefined = none: a call
   * carries only its callers' deadline). A call cut off by it is the node's failure.
   */
  callTimeoutMs?: number;
  /** Observer of every gRPC call (metrics, outlier ejection). */
  onCall?: (report: NodeCallReport) => void;
}

/** Defaults: 1 call in flight, batches of at most 64 queries or 4 MiB, 20 ms hold before the node's p95 is known. */
export const DEFAULT_COALESCING: CoalescerOptions = { maxInFlight: 1, maxBatchQueries: 64, maxBatchBytes: 4 * 1024 * 1024, maxBatchKeys: 1000, initialHoldMs: 20 };

/**
 * How early a DEADLINE_EXCEEDED may arrive and still be the callers' deadline, ms: Date.now() has
 * whole-ms steps and Node timers may fire up to ~1 ms before a wall-clock deadline.
 */
const DEADLINE_SLACK_MS = 2;

/** Answered calls needed before the node's p95 call latency bounds the hold. */
const MIN_SAMPLES = 10;

interface Item {
  req: NodeCallRequest;
  done: (result: NodeCallResult) => void;
  /** Tracing context of the submitter (the call is sent in its first request's context). */
  ctx: Context;
  bytes: number;
  /** Lookup (key, shard) pairs of the request. */
  keys: number;
  state: 'queued' | 'sent' | 'over';
  timer?: NodeJS.Timeout;
  batch?: Batch;
  /** Index of the request's first query in its call. */
  offset: number;
  shards?: ShardResult__Output[];
  /** Cancelled after it was already answered (a pending local expiry must stay silent). */
  cancelled?: boolean;
}

interface Batch {
  runId: string;
  items: Item[];
  /** Requests still waiting for this call. */
  attached: number;
  sentAt: number;
  /** Deadline of the gRPC call, ms since epoch, and whose it is. */
  deadline: number;
  deadlineOf: 'callers' | 'router';
  /** Time left to `deadline` at the send, ms. */
  budgetMs: number;
  queries: number;
  handle?: grpc.ClientUnaryCall;
  /** The coalescer cancelled the gRPC call (no request left). */
  cancelled: boolean;
}

/** Coalesces the SearchShards calls of one node's client; see the module comment. */
export class NodeCallCoalescer implements NodeCaller {
  private readonly options: CoalescerOptions;
  private queue: Item[] = [];
  /** Requests queued and not cancelled, and their queries and bytes. */
  private queuedCount = 0;
  private queuedQueries = 0;
  private queuedBytes = 0;
  private holdTimer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private closed: string | undefined;
  private readonly latency = new LatencyWindow(100);

  /**
   * @param nodeId the node's id (in reports and error messages).
   * @param client the node's gRPC client; the coalescer does not close it.
   * @param options settings; undefined ones keep {@link DEFAULT_COALESCING}.
   * @throws RangeError when a limit is not a positive integer or initialHoldMs is negative.
   */
  constructor(
    readonly nodeId: string,
    private readonly client: ShardNodeClient,
    options: Partial<CoalescerOptions> = {},
  ) {
    // Options left undefined keep their defaults.
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.options = { ...DEFAULT_COALESCING, ...given };
    for (const key of ['maxInFlight', 'maxBatchQueries', 'maxBatchBytes', 'maxBatchKeys'] as const) {
      const v = this.options[key];
      if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${key} must be an integer >= 1, got ${v}`);
    }
    if (!(this.options.initialHoldMs >= 0)) throw new RangeError(`initialHoldMs must be >= 0, got ${this.options.initialHoldMs}`);
    const timeout = this.options.callTimeoutMs;
    if (timeout !== undefined && !(timeout > 0)) throw new RangeError(`callTimeoutMs must be > 0, got ${timeout}`);
  }

  /** gRPC calls in flight. */
  get callsInFlight(): number {
    return this.inFlight;
  }

  /** Requests waiting in the queue (cancelled ones excluded). */
  get queuedRequests(): number {
    return this.queuedCount;
  }

  /** See {@link NodeCaller.call}. After {@link close}, answers UNAVAILABLE. */
  call(req: NodeCallRequest, done: (result: NodeCallResult) => void): NodeCallHandle {
    const item: Item = { req, done, ctx: context.active(), bytes: estimateBytes(req.queries), keys: lookupPairs(req.queries), state: 'queued', offset: 0 };
    const handle: NodeCallHandle = {
      cancel: () => {
        item.cancelled = true;
        this.detach(item);
      },
    };
    if (this.closed !== undefined) {
      const reason = this.closed;
      item.state = 'over';
      queueMicrotask(() => done({ ok: false, error: statusError(grpc.status.UNAVAILABLE, reason), expired: false }));
      return handle;
    }
    if (Date.now() >= req.deadline) {
      this.expireUnsent(item, `deadline passed before its call to node ${this.nodeId} was sent`);
      return handle;
    }
    if (this.inFlight < this.options.maxInFlight && this.queuedCount === 0) {
      this.send(req.runId, [item]);
      return handle;
    }
    this.queue.push(item);
    this.queuedCount += 1;
    this.queuedQueries += req.queries.length;
    this.queuedBytes += item.bytes;
    this.armExpiry(item);
    if (this.queuedQueries >= this.options.maxBatchQueries || this.queuedBytes >= this.options.maxBatchBytes) this.flush();
    else this.holdTimer ??= setTimeout(() => this.flush(), this.holdMs());
    return handle;
  }

  /** See {@link NodeCaller.isConnected}. */
  isConnected(): boolean {
    return this.client.getChannel().getConnectivityState(true) === grpc.connectivityState.READY;
  }

  /** See {@link NodeCaller.waitForReady}. */
  waitForReady(deadline: number, cb: () => void): void {
    this.client.waitForReady(deadline, () => cb());
  }

  /**
   * Stops coalescing for a node that left the membership: queued requests are answered
   * UNAVAILABLE with `reason`, later ones too. Calls in flight end as their channel does.
   */
  close(reason = `node ${this.nodeId} left the node membership`): void {
    this.closed = reason;
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    const queued = this.takeQueue();
    for (const item of queued) this.answer(item, { ok: false, error: statusError(grpc.status.UNAVAILABLE, reason), expired: false });
  }

  /** How long a queued request may wait for the calls in flight, ms: the node's p95 call latency. */
  private holdMs(): number {
    if (this.latency.count < MIN_SAMPLES) return this.options.initialHoldMs;
    return Math.max(1, this.latency.quantile(0.95) ?? this.options.initialHoldMs);
  }

  private takeQueue(): Item[] {
    const live = this.queue.filter((it) => it.state === 'queued');
    this.queue = [];
    this.queuedCount = 0;
    this.queuedQueries = 0;
    this.queuedBytes = 0;
    return live;
  }

  /** Sends every queued request: one call per run, each within the batch limits. */
  private flush(): void {
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    const queued = this.takeQueue();
    if (queued.length === 0) return;
    const byRun = new Map<string, Item[]>();
    for (const it of queued) {
      const list = byRun.get(it.req.runId);
      if (list) list.push(it);
      else byRun.set(it.req.runId, [it]);
    }
    for (const [runId, items] of byRun) {
      let batch: Item[] = [];
      let queries = 0;
      let bytes = 0;
      let keys = 0;
      for (const it of items) {
        const n = it.req.queries.length;
        const over = queries + n > this.options.maxBatchQueries || bytes + it.bytes > this.options.maxBatchBytes || keys + it.keys > this.options.maxBatchKeys;
        if (batch.length > 0 && over) {
          this.send(runId, batch);
          batch = [];
          queries = 0;
          bytes = 0;
          keys = 0;
        }
        batch.push(it);
        queries += n;
        bytes += it.bytes;
        keys += it.keys;
      }
      this.send(runId, batch);
    }
  }

  private send(runId: string, all: Item[]): void {
    // A request whose deadline passed in the queue (its expiry timer not run yet: event-loop lag)
    // is answered here, never sent: a call with a past deadline fails at once, on our clock.
    const now = Date.now();
    const items = all.filter((it) => {
      if (now < it.req.deadline) return true;
      this.expireUnsent(it, `deadline passed while its call was queued behind a call in flight to node ${this.nodeId}`);
      return false;
    });
    if (items.length === 0) return;
    const queries: ShardQuery[] = [];
    const owner: Item[] = [];
    let deadline = -Infinity;
    for (const it of items) {
      it.offset = queries.length;
      for (const q of it.req.queries) {
        queries.push(q);
        owner.push(it);
      }
      if (it.req.deadline > deadline) deadline = it.req.deadline;
    }
    let deadlineOf: Batch['deadlineOf'] = 'callers';
    const timeout = this.options.callTimeoutMs;
    if (timeout !== undefined && now + timeout < deadline) {
      deadline = now + timeout;
      deadlineOf = 'router';
    }
    const batch: Batch = {
      runId,
      items,
      attached: items.length,
      sentAt: performance.now(),
      deadline,
      deadlineOf,
      budgetMs: deadline - now,
      queries: queries.length,
      cancelled: false,
    };
    for (const it of items) {
      it.state = 'sent';
      it.batch = batch;
      // The call's own deadline answers the requests with the latest deadline.
      if (it.req.deadline >= deadline) {
        clearTimeout(it.timer);
        it.timer = undefined;
      }
    }
    this.inFlight += 1;
    const { collection, runId: run_id } = splitRunKey(runId);
    const request = { run_id, collection, queries };
    const start = (): grpc.ClientUnaryCall =>
      this.client.SearchShards(request, new grpc.Metadata(), { deadline }, (err, res) => this.ended(batch, owner, err, res));
    const ctx = items[0].ctx;
    batch.handle = ctx === ROOT_CONTEXT ? start() : context.with(ctx, start);
  }

  private ended(batch: Batch, owner: readonly Item[], err: grpc.ServiceError | null, res: SearchShardsResponse__Output | undefined): void {
    const ms = performance.now() - batch.sentAt;
    if (batch.cancelled) {
      this.report(batch, ms, 'cancelled', err ?? undefined);
      return;
    }
    this.inFlight -= 1;
    let error: unknown;
    if (err || !res) error = err ?? new Error(`node ${this.nodeId} sent an empty answer`);
    else if (res.run_id !== '' && res.run_id !== splitRunKey(batch.runId).runId) error = new Error(`answered from run ${res.run_id}, expected run ${splitRunKey(batch.runId).runId}`);
    try {
      if (isInvalidArgument(err) && batch.items.length > 1) {
        // One request of the combined call may be the bad one: send each again alone.
        this.report(batch, ms, 'error', error);
        for (const it of batch.items) if (it.state === 'sent') this.send(batch.runId, [it]);
        return;
      }
      if (error !== undefined || !res) {
        // DEADLINE_EXCEEDED with the callers' deadline passed: they ran out of time (however late
        // the event loop ran grpc-js's deadline timer); not a failure of the node.
        const now = Date.now();
        const callersOut = isDeadlineExceeded(err) && batch.deadlineOf === 'callers' && now >= batch.deadline - DEADLINE_SLACK_MS;
        this.report(batch, ms, callersOut ? 'expired' : 'error', error);
        for (const it of batch.items) {
          if (it.state === 'sent') this.answer(it, { ok: false, error, expired: isDeadlineExceeded(err) && now >= it.req.deadline - DEADLINE_SLACK_MS });
        }
        return;
      }
      this.latency.record(ms);
      this.report(batch, ms, 'ok');
      for (const r of res.shards) {
        const it = owner[r.query_index];
        if (it === undefined || it.state !== 'sent') continue;
        r.query_index -= it.offset;
        (it.shards ??= []).push(r);
      }
      for (const it of batch.items) if (it.state === 'sent') this.answer(it, { ok: true, runId: res.run_id, shards: it.shards ?? [] });
    } finally {
      if (this.queuedCount > 0) this.flush();
    }
  }

  private report(batch: Batch, ms: number, outcome: NodeCallReport['outcome'], error?: unknown): void {
    this.options.onCall?.({
      nodeId: this.nodeId,
      ms,
      outcome,
      error,
      deadlineOf: batch.deadlineOf,
      budgetMs: batch.budgetMs,
      queries: batch.queries,
      requests: batch.items.length,
    });
  }

  /**
   * Answers `item` DEADLINE_EXCEEDED with `expired: true` in a microtask (never inside the call()
   * that submitted it), without sending it.
   */
  private expireUnsent(item: Item, details: string): void {
    // Not in the queue: it is either new (call()) or already taken from the queue (flush()).
    item.state = 'over';
    clearTimeout(item.timer);
    item.timer = undefined;
    const error = statusError(grpc.status.DEADLINE_EXCEEDED, details);
    queueMicrotask(() => {
      if (!item.cancelled) item.done({ ok: false, error, expired: true });
    });
  }

  /** Ends `item` and calls its callback. */
  private answer(item: Item, result: NodeCallResult): void {
    item.state = 'over';
    clearTimeout(item.timer);
    item.timer = undefined;
    item.shards = undefined;
    item.done(result);
  }

  /** Cancellation or local expiry: `item` leaves its queue or call; an emptied call is cancelled. */
  private detach(item: Item): void {
    if (item.state === 'over') return;
    const wasQueued = item.state === 'queued';
    item.state = 'over';
    clearTimeout(item.timer);
    item.timer = undefined;
    if (wasQueued) {
      this.unqueue(item);
      return;
    }
    const batch = item.batch;
    if (!batch || batch.cancelled) return;
    batch.attached -= 1;
    if (batch.attached > 0) return;
    // Nobody waits for this call any more: cancel it, and let the queue go out in its place.
    batch.cancelled = true;
    this.inFlight -= 1;
    batch.handle?.cancel();
    if (this.queuedCount > 0) this.flush();
  }

  /** Takes a queued `item` out of the queue counts (the caller sets its state). */
  private unqueue(item: Item): void {
    this.queuedCount -= 1;
    this.queuedQueries -= item.req.queries.length;
    this.queuedBytes -= item.bytes;
    if (this.queuedCount === 0) {
      clearTimeout(this.holdTimer);
      this.holdTimer = undefined;
      this.takeQueue();
    }
  }

  /** Answers `item` DEADLINE_EXCEEDED at its own deadline unless it is answered first. */
  private armExpiry(item: Item): void {
    const wait = item.req.deadline - Date.now();
    item.timer = setTimeout(() => {
      if (item.state === 'over') return;
      if (Date.now() < item.req.deadline) {
        this.armExpiry(item);
        return;
      }
      const where = item.state === 'queued' ? 'while its call was queued behind a call in flight' : 'while its coalesced call ran on for requests with later deadlines';
      const done = item.done;
      this.detach(item);
      done({ ok: false, error: statusError(grpc.status.DEADLINE_EXCEEDED, `deadline passed ${where} to node ${this.nodeId}`), expired: true });
    }, Math.max(0, wait));
  }
}

/**
 * Request bytes plus estimated answer bytes of `queries`: the answer as the node estimates it
 * against its `--max-response-bytes` (work-bounds.ts), so a batch within `maxBatchBytes` (at most
 * the router's --max-response-bytes) is never refused by a node with the same limit.
 */
function estimateBytes(queries: readonly ShardQuery[]): number {
  let bytes = 0;
  for (const q of queries) {
    const queryBytes = q.query instanceof Uint8Array ? q.query.byteLength : 0;
    const shards = q.shard_ids?.length ?? 0;
    const hits = shards * (q.top_k ?? 0);
    bytes += 32 + queryBytes + 4 * shards + hits * hitBytes(queryBytes / 4, q.include_vector ?? false, q.include_payload ?? false);
  }
  return bytes;
}

/** Lookup (key, shard) pairs of `queries` (what the node's per-call lookup allowance counts). */
function lookupPairs(queries: readonly ShardQuery[]): number {
  let pairs = 0;
  for (const q of queries) pairs += (q.keys?.length ?? 0) * (q.shard_ids?.length ?? 0);
  return pairs;
}

/** True for a gRPC INVALID_ARGUMENT error (the node refused the request itself). */
function isInvalidArgument(err: grpc.ServiceError | null): boolean {
  return err?.code === grpc.status.INVALID_ARGUMENT;
}

/** True for a gRPC DEADLINE_EXCEEDED error. */
function isDeadlineExceeded(err: grpc.ServiceError | null): boolean {
  return err?.code === grpc.status.DEADLINE_EXCEEDED;
}

/** A client-side gRPC status error (the shape grpc-js call errors have). */
function statusError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), { code, details, metadata: new grpc.Metadata() });
}
