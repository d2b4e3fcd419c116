/**
 * Watches `_CURRENT` (every poll interval, and on demand for the Refresh RPC) and decides which run
 * the router serves.
 *
 * - The first loadable run is served at once (after one round of node Status, so its coverage is
 *   known); until then Search fails FAILED_PRECONDITION.
 * - A newer run (any run other than the served one, rollbacks included) is loaded (manifest and
 *   routing) as PENDING; the old run keeps serving until every shard of the new run has a ready
 *   replica (`missingShards` is empty), then the served snapshot object is replaced atomically.
 * - A malformed new manifest (the loader falls back to an earlier one) or a storage error leaves
 *   the served run untouched and is kept as `lastRefreshError` (Health: degraded) until a refresh
 *   succeeds. A pointer already found bad is not re-read until `_CURRENT` changes.
 */
import type { Logger } from 'pino';
import { ObjectNotFoundError, SnapshotNotFoundError, errorMessage } from '../common/errors.ts';
import { CURRENT_KEY, parseCurrentPointer } from '../common/manifest.ts';
import { loadSnapshot, type LoadedSnapshot } from '../common/snapshot-loader.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';
import { placeRun, routerSnapshotOf, type RouterSnapshot } from './router-snapshot.ts';

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
}

/** A published run that is not served yet. */
export interface PendingRun {
  snapshot: RouterSnapshot;
  /** When the router first saw it, ms since epoch. */
  since: number;
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

  /** Switches to the pending run when every one of its shards has a ready replica. @returns true on a switch. */
  tryPromote(): boolean {
    const p = this.pendingRun;
    if (!p || !this.served) return false;
    if (this.options.missingShards(p.snapshot).length > 0) return false;
    this.pendingRun = undefined;
    this.serve(p.snapshot);
    return true;
  }

  /** Recomputes the placement of the served and pending runs over the current node ids. */
  updatePlacement(): void {
    const ids = this.options.nodeIds();
    const rp = (s: RouterSnapshot): RouterSnapshot => ({ ...s, placement: placeRun(s.manifest, ids, this.options.replication) });
    if (this.served) this.served = rp(this.served);
    if (this.pendingRun) this.pendingRun = { ...this.pendingRun, snapshot: rp(this.pendingRun.snapshot) };
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
      pointerBytes = await store.get(CURRENT_KEY);
    } catch (err) {
      if (err instanceof ObjectNotFoundError) {
        throw new SnapshotNotFoundError(`no snapshot published at ${store.url}: ${CURRENT_KEY} does not exist (run \`shardfleet build\` first)`);
      }
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
    if (ref !== undefined && (ref === this.served?.manifestKey || ref === this.pendingRun?.snapshot.manifestKey)) {
      this.refreshError = '';
      this.badPointer = undefined;
      return;
    }
    if (pointerText === this.badPointer && this.served) return; // still the pointer found bad; keep its error
    const loaded = await loadSnapshot(store, log);
    if (loaded.fallbackFrom) {
      this.badPointer = pointerText;
      this.fail(`manifest ${loaded.fallbackFrom.key} is unusable (${loaded.fallbackFrom.reason}); fell back to ${loaded.manifestKey}`);
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
      return;
    }
    if (this.pendingRun && runId === this.pendingRun.snapshot.manifest.run_id) return;
    const snapshot = await routerSnapshotOf(this.options.store, loaded, this.options.nodeIds(), this.options.replication);
    if (!this.served) {
      await this.options.beforeFirstServe?.();
      if (this.served) {
        this.pendingRun = { snapshot, since: this.now() };
        return;
      }
      this.serve(snapshot);
      return;
    }
    this.pendingRun = { snapshot, since: this.now() };
    log.info({ run_id: runId, serving: this.served.manifest.run_id }, 'new run published; serving the old one until every shard of the new one is loaded');
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
