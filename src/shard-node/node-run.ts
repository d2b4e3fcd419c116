/**
 * One run (snapshot) held by a shard node: its manifest, the shards placement assigns to this node,
 * the shards that failed to load and why, and leases on its shards through the shared
 * {@link ShardLeaseCache} (key `<run_id>/<db_id>`).
 *
 * - Assigned shards are preloaded, `loadConcurrency` at a time, while the run is active (current,
 *   or the older run still serving while the current one loads); they are pinned in the cache
 *   while the run is active.
 * - Any other shard of the run is loaded on demand by {@link NodeRun.lease} (lazy load), unpinned.
 * - A shard that failed to load is not retried before its back-off elapses (`retryBaseMs`,
 *   doubling per failure up to 5 minutes); meanwhile searches get the recorded reason.
 * - When placement moves a shard away (membership change, or the node drains), it is "releasing":
 *   it stays loaded, pinned and searchable until the run set releases it (node-run-set.ts: once
 *   the routers say its new owners are ready, see shard-keep-leases.ts).
 */
import pLimit, { type LimitFunction } from 'p-limit';
import { InvalidQueryError, ReaderStateError } from '../common/errors.ts';
import type { Manifest, ShardEntry } from '../common/manifest.ts';
import type { RunStatus } from '../common/proto-gen/shardfleet/v1/RunStatus.ts';
import { loadShard, type ShardLoaderDeps } from './run-loader.ts';
import { removeRunCache, shardBytes } from './shard-cache.ts';
import type { LoadedShard, ShardLease, ShardLeaseCache } from './shard-lease-cache.ts';

/** Longest back-off before a failed shard is retried, ms. */
export const MAX_RETRY_MS = 5 * 60_000;

/** What a run needs from its node. */
export interface NodeRunDeps extends ShardLoaderDeps {
  cache: ShardLeaseCache;
  /** Assigned shards loaded at once (>= 1). */
  loadConcurrency: number;
  /** Back-off after a shard's first failed load, ms; doubles per further failure. */
  retryBaseMs: number;
  /**
   * Prefix of this run's keys in the shared shard cache (default ''): `<collection>/` in catalog
   * mode, so two collections holding the same run_id never share a cache entry.
   */
  cacheKeyPrefix?: string;
}

/** A shard no longer assigned, still held: since which status sequence and when (ms since epoch). */
export interface Releasing {
  sinceSeq: number;
  at: number;
}

interface Failure {
  reason: string;
  attempts: number;
  /** Epoch ms before which the shard is not retried. */
  retryAt: number;
}

/** One run held by a shard node (see the module comment). */
export class NodeRun {
  private readonly assigned = new Set<number>();
  /** Shards no longer assigned, still held until the run set releases them. */
  private readonly releasing = new Map<number, Releasing>();
  private readonly failures = new Map<number, Failure>();
  private readonly queued = new Set<number>();
  private readonly limit: LimitFunction;
  private pinning = false;
  private preloading = true;
  private dropped = false;
  private prepared: Promise<void> = Promise.resolve();
  private lastPreload: Promise<void> = Promise.resolve();

  constructor(
    readonly manifest: Manifest,
    private readonly deps: NodeRunDeps,
  ) {
    this.limit = pLimit(Math.max(1, deps.loadConcurrency));
  }

  get runId(): string {
    return this.manifest.run_id;
  }

  /** Makes every load of this run wait for `task` first (e.g. pruning the run's cache folder). */
  prepare(task: Promise<void>): void {
    this.prepared = task;
  }

