/**
 * Start-up progress of `shardfleet local` on stderr: which processes started, shard replicas
 * loaded on the nodes out of those placement assigns, coverage (shards with a loaded replica) and
 * the router's state, until the cluster serves. On a terminal it is one cli-progress bar, with
 * the children's log lines printed above it; otherwise a few summary lines (one when the
 * processes are started, one per node that becomes ready, one per shard failure, and a final one).
 */
import cliProgress from 'cli-progress';
import * as grpc from '@grpc/grpc-js';
import { ShardfleetClient } from '../client/router-client.ts';
import { describeGrpcError, unaryCall } from '../common/grpc-status.ts';
import type { NodeEndpoint } from '../common/node-list.ts';
import type { HealthResponse__Output } from '../common/proto-gen/shardfleet/v1/HealthResponse.ts';
import type { StatusResponse__Output } from '../common/proto-gen/shardfleet/v1/StatusResponse.ts';
import { loadShardNodeProto, type ShardNodeClient } from '../common/proto.ts';

/** Status.load_error values of a node that simply has not loaded its first run yet. */
const TRANSIENT_LOAD_STATES = new Set(['loading', 'no snapshot loaded']);

/** What one poll of the cluster saw. */
export interface StartupSnapshot {
  /** Shard replicas loaded on the nodes (for the run each node holds). */
  loaded: number;
  /** Shard replicas placement assigns (num_dbs x min(R, nodes) once every node answered). */
  assigned: number;
  /** Distinct shards with at least one loaded replica, of `numDbs`. */
  covered: number;
  /** Nodes that report every assigned shard loaded. */
  nodesReady: number;
  /** The router's Health status (`healthy`, `degraded`, `unhealthy`), or `starting`. */
  router: string;
  /** The router's first Health reason ('' when none). */
  routerReason: string;
  /** Shard failures and node load errors, as `node-0: shard 3: <why>` lines. */
  problems: string[];
  /** Nodes that report every assigned shard loaded, by id. */
  readyNodes: string[];
}

/** Options of {@link StartupProgress}. */
export interface StartupProgressOptions {
  /** Show a bar (stderr is a terminal) or summary lines. */
  tty: boolean;
  /** Where text goes (stderr). */
  stream: NodeJS.WritableStream;
  /** Shards of the snapshot to serve. */
  numDbs: number;
  /** The run to serve (from the store, before start-up). */
  runId: string;
  replication: number;
  numNodes: number;
}

/**
 * Calls Status on one node (a Status without a router id renews no lease: read-only), on a new
 * channel each time: a long-lived channel to a process that is not listening yet backs off for
 * seconds between connection attempts, which would delay the progress shown.
 */
async function nodeStatus(address: string): Promise<StatusResponse__Output> {
  const Ctor = loadShardNodeProto().shardfleet.v1.ShardNode;
  const client: ShardNodeClient = new Ctor(address, grpc.credentials.createInsecure());
  try {
    return await unaryCall(client.Status.bind(client) as never, {}, { deadline: Date.now() + 2000 });
  } finally {
    client.close();
  }
}

/** The router's Health, on a new channel (see {@link nodeStatus}). */
async function routerHealth(address: string): Promise<HealthResponse__Output> {
  const client = new ShardfleetClient(address);
  try {
    return await client.health(2000);
  } finally {
    client.close();
  }
}

/**
 * Start-up progress. Call {@link spawned} for each process started, {@link watch} once the
 * addresses are known, {@link log} for each child log line, then {@link finish} or {@link fail}.
 */
export class StartupProgress {
  private readonly started = performance.now();
  private multibar: cliProgress.MultiBar | undefined;
  private bar: cliProgress.SingleBar | undefined;
  private readonly spawnedList: string[] = [];
  private readonly saidProblems = new Set<string>();
  private readonly saidReady = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private nodes: readonly NodeEndpoint[] = [];
  private routerAddress: string | undefined;
  private last: StartupSnapshot | undefined;

  constructor(private readonly options: StartupProgressOptions) {
    const r = Math.min(options.replication, options.numNodes);
    this.line(`serving run ${options.runId}: ${options.numDbs} shards x ${r} replica${r === 1 ? '' : 's'} on ${options.numNodes} node${options.numNodes === 1 ? '' : 's'}`);
  }

  /** Seconds since start, one decimal. */
  private elapsed(): string {
    return ((performance.now() - this.started) / 1000).toFixed(1);
  }

  /** Writes a line above the bar (or plainly without one). */
  private line(text: string): void {
    if (this.multibar) this.multibar.log(`${text}\n`);
    else this.options.stream.write(`${text}\n`);
  }

  /** A process was started (also a restart during start-up). */
  spawned(name: string, pid: number | undefined): void {
    this.spawnedList.push(`${name} (pid ${pid})`);
    if (this.spawnedList.length === this.options.numNodes + 1) this.line(`started ${this.spawnedList.join(', ')}; waiting for the shards to load`);
  }

  /** A log line of child `name`: shown above the bar on a terminal, else passed through as is. */
  log(name: string, text: string): void {
    this.line(this.options.tty ? `[${name}] ${text}` : text);
  }

