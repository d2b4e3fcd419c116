/**
 * Which collections a `--store` serves (issue 24), shared by routers and shard nodes.
 *
 * Three modes, decided at every scan:
 * 1. single-collection: the `--store` prefix itself holds `_CURRENT` -> one collection named
 *    {@link DEFAULT_COLLECTION} whose store is the root (exactly today's behaviour). Once seen, the
 *    mode sticks for the life of the process (a snapshot prefix never loses its `_CURRENT`).
 * 2. catalog root: otherwise every child prefix `root/<name>/` holding `_CURRENT` is a collection,
 *    found with one delimiter listing ({@link ObjectStore.listChildPrefixes}, never a listing of a
 *    collection's own objects) and one `head` of each `<name>/_CURRENT`; at most `maxCollections`
 *    (the first in name order; the rest are logged and skipped), children whose names are not
 *    collection names (collection-name.ts) are logged and skipped.
 * 3. explicit list (`--collections a,b`): those names under the root, whether or not they hold a
 *    `_CURRENT` yet (one that has none is served like an empty store: it loads once published).
 * A root holding neither `_CURRENT` nor any collection (an empty or missing store) is served as
 * mode 1 (the root as collection "default"), so a process started before the first build
 * waits for it and reports the missing snapshot exactly as before.
 *
 * {@link CollectionCatalog} rescans every poll interval and tells its listener which collections
 * appeared and disappeared; a failed scan changes nothing (logged).
 */
import type { Logger } from 'pino';
import pLimit from 'p-limit';
import { ConfigValidationError, GrpcCode, ShardfleetError, errorMessage } from '../errors.ts';
import { CURRENT_KEY } from '../manifest.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { childStore } from '../storage/prefixed-object-store.ts';
import { DEFAULT_COLLECTION, assertCollectionName, collectionNameProblem } from './collection-name.ts';
import { FreshRun } from '../fresh-run.ts';

/** Default most collections one process serves (CLI `--max-collections`). */
export const DEFAULT_MAX_COLLECTIONS = 64;
/** Upper bound of `--max-collections`. */
export const MAX_MAX_COLLECTIONS = 1024;
/** Child prefixes one scan lists at most (valid or not); more are logged as not scanned. */
const MAX_LISTED_CHILDREN = 10_000;
/** `head` calls of one scan in flight at once. */
const HEAD_CONCURRENCY = 8;

/** A request names a collection that is not served (NOT_FOUND); the message names it. */
export class CollectionNotFoundError extends ShardfleetError {
  readonly grpcCode = GrpcCode.NOT_FOUND;
}

/** Most collection names listed in one error message. */
export const MAX_NAMES_IN_MESSAGE = 10;

/** `names` for an error message: at most {@link MAX_NAMES_IN_MESSAGE}, then `and N more`. */
export function listNames(names: readonly string[]): string {
  if (names.length === 0) return 'none';
  const shown = names.slice(0, MAX_NAMES_IN_MESSAGE).join(', ');
  return names.length > MAX_NAMES_IN_MESSAGE ? `${shown} and ${names.length - MAX_NAMES_IN_MESSAGE} more` : shown;
}

/** How the collections were found. */
export type CatalogMode = 'single' | 'catalog' | 'explicit';

/** One served collection. */
export interface CatalogCollection {
  /** Collection name (collection-name.ts syntax). */
  name: string;
  /** The collection's store: the root in single mode, else the child prefix `<root>/<name>`. */
  store: ObjectStore;
}

/** The result of one scan. */
export interface CatalogScan {
  mode: CatalogMode;
  /** The collections, sorted by name. */
  collections: CatalogCollection[];
  /** Children left out, with why (invalid name, over `maxCollections`); empty in modes 1 and 3. */
  skipped: Array<{ name: string; reason: string }>;
  /** Mode 1 because the root holds `_CURRENT` (not because nothing else was found). */
  rootHoldsCurrent: boolean;
}

