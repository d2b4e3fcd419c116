/**
 * Watches `_CURRENT` (every poll interval, and on demand for the Refresh RPC) and decides which run
 * the router serves.
 *
 * - Cold start: after one round of node Status (so coverage is known) the router serves the
 *   first run that is complete on ready replicas among the `_CURRENT` run and up to 3 earlier
 *   manifests (snapshot-loader.ts `earlierManifests`: the runs that were current before, from the
 *   pointer's `previous`, then the newest older manifests by key, so a pointer without `previous`
 *   still has them); the `_CURRENT` run then stays PENDING. When none is complete it serves the
 *   `_CURRENT` run (partial answers, Health degraded) and leases the first earlier manifest as a
 *   FALLBACK: once the nodes have loaded the fallback completely, it is served instead. Until a
 *   run is served, Search fails FAILED_PRECONDITION.
 * - A newer run (any run other than the served one, rollbacks included) is loaded (manifest and
 *   routing) as PENDING; the old run keeps serving until every shard of the new run has a ready
 *   replica (`missingShards` is empty), then the served snapshot object is replaced atomically.
 *   `_CURRENT` pointing at the served run again (a rollback) drops the pending run.
 * - A malformed new manifest or a storage error leaves the served (and pending) run untouched; the
 *   loader's fallback to an earlier run is used only while nothing is served. The error is kept as
 *   `lastRefreshError` (Health: degraded) until a refresh succeeds. A pointer already found bad is
 *   not re-read until `_CURRENT` changes.
 * - Every run the router serves, waits for or falls back to is leased to the nodes ({@link
 *   SnapshotWatcher.leasedRuns}, sent with each Status call), so no node unloads a run a router
 *   still needs and a restarted node loads it again.
 */
import type { Logger } from 'pino';
import { ObjectNotFoundError, errorMessage } from '../common/errors.ts';
import { parseCurrentPointer } from '../common/manifest.ts';
import { earlierManifests, loadSnapshot, snapshotNotFoundError, type EarlierManifest, type LoadedSnapshot } from '../common/snapshot-loader.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';
import { getPointerBytes, readManifest } from '../common/store-reads.ts';
import { placeRun } from '../common/placement.ts';
import { routerSnapshotOf, type RouterSnapshot } from './router-snapshot.ts';

/** Settings and hooks of a {@link SnapshotWatcher}. */
export interface SnapshotWatcherOptions {
  store: ObjectStore;
  replication: number;
  /** Current node ids (placement membership). */
  nodeIds(): string[];
  /** Shards of `snapshot`'s run without a ready replica; empty = the run may be served. */
  missingShards(snapshot: RouterSnapshot): number[];
  /** Awaited before the first run is served (e.g. one round of node Status). */
  beforeFirstServe?(): Promise<void>;
  /** Called after the served snapshot changed run. */
  onServe?(next: RouterSnapshot, previous: RouterSnapshot | undefined): void;
  /** Called for every failed refresh. */
  onRefreshError?(message: string): void;
  log: Logger;
  /** Clock, ms since epoch. */
  now?: () => number;
  /**
   * The collection's name keying placement (placement.ts placeRun) in catalog mode (issue 24);
   * unset in single-collection mode (today's placement).
   */
  placementKey?: string;
}

/** A published run that is not served yet. */
export interface PendingRun {
  snapshot: RouterSnapshot;
  /** When the router first saw it, ms since epoch. */
  since: number;
}

/** A run the router asks the nodes to keep loaded (proto RunLease). */
export interface RunLeaseRef {
  run_id: string;
  manifest_key: string;
}

/** What a refresh did, for the Refresh RPC. */
export interface RefreshOutcome {
  runId: string;
  previousRunId: string;
  changed: boolean;
  message: string;
}

