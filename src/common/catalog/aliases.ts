/**
 * Catalog aliases (issue 24): the `_ALIASES` object at a catalog root, read, changed with a
 * conditional write, and polled by routers.
 *
 * A catalog root (`--store s3://bucket/root` or a folder) holds one collection per child prefix
 * with a `_CURRENT` (`root/<collection>/_CURRENT`). Every alias of the root lives in ONE object,
 * `root/_ALIASES`:
 *
 * ```json
 * { "format_version": 1, "aliases": { "items": "items_v7", "users": "users_v2" }, "updated_at": "2026-12-06T21:40:00.000Z" }
 * ```
 *
 * One object means that a change of several aliases is one atomic write and that a reader sees
 * one consistent table. Writers change it with the store's conditional write
 * ({@link ObjectStore.putIf}: If-Match on the etag read, If-None-Match `*` when absent) and, on a
 * lost race, re-read, re-apply and retry ({@link updateAliases}), so concurrent changes of
 * different aliases all land. The same compare-and-swap as `_CURRENT`'s publish
 * (src/writer/publish.ts `movePointer`).
 *
 * Rules, checked on every write (and the structural ones on every read):
 * - alias and collection names follow collection-name.ts (1-64 of `[A-Za-z0-9_.-]`);
 * - an alias never points at another alias (one level), so resolving is one lookup;
 * - an alias cannot have the name of an existing collection, and the collection it names must
 *   exist (have `_CURRENT`) unless the writer allows a missing one (`--allow-missing`);
 * - at most {@link MAX_ALIASES} aliases and {@link MAX_ALIASES_BYTES} bytes.
 *
 * A collection created later under an alias's name is not prevented (nothing locks the catalog):
 * readers resolve a name as a collection first and as an alias only when no collection has it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import { z } from 'zod';
import {
  ConfigValidationError,
  ManifestParseError,
  ObjectNotFoundError,
  ObjectTooLargeError,
  PreconditionFailedError,
  StorageError,
  describeSeenBytes,
  errorMessage,
} from '../errors.ts';
import { parseJsonWith } from '../json-schema-parse.ts';
import { CURRENT_KEY } from '../manifest.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { COLLECTION_NAME_RE, DEFAULT_COLLECTION, assertCollectionName } from './collection-name.ts';
import { quoteInput } from '../bounded-text.ts';
import { FreshRun } from '../fresh-run.ts';

/** Key of the alias table at the catalog root. */
export const ALIASES_KEY = '_ALIASES';
/** `format_version` of the `_ALIASES` this module writes and reads. */
export const ALIASES_FORMAT_VERSION = 1;
/** Most aliases one catalog root may hold. */
export const MAX_ALIASES = 1000;
/** Largest `_ALIASES` object accepted on read and write, bytes (1 MiB). */
export const MAX_ALIASES_BYTES = 2 ** 20;
/** Default attempts of {@link updateAliases} (each a read and a conditional write) before it gives up. */
export const DEFAULT_MAX_UPDATE_ATTEMPTS = 10;
/** How many `_CURRENT` objects {@link aliasStatuses} heads at once. */
const HEAD_CONCURRENCY = 16;

const NameSchema = z.string().regex(COLLECTION_NAME_RE, 'must be 1-64 characters of [A-Za-z0-9_.-], starting with a letter or digit');

/**
 * Schema of `_ALIASES` (format_version 1): alias name -> collection name, at most
 * {@link MAX_ALIASES} entries, no alias whose collection is itself an alias. Unknown fields are
 * refused so a newer format is not half-read.
 */
export const AliasesDocSchema = z
  .object({
    format_version: z.literal(ALIASES_FORMAT_VERSION),
    aliases: z.record(NameSchema, NameSchema),
    updated_at: z.iso.datetime(),
  })
  .strict()
  .superRefine((doc, ctx) => {
    const names = Object.keys(doc.aliases);
    if (names.length > MAX_ALIASES) {
      ctx.addIssue({ code: 'custom', path: ['aliases'], message: `holds ${names.length} aliases, at most ${MAX_ALIASES}` });
    }
    for (const [alias, collection] of Object.entries(doc.aliases)) {
      if (Object.hasOwn(doc.aliases, collection)) {
        ctx.addIssue({ code: 'custom', path: ['aliases', alias], message: `points at ${quoteInput(collection)}, which is an alias (an alias must name a collection)` });
      }
    }
  });

