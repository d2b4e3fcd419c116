/**
 * Fan-out of one or more queries (Search = one, BatchSearch = many) to the shard nodes.
 * Node calls go through each node's {@link NodeCaller} (node-call-coalescer.ts), shared by every
 * fan-out of the router: idle, a call is sent at once; while the node has calls in flight, the
 * calls of concurrent fan-outs are coalesced into one SearchShards. Everything below is per
 * fan-out call, whether or not it shared a gRPC call with others.
 *
 * The unit of work is a task: (query, shard). Every task has an ordered list of candidate nodes
 * (its ready replicas, see replica-state.ts); the first is the ready owner with the least
 * outstanding work counting the cost of a new call (replica-choice.ts), the rest keep placement
 * order. The first wave groups all tasks by their first candidate and sends ONE `SearchShards`
 * call per node carrying every query's shards for that node, all nodes in parallel, each call
 * with the request's deadline. Then:
 * - retry: a task whose call failed (RPC error, or a per-shard error in the answer) is sent to its
 *   next candidate while the deadline allows (retries of the same moment are grouped per node);
 * - hedge: when a call has not answered after the node's hedge delay, its unfinished tasks are
 *   also sent to their next candidate; whichever answers first wins, and a call whose tasks are
 *   all answered elsewhere is cancelled (the loser);
 * - a node answering from another run than requested counts as a failure of its shards (the
 *   node caller fails the call);
 * - a call whose own deadline passes while it waits in a node's queue (or in a coalesced call
 *   kept open for later deadlines), or whose node call ends DEADLINE_EXCEEDED at the request's
 *   deadline, fails DEADLINE_EXCEEDED, outcome `expired` (the caller's deadline, no verdict on the
 *   node); a shard that ends failed once the deadline has passed is listed in
 *   `QueryOutcome.expired`, so the search path reports the request DEADLINE_EXCEEDED, not a
 *   coverage failure;
 * - a call to a node that is not a ready replica (the last-resort list of replica-state.ts) first
 *   waits up to `connectGraceMs` for the node's channel to connect, so a node that has just come
 *   up (its Status view still stale) answers instead of failing fast.
 * - a call that fails for the request's own fault (INVALID_ARGUMENT, or RESOURCE_EXHAUSTED: too
 *   large for the node's `--max-response-bytes` or message limit; see caller-fault.ts) is neither
 *   retried nor hedged: its shards fail at once with the node's reason, and the query's
 *   {@link QueryOutcome.callerFault} carries the status so the caller gets it, not UNAVAILABLE;
 * - when the request's `signal` aborts (the caller cancelled its call), every unfinished shard
 *   fails and every node call still running for this fan-out is cancelled.
 * A query with `keys` is a point lookup (Get / MultiGet) instead of a search: its tasks travel the
 * same way (one call per node, retry, hedging, run pinning, coalescing) and end with one
 * {@link KeyLookup} per key instead of hits.
 * Never throws for node failures: each task ends answered (hits) or failed (every reason).
 */
import { callerFaultCode } from '../common/caller-fault.ts';
import { errorMessage } from '../common/errors.ts';
import { describeGrpcError } from '../common/grpc-status.ts';
import { unpackHits } from '../common/packed-hits.ts';
import { unpackLookups, type KeyLookup } from '../common/packed-lookups.ts';
import type { Hit__Output } from '../common/proto-gen/shardfleet/v1/Hit.ts';
import type { ShardQuery } from '../common/proto-gen/shardfleet/v1/ShardQuery.ts';
import type { ShardResult__Output } from '../common/proto-gen/shardfleet/v1/ShardResult.ts';
import type { NodeCallHandle, NodeCallResult, NodeCaller } from './node-call-coalescer.ts';
import { NodeLoad, orderReplicas } from './replica-choice.ts';
import type { ShardCandidates } from './replica-state.ts';