/** Options of {@link scanCatalog} and {@link CollectionCatalog}. */
export interface CatalogOptions {
  /** The `--store` root. */
  store: ObjectStore;
  /** `--collections`: serve exactly these names under the root (mode 3); unset or empty = discover. */
  collections?: readonly string[];
  /** `--max-collections` (default {@link DEFAULT_MAX_COLLECTIONS}). */
  maxCollections?: number;
}

/**
 * Checks catalog options once at start-up.
 * @throws ConfigValidationError naming `--collections` (an invalid or repeated name, more names
 *   than `--max-collections`) or `--max-collections` (not an integer in 1..1024).
 */
export function checkCatalogOptions(options: Omit<CatalogOptions, 'store'>): void {
  const max = options.maxCollections ?? DEFAULT_MAX_COLLECTIONS;
  if (!Number.isSafeInteger(max) || max < 1 || max > MAX_MAX_COLLECTIONS) {
    throw new ConfigValidationError(`--max-collections must be an integer in 1..${MAX_MAX_COLLECTIONS}, got ${max}`);
  }
  const names = options.collections ?? [];
  if (names.length > max) throw new ConfigValidationError(`--collections names ${names.length} collections, more than --max-collections ${max}`);
  const seen = new Set<string>();
  for (const n of names) {
    assertCollectionName(n, '--collections name');
    if (seen.has(n)) throw new ConfigValidationError(`--collections names ${JSON.stringify(n)} twice`);
    seen.add(n);
  }
}

/**
 * Scans the root once (see the module comment for the modes).
 * @param stickySingle true when an earlier scan found mode 1: the root is served as before
 *   without a look at it.
 * @throws ConfigValidationError for bad options ({@link checkCatalogOptions}) or a root store
 *   without `listChildPrefixes`; StorageError when the root cannot be read.
 */
export async function scanCatalog(options: CatalogOptions, stickySingle = false): Promise<CatalogScan> {
  checkCatalogOptions(options);
  const { store } = options;
  const single = (rootHoldsCurrent: boolean): CatalogScan => ({ mode: 'single', collections: [{ name: DEFAULT_COLLECTION, store }], skipped: [], rootHoldsCurrent });
  if (stickySingle || (await store.head(CURRENT_KEY)) !== undefined) return single(true);
  const explicit = options.collections ?? [];
  if (explicit.length > 0) {
    const collections = [...explicit].sort().map((name) => ({ name, store: childStore(store, name) }));
    return { mode: 'explicit', collections, skipped: [], rootHoldsCurrent: false };
  }
  if (!store.listChildPrefixes) throw new ConfigValidationError(`the store ${store.url} cannot list its child prefixes, so it cannot be a catalog root`);
  const max = options.maxCollections ?? DEFAULT_MAX_COLLECTIONS;
  const listing = await store.listChildPrefixes('', MAX_LISTED_CHILDREN);
  const skipped: CatalogScan['skipped'] = [];
  const valid: string[] = [];
  for (const name of listing.names) {
    // `_`-prefixed children are the catalog's own keys (e.g. _ALIASES), never collections: no noise.
    if (name.startsWith('_')) continue;
    const problem = collectionNameProblem(name);
    if (problem === undefined) valid.push(name);
    else skipped.push({ name, reason: `not a collection name: ${problem}` });
  }
  if (listing.truncated) skipped.push({ name: '…', reason: `more than ${MAX_LISTED_CHILDREN} child prefixes under ${store.url}; the rest are not scanned` });
  const limit = pLimit(HEAD_CONCURRENCY);
  const held = await Promise.all(valid.map((name) => limit(async () => ((await store.head(`${name}/${CURRENT_KEY}`)) === undefined ? undefined : name))));
  const names = held.filter((n): n is string => n !== undefined);
  for (const name of names.slice(max)) skipped.push({ name, reason: `over --max-collections ${max}` });
  if (names.length === 0) return { ...single(false), skipped };
  return { mode: 'catalog', collections: names.slice(0, max).map((name) => ({ name, store: childStore(store, name) })), skipped, rootHoldsCurrent: false };
}

