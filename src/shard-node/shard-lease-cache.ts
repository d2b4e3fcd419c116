/**
 * The shard node's set of open shards: an LRU cache bounded by bytes of shard files, with
 * reference-counted leases and single-flight loading.
 *
 * - Keys are opaque strings (the node uses `<run_id>/<db_id>`).
 * - {@link ShardLeaseCache.acquire} returns a lease on an open reader, loading it first when it is
 *   not cached. Concurrent acquires of a missing key share ONE load (one download).
 * - A load reserves its bytes (from the manifest) before it starts, and least-recently-used
 *   entries are evicted to make room for it. An entry is never closed while a lease is held:
 *   eviction only picks entries with no lease, and an explicit unload of a leased entry waits for
 *   the last lease to end.
 * - Pinned entries (the assigned shards of the runs the node serves) are never evicted. When the
 *   pinned and leased entries alone exceed the budget, the cache stays over budget (a warning is
 *   logged once per episode) rather than breaking readiness or in-flight searches. So `bytes` is
 *   at most max(budget, pinned + leased bytes) + the shard being loaded.
 * - Eviction closes the reader and deletes the shard's local folder: the budget bounds disk use,
 *   and `bytes` (the cache-bytes gauge) is what is on disk: loading entries (counted from the
 *   start of their download), open entries, and closing entries until their folder is deleted.
 */
import { rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import { ConfigValidationError, ReaderStateError, errorMessage } from '../common/errors.ts';
import type { ShardIndexReader } from './shard-index-reader.ts';

/** What a loader hands to the cache. */
export interface LoadedShard {
  reader: ShardIndexReader;
  /** Bytes of the shard's files on local disk. */
  bytes: number;
  /** The shard's local folder, deleted on eviction (undefined for a shard with no files). */
  dir?: string;
}

/** A lease on an open shard: the reader stays open until every lease is released. */
export interface ShardLease {
  readonly reader: ShardIndexReader;
  /** Ends the lease (idempotent). */
  release(): void;
}

/** How to load a key when it is not cached. */
export interface AcquireSpec {
  /** Bytes the shard will take (reserved while it loads), from the manifest. */
  bytes: number;
  /** Whether the entry is pinned (never evicted); applied to an existing entry too. */
  pinned: boolean;
  /** Downloads/verifies/opens the shard. Called at most once per missing key at a time. */
  load: () => Promise<LoadedShard>;
}

/** Options of {@link ShardLeaseCache}. */
export interface ShardLeaseCacheOptions {
  /** Byte budget of shard files; 0 = unbounded. */
  maxBytes: number;
  log: Logger;
  /** Called with the new `bytes` whenever an entry starts loading, opens, fails or leaves. */
  onChange?: (bytes: number) => void;
  /** Called once per evicted entry (key, bytes). */
  onEvict?: (key: string, bytes: number) => void;
}

type EntryState = 'loading' | 'ready' | 'closing';

interface Entry {
  key: string;
  state: EntryState;
  /** Reserved (loading) or actual bytes on disk. */
  bytes: number;
  leases: number;
  pinned: boolean;
  /** Logical clock of the last acquire (LRU order). */
  lastUsed: number;
  reader?: ShardIndexReader;
  dir?: string;
  /** Settles when the load finished (rejects with the load error). */
  loaded?: Promise<void>;
  /** Unload requested: close (deleting files when asked) once no lease is held. */
  unload?: { deleteFiles: boolean };
  /** Resolves once the entry is closed (or its load failed) and it left the cache. */
  gone: Promise<void>;
  markGone: () => void;
}

/** The LRU, byte-bounded, lease-counting shard cache (see the module comment). */
export class ShardLeaseCache {
  private readonly entries = new Map<string, Entry>();
  private clock = 0;
  private closed = false;
  private overBudget = false;

  /** @throws ConfigValidationError when `maxBytes` is not a non-negative integer. */
  constructor(private readonly options: ShardLeaseCacheOptions) {
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 0) {
      throw new ConfigValidationError(`max cache bytes must be a non-negative integer (0 = unbounded), got ${options.maxBytes}`);
    }
  }

  /** The byte budget (0 = unbounded). */
  get maxBytes(): number {
    return this.options.maxBytes;
  }

  /** Bytes of shard files held: loading (reserved), open and closing entries. */
  get bytes(): number {
    let total = 0;
    for (const e of this.entries.values()) total += e.bytes;
    return total;
  }

  /** True when `key` is open and searchable (not loading, not closing). */
  isReady(key: string): boolean {
    return this.entries.get(key)?.state === 'ready';
  }

  /** Keys that start with `prefix`, in any state. */
  keysWithPrefix(prefix: string): string[] {
    return [...this.entries.keys()].filter((k) => k.startsWith(prefix));
  }

  /**
   * A lease on `key`'s reader, loading it (once, however many callers wait) when it is not cached.
   * Waits for a closing entry of the same key to finish first (its folder is being deleted).
   * @throws the loader's error (to every waiter) when the load fails; ReaderStateError after
   *   {@link closeAll}.
   */
  async acquire(key: string, spec: AcquireSpec): Promise<ShardLease> {
    for (;;) {
      if (this.closed) throw new ReaderStateError(`shard ${key}: the shard cache is closed (the node is shutting down)`);
      const e = this.entries.get(key);
      if (e === undefined) return this.load(key, spec);
      if (e.state === 'closing') {
        await e.gone;
        continue;
      }
      e.unload = undefined; // a new request revives an entry that was to be released
      e.pinned = spec.pinned;
      e.leases++;
      e.lastUsed = ++this.clock;
      if (e.state === 'loading') {
        try {
          await e.loaded;
        } catch (err) {
          e.leases--;
          throw err;
        }
      }
      return this.lease(e);
    }
  }

  /** Pins or unpins `key` if cached (unpinning may evict it at once when over budget). */
  setPinned(key: string, pinned: boolean): void {
    const e = this.entries.get(key);
    if (e === undefined || e.pinned === pinned) return;
    e.pinned = pinned;
    if (!pinned) this.enforceBudget();
  }

  /**
   * Closes `key` (and deletes its folder when `deleteFiles`) as soon as no lease is held; a later
   * acquire before then cancels the unload. Resolves when the entry has left the cache.
   */
  unload(key: string, deleteFiles: boolean): Promise<void> {
    const e = this.entries.get(key);
    if (e === undefined) return Promise.resolve();
    if (e.state !== 'closing') {
      e.unload = { deleteFiles };
      if (e.state === 'ready' && e.leases === 0) this.close(e, deleteFiles);
    }
    return e.gone;
  }

  /**
   * Refuses new acquires and closes every entry once its leases end (keeping the files by
   * default, so a restart reuses the verified copies). Resolves when all are closed.
   */
  async closeAll(deleteFiles = false): Promise<void> {
    this.closed = true;
    await Promise.all([...this.entries.keys()].map((key) => this.unload(key, deleteFiles)));
  }

  private async load(key: string, spec: AcquireSpec): Promise<ShardLease> {
    let markGone!: () => void;
    const gone = new Promise<void>((resolve) => (markGone = resolve));
    const e: Entry = { key, state: 'loading', bytes: spec.bytes, leases: 1, pinned: spec.pinned, lastUsed: ++this.clock, gone, markGone };
    this.entries.set(key, e);
    this.enforceBudget(); // make room for the reservation
    this.changed();
    e.loaded = (async () => {
      let loaded: LoadedShard;
      try {
        loaded = await spec.load();
      } catch (err) {
        this.remove(e);
        throw err;
      }
      e.reader = loaded.reader;
      e.dir = loaded.dir;
      e.bytes = loaded.bytes;
      e.state = 'ready';
      this.changed();
    })();
    try {
      await e.loaded;
    } catch (err) {
      e.leases--;
      throw err;
    }
    this.enforceBudget();
    return this.lease(e);
  }

  private lease(e: Entry): ShardLease {
    const reader = e.reader;
    if (reader === undefined) throw new Error(`shard ${e.key}: leased before it was opened`);
    let released = false;
    return {
      reader,
      release: () => {
        if (released) return;
        released = true;
        e.leases--;
        if (e.leases > 0 || e.state !== 'ready') return;
        if (e.unload !== undefined) this.close(e, e.unload.deleteFiles);
        else this.enforceBudget();
      },
    };
  }

  /** Evicts least-recently-used idle, unpinned entries until the open + loading bytes fit the budget. */
  private enforceBudget(): void {
    const max = this.options.maxBytes;
    if (max === 0) return;
    let live = 0;
    for (const e of this.entries.values()) if (e.state !== 'closing') live += e.bytes;
    while (live > max) {
      let victim: Entry | undefined;
      for (const e of this.entries.values()) {
        if (e.state !== 'ready' || e.leases > 0 || e.pinned) continue;
        if (victim === undefined || e.lastUsed < victim.lastUsed) victim = e;
      }
      if (victim === undefined) break;
      live -= victim.bytes;
      this.options.log.info({ shard: victim.key, bytes: victim.bytes, cache_bytes: live, max_cache_bytes: max }, 'evicting shard (least recently used)');
      this.options.onEvict?.(victim.key, victim.bytes);
      this.close(victim, true);
    }
    if (live > max && !this.overBudget) {
      let pinned = 0;
      let leased = 0;
      for (const e of this.entries.values()) {
        if (e.state === 'closing') continue;
        if (e.pinned) pinned += e.bytes;
        else leased += e.bytes;
      }
      this.options.log.warn(
        { cache_bytes: live, max_cache_bytes: max, pinned_bytes: pinned, leased_or_loading_bytes: leased },
        'shard cache is over its byte budget: assigned (pinned) shards and shards in use cannot be evicted; raise --max-cache-bytes',
      );
    }
    this.overBudget = live > max;
  }

  private close(e: Entry, deleteFiles: boolean): void {
    e.state = 'closing';
    void (async () => {
      try {
        e.reader?.close();
      } catch (err) {
        this.options.log.warn({ shard: e.key, err: errorMessage(err) }, 'closing shard failed');
      }
      if (deleteFiles && e.dir !== undefined) {
        try {
          await rm(e.dir, { recursive: true, force: true });
        } catch (err) {
          this.options.log.warn({ shard: e.key, dir: e.dir, err: errorMessage(err) }, 'deleting cached shard files failed');
        }
      }
      this.remove(e);
    })();
  }

  private remove(e: Entry): void {
    if (this.entries.get(e.key) === e) this.entries.delete(e.key);
    e.markGone();
    this.changed();
  }

  private changed(): void {
    this.options.onChange?.(this.bytes);
  }
}
