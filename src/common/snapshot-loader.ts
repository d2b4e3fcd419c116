/**
 * Reader side of the two-phase publish: resolve `_CURRENT`, load and validate its manifest, and
 * fall back to up to 3 runs that were current before (the pointer's `previous`; for a pointer
 * without it, the newest earlier manifests by key) when it is malformed or missing, saying so in
 * the log. Only a reader that serves nothing yet uses the fallback: one that serves a run keeps it
 * (DESIGN.md "Object layout and publish").
 */
import type { Logger } from 'pino';
import {
  CURRENT_KEY,
  MANIFESTS_PREFIX,
  parseCurrentPointer,
  type CurrentPointer,
  type Manifest,
} from './manifest.ts';
import { ManifestParseError, ObjectNotFoundError, SnapshotNotFoundError, errorMessage } from './errors.ts';
import type { ObjectStore } from './storage/object-store.ts';
import { getPointerBytes, readManifest } from './store-reads.ts';

/** How many earlier manifests a reader tries when the current one is malformed. */
export const MANIFEST_FALLBACK_DEPTH = 3;

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

  // Fallback: the runs that were current before (the pointer's `previous`, newest first); for a
  // pointer without that history (written by an older build, or _CURRENT itself malformed), the
  // newest manifests older than the current one, by key.
  const history = pointer?.previous ?? [];
  const byHistory = history.length > 0;
  const keys = byHistory
    ? history.map((e) => e.manifest_ref).slice(0, MANIFEST_FALLBACK_DEPTH)
    : (await store.list(MANIFESTS_PREFIX))
        .map((o) => o.key)
        .filter((k) => k.endsWith('/manifest.json') && (currentRef === undefined || k < currentRef))
        .sort()
        .reverse()
        .slice(0, MANIFEST_FALLBACK_DEPTH);
  const errors = [firstError];
  for (const key of keys) {
    try {
      const manifest = await readManifest(store, key);
      const fallbackFrom = { key: currentRef ?? CURRENT_KEY, reason: firstError };
      log?.warn(
        { fallback_manifest: key, malformed: fallbackFrom.key, reason: firstError, chosen_by: byHistory ? 'pointer history' : 'key order' },
        byHistory
          ? `current manifest is unusable; serving ${key}, the run that was current before`
          : `current manifest is unusable and ${CURRENT_KEY} has no history of earlier runs; serving the newest earlier manifest ${key}`,
      );
      const publishedAt = history.find((e) => e.manifest_ref === key)?.published_at ?? manifest.created_at;
      return { manifest, manifestKey: key, pointer, publishedAt, fallbackFrom };
    } catch (err) {
      if (!(err instanceof ManifestParseError || err instanceof ObjectNotFoundError)) throw err;
      errors.push(errorMessage(err));
    }
  }
  throw new ManifestParseError(
    `no valid manifest at ${store.url} (tried the current one and ${keys.length} earlier): ${errors.join(' | ')}`,
  );
}
