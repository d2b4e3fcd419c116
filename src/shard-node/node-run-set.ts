/**
 * The runs a shard node holds and the snapshot swap.
 *
 * - {@link NodeRunSet.refresh} reads `_CURRENT` (the poll skips the manifest when the pointer's
 *   bytes did not change; the `Refresh` RPC always reloads). A new run is loaded BESIDE the ones
 *   held and becomes `current` at once; older runs keep serving.
 * - When the current run is ready (every assigned shard loaded), every other run is dropped
 *   `runGraceMs` later (routers switch runs only once a run is loaded everywhere, so requests for
 *   the old run keep arriving for a while). Until then the older runs stay searchable.
 * - Readiness (health SERVING): the current run is ready, or, while it loads, an older held run is
 *   ready (the node keeps serving that one). Before any run is ready: NOT_SERVING.
 * - A malformed new manifest (the loader falls back to an earlier one) or a storage error leaves
 *   the held runs serving; the error is kept in `loadError` (Status.load_error) until a refresh
 *   succeeds cleanly.
 * - Only the active runs (the current one, and the older one serving while it loads) preload and
 *   pin their assigned shards; superseded runs are unpinned and can be evicted under budget
 *   pressure (a search of an evicted shard loads it again).
 * - Membership changes recompute every held run's assignment (see NodeRun.setAssignment).
 */
import type { Logger } from 'pino';
import { ReaderStateError, errorMessage } from '../common/errors.ts';
import { CURRENT_KEY, type Manifest } from '../common/manifest.ts';
import type { NodeEndpoint } from '../common/node-list.ts';
import { placeShards, shardsOfNode } from '../common/placement.ts';
import type { RunStatus } from '../common/proto-gen/shardfleet/v1/RunStatus.ts';
import type { ShardFailure } from '../common/proto-gen/shardfleet/v1/ShardFailure.ts';
import { loadSnapshot } from '../common/snapshot-loader.ts';
import { NodeRun, type NodeRunDeps } from './node-run.ts';
import { pruneCache } from './shard-cache.ts';

/** Options of {@link NodeRunSet}. */
export interface NodeRunSetOptions extends NodeRunDeps {
  /** This node's id in the placement. */
  nodeId: string;
  /** Replication factor R (must match the routers'). */
  replication: number;
  /** The current node list (static or from membership). */
  nodes: () => readonly NodeEndpoint[];
  /** How long a superseded run stays after the current run is ready, ms. */
  runGraceMs: number;
  /** How long a shard no longer assigned (membership change) stays loaded, ms. */
  releaseGraceMs: number;
  /** Called when readiness changes (true = SERVING). */
  onServingChange: (serving: boolean) => void;
  log: Logger;
}

/** The run part of a StatusResponse. */
export interface RunSetStatus {
  run_id: string;
  shards_loaded: number[];
  shards_failed: ShardFailure[];
  shards_assigned: number[];
  load_error: string;
  runs: RunStatus[];
}

/** The runs a node holds (see the module comment). */
export class NodeRunSet {
  /** Held runs, least recently made current first. */
  private readonly runs = new Map<string, NodeRun>();
  private readonly dropTimers = new Map<string, NodeJS.Timeout>();
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

