/**
 * Start-up progress of `shardfleet local` on stderr: which processes started, shard replicas
 * loaded on the nodes out of those placement assigns, coverage (shards with a loaded replica) and
 * the router's state, until the cluster serves. On a terminal it is one cli-progress bar, with
 * the children's log lines printed above it; otherwise a few summary lines (one when the
 * processes are started, one per node that becomes ready, one per shard failure, and a final one).
 *
 * Over a catalog root (issue 24: `--store` whose children are collections) the counts are over
 * every collection's shards (each node's current run of each collection, from Status.runs), and
 * each collection is ready once the router's Health `collections[]` shows all its shards covered:
 * the bar adds `collections ready n/m`, and without a terminal one line says when each collection
 * is ready. A `--store` that holds one snapshot shows exactly what it showed before.
 */
import cliProgress from 'cli-progress';
import * as grpc from '@grpc/grpc-js';
import { ShardfleetClient } from '../client/router-client.ts';
import { listNames } from '../common/catalog/collection-catalog.ts';
import { describeGrpcError, unaryCall } from '../common/grpc-status.ts';
import type { NodeEndpoint } from '../common/node-list.ts';
import type { HealthResponse__Output } from '../common/proto-gen/shardfleet/v1/HealthResponse.ts';
import type { StatusResponse__Output } from '../common/proto-gen/shardfleet/v1/StatusResponse.ts';
import { loadShardNodeProto, type ShardNodeClient } from '../common/proto.ts';

/** Status.load_error values of a node that simply has not loaded its first run yet. */
const TRANSIENT_LOAD_STATES = new Set(['loading', 'no snapshot loaded']);
/** Separator of the per-collection parts of Status.load_error over a catalog root (node-collections.ts). */
const LOAD_ERROR_SEPARATOR = ' | ';
/** Collections whose state the failure summary names at most. */
const MAX_COLLECTIONS_IN_SUMMARY = 5;

/** One collection the cluster is to serve, as read from the store before start-up. */
export interface StartupCollection {
  /** Collection name ("default" for a `--store` that holds one snapshot). */
  name: string;
  /** The run read from its `_CURRENT`. */
  runId: string;
  /** Shards of that run. */
  numDbs: number;
}

/** Start-up state of one collection in a {@link StartupSnapshot}. */
export interface CollectionProgress {
  name: string;
  /** Shard replicas of the collection's current run loaded on the nodes. */
  loaded: number;
  /** Shard replicas of it placement assigns (as far as the nodes answered). */
  assigned: number;
  /** Distinct shards of it with at least one loaded replica, of `numDbs`. */
  covered: number;
  numDbs: number;
  /** The router's status of the collection (`healthy`, `degraded`, `unhealthy`), or `starting` while it does not list it. */
  router: string;
  /** The router's coverage of the collection, 0..1 (0 while it does not list it). */
  coverage: number;
  /** The router serves every shard of it (coverage 1). */
  ready: boolean;
}

/** What one poll of the cluster saw. */
export interface StartupSnapshot {
  /** Shard replicas loaded on the nodes (for the run each node holds), over every collection. */
  loaded: number;
  /** Shard replicas placement assigns (num_dbs x min(R, nodes) once every node answered). */
  assigned: number;
  /** Distinct shards (of every collection) with at least one loaded replica, of the total shards. */
  covered: number;
  /** Nodes that report every assigned shard of every collection loaded. */
  nodesReady: number;
  /** The router's Health status (`healthy`, `degraded`, `unhealthy`; the worst collection's over a catalog), or `starting`. */
  router: string;
  /** The router's first Health reason ('' when none). */
  routerReason: string;
  /** Shard failures and node load errors, as `node-0: shard 3: <why>` lines (`node-0: items: shard 3: <why>` over a catalog). */
  problems: string[];
  /** Nodes that report every assigned shard loaded, by id. */
  readyNodes: string[];
  /** Per collection, in the order of the options' `collections`. */
  collections: CollectionProgress[];
  /** Collections the router serves whole. */
  collectionsReady: number;
}

/** Options of {@link StartupProgress}. */
export interface StartupProgressOptions {
  /** Show a bar (stderr is a terminal) or summary lines. */
  tty: boolean;
  /** Where text goes (stderr). */
  stream: NodeJS.WritableStream;
  /** The collections to serve, sorted by name: one (named "default") when `catalog` is false. */
  collections: readonly StartupCollection[];
  /** `--store` is a catalog root (collections named in the output), not one snapshot prefix. */
  catalog: boolean;
  replication: number;
  numNodes: number;
}

/** One node's answer to a poll (`status` undefined when it did not answer). */
export interface NodePoll {
  id: string;
  status: StatusResponse__Output | undefined;
}

/** The router's answer to a poll: its Health, or why there is none. */
export type RouterPoll = { health: HealthResponse__Output } | { error: string };