/** One query of a fan-out. */
export interface FanOutQuery {
  /** The query as little-endian float32 bytes (forwarded as received). */
  queryBytes: Buffer;
  /** Hits wanted per shard. */
  topK: number;
  /** Shards to search, in routing order, distinct. */
  shardIds: readonly number[];
  includePayload: boolean;
  includeVector: boolean;
  /** Index options forwarded to every shard (0 = shard default). */
  options: { nprobes: number; ef: number; refine_factor: number };
  /**
   * Point lookup instead of a search: the keys' canonical bytes, looked up in every shard of
   * `shardIds` (the answer lands in {@link QueryOutcome.lookups}; `queryBytes` / `topK` unused).
   */
  keys?: readonly Buffer[];
  /** Pre-filter: the compiled filter as JSON (ShardQuery.filter); absent or "" = none. */
  filter?: string;
}

/** A fan-out request: queries of ONE run. */
export interface FanOutRequest {
  runId: string;
  queries: readonly FanOutQuery[];
  /** Absolute deadline, ms since epoch. */
  deadline: number;
  /** Aborted when the caller gave up (its call was cancelled): the fan-out ends and cancels its node calls. */
  signal?: AbortSignal;
}

/** Why a node call was made. */
export type CallKind = 'primary' | 'retry' | 'hedge';

/**
 * What happened to one fan-out call to a node (one request to its {@link NodeCaller}; gRPC calls
 * are reported by the caller itself, see NodeCallReport).
 */
export interface NodeCallOutcome {
  nodeId: string;
  kind: CallKind;
  /** Time from issue to answer, ms: includes any wait in the node's queue. */
  ms: number;
  /**
   * `cancelled` = cancelled by the fan-out because other replicas answered first; `expired` = the
   * request's deadline passed before the node answered it (the caller's deadline, not the node's
   * failure).
   */
  outcome: 'ok' | 'error' | 'cancelled' | 'expired';
  error?: unknown;
}

/** What the fan-out needs from the router. */
export interface FanOutDeps {
  /** The (coalescing) SearchShards caller of a node (undefined when it left the membership). */
  node(nodeId: string): NodeCaller | undefined;
  /** Where to send shard `dbId` (same answer for every query of the request). */
  candidates(dbId: number): ShardCandidates;
  /** How long to wait for `nodeId` before hedging, ms; undefined = never. */
  hedgeDelayMs(nodeId: string): number | undefined;
  /** Observer of every fan-out call to a node (the hedge policy's latency windows). */
  onCall?(outcome: NodeCallOutcome): void;
  /** Longest wait for a non-ready node's channel to connect before calling it, ms (default 0). */
  connectGraceMs?: number;
  /**
   * Outstanding shard searches per node, shared by every fan-out of the router (default: one
   * per fan-out, so only this request's own assignments count).
   */
  load?: NodeLoad;
}

/** Per-query outcome. */
export interface QueryOutcome {
  /** Hits of the shards that answered, by db id (lookup queries: an empty list per answering shard). */
  answered: Map<number, Hit__Output[]>;
  /** Lookup queries: one {@link KeyLookup} per key of the query, by answering shard's db id. */
  lookups: Map<number, KeyLookup[]>;
  /** Shards that could not answer, by db id, with every replica's reason. */
  failed: Map<number, string[]>;
  /**
   * The failed shards (a subset of `failed`'s keys) that ended because the request's deadline
   * passed: their last call expired, or the deadline left no time to ask another replica.
   */
  expired: Set<number>;
  /**
   * Set when a node refused the query's call for the request's own fault (INVALID_ARGUMENT or
   * RESOURCE_EXHAUSTED, see caller-fault.ts): the status code and the node's reason. Those shards
   * were not retried elsewhere.
   */
  callerFault?: { code: number; message: string };
}

/** Result of a fan-out. */
export interface FanOutResult {
  /** One entry per request query, in order. */
  queries: QueryOutcome[];
  /** Nodes called in the first wave. */
  width: number;
  /** Node calls made in total, and how many of them were retries and hedges. */
  calls: number;
  retries: number;
  hedges: number;
}