/** A parsed `_ALIASES`. */
export type AliasesDoc = z.infer<typeof AliasesDocSchema>;

/** `_ALIASES` as read: the table and the etag it was read at; both undefined when there is none. */
export interface AliasesRead {
  /** The table; undefined when the root holds no `_ALIASES`. */
  doc: AliasesDoc | undefined;
  /** The object's etag at the read (for If-Match); undefined when absent. */
  etag: string | undefined;
}

/** One change of {@link updateAliases}. */
export type AliasChange =
  /** Point `alias` at `collection` (create or switch). */
  | { kind: 'set'; alias: string; collection: string }
  /** Remove `alias`; an unknown alias is an error. */
  | { kind: 'remove'; alias: string };

/** Options of {@link updateAliases}. */
export interface UpdateAliasesOptions {
  /** Accept a collection that has no `_CURRENT` (yet) as an alias's target (`--allow-missing`). Default false. */
  allowMissing?: boolean;
  /** Read + conditional write attempts before giving up on lost races (>= 1). Default {@link DEFAULT_MAX_UPDATE_ATTEMPTS}. */
  maxAttempts?: number;
  /** Clock of `updated_at` (tests). */
  now?: () => Date;
}

/** What {@link updateAliases} did. */
export interface AliasesUpdate {
  /** The table before the write that landed (empty when there was no `_ALIASES`). */
  before: Record<string, string>;
  /** The table now stored. */
  after: Record<string, string>;
  /** False when the changes left the table as it was (nothing was written). */
  changed: boolean;
  /** Reads + conditional writes it took (1 without a lost race). */
  attempts: number;
}

/** `_ALIASES in <store url>`: how messages name the object. */
export function aliasesLocation(store: ObjectStore): string {
  return `${ALIASES_KEY} in ${store.url}`;
}

/**
 * Parses and validates the bytes of `_ALIASES`.
 * @param where names the object in errors (see {@link aliasesLocation}).
 * @throws ManifestParseError naming `where` and the problem: not JSON, or the zod issue paths
 *   (`aliases.items: points at "x", which is an alias`), or too large.
 */
export function parseAliases(bytes: Buffer | string, where: string): AliasesDoc {
  const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.length;
  if (size > MAX_ALIASES_BYTES) throw new ManifestParseError(`${where} is ${size} bytes, more than the ${MAX_ALIASES_BYTES} bytes an alias table may have`);
  return parseJsonWith(AliasesDocSchema, bytes, where);
}

/** The raw `_ALIASES` with the etag it was read at, or why it cannot be parsed (too large). */
type RawAliases = { etag: string; bytes: Buffer; problem?: undefined } | { etag: string; bytes?: undefined; problem: string };

/**
 * Reads the bytes of `_ALIASES` with the etag to write it back conditionally: a head for the
 * etag, then a get (at most {@link MAX_ALIASES_BYTES}). If the object changes between the two,
 * the body is newer than the etag and a conditional write with that etag fails: the writer
 * re-reads. Undefined when there is no `_ALIASES`.
 * @throws StorageError when the store fails, or when the object vanished between head and get
 *   three times in a row.
 */
async function readAliasesRaw(store: ObjectStore): Promise<RawAliases | undefined> {
  for (let round = 1; ; round++) {
    const info = await store.head(ALIASES_KEY);
    if (info === undefined) return undefined;
    const tooLarge = (size: number | undefined): string =>
      `${aliasesLocation(store)} is ${describeSeenBytes(MAX_ALIASES_BYTES, size)}, more than the ${MAX_ALIASES_BYTES} bytes an alias table may have`;
    if (info.size > MAX_ALIASES_BYTES) return { etag: info.etag, problem: tooLarge(info.size) };
    try {
      return { etag: info.etag, bytes: await store.get(ALIASES_KEY, { maxBytes: MAX_ALIASES_BYTES }) };
    } catch (err) {
      // Deleted between head and get: read again (a few times; it keeps coming and going otherwise).
      if (err instanceof ObjectNotFoundError && round < 3) continue;
      if (err instanceof ObjectNotFoundError) throw new StorageError(`${aliasesLocation(store)} disappeared between head and get ${round} times in a row`);
      if (err instanceof ObjectTooLargeError) return { etag: info.etag, problem: tooLarge(err.seenBytes) };
      throw err;
    }
  }
}

