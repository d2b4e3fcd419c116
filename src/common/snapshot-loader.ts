/**
 * Reader side of the two-phase publish: resolve `_CURRENT`, load and validate its manifest, and
 * fall back to up to 3 earlier manifests ({@link earlierManifests}: the runs that were current
 * before, from the pointer's `previous`, then the newest older manifests by key) when it is
 * malformed or missing, saying so in the log. Only a reader that serves nothing yet uses the
 * fallback: one that serves a run keeps it (DESIGN.md "Object layout and publish").
 */
import type { Logger } from 'pino';
import {
  CURRENT_KEY,
  MANIFESTS_PREFIX,
  parseCurrentPointer,
  parseManifestKey,
  type CurrentPointer,
  type Manifest,
} from './manifest.ts';
import { ManifestParseError, ObjectNotFoundError, SnapshotNotFoundError, errorMessage } from './errors.ts';
import type { ObjectStore } from './storage/object-store.ts';
import { getPointerBytes, readManifest } from './store-reads.ts';

/** How many earlier manifests a reader tries when the current one is malformed. */
export const MANIFEST_FALLBACK_DEPTH = 3;

/** A manifest a reader serving nothing may fall back to (see {@link earlierManifests}). */
export interface EarlierManifest {
  /** Key of the manifest. */
  manifestKey: string;
  /**
   * When the run was made current, RFC 3339 (from the pointer's `previous`); undefined for a
   * manifest found by listing the store (then its `created_at` stands in).
   */
  publishedAt?: string;
}

/**
 * The manifests older than the current one that a reader serving nothing may fall back to, at
 * most `depth`, in the order to try them: first the runs that were current before (the pointer's
 * `previous`, most recently current first), then the other manifests under `manifests/`, newest
 * first by key (keys sort by creation time). Older means the key sorts before the pointer's
 * `manifest_ref`, so a run a rollback moved away from is never among them; with no pointer (it
 * is malformed) every manifest is. The store is listed only when `previous` gives fewer than
 * `depth`, so a pointer without `previous` (written by an older build, by hand or by another
 * writer) still gets up to `depth` earlier manifests.
 * @param depth how many to return at most (default {@link MANIFEST_FALLBACK_DEPTH}).
 * @throws StorageError when the store cannot be listed.
 */
export async function earlierManifests(store: ObjectStore, pointer: CurrentPointer | undefined, depth = MANIFEST_FALLBACK_DEPTH): Promise<EarlierManifest[]> {
  const currentRef = pointer?.manifest_ref;
  const older = (key: string): boolean => currentRef === undefined || key < currentRef;
  const out: EarlierManifest[] = [];
  for (const e of pointer?.previous ?? []) {
    if (out.length >= depth) return out;
    if (older(e.manifest_ref) && !out.some((o) => o.manifestKey === e.manifest_ref)) out.push({ manifestKey: e.manifest_ref, publishedAt: e.published_at });
  }
  if (out.length >= depth) return out;
  const listed = (await store.list(MANIFESTS_PREFIX, { etags: false }))
    .map((o) => o.key)
    .filter((k) => parseManifestKey(k) !== undefined && older(k) && !out.some((o) => o.manifestKey === k))
    .sort()
    .reverse();
  for (const key of listed.slice(0, depth - out.length)) out.push({ manifestKey: key });
  return out;
}

/** A loaded snapshot: the manifest that is served and where it came from. */
export interface LoadedSnapshot {
  manifest: Manifest;
  /** Key of the manifest that was loaded. */
  manifestKey: string;
  /** The `_CURRENT` pointer as read (undefined when it was itself malformed). */
  pointer: CurrentPointer | undefined;
  /** Publication time (from `_CURRENT`, else the manifest's creation time), RFC 3339. */
  publishedAt: string;
  /** When a fallback happened: the manifest key that should have been served and why it was not. */
  fallbackFrom?: { key: string; reason: string };
}

/**
 * The error for a store without `_CURRENT`: when the store says its root does not exist
 * (ObjectStore.rootProblem, e.g. a `file://` folder that is missing or not mounted yet), that
 * problem and the `--store` URL; otherwise "no snapshot published".
 */
export async function snapshotNotFoundError(store: ObjectStore): Promise<SnapshotNotFoundError> {
  const problem = await store.rootProblem?.();
  if (problem !== undefined) {
    return new SnapshotNotFoundError(`${problem} (--store ${store.url}); nothing can be loaded from it until it exists`);
  }
  return new SnapshotNotFoundError(`no snapshot published at ${store.url}: ${CURRENT_KEY} does not exist (run \`shardfleet build\` first)`);
}

/**
 * Loads the snapshot `_CURRENT` points to.
 * @throws SnapshotNotFoundError when there is no `_CURRENT` (nothing published at the prefix, or
 *   the store's root does not exist: see {@link snapshotNotFoundError});
 *   ManifestParseError when neither the current manifest nor any of the 3 earlier ones is valid;
 *   StorageError when the store fails.
 */
export async function loadSnapshot(store: ObjectStore, log?: Logger): Promise<LoadedSnapshot> {
  let pointerBytes: Buffer;
  try {
    pointerBytes = await getPointerBytes(store);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) throw await snapshotNotFoundError(store);
    throw err;
  }
  let pointer: CurrentPointer | undefined;
  let currentRef: string | undefined;
  let firstError: string;
  try {
    pointer = parseCurrentPointer(pointerBytes);
    currentRef = pointer.manifest_ref;
    const manifest = await readManifest(store, currentRef);
    return { manifest, manifestKey: currentRef, pointer, publishedAt: pointer.published_at };
  } catch (err) {
    if (!(err instanceof ManifestParseError || err instanceof ObjectNotFoundError)) throw err;
    firstError = errorMessage(err);
  }

  const candidates = await earlierManifests(store, pointer);
  const errors = [firstError];
  for (const candidate of candidates) {
    const key = candidate.manifestKey;
    try {
      const manifest = await readManifest(store, key);
      const fallbackFrom = { key: currentRef ?? CURRENT_KEY, reason: firstError };
      const byHistory = candidate.publishedAt !== undefined;
      log?.warn(
        { fallback_manifest: key, malformed: fallbackFrom.key, reason: firstError, chosen_by: byHistory ? 'pointer history' : 'key order' },
        byHistory
          ? `current manifest is unusable; serving ${key}, the run that was current before`
          : `current manifest is unusable and ${CURRENT_KEY} names no usable earlier run; serving the newest earlier manifest ${key}`,
      );
      return { manifest, manifestKey: key, pointer, publishedAt: candidate.publishedAt ?? manifest.created_at, fallbackFrom };
    } catch (err) {
      if (!(err instanceof ManifestParseError || err instanceof ObjectNotFoundError)) throw err;
      errors.push(errorMessage(err));
    }
  }
  throw new ManifestParseError(
    `no valid manifest at ${store.url} (tried the current one and ${candidates.length} earlier): ${errors.join(' | ')}`,
  );
}