  constructor(private readonly options: NodeRunSetOptions) {}

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
      const { added, removed } = run.setAssignment(this.assignmentFor(run.manifest), this.options.releaseGraceMs);
      if (added.length > 0 || removed.length > 0) {
        this.options.log.info(
          { run_id: run.runId, added, released_after_ms: this.options.releaseGraceMs, removed },
          'membership changed: shard assignment updated',
        );
      }
    }
    this.reconcile();
    for (const run of this.activeRuns()) void run.preload();
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

  /** Every held run (newest first, the current one first of all) and the current run's details. */
  status(): RunSetStatus {
    const current = this.current();
    const runs = [...this.runs.values()].reverse().map((run) => run.status(run === current));
    const top = runs.find((r) => r.current);
    return {
      run_id: top?.run_id ?? '',
      shards_loaded: top?.shards_loaded ?? [],
      shards_failed: top?.shards_failed ?? [],
      shards_assigned: top?.shards_assigned ?? [],
      load_error: this.loadError || (current === undefined ? (this.attempted ? 'no snapshot loaded' : 'loading') : ''),
      runs,
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
    for (const timer of this.dropTimers.values()) clearTimeout(timer);
    this.dropTimers.clear();
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
    const current = this.current();
    const serving = this.servingRun();
    return [...this.runs.values()].filter((run) => run === current || run === serving);
  }

  private async refreshOnce(force: boolean): Promise<void> {
    const { store, log } = this.options;
    try {
      let pointer: string | undefined;
      try {
        pointer = (await store.get(CURRENT_KEY)).toString('utf8');
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
      run.setAssignment(this.assignmentFor(manifest), 0);
      // Remove cache leftovers (runs not held, shards of this run not assigned) before it loads.
      const keep = new Map<string, ReadonlySet<number> | 'all'>([...this.runs.keys()].map((id) => [id, 'all']));
      keep.set(runId, new Set(run.status(false).shards_assigned));
      run.prepare(
        pruneCache(this.options.cacheDir, keep).then(
          (removed) => {
            if (removed.length > 0) log.info({ removed }, 'removed stale shard cache folders');
          },
          (err: unknown) => log.warn({ err: errorMessage(err) }, 'pruning the shard cache failed'),
        ),
      );
    } else {
      this.runs.delete(runId); // re-inserted last: most recently current
      clearTimeout(this.dropTimers.get(runId));
      this.dropTimers.delete(runId);
    }
    this.runs.set(runId, run);
    const previous = this.currentId;
    this.currentId = runId;
    metrics.currentRun.reset();
    metrics.currentRun.set({ run_id: runId }, 1);
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
      const active = run === current || run === serving;
      run.setPinning(active);
      run.setPreloading(active);
    }
    if (current?.isReady()) {
      for (const run of this.runs.values()) {
        if (run === current || this.dropTimers.has(run.runId)) continue;
        this.options.log.info({ run_id: run.runId, current_run_id: current.runId, drop_in_ms: this.options.runGraceMs }, 'current run ready; old run will be dropped after the grace period');
        const timer = setTimeout(() => this.drop(run.runId), this.options.runGraceMs);
        timer.unref();
        this.dropTimers.set(run.runId, timer);
      }
    }
    const isServing = serving !== undefined;
    if (isServing !== this.serving) {
      this.serving = isServing;
      this.options.log.info({ serving: isServing, run_id: serving?.runId }, isServing ? 'shard node SERVING' : 'shard node NOT_SERVING');
      this.options.onServingChange(isServing);
    }
  }

  private drop(runId: string): void {
    this.dropTimers.delete(runId);
    const run = this.runs.get(runId);
    if (run === undefined || runId === this.currentId || this.closed) return;
    this.runs.delete(runId);
    this.options.log.info({ run_id: runId }, 'dropping old run');
    run.drop().then(
      () => this.options.log.info({ run_id: runId }, 'old run unloaded'),
      (err: unknown) => this.options.log.warn({ run_id: runId, err: errorMessage(err) }, 'unloading old run failed'),
    );
    this.reconcile();
  }

  /** The shards of `manifest` placement assigns to this node under the current node list. */
  private assignmentFor(manifest: Manifest): number[] {
    const nodes = this.options.nodes();
    if (!nodes.some((n) => n.id === this.options.nodeId)) {
      if (!this.warnedNotMember) {
        this.options.log.warn({ node_id: this.options.nodeId, nodes: nodes.map((n) => n.id) }, 'this node is not in the node list; it is assigned no shards (searches still load shards on demand)');
      }
      this.warnedNotMember = true;
      return [];
    }
    this.warnedNotMember = false;
    const placement = placeShards(
      manifest.shards.map((s) => s.db_id),
      nodes.map((n) => n.id),
      { replication: this.options.replication },
    );
    return shardsOfNode(placement, this.options.nodeId);
  }
}