/**
 * Reads and parses `_ALIASES` with the etag it was read at (see {@link readAliasesRaw}).
 * @throws ManifestParseError (malformed or too large, naming the object and the problem);
 *   StorageError when the store fails.
 */
export async function readAliases(store: ObjectStore): Promise<AliasesRead> {
  const raw = await readAliasesRaw(store);
  if (raw === undefined) return { doc: undefined, etag: undefined };
  if (raw.problem !== undefined) throw new ManifestParseError(raw.problem);
  return { doc: parseAliases(raw.bytes, aliasesLocation(store)), etag: raw.etag };
}

/**
 * Whether `collection` exists under the catalog root: `<collection>/_CURRENT` is there, or, for
 * {@link DEFAULT_COLLECTION}, the root itself holds `_CURRENT` (a single-snapshot store).
 * @throws ConfigValidationError for an invalid name; StorageError when the store fails.
 */
export async function collectionExists(store: ObjectStore, collection: string): Promise<boolean> {
  assertCollectionName(collection, 'collection');
  if ((await store.head(`${collection}/${CURRENT_KEY}`)) !== undefined) return true;
  return collection === DEFAULT_COLLECTION && (await store.head(CURRENT_KEY)) !== undefined;
}

/**
 * Applies `changes` to `table` (a copy is returned; `table` is unchanged) and checks the result.
 * @param where names `_ALIASES` in errors.
 * @throws ConfigValidationError when a removed alias does not exist, an alias would point at an
 *   alias, or the table would hold more than {@link MAX_ALIASES} aliases.
 */
export function applyAliasChanges(table: Readonly<Record<string, string>>, changes: readonly AliasChange[], where: string): Record<string, string> {
  const next: Record<string, string> = { ...table };
  for (const change of changes) {
    if (change.kind === 'set') {
      next[change.alias] = change.collection;
    } else {
      if (!Object.hasOwn(next, change.alias)) throw new ConfigValidationError(`alias ${quoteInput(change.alias)} does not exist in ${where}`);
      delete next[change.alias];
    }
  }
  for (const [alias, collection] of Object.entries(next)) {
    if (Object.hasOwn(next, collection)) {
      throw new ConfigValidationError(
        `alias ${quoteInput(alias)} would point at ${quoteInput(collection)}, which is an alias in ${where}; an alias must name a collection (one level)`,
      );
    }
  }
  const count = Object.keys(next).length;
  if (count > MAX_ALIASES) throw new ConfigValidationError(`${where} would hold ${count} aliases, more than the ${MAX_ALIASES} allowed`);
  return next;
}

/** The table's entries sorted by alias name (so the stored JSON and listings are stable). */
function sortedTable(table: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(table).sort()) out[name] = table[name];
  return out;
}

function sameTable(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && b[k] === a[k]);
}

/**
 * Checks the names and the catalog rules of `changes` against the store: names valid, no alias
 * named like an existing collection, every target collection existing unless `allowMissing`.
 * @throws ConfigValidationError naming the alias or collection; StorageError when the store fails.
 */
async function checkChanges(store: ObjectStore, changes: readonly AliasChange[], allowMissing: boolean): Promise<void> {
  if (changes.length === 0) throw new ConfigValidationError('no alias change given');
  if (changes.length > MAX_ALIASES) throw new ConfigValidationError(`${changes.length} alias changes in one write, at most ${MAX_ALIASES}`);
  for (const change of changes) {
    assertCollectionName(change.alias, 'alias');
    if (change.kind === 'set') assertCollectionName(change.collection, 'collection');
  }
  const limit = pLimit(HEAD_CONCURRENCY);
  await Promise.all(
    changes.map((change) =>
      limit(async () => {
        if (change.kind !== 'set') return;
        if (await collectionExists(store, change.alias)) {
          throw new ConfigValidationError(`alias ${quoteInput(change.alias)} is the name of an existing collection in ${store.url}; an alias needs a name of its own`);
        }
        if (!allowMissing && !(await collectionExists(store, change.collection))) {
          throw new ConfigValidationError(
            `collection ${quoteInput(change.collection)} does not exist in ${store.url} (no ${change.collection}/${CURRENT_KEY}); ` +
              'publish it first, or allow a missing collection (--allow-missing)',
          );
        }
      }),
    ),
  );
}

