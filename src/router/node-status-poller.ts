/**
 * The router's view of every shard node: it calls each node's `Status` periodically (and on
 * demand, e.g. for a Refresh) and keeps, per node, whether it answered and which runs and shards
 * it has loaded. This view, not placement alone, decides where queries go. Every Status and
 * Refresh call also carries the router's run leases (proto RunLease): the runs the router serves
 * or waits for, which the node then keeps loaded (or loads).
 */
import type { Logger } from 'pino';
import { describeGrpcError, unaryCall } from '../common/grpc-status.ts';
import type { StatusRequest } from '../common/proto-gen/shardfleet/v1/StatusRequest.ts';
import type { StatusResponse__Output } from '../common/proto-gen/shardfleet/v1/StatusResponse.ts';
import type { ShardNodeClient } from '../common/proto.ts';
import type { NodePool } from './node-pool.ts';
import { runKey } from './run-key.ts';

/** What a node reported about one run. */
export interface NodeRunView {
  runId: string;
  /** Shards loaded and searchable. */
  loaded: ReadonlySet<number>;
  /** Shards that failed to load, with why. */
  failed: ReadonlyMap<number, string>;
  /** Shards placement assigns to the node (as the node computed it). */
  assigned: ReadonlySet<number>;
  /** Every assigned shard is loaded. */
  ready: boolean;
  /** The newest run the node knows. */
  current: boolean;
  /** Shards no longer assigned to the node, still loaded until routers say their new owners are ready. */
  releasing: ReadonlySet<number>;
}

/** The router's view of one node. */
export interface NodeView {
  id: string;
  address: string;
  /** undefined until the first Status answer or failure. */
  reachable: boolean | undefined;
  /** Why the last Status call failed ("" when it succeeded). */
  error: string;
  /** The node's load error, e.g. no _CURRENT at the store ("" when none). */
  loadError: string;
  /** Time of the last Status answer or failure, ms since epoch (0 = never). */
  polledAt: number;
  /** Runs the node holds, by run key (run-key.ts: the run id for the default collection). */
  runs: ReadonlyMap<string, NodeRunView>;
  /** The node is leaving (stopping): it takes no shard in placement (last reported; false until known). */
  draining: boolean;
  /** status_seq of the node's last Status answer (0 = none). */
  statusSeq: number;
}

/** What a router leases to the nodes with each Status call (proto StatusRequest fields). */
export interface RouterLeases {
  /** The router's id, stable for the process. */
  routerId: string;
  /** The runs leased now (read at every call). */
  runs: () => ReadonlyArray<{ run_id: string; manifest_key: string; collection?: string }>;
  /** How long a lease lives without renewal, ms. */
  ttlMs: number;
  /**
   * What the router says to node `nodeId` about moving shards (StatusRequest keep_shards and
   * draining_nodes; see leaving-nodes.ts); none when unset.
   */
  shardWord?: (nodeId: string) => { keep_shards: Array<{ run_id: string; db_ids: number[]; collection?: string }>; draining_nodes: string[] };
}

/** Poller settings. */
export interface StatusPollerOptions {
  /** Time between two Status calls to a node, ms. */
  intervalMs: number;
  /** Deadline of one Status call, ms. */
  timeoutMs: number;
  /** Run leases sent with every call (none when unset). */
  leases?: RouterLeases;
}

type StatusMethod = 'Status' | 'Refresh';

/**
 * Turns a StatusResponse into per-run views. Nodes that do not fill `runs` (older nodes) are
 * read from the top-level fields, which describe their newest run.
 */
export function runViewsOf(res: StatusResponse__Output): Map<string, NodeRunView> {
  const out = new Map<string, NodeRunView>();
  const runs =
    res.runs.length > 0 || res.run_id === ''
      ? res.runs
      : [
          {
            run_id: res.run_id,
            shards_loaded: res.shards_loaded,
            shards_failed: res.shards_failed,
            shards_assigned: res.shards_assigned,
            ready: res.shards_failed.length === 0 && res.shards_assigned.every((s) => res.shards_loaded.includes(s)),
            current: true,
            shards_releasing: [],
          },
        ];
  for (const r of runs) {
    // Keyed by (collection, run_id) (run-key.ts); older nodes send no collection: the default one.
    out.set(runKey('collection' in r ? r.collection : '', r.run_id), {
      runId: r.run_id,
      loaded: new Set(r.shards_loaded),
      failed: new Map(r.shards_failed.map((f) => [f.db_id, f.reason])),
      assigned: new Set(r.shards_assigned),
      ready: r.ready,
      current: r.current,
      releasing: new Set(r.shards_releasing),
    });
  }
  return out;
}