/** What changed between two scans. */
export interface CatalogChange {
  mode: CatalogMode;
  /** Collections that appeared (or whose store changed, e.g. single -> catalog). */
  added: CatalogCollection[];
  /** Names of collections that disappeared (listed before `added` of the same name). */
  removed: string[];
}

/** Options of {@link CollectionCatalog}. */
export interface CollectionCatalogOptions extends CatalogOptions {
  log: Logger;
  /** Called after every scan that changed the set (also the first one), in scan order. */
  onChange: (change: CatalogChange) => void;
}

/**
 * The served set of collections, rescanned every poll interval (see the module comment).
 * Usage: `const c = new CollectionCatalog({...}); await c.scan(); c.start(5000); ... c.stop()`.
 */
export class CollectionCatalog {
  private served = new Map<string, CatalogCollection>();
  private modeNow: CatalogMode = 'single';
  private stickySingle = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly scans = new FreshRun(() => this.scanOnce());
  private readonly skippedLogged = new Set<string>();

  /** @throws ConfigValidationError for bad options ({@link checkCatalogOptions}). */
  constructor(private readonly options: CollectionCatalogOptions) {
    checkCatalogOptions(options);
  }

  /** The mode of the last successful scan ('single' before any). */
  get mode(): CatalogMode {
    return this.modeNow;
  }

  /** The served collections, sorted by name. */
  collections(): CatalogCollection[] {
    return [...this.served.values()];
  }

  /** The served collection named `name`, or undefined. */
  get(name: string): CatalogCollection | undefined {
    return this.served.get(name);
  }

  /**
   * Scans now and reports a change to `onChange`. The scan answering a call always starts after
   * the call, so a collection published before it is seen (Refresh right after a publish): a call
   * while a scan runs (which may have listed the root before the publish) waits for it and then
   * scans again; calls arriving meanwhile share that second scan (at most one running and one
   * waiting: {@link FreshRun}). A failed scan is logged and changes nothing; never rejects.
   */
  scan(): Promise<void> {
    return this.scans.run();
  }

  /** Rescans every `intervalMs` (timer unref'd). */
  start(intervalMs: number): void {
    const tick = (): void => {
      this.timer = setTimeout(() => void this.scan().finally(() => this.timer !== undefined && tick()), intervalMs);
      this.timer.unref();
    };
    tick();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async scanOnce(): Promise<void> {
    const { log } = this.options;
    let scan: CatalogScan;
    try {
      scan = await scanCatalog(this.options, this.stickySingle);
    } catch (err) {
      log.warn({ store: this.options.store.url, err: errorMessage(err) }, 'catalog scan failed; serving the collections found before');
      return;
    }
    for (const s of scan.skipped) {
      const key = `${s.name}\n${s.reason}`;
      if (this.skippedLogged.has(key)) continue;
      this.skippedLogged.add(key);
      log.warn({ store: this.options.store.url, child: s.name, reason: s.reason }, 'catalog child prefix skipped');
    }
    if (scan.rootHoldsCurrent && !this.stickySingle && (this.options.collections ?? []).length > 0) {
      log.warn({ store: this.options.store.url, collections: this.options.collections }, '--store holds _CURRENT itself: it is served as one collection ("default") and --collections is ignored');
    }
    if (scan.rootHoldsCurrent) this.stickySingle = true;
    const next = new Map(scan.collections.map((c) => [c.name, c]));
    const removed = [...this.served.values()].filter((c) => next.get(c.name)?.store.url !== c.store.url).map((c) => c.name);
    const added = scan.collections.filter((c) => this.served.get(c.name)?.store.url !== c.store.url);
    const modeChanged = scan.mode !== this.modeNow;
    this.modeNow = scan.mode;
    for (const c of scan.collections) if (this.served.get(c.name)?.store.url === c.store.url) next.set(c.name, this.served.get(c.name)!);
    this.served = next;
    if (added.length + removed.length === 0 && !modeChanged) return;
    log.info({ store: this.options.store.url, mode: scan.mode, added: added.map((c) => c.name), removed }, 'served collections changed');
    this.options.onChange({ mode: scan.mode, added, removed });
  }
}
