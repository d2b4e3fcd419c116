/**
 * The runs a shard node holds and the snapshot swap.
 *
 * - {@link NodeRunSet.refresh} reads `_CURRENT` (the poll skips the manifest when the pointer's
 *   bytes did not change; the `Refresh` RPC always reloads). A new run is loaded BESIDE the ones
 *   held and becomes `current` at once; older runs keep serving.
 * - Routers lease the runs they serve or are about to serve (run-leases.ts, with every Status and
 *   Refresh call). A leased run the node does not hold (it restarted, or dropped it) is loaded
 *   beside the others, from the manifest key in the lease, whatever `_CURRENT` says.
 * - A run other than the current one is dropped once the current run is ready (every assigned
 *   shard loaded), no router's live lease names it, and `runGraceMs` have passed since both the
 *   current run became ready and the last lease that named it. So a run is never unloaded while a
 *   router still serves it, e.g. when the new run is loaded here but stuck on another node.
 * - Readiness (health SERVING): the current run is ready, or, while it loads, an older held run is
 *   ready (the node keeps serving that one). Before any run is ready: NOT_SERVING.
 * - A malformed new manifest or a storage error leaves the held runs serving, current included
 *   (the loader's fallback to an earlier run is used only by a node that holds no run yet); the
 *   error is kept in `loadError` (Status.load_error) until a refresh succeeds cleanly.
 * - Only the active runs (the current one, the older one serving while it loads, and leased runs)
 *   preload and pin their assigned shards; superseded runs are unpinned and can be evicted under
 *   budget pressure (a search of an evicted shard loads it again).
 * - Membership changes recompute every held run's assignment (see NodeRun.setAssignment), over
 *   the members that no live router reports draining (a node that is leaving takes no shard, so
 *   the others load what it held while it still serves it). A shard no longer assigned is
 *   releasing: it stays loaded and searchable, and is released only after `releaseGraceMs` (a
 *   floor) and once every live router says its new owners are ready (shard-keep-leases.ts).
 * - Draining ({@link NodeRunSet.startDraining}, on SIGTERM): the node takes no shard in placement,
 *   reports `draining`, keeps every shard it holds as releasing, and releases each as soon as the
 *   routers no longer need it (no floor); {@link NodeRunSet.whenReleased} tells when all are gone.
 */
import type { Logger } from 'pino';
import { ReaderStateError, errorMessage } from '../common/errors.ts';
import { MANIFESTS_PREFIX, type Manifest } from '../common/manifest.ts';
import type { NodeEndpoint } from '../common/node-list.ts';
import { placeRun, shardsOfNode } from '../common/placement.ts';
import { DEFAULT_COLLECTION } from '../common/catalog/collection-name.ts';
import type { RunStatus } from '../common/proto-gen/shardfleet/v1/RunStatus.ts';
import type { ShardFailure } from '../common/proto-gen/shardfleet/v1/ShardFailure.ts';
import { loadSnapshot } from '../common/snapshot-loader.ts';
import { getPointerBytes, readManifest } from '../common/store-reads.ts';
import { NodeRun, type NodeRunDeps } from './node-run.ts';
import { RunLeases, type LeasedRun } from './run-leases.ts';
import { ShardKeepLeases, type KeptShards } from './shard-keep-leases.ts';
import { pruneCache } from './shard-cache.ts';

/** Leased runs whose manifest is read at once (a bound on store reads that callers can cause). */
const MAX_LEASE_LOADS = 4;

/** Options of {@link NodeRunSet}. */
export interface NodeRunSetOptions extends NodeRunDeps {
  /** This node's id in the placement. */
  nodeId: string;
  /** Replication factor R (must match the routers'). */
  replication: number;
  /** The current node list (static or from membership). */
  nodes: () => readonly NodeEndpoint[];
  /**
   * How long a superseded run stays after the current run is ready and after the last router
   * lease that named it; also the shortest life of a router's lease without renewal, ms.
   */
  runGraceMs: number;
  /**
   * Shortest time a shard no longer assigned (membership change) stays loaded, ms; it stays
   * longer while a router still needs it (shard-keep-leases.ts).
   */
  releaseGraceMs: number;
  /** Called when readiness changes (true = SERVING). */
  onServingChange: (serving: boolean) => void;
  log: Logger;
  /**
   * The collection this run set serves (issue 24): its name labels metrics (default
   * {@link DEFAULT_COLLECTION}). `placementKey` keys placement by it (catalog mode); unset in
   * single-collection mode, where placement is today's.
   */
  collection?: string;
  placementKey?: string;
  /**
   * The status sequence shared by the run sets of one node (each Status answer numbers once per
   * set; the node reports the highest), so a router's seen_status_seq compares with every set's.
   * Default: a counter of this set alone.
   */
  statusSeq?: { value: number };
}