  /**
   * Sets the shards placement assigns to this node. Newly assigned shards are pinned (when the run
   * is active) and preloaded by the next {@link preload}; shards no longer assigned become
   * releasing (see {@link releaseWhere}) unless assigned again meanwhile.
   * @param sinceSeq the node's status sequence now (recorded with each newly releasing shard).
   * @returns the db ids added and removed (ascending).
   */
  setAssignment(dbIds: readonly number[], sinceSeq: number): { added: number[]; removed: number[] } {
    const next = new Set(dbIds);
    const added: number[] = [];
    const removed: number[] = [];
    for (const dbId of [...this.assigned]) {
      if (next.has(dbId)) continue;
      this.assigned.delete(dbId);
      removed.push(dbId);
      this.releasing.set(dbId, { sinceSeq, at: Date.now() });
    }
    for (const dbId of next) {
      if (this.assigned.has(dbId)) continue;
      this.assigned.add(dbId);
      added.push(dbId);
      this.releasing.delete(dbId);
      this.deps.cache.setPinned(this.key(dbId), this.shouldPin(dbId));
    }
    return { added: added.sort((a, b) => a - b), removed: removed.sort((a, b) => a - b) };
  }

  /** Pins (active run) or unpins (superseded run) the assigned shards in the cache. */
  setPinning(pin: boolean): void {
    if (this.pinning === pin) return;
    this.pinning = pin;
    for (const dbId of [...this.assigned, ...this.releasing.keys()]) this.deps.cache.setPinned(this.key(dbId), this.shouldPin(dbId));
  }

  /** Turns preloading of assigned shards on (active run) or off (superseded run). */
  setPreloading(on: boolean): void {
    this.preloading = on;
  }

  /**
   * Loads every assigned shard that is not loaded, not already queued and not backing off after a
   * failure, `loadConcurrency` at a time. Never rejects: failures are recorded (see
   * {@link status}) and logged. Resolves when this pass's loads have finished.
   */
  preload(): Promise<void> {
    if (!this.preloading || this.dropped) return this.lastPreload;
    const now = Date.now();
    const jobs: Promise<void>[] = [];
    for (const dbId of this.assigned) {
      const failure = this.failures.get(dbId);
      if (this.queued.has(dbId) || this.deps.cache.isReady(this.key(dbId)) || (failure !== undefined && now < failure.retryAt)) continue;
      this.queued.add(dbId);
      jobs.push(
        this.limit(async () => {
          try {
            if (!this.preloading || this.dropped || !this.assigned.has(dbId)) return;
            (await this.lease(dbId)).release();
          } catch {
            // recorded in `failures` and logged by the loader
          } finally {
            this.queued.delete(dbId);
          }
        }),
      );
    }
    this.lastPreload = Promise.all([this.lastPreload, ...jobs]).then(() => undefined);
    return this.lastPreload;
  }

  /**
   * A lease on shard `dbId`'s open reader; the shard is loaded first when it is not (lazily when it
   * is not assigned here). Release the lease when the search is done.
   * @throws InvalidQueryError when the run has no shard `dbId`; ReaderStateError when the run was
   *   unloaded, or with the recorded reason while a failed shard backs off; the load error
   *   (ShardIntegrityError, StorageError, VectorIndexError naming the shard and file) otherwise.
   */
  async lease(dbId: number): Promise<ShardLease> {
    const entry = this.manifest.shards[dbId];
    if (!Number.isInteger(dbId) || entry === undefined) {
      throw new InvalidQueryError(`shard ${dbId} does not exist in run ${this.runId} (shards 0..${this.manifest.shards.length - 1})`);
    }
    const key = this.key(dbId);
    if (!this.deps.cache.isReady(key)) {
      const failure = this.failures.get(dbId);
      if (failure !== undefined && Date.now() < failure.retryAt) throw new ReaderStateError(failure.reason);
    }
    await this.prepared;
    if (this.dropped) throw new ReaderStateError(`shard ${dbId} of run ${this.runId}: the run was unloaded from this node`);
    const lazy = !this.assigned.has(dbId) && !this.releasing.has(dbId);
    return this.deps.cache.acquire(key, { bytes: shardBytes(entry), pinned: this.shouldPin(dbId), load: () => this.loadOne(entry, lazy) });
  }

  /** Db ids of the shards open and searchable, ascending. */
  loaded(): number[] {
    return this.manifest.shards.map((s) => s.db_id).filter((dbId) => this.deps.cache.isReady(this.key(dbId)));
  }

  /** True when every assigned shard is open (trivially true with none assigned). */
  isReady(): boolean {
    for (const dbId of this.assigned) if (!this.deps.cache.isReady(this.key(dbId))) return false;
    return true;
  }