  /** Starts polling the nodes' Status and the router's Health every `intervalMs` (default 500). */
  watch(routerAddress: string, nodes: readonly NodeEndpoint[], intervalMs = 500): void {
    this.nodes = nodes;
    this.routerAddress = routerAddress;
    if (this.options.tty) {
      this.multibar = new cliProgress.MultiBar(
        {
          stream: this.options.stream,
          format: 'shards loaded [{bar}] {value}/{total} | coverage {coverage}% | nodes ready {nodesReady}/{numNodes} | router {router} | {duration}s',
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar = this.multibar.create(this.options.numDbs * Math.min(this.options.replication, this.options.numNodes), 0, {
        coverage: 0,
        nodesReady: 0,
        numNodes: this.options.numNodes,
        router: 'starting',
      });
    }
    const tick = async (): Promise<void> => {
      const snap = await this.poll();
      if (this.timer === undefined) return;
      this.show(snap);
      this.timer = setTimeout(() => void tick(), intervalMs);
    };
    this.timer = setTimeout(() => void tick(), 0);
  }

  /** One poll of every node and the router. */
  async poll(): Promise<StartupSnapshot> {
    const statuses = await Promise.all(this.nodes.map(async ({ id, address }) => ({ id, status: await nodeStatus(address).catch(() => undefined) })));
    const covered = new Set<number>();
    const snap: StartupSnapshot = { loaded: 0, assigned: 0, covered: 0, nodesReady: 0, router: 'starting', routerReason: '', problems: [], readyNodes: [] };
    for (const { id, status } of statuses) {
      if (!status) continue;
      snap.loaded += status.shards_loaded.length;
      snap.assigned += status.shards_assigned.length;
      for (const db of status.shards_loaded) covered.add(db);
      // 'loading' and 'no snapshot loaded' are the node's states before its first load, not problems.
      if (status.load_error && !TRANSIENT_LOAD_STATES.has(status.load_error)) snap.problems.push(`${id}: ${status.load_error}`);
      for (const f of status.shards_failed) snap.problems.push(`${id}: shard ${f.db_id}: ${f.reason}`);
      if (status.run_id !== '' && status.shards_assigned.length > 0 && status.shards_loaded.length >= status.shards_assigned.length) {
        snap.nodesReady++;
        snap.readyNodes.push(id);
      }
    }
    snap.covered = covered.size;
    if (this.routerAddress !== undefined) {
      try {
        const h = await routerHealth(this.routerAddress);
        snap.router = h.status;
        snap.routerReason = h.reasons[0] ?? '';
      } catch (err) {
        snap.routerReason = describeGrpcError(err);
      }
    }
    this.last = snap;
    return snap;
  }

  private show(snap: StartupSnapshot): void {
    const total = this.options.numDbs * Math.min(this.options.replication, this.options.numNodes);
    const coverage = this.options.numDbs > 0 ? Math.round((100 * snap.covered) / this.options.numDbs) : 0;
    for (const p of snap.problems) {
      if (this.saidProblems.has(p)) continue;
      this.saidProblems.add(p);
      this.line(`problem: ${p}`);
    }
    if (this.bar) {
      this.bar.setTotal(Math.max(total, snap.assigned));
      this.bar.update(snap.loaded, { coverage, nodesReady: snap.nodesReady, numNodes: this.options.numNodes, router: snap.router, duration: this.elapsed() });
      return;
    }
    for (const id of snap.readyNodes) {
      if (this.saidReady.has(id)) continue;
      this.saidReady.add(id);
      this.line(`${id} ready after ${this.elapsed()} s (${snap.nodesReady}/${this.options.numNodes} nodes; ${snap.loaded}/${total} shard replicas, coverage ${coverage}%)`);
    }
  }

  private stopPolling(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.multibar?.stop();
    this.multibar = undefined;
    this.bar = undefined;
  }

  /** Start-up succeeded: stops polling and says how long it took and what is loaded. */
  async finish(): Promise<void> {
    const polling = this.timer !== undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const snap = polling ? await this.poll() : undefined;
    this.stopPolling();
    const total = this.options.numDbs * Math.min(this.options.replication, this.options.numNodes);
    const coverage = snap && this.options.numDbs > 0 ? `, coverage ${Math.round((100 * snap.covered) / this.options.numDbs)}%` : '';
    this.line(`cluster ready in ${this.elapsed()} s${snap ? `: ${snap.loaded}/${total} shard replicas loaded on ${snap.nodesReady}/${this.options.numNodes} nodes${coverage}` : ''}`);
  }

  /**
   * Start-up failed: stops polling and returns what the last poll saw (the router's reason and
   * the nodes' problems) for the error message, '' when nothing was seen.
   */
  fail(): string {
    this.stopPolling();
    const s = this.last;
    if (!s) return '';
    const parts = [`router ${s.router}${s.routerReason ? `: ${s.routerReason}` : ''}`, `${s.loaded} shard replicas loaded`, ...s.problems.slice(0, 5)];
    return parts.join('; ');
  }
}