/** The served / pending run state of a router. */
export class SnapshotWatcher {
  private served: RouterSnapshot | undefined;
  private pendingRun: PendingRun | undefined;
  /** An earlier run served instead of an incomplete served run once it is complete. */
  private fallbackRun: RouterSnapshot | undefined;
  private refreshError = '';
  private loadError = 'no snapshot loaded yet';
  private checkedAt = 0;
  private badPointer: string | undefined;
  private chain: Promise<void> = Promise.resolve();
  private busy = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly options: SnapshotWatcherOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The served snapshot (undefined until a run is loaded). */
  current(): RouterSnapshot | undefined {
    return this.served;
  }

  /** The newer run waiting for its shards to be ready, if any. */
  pending(): PendingRun | undefined {
    return this.pendingRun;
  }

  /** The earlier run leased as a fallback while no complete run is served, if any. */
  fallback(): RouterSnapshot | undefined {
    return this.fallbackRun;
  }

  /** The runs to lease to the nodes: served, pending and fallback (no repeats). */
  leasedRuns(): RunLeaseRef[] {
    const out: RunLeaseRef[] = [];
    for (const s of [this.served, this.pendingRun?.snapshot, this.fallbackRun]) {
      if (s !== undefined && !out.some((l) => l.run_id === s.manifest.run_id)) out.push({ run_id: s.manifest.run_id, manifest_key: s.manifestKey });
    }
    return out;
  }

  /** The last refresh error ("" when the last refresh succeeded). */
  get lastRefreshError(): string {
    return this.refreshError;
  }

  /** Why no run is served yet ("" once one is). */
  get lastLoadError(): string {
    return this.served ? '' : this.loadError;
  }

  /** When `_CURRENT` was last read successfully, ms since epoch (0 = never). */
  get lastCheckAt(): number {
    return this.checkedAt;
  }

  /**
   * Re-reads `_CURRENT` now (after any refresh in progress), loads a new run as pending and
   * switches to it when it is ready. Never throws: errors go to `lastRefreshError`.
   */
  refresh(): Promise<void> {
    this.chain = this.chain.then(() => this.refreshOnce());
    return this.chain;
  }