/**
 * Changes aliases in one atomic conditional write of `_ALIASES`: reads the table and its etag,
 * applies `changes` ({@link applyAliasChanges}), writes with If-Match (If-None-Match `*` when
 * there was none). A lost race (another writer changed `_ALIASES` in between) re-reads,
 * re-applies and retries after a short random pause, at most `maxAttempts` times, so concurrent
 * changes of different aliases all land; changes of the same alias land in some order. A change
 * that leaves the table as it was writes nothing.
 * @throws ConfigValidationError for an invalid name, an alias named like an existing collection,
 *   a missing target collection (unless allowMissing), an unknown alias to remove, an alias
 *   pointing at an alias, too many aliases or too large a table; ManifestParseError when the
 *   stored `_ALIASES` is malformed (nothing is written over it); PreconditionFailedError when
 *   every attempt lost its race; StorageError when the store fails.
 */
export async function updateAliases(store: ObjectStore, changes: readonly AliasChange[], options: UpdateAliasesOptions = {}): Promise<AliasesUpdate> {
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_UPDATE_ATTEMPTS;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) throw new ConfigValidationError(`maxAttempts must be an integer >= 1, got ${maxAttempts}`);
  await checkChanges(store, changes, options.allowMissing ?? false);
  const where = aliasesLocation(store);
  const now = options.now ?? (() => new Date());
  for (let attempt = 1; ; attempt++) {
    const read = await readAliases(store);
    const before = read.doc?.aliases ?? {};
    const after = sortedTable(applyAliasChanges(before, changes, where));
    if (read.doc !== undefined && sameTable(before, after)) return { before, after, changed: false, attempts: attempt };
    const doc: AliasesDoc = { format_version: ALIASES_FORMAT_VERSION, aliases: after, updated_at: now().toISOString() };
    const body = JSON.stringify(doc, null, 2) + '\n';
    const size = Buffer.byteLength(body);
    if (size > MAX_ALIASES_BYTES) throw new ConfigValidationError(`${where} would be ${size} bytes, more than the ${MAX_ALIASES_BYTES} bytes an alias table may have`);
    try {
      await store.putIf(ALIASES_KEY, body, read.etag === undefined ? { ifNoneMatch: '*' } : { ifMatch: read.etag });
      return { before, after, changed: true, attempts: attempt };
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) throw err;
      if (attempt >= maxAttempts) {
        throw new PreconditionFailedError(
          ALIASES_KEY,
          `other writers changed ${where} during each of ${attempt} attempts; nothing was changed, try again`,
        );
      }
      // Random pause so that racing writers spread out: 10-50 ms x attempt.
      await sleep((10 + Math.random() * 40) * attempt);
    }
  }
}

/** One alias and what its names are in the catalog now (for `alias list`). */
export interface AliasStatus {
  alias: string;
  collection: string;
  /** Whether the collection it names exists (has `_CURRENT`). */
  collectionExists: boolean;
  /** Whether a collection with the alias's own name exists now (it wins over the alias). */
  shadowed: boolean;
}

/**
 * The status of each alias of `table`, sorted by alias: whether its collection exists and whether
 * a collection of the alias's own name hides it. Heads at most 2 x (table size) `_CURRENT`
 * objects, {@link HEAD_CONCURRENCY} at a time.
 * @throws StorageError when the store fails.
 */
export async function aliasStatuses(store: ObjectStore, table: Readonly<Record<string, string>>): Promise<AliasStatus[]> {
  const limit = pLimit(HEAD_CONCURRENCY);
  const exists = new Map<string, Promise<boolean>>();
  const check = (name: string): Promise<boolean> => {
    let p = exists.get(name);
    if (p === undefined) {
      p = limit(() => collectionExists(store, name));
      exists.set(name, p);
    }
    return p;
  };
  return Promise.all(
    Object.keys(table)
      .sort()
      .map(async (alias) => {
        const collection = table[alias];
        const [target, shadowed] = await Promise.all([check(collection), check(alias)]);
        return { alias, collection, collectionExists: target, shadowed };
      }),
  );
}

/** What one {@link AliasTable.refresh} found. */
export interface AliasRefresh {
  /** Whether the table changed (a new `_ALIASES` was read, or it was removed). */
  changed: boolean;
  /** The problem of this refresh (the last good table is kept), or undefined when it succeeded. */
  error: string | undefined;
}

