/**
 * The collections a shard node serves (issue 24): one {@link NodeRunSet} per collection of the
 * catalog (src/common/catalog/collection-catalog.ts), each with its own store prefix, cache
 * subfolder (`<cacheDir>/collections/<name>/` in catalog mode; `<cacheDir>` itself in
 * single-collection mode, as before) and cache-key prefix, all sharing the node's shard cache
 * budget, search admission and metrics.
 *
 * - Routers name a run as (collection, run_id); an empty collection is the node's default one:
 *   "default" (single-collection mode, or a catalog child of that name).
 * - A collection that leaves the catalog stops polling at once and is dropped like a superseded
 *   run: once no router lease names one of its runs and `runGraceMs` passed since the last one
 *   did (NodeRunSet.leasedUntil); it keeps answering searches meanwhile. One that comes back
 *   before that is served again.
 * - Status: every RunStatus is tagged with its collection; the legacy top-level fields describe
 *   the "default" collection (single-collection mode: exactly as before). SERVING: no collection
 *   holds a current run that is not serving, and at least one serves.
 */
import type { Logger } from 'pino';
import { join } from 'node:path';
import { CollectionNotFoundError, listNames, type CatalogChange, type CatalogCollection, type CatalogMode } from '../common/catalog/collection-catalog.ts';
import { DEFAULT_COLLECTION } from '../common/catalog/collection-name.ts';
import { quoteInput } from '../common/bounded-text.ts';
import { InvalidQueryError, errorMessage } from '../common/errors.ts';
import type { RequestLimits } from '../common/request-limits.ts';
import { NodeRunSet, type NodeRunSetOptions, type RouterShardWord, type RunSetStatus } from './node-run-set.ts';
import type { NodeRun } from './node-run.ts';
import { checkLeaseList } from './run-leases.ts';

/** Longest list of load errors in Status.load_error, collections. */
const MAX_LOAD_ERRORS_LISTED = 5;

/** What every collection's run set shares (the per-collection fields are filled in here). */
export type SharedRunSetOptions = Omit<NodeRunSetOptions, 'store' | 'cacheDir' | 'collection' | 'placementKey' | 'statusSeq' | 'onServingChange' | 'cacheKeyPrefix'> & {
  /** The node's cache root (`--cache-dir`). */
  cacheDir: string;
};

/** A lease or keep word as received, before it is split by collection. */
export interface RouterWord {
  routerId: string;
  ttlMs: number;
  leases: ReadonlyArray<{ collection: string; runId: string; manifestKey: string }>;
  keep: ReadonlyArray<{ collection: string; runId: string; dbIds: number[] }>;
  draining: readonly string[];
  seenSeq: number;
}

interface Served {
  set: NodeRunSet;
  /** Removed from the catalog at (ms since epoch); undefined while served. */
  removedAt?: number;
}