/** Whether one part of a node's load_error is only "not loaded yet" (`loading` or `items: loading`). */
function transientLoadState(part: string, catalog: boolean): boolean {
  if (TRANSIENT_LOAD_STATES.has(part)) return true;
  if (!catalog) return false;
  const colon = part.indexOf(': ');
  return colon > 0 && TRANSIENT_LOAD_STATES.has(part.slice(colon + 2));
}

/**
 * Sums one poll of the nodes and the router (no I/O).
 * Per node, the current run of each expected collection counts (Status.runs with `current`;
 * other collections found on the nodes after start-up are left out). A node is ready when it
 * holds a current run of every expected collection, is assigned at least one shard, and has loaded
 * every assigned one. A collection is ready when the router's Health lists it with coverage 1.
 * @param expected the collections to serve (see {@link StartupProgressOptions.collections}).
 * @param catalog whether problems name their collection (see {@link StartupSnapshot.problems}).
 * @param router undefined before the router's address is known.
 */
export function summarizeStartup(expected: readonly StartupCollection[], catalog: boolean, nodes: readonly NodePoll[], router: RouterPoll | undefined): StartupSnapshot {
  const byName = new Map(expected.map((c) => [c.name, { name: c.name, loaded: 0, assigned: 0, covered: 0, numDbs: c.numDbs, router: 'starting', coverage: 0, ready: false }]));
  const covered = new Map(expected.map((c) => [c.name, new Set<number>()]));
  const snap: StartupSnapshot = { loaded: 0, assigned: 0, covered: 0, nodesReady: 0, router: 'starting', routerReason: '', problems: [], readyNodes: [], collections: [...byName.values()], collectionsReady: 0 };
  for (const { id, status } of nodes) {
    if (!status) continue;
    // 'loading' and 'no snapshot loaded' are the node's states before its first load, not problems.
    const loadErrors = status.load_error === '' ? [] : catalog ? status.load_error.split(LOAD_ERROR_SEPARATOR) : [status.load_error];
    for (const e of loadErrors) if (!transientLoadState(e, catalog)) snap.problems.push(`${id}: ${e}`);
    let assigned = 0;
    let complete = true;
    const held = new Set<string>();
    for (const run of status.runs) {
      const c = byName.get(run.collection);
      if (!run.current || c === undefined || held.has(run.collection)) continue;
      held.add(run.collection);
      c.loaded += run.shards_loaded.length;
      c.assigned += run.shards_assigned.length;
      assigned += run.shards_assigned.length;
      for (const db of run.shards_loaded) covered.get(run.collection)!.add(db);
      for (const f of run.shards_failed) snap.problems.push(`${id}: ${catalog ? `${run.collection}: ` : ''}shard ${f.db_id}: ${f.reason}`);
      if (run.shards_loaded.length < run.shards_assigned.length) complete = false;
    }
    if (held.size === byName.size && assigned > 0 && complete) {
      snap.nodesReady++;
      snap.readyNodes.push(id);
    }
  }
  if (router !== undefined && 'health' in router) {
    snap.router = router.health.status;
    snap.routerReason = router.health.reasons[0] ?? '';
  } else if (router !== undefined) {
    snap.routerReason = router.error;
  }
  const routerCollections = router !== undefined && 'health' in router ? router.health.collections : [];
  for (const h of routerCollections) {
    const c = byName.get(h.name);
    if (c === undefined) continue;
    c.router = h.status;
    c.coverage = h.coverage;
    c.ready = h.coverage >= 1;
  }
  for (const c of snap.collections) {
    c.covered = covered.get(c.name)!.size;
    snap.loaded += c.loaded;
    snap.assigned += c.assigned;
    snap.covered += c.covered;
    if (c.ready) snap.collectionsReady++;
  }
  return snap;
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
  private readonly saidCollectionReady = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private nodes: readonly NodeEndpoint[] = [];
  private routerAddress: string | undefined;
  private last: StartupSnapshot | undefined;
  /** Shards of every collection. */
  private readonly numDbs: number;

  constructor(private readonly options: StartupProgressOptions) {
    const r = Math.min(options.replication, options.numNodes);
    this.numDbs = options.collections.reduce((n, c) => n + c.numDbs, 0);
    const layout = `${this.numDbs} shards x ${r} replica${r === 1 ? '' : 's'} on ${options.numNodes} node${options.numNodes === 1 ? '' : 's'}`;
    if (!options.catalog) {
      this.line(`serving run ${options.collections[0]?.runId ?? ''}: ${layout}`);
    } else {
      const n = options.collections.length;
      const each = listNames(options.collections.map((c) => `${c.name} (run ${c.runId}, ${c.numDbs} shards)`));
      this.line(`serving ${n} collection${n === 1 ? '' : 's'}: ${layout}; ${each}`);
    }
  }

  /** Seconds since start, one decimal. */
  private elapsed(): string {
    return ((performance.now() - this.started) / 1000).toFixed(1);
  }

  /** Shard replicas placement assigns once every node answered. */
  private total(): number {
    return this.numDbs * Math.min(this.options.replication, this.options.numNodes);
  }

  /** Coverage percent of a snapshot (0 when there are no shards). */
  private coveragePercent(snap: StartupSnapshot): number {
    return this.numDbs > 0 ? Math.round((100 * snap.covered) / this.numDbs) : 0;
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
      const collections = this.options.catalog ? ' | collections ready {collectionsReady}/{numCollections}' : '';
      this.multibar = new cliProgress.MultiBar(
        {
          stream: this.options.stream,
          format: `shards loaded [{bar}] {value}/{total} | coverage {coverage}% | nodes ready {nodesReady}/{numNodes}${collections} | router {router} | {duration}s`,
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar = this.multibar.create(this.total(), 0, {
        coverage: 0,
        nodesReady: 0,
        numNodes: this.options.numNodes,
        collectionsReady: 0,
        numCollections: this.options.collections.length,
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
    let router: RouterPoll | undefined;
    if (this.routerAddress !== undefined) {
      router = await routerHealth(this.routerAddress).then(
        (health) => ({ health }),
        (err: unknown) => ({ error: describeGrpcError(err) }),
      );
    }
    const snap = summarizeStartup(this.options.collections, this.options.catalog, statuses, router);
    this.last = snap;
    return snap;
  }

  /** Shows one poll: new problems as lines, then the bar, or (no terminal) new ready nodes and collections as lines. */
  show(snap: StartupSnapshot): void {
    const total = this.total();
    const coverage = this.coveragePercent(snap);
    for (const p of snap.problems) {
      if (this.saidProblems.has(p)) continue;
      this.saidProblems.add(p);
      this.line(`problem: ${p}`);
    }
    if (this.bar) {
      this.bar.setTotal(Math.max(total, snap.assigned));
      this.bar.update(snap.loaded, {
        coverage,
        nodesReady: snap.nodesReady,
        numNodes: this.options.numNodes,
        collectionsReady: snap.collectionsReady,
        numCollections: this.options.collections.length,
        router: snap.router,
        duration: this.elapsed(),
      });
      return;
    }
    for (const id of snap.readyNodes) {
      if (this.saidReady.has(id)) continue;
      this.saidReady.add(id);
      this.line(`${id} ready after ${this.elapsed()} s (${snap.nodesReady}/${this.options.numNodes} nodes; ${snap.loaded}/${total} shard replicas, coverage ${coverage}%)`);
    }
    this.sayReadyCollections(snap);
  }

  /** Without a terminal, over a catalog: one line for each collection that became ready. */
  private sayReadyCollections(snap: StartupSnapshot): void {
    if (this.options.tty || !this.options.catalog) return;
    for (const c of snap.collections) {
      if (!c.ready || this.saidCollectionReady.has(c.name)) continue;
      this.saidCollectionReady.add(c.name);
      this.line(`collection ${c.name} ready after ${this.elapsed()} s (${snap.collectionsReady}/${this.options.collections.length} collections; ${c.loaded} shard replicas of ${c.numDbs} shards loaded, router ${c.router})`);
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
    // The cluster can be up before a poll saw the last collections ready: they are said here.
    if (snap) this.sayReadyCollections(snap);
    this.line(this.readyLine(snap));
  }

  /** The final line of a successful start-up (`snap`: the last poll, if polling ran). */
  readyLine(snap: StartupSnapshot | undefined): string {
    const coverage = snap && this.numDbs > 0 ? `, coverage ${this.coveragePercent(snap)}%` : '';
    const collections = snap && this.options.catalog ? `, ${snap.collectionsReady}/${this.options.collections.length} collections ready` : '';
    return `cluster ready in ${this.elapsed()} s${snap ? `: ${snap.loaded}/${this.total()} shard replicas loaded on ${snap.nodesReady}/${this.options.numNodes} nodes${coverage}${collections}` : ''}`;
  }

  /**
   * Start-up failed: stops polling and returns what the last poll saw (the router's reason, over
   * a catalog the collections not ready yet, and the nodes' problems) for the error message, ''
   * when nothing was seen.
   */
  fail(): string {
    this.stopPolling();
    return this.last === undefined ? '' : this.failureSummary(this.last);
  }

  /** What {@link fail} returns for a poll `s`. */
  failureSummary(s: StartupSnapshot): string {
    const parts = [`router ${s.router}${s.routerReason ? `: ${s.routerReason}` : ''}`, `${s.loaded} shard replicas loaded`];
    if (this.options.catalog) {
      const waiting = s.collections.filter((c) => !c.ready);
      const named = waiting.slice(0, MAX_COLLECTIONS_IN_SUMMARY).map((c) => `${c.name} (router ${c.router}, ${c.covered}/${c.numDbs} shards loaded)`);
      const more = waiting.length > MAX_COLLECTIONS_IN_SUMMARY ? ` and ${waiting.length - MAX_COLLECTIONS_IN_SUMMARY} more` : '';
      parts.push(`${s.collectionsReady}/${s.collections.length} collections ready${waiting.length > 0 ? `; not ready: ${named.join(', ')}${more}` : ''}`);
    }
    return [...parts, ...s.problems.slice(0, 5)].join('; ');
  }
}