interface Task {
  q: number;
  dbId: number;
  cands: readonly string[];
  /** The candidates are ready replicas (false: the last-resort list). */
  ready: boolean;
  next: number;
  inFlight: Set<NodeCall>;
  done: boolean;
  reasons: string[];
  /** The task's last call expired (the request's deadline passed before the node answered). */
  expired: boolean;
}

interface NodeCall {
  nodeId: string;
  kind: CallKind;
  tasks: Task[];
  /** When the fan-out issued it, performance.now() ms. */
  started: number;
  handle?: NodeCallHandle;
  hedgeTimer?: NodeJS.Timeout;
  finished: boolean;
  cancelled: boolean;
}

/** Runs the fan-out; resolves when every task is answered or failed. */
export function fanOut(deps: FanOutDeps, req: FanOutRequest): Promise<FanOutResult> {
  return new Promise((resolve) => new FanOutRun(deps, req, resolve).start());
}

class FanOutRun {
  private readonly outcomes: QueryOutcome[];
  private readonly live = new Set<NodeCall>();
  private readonly retryQueue: Task[] = [];
  private retryScheduled = false;
  private remaining = 0;
  private completed = false;
  private readonly stats = { width: 0, calls: 0, retries: 0, hedges: 0 };
  private readonly load: NodeLoad;

  constructor(
    private readonly deps: FanOutDeps,
    private readonly req: FanOutRequest,
    private readonly resolve: (r: FanOutResult) => void,
  ) {
    this.load = deps.load ?? new NodeLoad();
    this.outcomes = req.queries.map(() => ({ answered: new Map(), failed: new Map(), lookups: new Map(), expired: new Set() }));
  }

  start(): void {
    const cands = new Map<number, ShardCandidates>();
    for (const query of this.req.queries) for (const dbId of query.shardIds) if (!cands.has(dbId)) cands.set(dbId, this.deps.candidates(dbId));
    // Ready owners per node over the request's shards, counted only if some shard has a choice.
    let owned: Map<string, number> | undefined;
    const countOwned = (): Map<string, number> => {
      const m = new Map<string, number>();
      for (const c of cands.values()) for (const n of c.nodes.slice(0, c.owners)) m.set(n, (m.get(n) ?? 0) + 1);
      return m;
    };
    const groups = new Map<string, Task[]>();
    const plan = { assigned: (nodeId: string): number => groups.get(nodeId)?.length ?? 0, owns: (nodeId: string): number => (owned ??= countOwned()).get(nodeId) ?? 0 };
    // Every query's task of a shard shares one candidate order, chosen when the shard is first
    // met, so a batch sends each shard to one node.
    const order = new Map<number, readonly string[]>();
    const tasks: Task[] = [];
    const noCandidate: Task[] = [];
    this.req.queries.forEach((query, q) => {
      for (const dbId of query.shardIds) {
        const c = cands.get(dbId) as ShardCandidates;
        let nodes = order.get(dbId);
        if (!nodes) {
          nodes = orderReplicas(c.nodes, c.owners, this.load, plan);
          order.set(dbId, nodes);
        }
        const t: Task = { q, dbId, cands: nodes, ready: c.ready, next: 0, inFlight: new Set(), done: false, reasons: c.ready ? [] : [c.why], expired: false };
        tasks.push(t);
        const node = this.nextCandidate(t);
        if (node !== undefined) push(groups, node, t);
        else noCandidate.push(t);
      }
    });
    this.remaining = tasks.length;
    if (this.remaining === 0) {
      this.complete();
      return;
    }
    for (const t of noCandidate) this.finish(t, undefined);
    this.stats.width = groups.size;
    const signal = this.req.signal;
    if (signal !== undefined) {
      if (signal.aborted) {
        this.abort(tasks);
        return;
      }
      signal.addEventListener('abort', () => this.abort(tasks), { once: true });
    }
    this.launch(groups, 'primary');
  }

  /** The caller gave up: every unfinished task fails (its node calls are cancelled by complete()). */
  private abort(tasks: readonly Task[]): void {
    for (const t of tasks) {
      if (t.done) continue;
      t.reasons.push('the caller cancelled the request');
      this.finish(t, undefined);
    }
  }