/** The node's collections (see the module comment). */
export class NodeCollections {
  private readonly sets = new Map<string, Served>();
  private readonly seq = { value: Date.now() * 1000 };
  private mode: CatalogMode = 'single';
  /** True once the first catalog scan was applied. */
  private scanned = false;
  private serving = false;
  private closed = false;
  private draining = false;
  private retireTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly shared: SharedRunSetOptions,
    private readonly limits: RequestLimits,
    private readonly onServingChange: (serving: boolean) => void,
    private readonly log: Logger,
  ) {}

  /** Applies a catalog change: new collections start loading (refreshed at once), removed ones retire. */
  apply(change: CatalogChange): void {
    if (this.closed) return;
    this.mode = change.mode;
    this.scanned = true;
    const now = Date.now();
    for (const name of change.removed) {
      const s = this.sets.get(name);
      if (s === undefined || s.removedAt !== undefined) continue;
      s.removedAt = now;
      this.log.info({ collection: name, grace_ms: this.shared.runGraceMs }, 'collection left the catalog; its runs are dropped once no router leases them for the grace period');
    }
    for (const c of change.added) this.add(c);
    this.checkRetired();
    this.updateServing();
  }

  private add(c: CatalogCollection): void {
    const old = this.sets.get(c.name);
    if (old !== undefined && old.removedAt !== undefined && old.set.storeUrl === c.store.url) {
      old.removedAt = undefined;
      this.log.info({ collection: c.name }, 'collection is back in the catalog; served again');
      void old.set.refresh(true);
      return;
    }
    if (old !== undefined) void this.retireNow(c.name, old);
    const single = this.mode === 'single';
    const set = new NodeRunSet({
      ...this.shared,
      store: c.store,
      cacheDir: single ? this.shared.cacheDir : join(this.shared.cacheDir, 'collections', c.name),
      cacheKeyPrefix: single ? '' : `${c.name}/`,
      collection: c.name,
      placementKey: single ? undefined : c.name,
      statusSeq: this.seq,
      onServingChange: () => this.updateServing(),
    });
    if (this.draining) set.startDraining();
    this.sets.set(c.name, { set });
    void set.refresh(true);
  }

  /** The set of `collection` ('' = "default"), retired ones included (they still answer). */
  private setOf(collection: string): NodeRunSet {
    const name = collection === '' ? DEFAULT_COLLECTION : collection;
    const s = this.sets.get(name);
    if (s !== undefined) return s.set;
    if (collection === '') {
      throw new InvalidQueryError(`this shard node serves no collection named "${DEFAULT_COLLECTION}" (it serves ${listNames(this.names())}); name the collection`);
    }
    throw new CollectionNotFoundError(`collection ${quoteInput(collection)} is not served by this shard node (it serves ${listNames(this.names())})`);
  }

  /** Served collection names (retired ones left out), sorted. */
  names(): string[] {
    return [...this.sets].filter(([, s]) => s.removedAt === undefined).map(([n]) => n).sort();
  }

  /**
   * The run a SearchShards call names.
   * @throws InvalidQueryError / ReaderStateError naming the collection or run (see NodeRunSet.resolve).
   */
  resolve(collection: string, runId: string): NodeRun {
    return this.setOf(collection).resolve(runId);
  }

  /** Re-reads `_CURRENT` of every served collection (see NodeRunSet.refresh); never rejects. */
  async refresh(force: boolean): Promise<void> {
    this.checkRetired();
    await Promise.all([...this.sets.values()].filter((s) => s.removedAt === undefined).map((s) => s.set.refresh(force)));
  }

  /** Resolves when every collection's current-run preload passes started so far have finished. */
  async settled(): Promise<void> {
    await Promise.all([...this.sets.values()].map((s) => s.set.settled()));
  }

  membershipChanged(): void {
    for (const s of this.sets.values()) s.set.membershipChanged();
  }

  scheduleReconcile(): void {
    for (const s of this.sets.values()) s.set.scheduleReconcile();
  }

  startDraining(): void {
    this.draining = true;
    for (const s of this.sets.values()) s.set.startDraining();
  }

  async whenReleased(timeoutMs: number): Promise<boolean> {
    const results = await Promise.all([...this.sets.values()].map((s) => s.set.whenReleased(timeoutMs)));
    return results.every(Boolean);
  }

  /**
   * Records a router's leases and shard words, split by collection (every set gets its part, an
   * empty one included, since a renewal replaces the router's earlier leases). Leases of
   * collections not held are ignored.
   * @throws InvalidQueryError when one collection's leases exceed `maxRunLeases` (nothing recorded).
   */
  renewLeases(word: RouterWord): void {
    const byCollection = new Map<string, RouterWord['leases'][number][]>();
    for (const l of word.leases) {
      const name = l.collection === '' ? DEFAULT_COLLECTION : l.collection;
      byCollection.set(name, [...(byCollection.get(name) ?? []), l]);
    }
    const checked = new Map([...byCollection].map(([name, ls]) => [name, checkLeaseList(ls.map((l) => ({ runId: l.runId, manifestKey: l.manifestKey })), this.limits)]));
    for (const [name, s] of this.sets) {
      const keep = word.keep.filter((k) => (k.collection === '' ? DEFAULT_COLLECTION : k.collection) === name).map((k) => ({ runId: k.runId, dbIds: k.dbIds }));
      const shardWord: RouterShardWord = { keep, draining: word.draining, seenSeq: word.seenSeq };
      s.set.renewLeases(word.routerId, checked.get(name) ?? [], word.ttlMs, shardWord);
    }
  }

  /** /readyz: SERVING as {@link isServing}, with each collection's reason. */
  readiness(): { ready: boolean; reason: string } {
    const entries = [...this.sets].filter(([, s]) => s.removedAt === undefined);
    if (this.mode === 'single' && entries.length === 1) return entries[0][1].set.readiness();
    const parts = entries.map(([name, s]) => `${name}: ${s.set.readiness().reason}`);
    return { ready: this.serving, reason: parts.join('; ') || (this.scanned ? 'no collection found under the catalog root' : 'loading the snapshot (first _CURRENT read in progress)') };
  }

  /** The run part of a StatusResponse over every collection (see the module comment). */
  status(): RunSetStatus {
    const entries = [...this.sets].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const statuses = entries.map(([name, s]) => ({ name, retired: s.removedAt !== undefined, st: s.set.status() }));
    const top = statuses.find((s) => s.name === DEFAULT_COLLECTION && !s.retired)?.st;
    const runs = statuses.flatMap(({ name, st }) => st.runs.map((r) => ({ ...r, collection: name })));
    const errors = statuses.filter((s) => !s.retired && s.st.load_error !== '' && s.st !== top).map((s) => `${s.name}: ${s.st.load_error}`);
    const listed = errors.slice(0, MAX_LOAD_ERRORS_LISTED).join(' | ') + (errors.length > MAX_LOAD_ERRORS_LISTED ? ` | and ${errors.length - MAX_LOAD_ERRORS_LISTED} more` : '');
    const topError = top?.load_error ?? '';
    return {
      run_id: top?.run_id ?? '',
      shards_loaded: top?.shards_loaded ?? [],
      shards_failed: top?.shards_failed ?? [],
      shards_assigned: top?.shards_assigned ?? [],
      load_error: this.scanned ? [topError, listed].filter((x) => x !== '').join(' | ') : 'loading',
      runs,
      draining: this.draining,
      status_seq: this.seq.value,
    };
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retireTimer);
    for (const s of this.sets.values()) s.set.close();
  }

  /** Drops the retired collections whose routers no longer need them; re-checks later while some wait. */
  private checkRetired(): void {
    if (this.closed) return;
    clearTimeout(this.retireTimer);
    let next = Infinity;
    const now = Date.now();
    for (const [name, s] of this.sets) {
      if (s.removedAt === undefined) continue;
      const due = Math.max(s.removedAt + this.shared.runGraceMs, s.set.leasedUntil());
      if (due <= now) void this.retireNow(name, s);
      else next = Math.min(next, due);
    }
    if (next === Infinity) return;
    this.retireTimer = setTimeout(() => this.checkRetired(), Math.max(1, next - now) + 1);
    this.retireTimer.unref();
  }

  private async retireNow(name: string, s: Served): Promise<void> {
    if (this.sets.get(name) === s) this.sets.delete(name);
    this.log.info({ collection: name }, 'dropping a collection that left the catalog: no router leases its runs');
    try {
      await s.set.dropAll();
    } catch (err) {
      this.log.warn({ collection: name, err: errorMessage(err) }, 'dropping a collection failed');
    }
    this.updateServing();
  }

  private updateServing(): void {
    if (this.closed) return;
    const live = [...this.sets.values()].filter((s) => s.removedAt === undefined).map((s) => s.set);
    const serving = live.some((s) => s.isServing) && live.every((s) => s.isServing || !s.hasCurrent);
    if (serving === this.serving) return;
    this.serving = serving;
    if (live.length > 1) this.log.info({ serving }, serving ? 'shard node SERVING (every collection with a run serves)' : 'shard node NOT_SERVING');
    this.onServingChange(serving);
  }
}