/** The run part of a StatusResponse. */
export interface RunSetStatus {
  run_id: string;
  shards_loaded: number[];
  shards_failed: ShardFailure[];
  shards_assigned: number[];
  load_error: string;
  runs: RunStatus[];
  draining: boolean;
  status_seq: number;
}

/** What a router says about moving shards with a Status / Refresh call (see shard-keep-leases.ts). */
export interface RouterShardWord {
  keep: readonly KeptShards[];
  draining: readonly string[];
  /** The newest status_seq of this node the router had read (0 = none). */
  seenSeq: number;
}

/** How often releasing shards are re-checked while some are held, ms. */
const RELEASE_CHECK_MS = 250;

/** The runs a node holds (see the module comment). */
export class NodeRunSet {
  /** Held runs, least recently made current first. */
  private runs = new Map<string, NodeRun>();
  private readonly leases: RunLeases;
  /** Leased runs whose manifest is being read, and leased runs that could not be read (until when). */
  private readonly leaseLoads = new Set<string>();
  private readonly leaseFailures = new Map<string, { reason: string; retryAt: number }>();
  private lastPrune: Promise<void> = Promise.resolve();
  /** Dropped runs whose unload (closing shards, deleting the run's cache folder) is in progress. */
  private readonly unloading = new Map<string, Promise<void>>();
  /** When the current run became ready here, ms since epoch (undefined while it is not). */
  private currentReadySince: number | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweepAt = Infinity;
  private currentId: string | undefined;
  private loadError = '';
  private attempted = false;
  private lastPointer: string | undefined;
  private serving = false;
  private closed = false;
  private refreshing: Promise<void> | undefined;
  private queuedRefresh: Promise<void> | undefined;
  private reconcileQueued = false;
  private warnedNotMember = false;
  private readonly keepLeases = new ShardKeepLeases();
  /** Nodes left out of placement because routers report them draining (sorted, joined). */
  private drainingKey = '';
  private draining = false;
  /** Sequence number of the last StatusResponse (starts at the start time in µs: grows across restarts). */
  private readonly seq: { value: number };
  private releaseTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: NodeRunSetOptions) {
    this.leases = new RunLeases(options.runGraceMs);
    this.seq = options.statusSeq ?? { value: Date.now() * 1000 };
  }

  private get statusSeq(): number {
    return this.seq.value;
  }

  /** URL of the collection's store. */
  get storeUrl(): string {
    return this.options.store.url;
  }

  /** The collection served (labels, logs). */
  get collection(): string {
    return this.options.collection ?? DEFAULT_COLLECTION;
  }

  /** True once a current run is held (it may still be loading). */
  get hasCurrent(): boolean {
    return this.current() !== undefined;
  }

  /**
   * Until when (ms since epoch) a router may still use this set's runs: the latest live lease end
   * or, after the last lease lapsed, its last renewal plus `runGraceMs`. 0 when no router ever
   * leased a held run. A collection removed from the catalog is dropped only after this.
   */
  leasedUntil(): number {
    let until = 0;
    for (const runId of this.runs.keys()) {
      until = Math.max(until, this.leases.expiresAt(runId) ?? 0, (this.leases.lastNamedAt(runId) ?? -Infinity) + this.options.runGraceMs);
    }
    return until;
  }

  /**
   * Stops the set and unloads every run (closing its shards, deleting its cache folders): a
   * collection removed from the catalog. Resolves when done.
   */
  async dropAll(): Promise<void> {
    this.close();
    metricsRemove(this.options.metrics, this.currentId, this.collection);
    const runs = [...this.runs.values()];
    this.runs.clear();
    await Promise.all(runs.map((run) => run.drop().catch((err: unknown) => this.options.log.warn({ run_id: run.runId, err: errorMessage(err) }, 'unloading a run of a removed collection failed'))));
  }

  /** True while the node reports SERVING. */
  get isServing(): boolean {
    return this.serving;
  }

  /**
   * Reads `_CURRENT` and adopts its run (see the module comment). With `force` false (the poll),
   * nothing more is read when the pointer's bytes are unchanged since the last successful load;
   * failed assigned shards whose back-off elapsed are retried instead. Calls are serialized; a
   * forced refresh during one in flight runs again after it. Never rejects: errors go to
   * `load_error` and the log.
   */
  refresh(force: boolean): Promise<void> {
    if (this.refreshing === undefined) {
      this.refreshing = this.refreshOnce(force).finally(() => (this.refreshing = undefined));
      return this.refreshing;
    }
    if (!force) return this.refreshing;
    this.queuedRefresh ??= this.refreshing.then(() => {
      this.queuedRefresh = undefined;
      return this.refresh(true);
    });
    return this.queuedRefresh;
  }

  /** Resolves when the current run's preload passes started so far have finished. */
  settled(): Promise<void> {
    return this.current()?.settled() ?? Promise.resolve();
  }

  /** Recomputes every held run's assignment from the node list (membership changed). */
  membershipChanged(): void {
    if (this.closed) return;
    for (const run of this.runs.values()) {
      const { added, removed } = run.setAssignment(this.assignmentFor(run.manifest), this.statusSeq);
      if (added.length > 0 || removed.length > 0) {
        this.options.log.info(
          {
            run_id: run.runId,
            added,
            removed,
            min_release_ms: this.draining ? 0 : this.options.releaseGraceMs,
            draining_nodes: this.drainingKey,
            draining: this.draining,
          },
          'shard assignment updated; removed shards are kept until every router has their new owners ready',
        );
      }
    }
    this.reconcile();
    for (const run of this.activeRuns()) void run.preload();
    this.checkReleases();
  }

  /**
   * The node is leaving (SIGTERM): it takes no shard in placement, reports `draining`, and holds
   * every shard it has as releasing until the routers no longer need it (see the module comment).
   */
  startDraining(): void {
    if (this.draining || this.closed) return;
    this.draining = true;
    this.options.log.info('draining: leaving placement; shards stay searchable until their new owners are ready');
    this.membershipChanged();
  }

  /** True once {@link startDraining} was called. */
  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * Resolves true once no releasing shard is held (each one's new owners are ready, as every live
   * router sees it), or false after `timeoutMs`.
   */
  async whenReleased(timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      this.checkReleases();
      if (![...this.runs.values()].some((run) => run.hasReleasing())) return true;
      if (Date.now() >= end || this.closed) return false;
      await new Promise((resolve) => setTimeout(resolve, Math.min(RELEASE_CHECK_MS, Math.max(1, end - Date.now()))));
    }
  }

  /**
   * Releases the releasing shards whose time has come: past the `releaseGraceMs` floor (none
   * while draining) and needed by no live router. Re-checks every RELEASE_CHECK_MS while some
   * are held.
   */
  private checkReleases(): void {
    if (this.closed) return;
    const now = Date.now();
    const floor = this.draining ? 0 : this.options.releaseGraceMs;
    let left = false;
    for (const run of this.runs.values()) {
      // A draining node is stopping: its cache files stay for its restart (only unloaded).
      const released = run.releaseWhere((dbId, r) => now >= r.at + floor && this.keepLeases.mayRelease(run.runId, dbId, r.sinceSeq), this.draining);
      if (released.length > 0) this.options.log.info({ run_id: run.runId, released }, 'released shards: their new owners are ready on every router');
      left ||= run.hasReleasing();
    }
    if (!left || this.releaseTimer !== undefined) return;
    this.releaseTimer = setTimeout(() => {
      this.releaseTimer = undefined;
      this.checkReleases();
    }, RELEASE_CHECK_MS);
    this.releaseTimer.unref();
  }

  /**
   * The run a request names; `''` means the run the node serves (the current run when ready, else
   * the older run still serving, else the current one).
   * @throws ReaderStateError naming the run and the runs held when it is not held, or saying why
   *   no snapshot is loaded.
   */
  resolve(runId: string): NodeRun {
    if (runId === '') {
      const run = this.servingRun() ?? this.current();
      if (run === undefined) {
        throw new ReaderStateError(`this shard node has not loaded a snapshot yet${this.loadError ? `: ${this.loadError}` : ''}`);
      }
      return run;
    }
    const run = this.runs.get(runId);
    if (run === undefined) {
      throw new ReaderStateError(`run ${runId} is not loaded on this shard node (it holds: ${[...this.runs.keys()].reverse().join(', ') || 'none'})`);
    }
    return run;
  }

  /**
   * Records `routerId`'s leases (they replace its earlier ones; see run-leases.ts) and starts
   * loading every leased run the node does not hold. Never throws: a lease whose manifest cannot
   * be read is logged and retried on a later renewal (after 30 s).
   * @param ttlMs how long the router asks its leases to live without renewal, ms.
   */
  renewLeases(routerId: string, runs: readonly LeasedRun[], ttlMs: number, word?: RouterShardWord): void {
    if (this.closed || routerId === '') return;
    if (this.leaseFailures.size > MAX_LEASE_LOADS) {
      // Forget failures whose back-off is over (runs that never existed must not pile up).
      const now = Date.now();
      for (const [runId, f] of this.leaseFailures) if (now >= f.retryAt) this.leaseFailures.delete(runId);
    }
    this.leases.renew(routerId, runs, ttlMs);
    if (word !== undefined) {
      this.keepLeases.renew(routerId, word.keep, word.draining, word.seenSeq, ttlMs);
      const drainingKey = this.keepLeases.drainingNodes().join(',');
      if (drainingKey !== this.drainingKey) {
        this.drainingKey = drainingKey;
        this.membershipChanged();
      } else {
        this.checkReleases();
      }
    }
    for (const lease of runs) {
      const held = this.runs.get(lease.runId);
      if (held !== undefined) {
        // Loads what is missing: a run that was not active (superseded, unpinned, maybe partly
        // evicted) is active again, and failed shards whose back-off elapsed are retried (a
        // no-op when every assigned shard is loaded). After reconcile() below turned preloading on.
        queueMicrotask(() => void held.preload());
        continue;
      }
      if (this.leaseLoads.has(lease.runId)) continue;
      const failed = this.leaseFailures.get(lease.runId);
      if (failed !== undefined && Date.now() < failed.retryAt) continue;
      // At most MAX_LEASE_LOADS manifest reads at once, whoever asks: the others wait for a
      // later renewal (routers renew every Status poll).
      if (this.leaseLoads.size >= MAX_LEASE_LOADS) break;
      void this.loadLeasedRun(lease);
    }
    this.reconcile();
  }

  /**
   * Readiness for the HTTP `/readyz` probe: the same answer as health SERVING ({@link isServing}),
   * with why in one line (the run served and its assigned shards loaded, or what is missing:
   * no snapshot and the load error, shards still loading, the first failed shards and why).
   * Reads state only (unlike {@link status}, it numbers no Status answer); O(shards of the run).
   */
  readiness(): { ready: boolean; reason: string } {
    const current = this.current();
    const serving = this.servingRun();
    if (serving !== undefined) {
      const s = serving.status(serving === current);
      const note = serving === current ? '' : `; run ${current?.runId ?? '?'} (_CURRENT) is still loading`;
      return { ready: true, reason: `serving run ${serving.runId}: ${(s.shards_assigned ?? []).length} assigned shards loaded${note}` };
    }
    if (current === undefined) return { ready: false, reason: this.loadError || (this.attempted ? 'no snapshot loaded' : 'loading the snapshot (first _CURRENT read in progress)') };
    const s = current.status(true);
    const assigned = s.shards_assigned ?? [];
    const loaded = new Set(s.shards_loaded);
    const done = assigned.filter((db) => loaded.has(db)).length;
    const failed = (s.shards_failed ?? []).filter((f) => assigned.includes(f.db_id ?? -1));
    const why = failed.length === 0 ? '' : `; ${failed.length} failed: ${failed.slice(0, 3).map((f) => `shard ${f.db_id}: ${f.reason}`).join(' | ')}`;
    const loadError = this.loadError ? `; ${this.loadError}` : '';
    return { ready: false, reason: `run ${current.runId}: ${done} of ${assigned.length} assigned shards loaded${why}${loadError}` };
  }

  /** Every held run (newest first, the current one first of all) and the current run's details. */
  status(): RunSetStatus {
    const current = this.current();
    const runs = [...this.runs.values()].reverse().map((run) => run.status(run === current, this.leases.isLeased(run.runId)));
    const top = runs.find((r) => r.current);
    return {
      run_id: top?.run_id ?? '',
      shards_loaded: top?.shards_loaded ?? [],
      shards_failed: top?.shards_failed ?? [],
      shards_assigned: top?.shards_assigned ?? [],
      load_error: this.loadError || (current === undefined ? (this.attempted ? 'no snapshot loaded' : 'loading') : ''),
      runs,
      draining: this.draining,
      status_seq: ++this.seq.value,
    };
  }

  /**
   * Re-evaluates pins, preloading, readiness and grace-period drops. Called (coalesced, in a
   * microtask) whenever a shard loads, fails or leaves the cache.
   */
  scheduleReconcile(): void {
    if (this.reconcileQueued || this.closed) return;
    this.reconcileQueued = true;
    queueMicrotask(() => {
      this.reconcileQueued = false;
      this.reconcile();
    });
  }

  /** Stops timers and refreshes (node shutdown); the shards are closed by the cache. */
  close(): void {
    this.closed = true;
    clearTimeout(this.sweepTimer);
    clearTimeout(this.releaseTimer);
    for (const run of this.runs.values()) run.stopTimers();
  }

  private current(): NodeRun | undefined {
    return this.currentId === undefined ? undefined : this.runs.get(this.currentId);
  }

  /** The current run when ready, else the most recently current older run that is ready. */
  private servingRun(): NodeRun | undefined {
    const current = this.current();
    if (current?.isReady()) return current;
    for (const run of [...this.runs.values()].reverse()) if (run !== current && run.isReady()) return run;
    return undefined;
  }

  private activeRuns(): NodeRun[] {
    return [...this.runs.values()].filter((run) => this.isActive(run));
  }

  /** Current, serving while the current one loads, or leased by a router. */
  private isActive(run: NodeRun): boolean {
    return run === this.current() || run === this.servingRun() || this.leases.isLeased(run.runId);
  }

  /**
   * Reads a leased run's manifest and holds the run beside the others (not current): the run a
   * router serves, on a node that restarted or dropped it.
   */
  private async loadLeasedRun(lease: LeasedRun): Promise<void> {
    const { store, log } = this.options;
    this.leaseLoads.add(lease.runId);
    try {
      if (!lease.manifestKey.startsWith(MANIFESTS_PREFIX)) {
        throw new ReaderStateError(`lease names manifest key ${JSON.stringify(lease.manifestKey)}, which is not under ${MANIFESTS_PREFIX}`);
      }
      const manifest = await readManifest(store, lease.manifestKey);
      if (manifest.run_id !== lease.runId) {
        throw new ReaderStateError(`manifest ${lease.manifestKey} is of run ${manifest.run_id}, not of the leased run ${lease.runId}`);
      }
      if (this.closed || this.runs.has(lease.runId) || !this.leases.isLeased(lease.runId)) return;
      const run = new NodeRun(manifest, this.options);
      run.setAssignment(this.assignmentFor(manifest), this.statusSeq);
      run.prepare(this.beforeLoading(lease.runId));
      this.runs = new Map([[lease.runId, run], ...this.runs]); // least recently current: first
      this.leaseFailures.delete(lease.runId);
      log.info({ run_id: lease.runId, manifest: lease.manifestKey, current_run_id: this.currentId, assigned: run.status(false).shards_assigned }, 'a router leases a run this node does not hold; loading it');
      this.reconcile();
      void run.preload();
    } catch (err) {
      const reason = errorMessage(err);
      this.leaseFailures.set(lease.runId, { reason, retryAt: Date.now() + 30_000 });
      log.warn({ run_id: lease.runId, manifest: lease.manifestKey, err: reason }, 'cannot load a run a router leases; retrying in 30 s');
    } finally {
      this.leaseLoads.delete(lease.runId);
    }
  }

  private async refreshOnce(force: boolean): Promise<void> {
    const { store, log } = this.options;
    try {
      let pointer: string | undefined;
      try {
        pointer = (await getPointerBytes(store)).toString('utf8');
      } catch {
        pointer = undefined; // loadSnapshot below reports it properly
      }
      if (!force && pointer !== undefined && pointer === this.lastPointer) {
        for (const run of this.activeRuns()) void run.preload(); // retry failed shards whose back-off elapsed
        return;
      }
      const snapshot = await loadSnapshot(store, log);
      if (this.closed) return;
      this.lastPointer = pointer;
      if (snapshot.fallbackFrom && this.current() !== undefined) {
        // Warm: keep serving what is held; never move to a run _CURRENT does not name.
        this.loadError = `manifest ${snapshot.fallbackFrom.key} is unusable (${snapshot.fallbackFrom.reason}); still serving run ${this.currentId}`;
        log.error({ err: this.loadError, held_runs: [...this.runs.keys()] }, 'the new current manifest is unusable; held runs keep serving');
        for (const run of this.activeRuns()) void run.preload();
        return;
      }
      this.loadError = snapshot.fallbackFrom
        ? `manifest ${snapshot.fallbackFrom.key} is unusable (${snapshot.fallbackFrom.reason}); serving earlier manifest ${snapshot.manifestKey}`
        : '';
      this.adopt(snapshot.manifest);
    } catch (err) {
      this.lastPointer = undefined; // the next poll reloads fully (and clears load_error on success)
      this.loadError = errorMessage(err);
      log.error({ err: this.loadError, store: store.url, held_runs: [...this.runs.keys()] }, 'cannot load the current snapshot; held runs keep serving; will retry');
    } finally {
      this.attempted = true;
    }
  }

  /** Makes `manifest`'s run current, loading it beside the held runs when it is new. */
  private adopt(manifest: Manifest): void {
    const runId = manifest.run_id;
    if (runId === this.currentId) {
      for (const run of this.activeRuns()) void run.preload();
      return;
    }
    const { log, metrics } = this.options;
    let run = this.runs.get(runId);
    if (run === undefined) {
      run = new NodeRun(manifest, this.options);
      run.setAssignment(this.assignmentFor(manifest), this.statusSeq);
      // Remove cache leftovers (runs not held, shards of this run not assigned) before it loads.
      const keep = new Map<string, ReadonlySet<number> | 'all'>([...this.runs.keys()].map((id) => [id, 'all']));
      keep.set(runId, new Set(run.status(false).shards_assigned));
      // A leased run read meanwhile waits for this pruning (its folder is created after it).
      this.lastPrune = pruneCache(this.options.cacheDir, keep).then(
        (removed) => {
          if (removed.length > 0) log.info({ removed }, 'removed stale shard cache folders');
        },
        (err: unknown) => log.warn({ err: errorMessage(err) }, 'pruning the shard cache failed'),
      );
      run.prepare(this.beforeLoading(runId));
    } else {
      this.runs.delete(runId); // re-inserted last: most recently current
    }
    this.runs.set(runId, run);
    const previous = this.currentId;
    this.currentId = runId;
    this.currentReadySince = undefined;
    metricsRemove(metrics, previous, this.collection);
    metrics.currentRun.set({ run_id: runId, collection: this.collection }, 1);
    log.info(
      { run_id: runId, previous_run_id: previous, assigned: run.status(true).shards_assigned },
      previous === undefined ? 'loading run' : 'new current run; loading it beside the held runs',
    );
    this.reconcile();
    void run.preload();
  }

  private reconcile(): void {
    if (this.closed) return;
    const current = this.current();
    const serving = this.servingRun();
    for (const run of this.runs.values()) {
      const active = this.isActive(run);
      run.setPinning(active);
      run.setPreloading(active);
    }
    if (current?.isReady() && this.currentReadySince === undefined) {
      this.currentReadySince = Date.now();
      const others = [...this.runs.keys()].filter((id) => id !== current.runId);
      if (others.length > 0) {
        this.options.log.info(
          { current_run_id: current.runId, other_runs: others, grace_ms: this.options.runGraceMs },
          'current run ready; other runs are dropped after the grace period once no router leases them',
        );
      }
    }
    this.sweep();
    const isServing = serving !== undefined;
    if (isServing !== this.serving) {
      this.serving = isServing;
      this.options.log.info({ serving: isServing, run_id: serving?.runId }, isServing ? 'shard node SERVING' : 'shard node NOT_SERVING');
      this.options.onServingChange(isServing);
    }
  }

  /**
   * Drops every run whose time has come (see the module comment) and sets a timer for the next
   * one: the earliest grace end or lease lapse among the other runs.
   */
  private sweep(): void {
    if (this.closed) return;
    const now = Date.now();
    this.leases.prune(new Set(this.runs.keys()));
    let next = Infinity;
    let dropped = 0;
    for (const run of [...this.runs.values()]) {
      if (run.runId === this.currentId || this.currentReadySince === undefined) continue;
      const leaseEnd = this.leases.expiresAt(run.runId);
      if (leaseEnd !== undefined) {
        next = Math.min(next, leaseEnd);
        continue;
      }
      const due = Math.max(this.currentReadySince, this.leases.lastNamedAt(run.runId) ?? 0) + this.options.runGraceMs;
      if (due <= now) {
        this.drop(run.runId);
        dropped += 1;
      } else next = Math.min(next, due);
    }
    if (dropped > 0) this.scheduleReconcile(); // pins, preloading and readiness without the dropped runs
    if (next === this.sweepAt) return;
    clearTimeout(this.sweepTimer);
    this.sweepAt = next;
    if (next === Infinity) return;
    this.sweepTimer = setTimeout(() => {
      this.sweepAt = Infinity;
      this.reconcile();
    }, Math.max(0, next - now) + 1);
    this.sweepTimer.unref();
  }

  private drop(runId: string): void {
    const run = this.runs.get(runId);
    if (run === undefined || runId === this.currentId || this.closed) return;
    this.runs.delete(runId);
    this.options.log.info({ run_id: runId, current_run_id: this.currentId }, 'dropping old run: the current run is ready and no router has leased this one for the grace period');
    const unloading = run.drop().then(
      () => this.options.log.info({ run_id: runId }, 'old run unloaded'),
      (err: unknown) => this.options.log.warn({ run_id: runId, err: errorMessage(err) }, 'unloading old run failed'),
    );
    this.unloading.set(runId, unloading);
    void unloading.finally(() => {
      if (this.unloading.get(runId) === unloading) this.unloading.delete(runId);
    });
  }

  /**
   * What a new NodeRun of `runId` waits for before it loads: the last cache pruning and, when the
   * run was just dropped (a rollback to it, or a router leasing it again), the end of that unload,
   * which deletes the run's cache folder (loading meanwhile would lose the new files).
   */
  private beforeLoading(runId: string): Promise<void> {
    const unloading = this.unloading.get(runId);
    return unloading === undefined ? this.lastPrune : Promise.all([this.lastPrune, unloading]).then(() => undefined);
  }

  /**
   * The shards of `manifest` placement assigns to this node under the current node list, without
   * the nodes routers report draining (unless that leaves none); none while this node drains.
   */
  private assignmentFor(manifest: Manifest): number[] {
    if (this.draining) return [];
    const draining = new Set(this.keepLeases.drainingNodes());
    draining.delete(this.options.nodeId);
    const members = this.options.nodes();
    const staying = members.filter((n) => !draining.has(n.id));
    const nodes = staying.length > 0 ? staying : members;
    if (!nodes.some((n) => n.id === this.options.nodeId)) {
      if (!this.warnedNotMember) {
        this.options.log.warn({ node_id: this.options.nodeId, nodes: nodes.map((n) => n.id) }, 'this node is not in the node list; it is assigned no shards (searches still load shards on demand)');
      }
      this.warnedNotMember = true;
      return [];
    }
    this.warnedNotMember = false;
    return shardsOfNode(placeRun(manifest, nodes.map((n) => n.id), this.options.replication, this.options.placementKey), this.options.nodeId);
  }
}

/** Removes the current-run series of `runId` in `collection` (no-op when unset). */
function metricsRemove(metrics: NodeRunSetOptions['metrics'], runId: string | undefined, collection: string): void {
  if (runId !== undefined) metrics.currentRun.remove({ run_id: runId, collection });
}