  private nextCandidate(t: Task): string | undefined {
    while (t.next < t.cands.length) {
      const node = t.cands[t.next++];
      if (![...t.inFlight].some((c) => c.nodeId === node)) return node;
    }
    return undefined;
  }

  private finish(t: Task, hits: Hit__Output[] | undefined, lookups?: KeyLookup[]): void {
    if (t.done) return;
    t.done = true;
    this.remaining -= 1;
    if (hits) {
      this.outcomes[t.q].answered.set(t.dbId, hits);
      if (lookups) this.outcomes[t.q].lookups.set(t.dbId, lookups);
    }
    else {
      this.outcomes[t.q].failed.set(t.dbId, t.reasons.length > 0 ? t.reasons : ['no replica could be asked']);
      if (t.expired) this.outcomes[t.q].expired.add(t.dbId);
    }
    if (this.remaining === 0) this.complete();
  }

  private complete(): void {
    if (this.completed) return;
    this.completed = true;
    for (const c of [...this.live]) this.cancel(c);
    this.resolve({ queries: this.outcomes, ...this.stats });
  }

  private cancel(call: NodeCall): void {
    if (call.finished || call.cancelled) return;
    call.cancelled = true;
    call.handle?.cancel(); // its callback will not run
    this.settle(call, 'cancelled');
  }

  private launch(groups: Map<string, Task[]>, kind: CallKind): void {
    for (const [nodeId, tasks] of groups) {
      const call: NodeCall = { nodeId, kind, tasks, started: performance.now(), finished: false, cancelled: false };
      for (const t of tasks) t.inFlight.add(call);
      this.load.add(nodeId, tasks.length);
      this.stats.calls += 1;
      if (kind === 'retry') this.stats.retries += 1;
      if (kind === 'hedge') this.stats.hedges += 1;
      const node = this.deps.node(nodeId);
      if (!node) {
        this.onFailure(call, 'not in the node membership any more', undefined);
        continue;
      }
      // One ShardQuery per query with tasks on this node; remember which query each one is.
      const byQuery = new Map<number, Task[]>();
      for (const t of tasks) push(byQuery, t.q, t);
      const queryOf: number[] = [];
      const queries: ShardQuery[] = [];
      for (const [q, qTasks] of [...byQuery].sort((a, b) => a[0] - b[0])) {
        const src = this.req.queries[q];
        queryOf.push(q);
        queries.push({
          query: src.queryBytes,
          top_k: src.topK,
          shard_ids: qTasks.map((t) => t.dbId),
          include_payload: src.includePayload,
          include_vector: src.includeVector,
          ...src.options,
          keys: src.keys ? [...src.keys] : [],
          filter: src.filter ?? '',
        });
      }
      this.live.add(call);
      const send = (): void => {
        if (call.cancelled) return;
        call.handle = node.call({ runId: this.req.runId, queries, deadline: this.req.deadline }, (r) => this.onResult(call, r, queryOf));
      };
      const grace = this.deps.connectGraceMs ?? 0;
      if (grace > 0 && tasks.some((t) => !t.ready) && !node.isConnected()) {
        node.waitForReady(Math.min(this.req.deadline, Date.now() + grace), () => send());
      } else {
        send();
      }
      if (kind !== 'hedge') {
        const delay = this.deps.hedgeDelayMs(nodeId);
        if (delay !== undefined && Date.now() + delay < this.req.deadline) {
          call.hedgeTimer = setTimeout(() => this.hedge(call), delay);
        }
      }
    }
  }

  private hedge(call: NodeCall): void {
    if (call.finished || this.completed) return;
    const groups = new Map<string, Task[]>();
    for (const t of call.tasks) {
      if (t.done || t.inFlight.size > 1) continue;
      const node = this.nextCandidate(t);
      if (node !== undefined) push(groups, node, t);
    }
    this.launch(groups, 'hedge');
  }