/**
 * The alias table of one catalog root, as a router keeps it: {@link refresh} re-reads `_ALIASES`
 * only when its etag changed (one head per call otherwise) and keeps the last good table when the
 * object is malformed, too large or unreadable ({@link lastError} says why, naming the object).
 * A removed `_ALIASES` is an empty table. {@link resolve} is a map lookup.
 *
 * Not tied to any server: call {@link refresh} on a timer (and before serving) and
 * {@link resolve} per request; a name that is a collection should be served as that collection
 * before asking here.
 */
export class AliasTable {
  private table: ReadonlyMap<string, string> = new Map();
  private goodEtag: string | undefined;
  private seenEtag: string | undefined;
  /** Why the object at {@link seenEtag} is not the table held (malformed, too large), or undefined. */
  private seenProblem: string | undefined;
  private loadedOnce = false;
  private readonly refreshes = new FreshRun(() => this.doRefresh());
  private error: string | undefined;
  private updated: string | undefined;

  /** @param store the catalog root (the store `--store` names). */
  constructor(private readonly store: ObjectStore) {}

  /** The collection `name` is an alias of, or undefined when it is no alias. */
  resolve(name: string): string | undefined {
    return this.table.get(name);
  }

  /** Every alias and its collection, sorted by alias. */
  entries(): [alias: string, collection: string][] {
    return [...this.table.entries()];
  }

  /** The problem of the last refresh (the table is the last good one), or undefined after a good one. */
  get lastError(): string | undefined {
    return this.error;
  }

  /** `updated_at` of the table held, or undefined when there is none. */
  get updatedAt(): string | undefined {
    return this.updated;
  }

  /** Etag of the `_ALIASES` the table was read from; undefined when there is none. */
  get etag(): string | undefined {
    return this.goodEtag;
  }

  /**
   * Re-reads `_ALIASES` when its etag differs from the last one seen (a malformed object is not
   * read again until it changes). The read answering a call always starts after the call, so a
   * change written before it is seen (Refresh right after `alias set`): a call while a refresh
   * is in flight (which may have read the object before the change) waits for it and then reads
   * again; calls arriving meanwhile share that second read (at most one in flight and one
   * waiting: {@link FreshRun}, as SnapshotWatcher.refresh chains its re-reads of `_CURRENT`). Never throws: a
   * failure is returned and kept in {@link lastError}, and the last good table stays.
   */
  refresh(): Promise<AliasRefresh> {
    return this.refreshes.run();
  }

  private async doRefresh(): Promise<AliasRefresh> {
    try {
      const info = await this.store.head(ALIASES_KEY);
      if (info === undefined) {
        const changed = !this.loadedOnce || this.table.size > 0 || this.goodEtag !== undefined;
        this.install(new Map(), undefined, undefined);
        return { changed, error: undefined };
      }
      if (info.etag !== '' && info.etag === this.seenEtag) {
        this.error = this.seenProblem;
        return { changed: false, error: this.error };
      }
      const raw = await readAliasesRaw(this.store);
      if (raw === undefined) {
        // Removed since the head.
        const changed = this.table.size > 0 || this.goodEtag !== undefined;
        this.install(new Map(), undefined, undefined);
        return { changed, error: undefined };
      }
      let doc: AliasesDoc;
      try {
        if (raw.problem !== undefined) throw new ManifestParseError(raw.problem);
        doc = parseAliases(raw.bytes, aliasesLocation(this.store));
      } catch (err) {
        // A malformed object is not read again until its etag changes.
        this.seenEtag = raw.etag;
        this.seenProblem = errorMessage(err);
        return this.fail(this.seenProblem);
      }
      this.install(new Map(Object.keys(doc.aliases).sort().map((a) => [a, doc.aliases[a]])), raw.etag, doc.updated_at);
      return { changed: true, error: undefined };
    } catch (err) {
      // A store failure: what was seen stays; the next refresh asks again.
      return this.fail(`reading ${aliasesLocation(this.store)} failed: ${errorMessage(err)}`);
    }
  }

  private fail(problem: string): AliasRefresh {
    this.error = problem;
    return { changed: false, error: problem };
  }

  private install(table: ReadonlyMap<string, string>, etag: string | undefined, updatedAt: string | undefined): void {
    this.table = table;
    this.goodEtag = etag;
    this.seenEtag = etag;
    this.seenProblem = undefined;
    this.updated = updatedAt;
    this.loadedOnce = true;
    this.error = undefined;
  }
}