  /**
   * Starts polling `_CURRENT` every `intervalMs` (first read now).
   * @returns a promise resolved when the first read finished (whatever its result).
   */
  start(intervalMs: number): Promise<void> {
    const tick = (): void => {
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        const run = this.busy ? Promise.resolve() : this.refresh();
        void run.then(tick);
      }, intervalMs);
      this.timer.unref();
    };
    return this.refresh().then(tick);
  }

  /** Stops polling. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /**
   * Switches to the pending run when every one of its shards has a ready replica, else to the
   * fallback run when it is complete and the served run is not (the served run then becomes the
   * pending one). @returns true on a switch.
   */
  tryPromote(): boolean {
    if (!this.served) return false;
    const p = this.pendingRun;
    if (p && this.options.missingShards(p.snapshot).length === 0) {
      this.pendingRun = undefined;
      this.fallbackRun = undefined;
      this.serve(p.snapshot);
      return true;
    }
    const f = this.fallbackRun;
    if (f && this.options.missingShards(f).length === 0 && this.options.missingShards(this.served).length > 0) {
      const incomplete = this.served;
      this.fallbackRun = undefined;
      this.pendingRun ??= { snapshot: incomplete, since: this.now() };
      this.options.log.warn(
        { run_id: f.manifest.run_id, incomplete_run_id: incomplete.manifest.run_id, missing: this.options.missingShards(incomplete) },
        'the earlier run is now complete on the nodes while the current one is not; serving it until the current run is complete',
      );
      this.serve(f);
      return true;
    }
    return false;
  }

  /** Recomputes the placement of the served and pending runs over the current node ids. */
  updatePlacement(): void {
    const ids = this.options.nodeIds();
    const rp = (s: RouterSnapshot): RouterSnapshot => ({ ...s, placement: placeRun(s.manifest, ids, this.options.replication, this.options.placementKey) });
    if (this.served) this.served = rp(this.served);
    if (this.pendingRun) this.pendingRun = { ...this.pendingRun, snapshot: rp(this.pendingRun.snapshot) };
    if (this.fallbackRun) this.fallbackRun = rp(this.fallbackRun);
  }

  /** Describes the state after a refresh, relative to the run served before it. */
  describe(previousRunId: string): RefreshOutcome {
    const runId = this.served?.manifest.run_id ?? '';
    const changed = runId !== previousRunId;
    let message: string;
    if (!this.served) message = `no run served: ${this.loadError}`;
    else if (this.pendingRun) {
      const missing = this.options.missingShards(this.pendingRun.snapshot);
      message =
        `run ${this.pendingRun.snapshot.manifest.run_id} is loading on the nodes: ${missing.length} of ` +
        `${this.pendingRun.snapshot.manifest.shards.length} shards have no ready replica yet (${listShards(missing)}); still serving run ${runId}`;
    } else if (changed) message = previousRunId ? `switched from run ${previousRunId} to run ${runId}` : `serving run ${runId}`;
    else message = `run ${runId} is current`;
    if (this.refreshError) message += `; last refresh failed: ${this.refreshError}`;
    return { runId, previousRunId, changed, message };
  }

  private async refreshOnce(): Promise<void> {
    this.busy = true;
    try {
      await this.check();
    } catch (err) {
      this.fail(errorMessage(err));
    } finally {
      this.busy = false;
    }
    this.tryPromote();
  }

  private async check(): Promise<void> {
    const { store, log } = this.options;
    let pointerBytes: Buffer;
    try {
      pointerBytes = await getPointerBytes(store);
    } catch (err) {
      if (err instanceof ObjectNotFoundError) throw await snapshotNotFoundError(store);
      throw err;
    }
    this.checkedAt = this.now();
    const pointerText = pointerBytes.toString('utf8');
    let ref: string | undefined;
    try {
      ref = parseCurrentPointer(pointerBytes).manifest_ref;
    } catch {
      ref = undefined; // the loader falls back and reports it
    }
    if (ref !== undefined && ref === this.served?.manifestKey) {
      // _CURRENT names the served run again (e.g. a rollback): nothing is pending any more.
      if (this.pendingRun) log.info({ run_id: this.served.manifest.run_id, dropped: this.pendingRun.snapshot.manifest.run_id }, '_CURRENT points at the served run again; dropping the pending run');
      this.pendingRun = undefined;
      this.fallbackRun = undefined;
      this.refreshError = '';
      this.badPointer = undefined;
      return;
    }
    if (ref !== undefined && ref === this.pendingRun?.snapshot.manifestKey) {
      this.refreshError = '';
      this.badPointer = undefined;
      return;
    }
    if (pointerText === this.badPointer && this.served) return; // still the pointer found bad; keep its error
    const loaded = await loadSnapshot(store, log);
    if (loaded.fallbackFrom) {
      this.badPointer = pointerText;
      if (this.served) {
        // Keep serving what is served: never move to a run _CURRENT does not name.
        this.fail(`manifest ${loaded.fallbackFrom.key} is unusable (${loaded.fallbackFrom.reason}); still serving run ${this.served.manifest.run_id}`);
        return;
      }
      this.fail(`manifest ${loaded.fallbackFrom.key} is unusable (${loaded.fallbackFrom.reason}); fell back to ${loaded.manifestKey}, the run that was current before`);
    } else {
      this.badPointer = undefined;
    }
    await this.consider(loaded);
    if (!loaded.fallbackFrom) this.refreshError = '';
  }

  private async consider(loaded: LoadedSnapshot): Promise<void> {
    const { log } = this.options;
    const runId = loaded.manifest.run_id;
    if (this.served && runId === this.served.manifest.run_id) {
      if (this.pendingRun) log.info({ run_id: runId, dropped: this.pendingRun.snapshot.manifest.run_id }, '_CURRENT points at the served run again; dropping the pending run');
      this.pendingRun = undefined;
      this.fallbackRun = undefined;
      return;
    }
    if (this.pendingRun && runId === this.pendingRun.snapshot.manifest.run_id) return;
    const snapshot = await routerSnapshotOf(this.options.store, loaded, this.options.nodeIds(), this.options.replication, this.options.log, this.options.placementKey);
    if (!this.served) {
      await this.options.beforeFirstServe?.();
      if (!this.served) {
        await this.serveFirst(snapshot, loaded);
        return;
      }
    }
    this.pendingRun = { snapshot, since: this.now() };
    if (this.fallbackRun?.manifest.run_id === runId) this.fallbackRun = undefined;
    log.info({ run_id: runId, serving: this.served?.manifest.run_id }, 'new run published; serving the old one until every shard of the new one is loaded');
  }

  /**
   * Cold start (see the module comment): serves `target` when it is complete, else the first
   * complete run among the earlier manifests, else `target` with the first earlier one as fallback.
   */
  private async serveFirst(target: RouterSnapshot, loaded: LoadedSnapshot): Promise<void> {
    const missing = this.options.missingShards(target);
    if (missing.length === 0) {
      this.serve(target);
      return;
    }
    let candidates: EarlierManifest[] = [];
    try {
      candidates = await earlierManifests(this.options.store, loaded.pointer);
    } catch (err) {
      this.options.log.warn({ err: errorMessage(err) }, 'cannot list the earlier manifests');
    }
    const earlier: RouterSnapshot[] = [];
    for (const entry of candidates) {
      if (entry.manifestKey === target.manifestKey) continue;
      const alt = await this.loadEarlier(entry);
      if (alt === undefined || alt.manifest.run_id === target.manifest.run_id) continue;
      if (this.options.missingShards(alt).length === 0) {
        this.options.log.warn(
          { run_id: alt.manifest.run_id, manifest: alt.manifestKey, pending_run_id: target.manifest.run_id, missing },
          'the current run has shards without a ready replica; serving the newest earlier run that is complete until it is loaded',
        );
        this.pendingRun = { snapshot: target, since: this.now() };
        this.serve(alt);
        return;
      }
      earlier.push(alt);
    }
    this.fallbackRun = earlier[0];
    this.options.log.warn(
      { run_id: target.manifest.run_id, missing, fallback_run_id: this.fallbackRun?.manifest.run_id, tried: earlier.map((s) => s.manifest.run_id) },
      'no run is complete on the nodes; serving the current run with partial coverage' + (this.fallbackRun ? ' and asking the nodes to load the newest earlier run' : ''),
    );
    this.serve(target);
  }

  /** The router snapshot of an earlier manifest, or undefined (logged) when it cannot be read. */
  private async loadEarlier(entry: EarlierManifest): Promise<RouterSnapshot | undefined> {
    try {
      const manifest = await readManifest(this.options.store, entry.manifestKey);
      return await routerSnapshotOf(
        this.options.store,
        { manifest, manifestKey: entry.manifestKey, publishedAt: entry.publishedAt ?? manifest.created_at },
        this.options.nodeIds(),
        this.options.replication,
        this.options.log,
        this.options.placementKey,
      );
    } catch (err) {
      this.options.log.warn({ manifest: entry.manifestKey, err: errorMessage(err) }, 'cannot load an earlier run');
      return undefined;
    }
  }

  private serve(next: RouterSnapshot): void {
    const previous = this.served;
    this.served = next;
    this.loadError = '';
    this.options.log.info({ run_id: next.manifest.run_id, previous_run_id: previous?.manifest.run_id, num_dbs: next.manifest.sharding.num_dbs }, 'router serving run');
    this.options.onServe?.(next, previous);
  }

  private fail(message: string): void {
    this.refreshError = message;
    if (!this.served) this.loadError = message;
    this.options.log.error({ err: message, store: this.options.store.url }, this.served ? 'snapshot refresh failed; still serving the old run' : 'cannot load snapshot; will retry');
    this.options.onRefreshError?.(message);
  }
}

/** `1, 3, 7` (at most 20 ids, then `...`). */
export function listShards(ids: readonly number[]): string {
  return ids.length <= 20 ? ids.join(', ') : `${ids.slice(0, 20).join(', ')}, ... (${ids.length} in all)`;
}