/** Polls every node of a {@link NodePool}. */
export class NodeStatusPoller {
  private readonly nodeViews = new Map<string, NodeView>();
  private readonly listeners: Array<() => void> = [];
  private readonly okListeners: Array<(nodeId: string) => void> = [];
  private readonly inFlight = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: NodePool,
    private readonly options: StatusPollerOptions,
    private readonly log: Logger,
  ) {}

  /** Registers a listener called after every update of a node's view (and after pollNow). */
  onUpdate(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Registers a listener called for every successful Status answer (re-probe of ejected nodes). */
  onStatusOk(listener: (nodeId: string) => void): void {
    this.okListeners.push(listener);
  }

  /** The view of node `id` (undefined for a node that is not a member). */
  view(id: string): NodeView | undefined {
    return this.nodeViews.get(id);
  }

  /** Views of every member node, in membership order. */
  views(): NodeView[] {
    return this.pool.nodeIds.map((id) => this.viewOrBlank(id));
  }

  private viewOrBlank(id: string): NodeView {
    return (
      this.nodeViews.get(id) ?? {
        id,
        address: this.pool.address(id) ?? '',
        reachable: undefined,
        error: '',
        loadError: '',
        polledAt: 0,
        runs: new Map(),
        draining: false,
        statusSeq: 0,
      }
    );
  }

  /**
   * Starts periodic polling: every `intervalMs` each node whose previous Status call has
   * finished is asked again, so a node that hangs (up to `timeoutMs`) does not delay the others.
   */
  start(): void {
    if (this.timer) return;
    const tick = (): void => {
      for (const id of this.pool.nodeIds) {
        if (this.inFlight.has(id)) continue;
        this.inFlight.add(id);
        void this.pollNode(id, 'Status').finally(() => {
          this.inFlight.delete(id);
          this.notify();
        });
      }
    };
    tick();
    this.timer = setInterval(tick, this.options.intervalMs);
    this.timer.unref();
  }

  /** Stops periodic polling. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Polls every member node now, in parallel, and resolves when all answered or failed.
   * @param method `Refresh` asks each node to re-read `_CURRENT` first (its answer is a Status);
   *   a node that fails Refresh is asked for its Status instead.
   */
  async pollNow(method: StatusMethod = 'Status'): Promise<void> {
    await Promise.all(this.pool.nodeIds.map((id) => this.pollNode(id, method)));
    this.notify();
  }

  private notify(): void {
    const ids = new Set(this.pool.nodeIds);
    for (const id of [...this.nodeViews.keys()]) if (!ids.has(id)) this.nodeViews.delete(id);
    for (const l of this.listeners) l();
  }

  /** The lease fields of a Status / Refresh request to node `id`. */
  private leaseRequest(id: string): StatusRequest {
    const l = this.options.leases;
    if (l === undefined) return {};
    const base = { router_id: l.routerId, run_leases: [...l.runs()], lease_ttl_ms: l.ttlMs };
    if (l.shardWord === undefined) return base;
    // The word is computed from what this view says, so it names the view's status_seq.
    const seen = this.nodeViews.get(id)?.statusSeq ?? 0;
    return { ...base, ...l.shardWord(id), seen_status_seq: seen };
  }

  private async pollNode(id: string, method: StatusMethod): Promise<void> {
    const client = this.pool.client(id);
    const address = this.pool.address(id) ?? '';
    if (!client) return;
    let res: StatusResponse__Output | undefined;
    let error = '';
    try {
      res = await callStatus(client, method, this.options.timeoutMs, this.leaseRequest(id));
    } catch (err) {
      error = describeGrpcError(err);
      if (method === 'Refresh') {
        try {
          res = await callStatus(client, 'Status', this.options.timeoutMs, this.leaseRequest(id));
          error = '';
        } catch (err2) {
          error = describeGrpcError(err2);
        }
      }
    }
    if (this.pool.client(id) !== client) return; // the node left or moved while we were asking
    const before = this.nodeViews.get(id);
    if (res) {
      if (res.node_id !== '' && res.node_id !== id) {
        this.log.warn({ node: id, address, reported_id: res.node_id }, 'node reports a different id than the membership');
      }
      // Answers may arrive out of order (a pollNow beside the periodic poll): keep the newest.
      const seq = Number(res.status_seq);
      if (before?.reachable === true && seq > 0 && seq < before.statusSeq) return;
      this.nodeViews.set(id, {
        id,
        address,
        reachable: true,
        error: '',
        loadError: res.load_error,
        polledAt: Date.now(),
        runs: runViewsOf(res),
        draining: res.draining,
        statusSeq: seq,
      });
      if (res.draining && before?.draining !== true) this.log.info({ node: id, address }, 'node is draining (leaving): placing shards without it');
      if (before?.reachable === false) this.log.info({ node: id, address }, 'node reachable again');
      for (const l of this.okListeners) l(id);
    } else {
      // Keep what the node last reported about its runs: it is unreachable, so it is not ready anyway.
      this.nodeViews.set(id, {
        id,
        address,
        reachable: false,
        error,
        loadError: before?.loadError ?? '',
        polledAt: Date.now(),
        runs: before?.runs ?? new Map(),
        draining: before?.draining ?? false,
        statusSeq: before?.statusSeq ?? 0,
      });
      if (before?.reachable !== false) this.log.warn({ node: id, address, err: error }, 'node Status failed');
    }
  }
}

function callStatus(client: ShardNodeClient, method: StatusMethod, timeoutMs: number, request: StatusRequest): Promise<StatusResponse__Output> {
  const fn = method === 'Status' ? client.Status.bind(client) : client.Refresh.bind(client);
  return unaryCall(fn as Parameters<typeof unaryCall<StatusRequest, StatusResponse__Output>>[0], request, { deadline: Date.now() + timeoutMs });
}