  private settle(call: NodeCall, outcome: NodeCallOutcome['outcome'], error?: unknown): void {
    if (call.finished) return;
    call.finished = true;
    this.load.remove(call.nodeId, call.tasks.length);
    clearTimeout(call.hedgeTimer);
    this.live.delete(call);
    for (const t of call.tasks) t.inFlight.delete(call);
    this.deps.onCall?.({ nodeId: call.nodeId, kind: call.kind, ms: performance.now() - call.started, outcome, error });
  }

  private onResult(call: NodeCall, r: NodeCallResult, queryOf: readonly number[]): void {
    if (r.ok) this.onAnswer(call, r.shards, queryOf);
    else this.onFailure(call, describeGrpcError(r.error), r.error, r.expired);
  }

  private onFailure(call: NodeCall, reason: string, err: unknown, expired = false): void {
    if (call.finished) return;
    this.settle(call, expired ? 'expired' : 'error', err ?? new Error(reason));
    // The request's own fault (too large, invalid): another replica would refuse it too.
    const code = callerFaultCode(err);
    const fault = code === undefined ? undefined : { code, message: `node ${call.nodeId}: ${reason}` };
    for (const t of call.tasks) {
      if (t.done) continue;
      t.reasons.push(`node ${call.nodeId}: ${reason}`);
      t.expired = expired;
      if (fault === undefined) {
        this.needRetry(t);
        continue;
      }
      this.outcomes[t.q].callerFault ??= fault;
      this.finish(t, undefined);
    }
    if (fault !== undefined) for (const c of [...this.live]) if (c.tasks.every((t) => t.done)) this.cancel(c);
  }

  private onAnswer(call: NodeCall, shards: readonly ShardResult__Output[], queryOf: readonly number[]): void {
    if (call.finished) return;
    this.settle(call, 'ok');
    const byKey = new Map<number, Task>();
    for (const t of call.tasks) byKey.set(taskKey(t.q, t.dbId), t);
    const seen = new Set<Task>();
    for (const r of shards) {
      const q = queryOf[r.query_index];
      const t = q === undefined ? undefined : byKey.get(taskKey(q, r.db_id));
      if (!t || seen.has(t)) continue;
      seen.add(t);
      if (t.done) continue;
      if (r.error) {
        t.reasons.push(`node ${call.nodeId}: ${r.error}`);
        continue;
      }
      const keys = this.req.queries[t.q].keys;
      let hits: Hit__Output[];
      let lookups: KeyLookup[] | undefined;
      try {
        if (keys) {
          lookups = unpackLookups(r, keys.length);
          hits = [];
        } else hits = unpackHits(r);
      } catch (err) {
        t.reasons.push(`node ${call.nodeId}: shard ${r.db_id}: ${errorMessage(err)}`);
        continue;
      }
      this.finish(t, hits, lookups);
    }
    for (const t of call.tasks) {
      if (t.done) continue;
      if (!seen.has(t)) t.reasons.push(`node ${call.nodeId}: shard missing from the node's answer`);
      t.expired = false;
      this.needRetry(t);
    }
    for (const c of [...this.live]) if (c.tasks.every((t) => t.done)) this.cancel(c);
  }

  private needRetry(t: Task): void {
    if (t.done || t.inFlight.size > 0) return; // a hedge may still answer
    this.retryQueue.push(t);
    if (this.retryScheduled) return;
    this.retryScheduled = true;
    queueMicrotask(() => this.flushRetries());
  }

  private flushRetries(): void {
    this.retryScheduled = false;
    const queue = this.retryQueue.splice(0);
    const groups = new Map<string, Task[]>();
    const timeLeft = Date.now() < this.req.deadline;
    for (const t of queue) {
      if (t.done || t.inFlight.size > 0) continue;
      const node = timeLeft ? this.nextCandidate(t) : undefined;
      if (node === undefined) {
        // Out of time (whatever the last call's error): the request's deadline ended this shard.
        if (!timeLeft) t.expired = true;
        this.finish(t, undefined);
      } else push(groups, node, t);
    }
    this.launch(groups, 'retry');
  }
}

/** A number naming (query index, db id): query indexes stay far below 2^21, db ids are uint32. */
function taskKey(q: number, dbId: number): number {
  return q * 2 ** 32 + dbId;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