  /** Releasing shards that are loaded (searchable), ascending. */
  releasingLoaded(): number[] {
    return [...this.releasing.keys()].filter((dbId) => this.deps.cache.isReady(this.key(dbId))).sort((a, b) => a - b);
  }

  /** True while some releasing shard is held. */
  hasReleasing(): boolean {
    return this.releasing.size > 0;
  }

  /**
   * Releases (unpins and unloads) every releasing shard that is not loaded, and every loaded one
   * for which `may(dbId, releasing)` is true.
   * @param keepFiles keep the released shards' files in the cache folder (a node that is stopping:
   *   it may come back with the same shards, and its cache is reused on restart); else deleted.
   * @returns the db ids released (ascending).
   */
  releaseWhere(may: (dbId: number, releasing: Releasing) => boolean, keepFiles = false): number[] {
    const out: number[] = [];
    for (const [dbId, r] of [...this.releasing]) {
      if (this.deps.cache.isReady(this.key(dbId)) && !may(dbId, r)) continue;
      this.release(dbId, keepFiles);
      out.push(dbId);
    }
    return out.sort((a, b) => a - b);
  }

  /** Resolves when the preload passes started so far have finished. */
  settled(): Promise<void> {
    return this.lastPreload;
  }

  /**
   * The run's status for `StatusResponse.runs`.
   * @param current whether `_CURRENT` names this run; @param leased whether a router leases it.
   */
  status(current: boolean, leased = false): RunStatus {
    const loaded = this.loaded();
    const loadedSet = new Set(loaded);
    return {
      run_id: this.runId,
      shards_loaded: loaded,
      shards_failed: [...this.failures]
        .filter(([dbId]) => !loadedSet.has(dbId))
        .sort(([a], [b]) => a - b)
        .map(([db_id, f]) => ({ db_id, reason: f.reason })),
      shards_assigned: [...this.assigned].sort((a, b) => a - b),
      ready: this.isReady(),
      current,
      leased,
      shards_releasing: this.releasingLoaded(),
    };
  }

  /**
   * Unloads the run: no new leases, every shard closes once its in-flight searches end, and the
   * run's cache folder is deleted. Resolves when done.
   */
  async drop(): Promise<void> {
    this.dropped = true;
    this.preloading = false;
    this.releasing.clear();
    const prefix = `${this.deps.cacheKeyPrefix ?? ''}${this.runId}/`;
    await Promise.all(this.deps.cache.keysWithPrefix(prefix).map((key) => this.deps.cache.unload(key, true)));
    await removeRunCache(this.deps.cacheDir, this.runId);
  }

  /** Forgets releasing shards (node shutdown); shards are closed by the cache. */
  stopTimers(): void {
    this.releasing.clear();
  }

  private key(dbId: number): string {
    return `${this.deps.cacheKeyPrefix ?? ''}${this.runId}/${dbId}`;
  }

  private shouldPin(dbId: number): boolean {
    return this.pinning && (this.assigned.has(dbId) || this.releasing.has(dbId));
  }

  private release(dbId: number, keepFiles: boolean): void {
    this.releasing.delete(dbId);
    if (this.assigned.has(dbId) || this.dropped) return;
    const key = this.key(dbId);
    this.deps.log.info({ run_id: this.runId, db_id: dbId }, 'releasing shard no longer assigned to this node');
    this.deps.cache.setPinned(key, false);
    void this.deps.cache.unload(key, !keepFiles);
  }

  private async loadOne(entry: ShardEntry, lazy: boolean): Promise<LoadedShard> {
    try {
      const loaded = await loadShard(this.deps, this.manifest, entry, lazy);
      this.failures.delete(entry.db_id);
      return loaded;
    } catch (err) {
      const attempts = (this.failures.get(entry.db_id)?.attempts ?? 0) + 1;
      const backoff = Math.min(this.deps.retryBaseMs * 2 ** (attempts - 1), MAX_RETRY_MS);
      const reason = err instanceof Error ? err.message : String(err);
      this.failures.set(entry.db_id, { reason, attempts, retryAt: Date.now() + backoff });
      throw err;
    }
  }
}
